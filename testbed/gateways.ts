// East-west gateway shapes on the test bed (`npm run testbed -- up --istio --gateway [CLUSTER=]SHAPE`,
// `npm run testbed -- gateway --context CTX SHAPE [--address A]`): the installed gateway Service
// istio-system/istio-eastwestgateway is turned into one shape istiod accepts
// (pilot/pkg/serviceregistry/kube/conversion.go, controller/network.go). Addresses are data only:
// nothing listens on them (the bed has no data plane); istiod and kubectl-mesh read them.
// - lb-ip:        type LoadBalancer, status.loadBalancer.ingress [{ip}] (the install's default)
// - lb-hostname:  ingress [{hostname: eastwest.<cluster>.testbed.test}], the bed's DNS answering it (testbed/dns.ts)
// - nodeport:     type NodePort + traffic.istio.io/nodeSelector {"kubectl-mesh.testbed/eastwest":"true"};
//                 Nodes <cluster>-eastwest-a/-b (labelled) and -c (not), each with an ExternalIP (status subresource)
// - external-ip:  spec.externalIPs (no load-balancer address). The API server refuses loopback
//                 externalIPs, so the bed uses TEST-NET-1 192.0.2.1N (never dialled: data only)
// - gateway-port: ingress [{ip}] and label networking.istio.io/gatewayPort=16443 on a port 16443
// - gateway-api:  the install's Service is replaced by a Gateway API Gateway `eastwestgateway` of
//                 class istio carrying topology.istio.io/network, with a TLS auto-passthrough
//                 listener on 15443 (Istio's pilot/pkg/config/kube/gateway/testdata/eastwest-tlsoption.yaml);
//                 the real istiod's deployment controller makes its Deployment and Service
//                 `eastwestgateway-istio` (type LoadBalancer, the Gateway's labels: network.go
//                 discovers it like any labelled Service), the bed gives that Service its
//                 load-balancer address and the Deployment its Pod. The Gateway API CRDs are
//                 installed first when missing (the ambient bed's, sigs.k8s.io/gateway-api of the
//                 module cache) and removed on reset when the shape installed them.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIndex, clusterParams } from './fixtures.ts';
import { kubectl } from './kubectl.ts';
import { setDnsRecord } from './dns.ts';
import { stateDir } from './paths.ts';
import { waitUntil } from './istiod.ts';
import { addGatewayPod, gatewayApiCrds, type KubeDoc } from './istio-install.ts';

export const GATEWAY_SHAPES = ['lb-ip', 'lb-hostname', 'nodeport', 'external-ip', 'gateway-port', 'gateway-api'] as const;
export type GatewayShape = (typeof GATEWAY_SHAPES)[number];

const NS = 'istio-system';
const SVC = 'istio-eastwestgateway';
export const NODE_LABEL = 'kubectl-mesh.testbed/eastwest';
export const ALT_GATEWAY_PORT = 16443;

export const gatewayHostname = (cluster: string): string => `eastwest.${cluster}.testbed.test`;
export const gatewayNodes = (cluster: string): string[] => ['a', 'b', 'c'].map((x) => `${cluster}-eastwest-${x}`);

/** The default address of a shape: what istiod holds for it (before a move). NodePort: node -a's ExternalIP. */
export function defaultAddress(cluster: string, shape: GatewayShape): string {
  const i = clusterIndex(cluster);
  if (shape === 'external-ip') return `192.0.2.1${i}`;
  return clusterParams(i).eastWestIP;
}

/** The ExternalIPs of the three NodePort nodes (-a gets `address`; -c is not selected). */
export function nodeAddresses(cluster: string, address: string): string[] {
  const i = clusterIndex(cluster);
  return [address, `127.0.1.1${i}`, `127.0.2.1${i}`];
}

export interface ShapeResult {
  shape: GatewayShape;
  /** What istiod uses: address:port, one per target. */
  targets: string[];
}

/** The Gateway API shape's Gateway, and the Deployment and Service istiod names after it (`<name>-<class>`). */
export const KUBE_GATEWAY = 'eastwestgateway';
export const KUBE_GATEWAY_SERVICE = `${KUBE_GATEWAY}-istio`;
const savedServiceFile = (cluster: string): string => join(stateDir(), `gateway-shape-${cluster}-service.json`);
const crdsFile = (cluster: string): string => join(stateDir(), `gateway-shape-${cluster}-crds.json`);

/** The Gateway API Gateway of the gateway-api shape, as Istio's eastwest-tlsoption testdata writes it, on the cluster's network. */
export function kubeEastWestGateway(cluster: string): KubeDoc {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
    metadata: { name: KUBE_GATEWAY, namespace: NS, labels: { 'topology.istio.io/network': clusterParams(clusterIndex(cluster)).network } },
    spec: {
      gatewayClassName: 'istio',
      listeners: [{ name: 'cross-network', hostname: '*.local', port: 15443, protocol: 'TLS', tls: { mode: 'Passthrough', options: { 'gateway.istio.io/listener-protocol': 'auto-passthrough' } } }],
    },
  };
}

/** gateway-api: the install's Service saved and deleted, the CRDs (when missing) and the Gateway applied, istiod's Service given `address`. */
async function setKubeGateway(cluster: string, address: string): Promise<ShapeResult> {
  const k = (args: string[], input?: string, allowFail = false) => kubectl(args, { context: cluster, input, allowFail });
  const crds = gatewayApiCrds();
  const present = (await k(['get', 'crd', ...crds.map((c) => c.metadata.name), '-o', 'name', '--ignore-not-found'], undefined, true)).stdout;
  const missing = crds.map((c) => c.metadata.name).filter((n) => !present.includes(`/${n}\n`) && !present.endsWith(`/${n}`));
  if (missing.length > 0) {
    await k(['apply', '--server-side', '-o', 'name', '-f', '-'], crds.filter((c) => missing.includes(c.metadata.name)).map((c) => JSON.stringify(c)).join('\n---\n'));
    await k(['wait', '--for=condition=Established', '--timeout=60s', ...missing.map((n) => `crd/${n}`)]);
    if (!existsSync(crdsFile(cluster))) writeFileSync(crdsFile(cluster), JSON.stringify(missing));
  }
  const svc = await k(['-n', NS, 'get', 'service', SVC, '-o', 'json'], undefined, true);
  if (svc.code === 0) {
    const o = JSON.parse(svc.stdout);
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, ...metadata } = o.metadata;
    const { clusterIP: _ip, clusterIPs: _ips, ...spec } = o.spec;
    writeFileSync(savedServiceFile(cluster), JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata, spec }));
    await k(['-n', NS, 'delete', 'service', SVC]);
  }
  await kubectl(['delete', 'node', ...gatewayNodes(cluster), '--ignore-not-found'], { context: cluster });
  await k(['apply', '-f', '-'], JSON.stringify(kubeEastWestGateway(cluster)));
  // istiod's deployment controller (gatewaycommon/deploymentcontroller.go, template kube-gateway.yaml)
  const made = await waitUntil(`${cluster}: istiod made the ${KUBE_GATEWAY_SERVICE} Deployment and Service for the Gateway API Gateway ${KUBE_GATEWAY}`, async () => {
    const d = await k(['-n', NS, 'get', 'deployment', KUBE_GATEWAY_SERVICE, '-o', 'json'], undefined, true);
    const sv = await k(['-n', NS, 'get', 'service', KUBE_GATEWAY_SERVICE, '-o', 'json'], undefined, true);
    return d.code === 0 && sv.code === 0 ? { deployment: JSON.parse(d.stdout) as KubeDoc, service: JSON.parse(sv.stdout) as KubeDoc } : undefined;
  }, 90_000, 250);
  await k(['-n', NS, 'patch', 'service', KUBE_GATEWAY_SERVICE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: address }] } } })]);
  if ((await k(['-n', NS, 'get', 'pod', `${KUBE_GATEWAY_SERVICE}-0`, '-o', 'name'], undefined, true)).code !== 0) {
    await addGatewayPod(cluster, [made.value.deployment], KUBE_GATEWAY_SERVICE, `10.244.${clusterIndex(cluster)}.5`);
  }
  return { shape: 'gateway-api', targets: [`${address}:15443`] };
}

/** Leave the gateway-api shape: the Gateway and istiod's objects deleted, the install's Service back. */
async function leaveKubeGateway(cluster: string): Promise<void> {
  const saved = savedServiceFile(cluster);
  if (!existsSync(saved)) return;
  const k = (args: string[], input?: string) => kubectl(args, { context: cluster, input, allowFail: true });
  await k(['-n', NS, 'delete', 'gateways.gateway.networking.k8s.io', KUBE_GATEWAY, '--ignore-not-found']);
  await k(['-n', NS, 'delete', 'pod', `${KUBE_GATEWAY_SERVICE}-0`, '--ignore-not-found', '--grace-period=0', '--force']);
  await k(['-n', NS, 'delete', 'deployment,service,serviceaccount', KUBE_GATEWAY_SERVICE, '--ignore-not-found']);
  const r = await kubectl(['create', '-f', '-'], { context: cluster, input: readFileSync(saved, 'utf8'), allowFail: true });
  if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) throw new Error(`${cluster}: the install's Service ${SVC} could not be put back: ${r.stderr}`);
  rmSync(saved, { force: true });
}

/** Turn cluster's east-west gateway Service into `shape` (idempotent; `address` moves it). */
export async function setGatewayShape(cluster: string, shape: GatewayShape, address = defaultAddress(cluster, shape)): Promise<ShapeResult> {
  if (!(GATEWAY_SHAPES as readonly string[]).includes(shape)) throw new Error(`unknown gateway shape ${shape} (one of ${GATEWAY_SHAPES.join(', ')})`);
  if (shape === 'gateway-api') return setKubeGateway(cluster, address);
  await leaveKubeGateway(cluster);
  const k = (args: string[], input?: string) => kubectl(args, { context: cluster, input });
  const svc = JSON.parse((await k(['-n', NS, 'get', 'service', SVC, '-o', 'json'])).stdout);
  const ports: Array<Record<string, unknown>> = (svc.spec.ports ?? []).filter((p: { port: number }) => p.port !== ALT_GATEWAY_PORT);
  if (shape === 'gateway-port') ports.push({ name: 'tls-alt', port: ALT_GATEWAY_PORT, targetPort: ALT_GATEWAY_PORT, protocol: 'TCP' });
  const labels = { ...svc.metadata.labels };
  if (shape === 'gateway-port') labels['networking.istio.io/gatewayPort'] = String(ALT_GATEWAY_PORT);
  else delete labels['networking.istio.io/gatewayPort'];
  const annotations = { ...svc.metadata.annotations };
  if (shape === 'nodeport') annotations['traffic.istio.io/nodeSelector'] = JSON.stringify({ [NODE_LABEL]: 'true' });
  else delete annotations['traffic.istio.io/nodeSelector'];
  const spec: Record<string, unknown> = { ...svc.spec, type: shape === 'nodeport' ? 'NodePort' : 'LoadBalancer', ports };
  if (shape === 'nodeport') {
    delete spec.allocateLoadBalancerNodePorts;
    delete spec.loadBalancerClass;
  }
  if (shape === 'external-ip') spec.externalIPs = [address];
  else delete spec.externalIPs;
  await k(['replace', '-f', '-'], JSON.stringify({ ...svc, metadata: { ...svc.metadata, labels, annotations }, spec, status: undefined }));
  const ingress = shape === 'lb-ip' || shape === 'gateway-port' ? [{ ip: address }] : shape === 'lb-hostname' ? [{ hostname: gatewayHostname(cluster) }] : [];
  await k(['-n', NS, 'patch', 'service', SVC, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress } } })]);
  if (shape === 'lb-hostname') setDnsRecord(gatewayHostname(cluster), [address]);
  if (shape === 'nodeport') await ensureNodes(cluster, address);
  else await kubectl(['delete', 'node', ...gatewayNodes(cluster), '--ignore-not-found'], { context: cluster });
  const now = JSON.parse((await k(['-n', NS, 'get', 'service', SVC, '-o', 'json'])).stdout);
  const port = shape === 'gateway-port' ? ALT_GATEWAY_PORT : 15443;
  const nodePort = (now.spec.ports ?? []).find((p: { port: number }) => p.port === port)?.nodePort as number | undefined;
  const targets = shape === 'nodeport'
    ? nodeAddresses(cluster, address).slice(0, 2).map((a) => `${a}:${nodePort}`)
    : [`${shape === 'lb-hostname' ? gatewayHostname(cluster) : address}:${port}`];
  return { shape, targets };
}

/** Nodes -a (ExternalIP `address`), -b (both labelled) and -c (not labelled), with InternalIPs istiod must ignore. */
async function ensureNodes(cluster: string, address: string): Promise<void> {
  const names = gatewayNodes(cluster);
  const ips = nodeAddresses(cluster, address);
  for (const [i, name] of names.entries()) {
    const labels = i < 2 ? { [NODE_LABEL]: 'true' } : {};
    await kubectl(['apply', '-f', '-'], { context: cluster, input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } }) });
    await kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: `10.0.${clusterIndex(cluster)}.${i + 1}` }, { type: 'ExternalIP', address: ips[i] }] } })], { context: cluster });
  }
}

/** Back to the install's shape (lb-ip at the cluster's east-west address), Nodes and DNS name removed. */
export async function resetGatewayShape(cluster: string): Promise<void> {
  await setGatewayShape(cluster, 'lb-ip');
  setDnsRecord(gatewayHostname(cluster), []);
  if (existsSync(crdsFile(cluster))) {
    const crds = JSON.parse(readFileSync(crdsFile(cluster), 'utf8')) as string[];
    await kubectl(['delete', 'crd', ...crds, '--ignore-not-found'], { context: cluster, allowFail: true });
    rmSync(crdsFile(cluster), { force: true });
  }
}

/** `[CLUSTER=]SHAPE` → the clusters it applies to (all of `clusters` without CLUSTER=). */
export function parseGatewayArg(arg: string, clusters: string[]): Array<{ cluster: string; shape: GatewayShape }> {
  const [c, s] = arg.includes('=') ? arg.split('=', 2) : [undefined, arg];
  if (!(GATEWAY_SHAPES as readonly string[]).includes(s)) throw new Error(`--gateway ${arg}: SHAPE is one of ${GATEWAY_SHAPES.join(', ')}`);
  if (c !== undefined && !clusters.includes(c)) throw new Error(`--gateway ${arg}: no cluster ${c} in the bed (${clusters.join(', ')})`);
  return (c ? [c] : clusters).map((cluster) => ({ cluster, shape: s as GatewayShape }));
}
