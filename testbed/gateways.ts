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
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { clusterIndex, clusterParams } from './fixtures.ts';
import { kubectl } from './kubectl.ts';
import { setDnsRecord } from './dns.ts';

export const GATEWAY_SHAPES = ['lb-ip', 'lb-hostname', 'nodeport', 'external-ip', 'gateway-port'] as const;
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

/** Turn cluster's east-west gateway Service into `shape` (idempotent; `address` moves it). */
export async function setGatewayShape(cluster: string, shape: GatewayShape, address = defaultAddress(cluster, shape)): Promise<ShapeResult> {
  if (!(GATEWAY_SHAPES as readonly string[]).includes(shape)) throw new Error(`unknown gateway shape ${shape} (one of ${GATEWAY_SHAPES.join(', ')})`);
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
}

/** `[CLUSTER=]SHAPE` → the clusters it applies to (all of `clusters` without CLUSTER=). */
export function parseGatewayArg(arg: string, clusters: string[]): Array<{ cluster: string; shape: GatewayShape }> {
  const [c, s] = arg.includes('=') ? arg.split('=', 2) : [undefined, arg];
  if (!(GATEWAY_SHAPES as readonly string[]).includes(s)) throw new Error(`--gateway ${arg}: SHAPE is one of ${GATEWAY_SHAPES.join(', ')}`);
  if (c !== undefined && !clusters.includes(c)) throw new Error(`--gateway ${arg}: no cluster ${c} in the bed (${clusters.join(', ')})`);
  return (c ? [c] : clusters).map((cluster) => ({ cluster, shape: s as GatewayShape }));
}
