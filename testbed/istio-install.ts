// Istio as Istio installs it, per test bed cluster (`npm run testbed -- up --istio`):
//
// 1. `istioctl manifest generate` (the pinned istioctl; its charts are embedded, so it renders
//    offline) of an IstioOperator with meshID, clusterName, network and DNS capture, and of the
//    east-west gateway IstioOperator that Istio's `samples/multicluster/gen-eastwest-gateway.sh`
//    prints (the script itself is run, from the Istio module);
// 2. applied to the cluster's API server (server-side apply), in place of the simulated install of
//    testbed/fixtures/istio.yaml, with the network label on istio-system as Istio's multi-network
//    guide sets it;
// 3. one real istiod per cluster on loopback (testbed/istiod.ts), with the environment of the
//    rendered istiod Deployment;
// 4. the rendered webhooks, pointed at that istiod by URL (https://127.0.0.1:<port>/...), so the
//    API server really calls istiod's validation and sidecar injection; istiod fills in caBundle;
// 5. Pods: the east-west gateway and the egress gateway (Istio's own `istio-egressgateway`
//    component, enabled in the IstioOperator; each Pod from its rendered Deployment's template) and
//    the samples bar/httpbin and foo/sleep (injected), Running and Ready with pod IPs
//    (testbed/workloads.ts), behind their Services' EndpointSlices.
//
// Deviations from a real cluster: docs/istio-testbed.md "The --istio install".
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins and js-yaml.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { applyIstioFixtures, clusterIndex, clusterParams, MESH_ID } from './fixtures.ts';
import type { ClusterParams } from './fixtures.ts';
import { ensureIstioBuilt, ISTIO_VERSION, istioctlBin, startIstiod, stopIstiod, waitUntil } from './istiod.ts';
import type { Istiod } from './istiod.ts';
import { kubectl } from './kubectl.ts';
import { stateDir } from './paths.ts';
import { AMBIENT_LABEL, addWorkload, ensureWorkloadNode, setPodRunning, workloadNode } from './workloads.ts';

/** The istio.io/istio module version testbed/tools/istio pins (commit eed52ebb66ad). */
export const ISTIO_MODULE_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';
const NS = 'istio-system';
const ISTIO_HUB = 'docker.io/istio';
export const FIELD_MANAGER = 'istioctl';
export const EASTWEST_GATEWAY = 'istio-eastwestgateway';
/** Istio's egress gateway component (`components.egressGateways`), labelled istio=egressgateway. */
export const EGRESS_GATEWAY = 'istio-egressgateway';
const WEBHOOK_KINDS = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

export interface KubeDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
}

export interface IstioRender {
  /** the IstioOperator of the control plane */
  iop: string;
  /** the IstioOperator gen-eastwest-gateway.sh printed */
  eastwestIop: string;
  /** every object of both renders (control plane first), CRDs included */
  objects: KubeDoc[];
}

/** The Istio module's source (Go module cache), downloaded through the module proxy when missing. */
export function istioModuleDir(): string {
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
  const cache = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', env }).stdout.trim();
  const dir = join(cache, 'istio.io', `istio@${ISTIO_MODULE_VERSION}`);
  if (!existsSync(dir)) {
    const r = spawnSync('go', ['mod', 'download', 'istio.io/istio'], { cwd: join(import.meta.dirname, 'tools', 'istio'), encoding: 'utf8', env });
    if (r.status !== 0 || !existsSync(dir)) throw new Error(`go mod download istio.io/istio failed: ${r.stderr}`);
  }
  return dir;
}

/**
 * The control plane's IstioOperator: one mesh, this cluster's name and network, DNS capture, and
 * Istio's egress gateway. ambient: Istio's `ambient` profile (ztunnel, istio-cni) with istiod's
 * AMBIENT_ENABLE_MULTI_NETWORK on (values.pilot.env, so the rendered istiod Deployment carries it,
 * as Istio's ambient multicluster guide installs it), without the egress gateway.
 */
export function controlPlaneIop(p: ClusterParams, opts: { ambient?: boolean } = {}): string {
  return dump({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      // the default profile ships the egress gateway disabled (manifests/profiles/default.yaml)
      ...(opts.ambient ? { profile: 'ambient' } : { components: { egressGateways: [{ name: EGRESS_GATEWAY, enabled: true }] } }),
      meshConfig: {
        defaultConfig: {
          // auto-allocation: istiod's own (PILOT_ENABLE_IP_AUTOALLOCATE, on by default); this
          // istioctl calls ISTIO_META_DNS_AUTO_ALLOCATE deprecated ("dns-auto-allocation-v2")
          proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' },
        },
      },
      values: {
        global: { meshID: p.meshID, multiCluster: { clusterName: p.name }, network: p.network },
        ...(opts.ambient ? { pilot: { env: { AMBIENT_ENABLE_MULTI_NETWORK: 'true' } } } : {}),
      },
    },
  });
}

function istioctl(args: string[], input?: string): string {
  ensureIstioBuilt();
  const r = spawnSync(istioctlBin(), args, { input, encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, HOME: stateDir() } });
  if (r.status !== 0) throw new Error(`istioctl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  // istioctl prints validation warnings on stdout, before the manifest
  const start = r.stdout.search(/^(apiVersion|kind|---)/m);
  if (start > 0) process.stderr.write(`[istioctl] ${r.stdout.slice(0, start).trim()}\n`);
  return start >= 0 ? r.stdout.slice(start) : r.stdout;
}

function docs(yaml: string): KubeDoc[] {
  return (loadAll(yaml) as Array<KubeDoc | null>).filter((d): d is KubeDoc => !!d && typeof d === 'object' && !!d.kind);
}

/**
 * Render one cluster's install (offline, < 1 s each). ambient: the ambient profile, and the
 * east-west gateway as `gen-eastwest-gateway.sh --ambient` prints it (a Gateway API Gateway of class
 * istio-east-west, which istiod's deployment controller turns into a Deployment and Service).
 */
export function renderIstio(p: ClusterParams, opts: { ambient?: boolean } = {}): IstioRender {
  const iop = controlPlaneIop(p, opts);
  const script = join(istioModuleDir(), 'samples', 'multicluster', 'gen-eastwest-gateway.sh');
  const sh = spawnSync('bash', [script, '--network', p.network, ...(opts.ambient ? ['--ambient'] : [])], { encoding: 'utf8' });
  if (sh.status !== 0) throw new Error(`${script} failed: ${sh.stderr}`);
  const eastwestIop = sh.stdout;
  // A release istioctl overlays its own hub and tag (operator/pkg/render hubTagOverlay, from the
  // build's buildHub/buildVersion); ours was built without buildHub, so its charts would say
  // `latest`. Pass what a release build would.
  const hubTag = ['--set', `hub=${ISTIO_HUB}`, '--set', `tag=${ISTIO_VERSION}`];
  const gen = (input: string): KubeDoc[] => docs(istioctl(['manifest', 'generate', ...hubTag, '-f', '-'], input));
  const objects = [...gen(iop), ...(opts.ambient ? docs(eastwestIop) : gen(eastwestIop))];
  return { iop, eastwestIop, objects };
}

function ref(d: KubeDoc): string {
  return `${d.kind}/${d.metadata.namespace ? `${d.metadata.namespace}/` : ''}${d.metadata.name}`;
}

async function applyDocs(context: string, objs: KubeDoc[]): Promise<void> {
  if (objs.length === 0) return;
  await kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-o', 'name', '-f', '-'],
    { context, input: objs.map((o) => JSON.stringify(o)).join('\n---\n'), timeoutMs: 180_000 });
}

/** The rendered webhooks, pointed at the loopback istiod by URL (its https port; istiod patches caBundle in). */
export function webhooksByUrl(objs: KubeDoc[], httpsPort: number): KubeDoc[] {
  return objs.filter((o) => WEBHOOK_KINDS.includes(o.kind)).map((o) => {
    const c = structuredClone(o);
    for (const w of c.webhooks ?? []) {
      const svc = w.clientConfig?.service;
      if (!svc) continue;
      w.clientConfig = { url: `https://127.0.0.1:${httpsPort}${svc.path ?? '/'}` };
    }
    return c;
  });
}

/** The rendered istiod Deployment's environment (plain values only) for the loopback istiod. */
export function istiodEnv(objs: KubeDoc[]): Record<string, string> {
  const d = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod' && o.metadata.namespace === NS);
  if (!d) throw new Error('the render has no istiod Deployment');
  const c = (d.spec.template.spec.containers as Array<{ name: string; env?: Array<{ name: string; value?: string }> }>).find((x) => x.name === 'discovery');
  const env: Record<string, string> = {};
  // addresses and names of the Pod are the loopback istiod's own (testbed/istiod.ts); one istiod: no election
  const own = new Set(['ISTIOD_ADDR', 'POD_NAME', 'POD_NAMESPACE', 'SERVICE_ACCOUNT', 'KUBECONFIG', 'ENABLE_LEADER_ELECTION']);
  for (const e of c?.env ?? []) if (e.value !== undefined && !own.has(e.name)) env[e.name] = e.value;
  return env;
}

export interface IstioInstall {
  cluster: string;
  istiod: Istiod;
  render: IstioRender;
  /** ms: render, apply, istiod ready, webhooks patched, pods */
  timings: Record<string, number>;
  /** Istio's ambient profile (`up --istio --ambient`) */
  ambient?: boolean;
}

function installFile(cluster: string): string {
  return join(stateDir(), `istio-install-${cluster}.json`);
}

/** True when `up --istio` (or installIstio) installed real Istio into this cluster and it is still recorded. */
export function istioInstalled(cluster: string): boolean {
  return existsSync(installFile(cluster));
}

/** True when the recorded install is Istio's ambient profile (`up --istio --ambient`). */
export function ambientInstalled(cluster: string): boolean {
  try {
    return !!(JSON.parse(readFileSync(installFile(cluster), 'utf8')) as { ambient?: boolean }).ambient;
  } catch {
    return false;
  }
}

/** The pod IPs of the bed's sample Pods (as in the simulated install's EndpointSlices). */
export function samplePodIps(p: ClusterParams): { httpbin: string; sleep: string; eastwest: string; egress: string } {
  return { httpbin: `10.244.${p.index}.10`, sleep: `10.244.${p.index}.20`, eastwest: `10.244.${p.index}.2`, egress: `10.244.${p.index}.3` };
}

/**
 * Replace a cluster's simulated Istio install with the real one and start its istiod (see the top
 * of this file). Idempotent enough to run again on the same cluster (istiod is restarted).
 */
export async function installIstio(cluster: string, opts: { log?: (m: string) => void; istiodEnv?: Record<string, string>; ambient?: boolean } = {}): Promise<IstioInstall> {
  const log = opts.log ?? (() => {});
  const p = clusterParams(clusterIndex(cluster));
  const ambient = !!opts.ambient;
  const t: Record<string, number> = {};
  let t0 = Date.now();
  const render = renderIstio(p, { ambient });
  t.render = Date.now() - t0;
  const webhooks = render.objects.filter((o) => WEBHOOK_KINDS.includes(o.kind));
  const rest = render.objects.filter((o) => !WEBHOOK_KINDS.includes(o.kind));

  t0 = Date.now();
  // what `istioctl install` + Istio's multi-network guide do: the namespace with its network label
  await kubectl(['apply', '-f', '-'], { context: cluster, input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'topology.istio.io/network': p.network } } }) });
  // the simulated install's objects go (the real ones take their names)
  await removeFixtureInstall(cluster);
  // ambient: the Gateway API CRDs (standard channel, sigs.k8s.io/gateway-api of the module cache),
  // as Istio's ambient guide installs them before Istio
  const crds = [...(ambient ? gatewayApiCrds() : []), ...rest.filter((o) => o.kind === 'CustomResourceDefinition')];
  await applyDocs(cluster, crds);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((o) => `crd/${o.metadata.name}`)], { context: cluster });
  await applyDocs(cluster, rest.filter((o) => o.kind !== 'CustomResourceDefinition'));
  // ambient: the Service is istiod's (its gateway deployment controller makes it); patched below
  if (!ambient) await setLoadBalancerIp(cluster, EASTWEST_GATEWAY, p.eastWestIP);
  t.apply = Date.now() - t0;
  log(`${cluster}: Istio rendered (${render.objects.length} objects) and applied`);

  t0 = Date.now();
  const env = { ...istiodEnv(render.objects), ISTIOD_CUSTOM_HOST: '127.0.0.1', ...opts.istiodEnv };
  const istiod = await startIstiod(cluster, { env });
  t.istiod = Date.now() - t0;
  log(`${cluster}: istiod ready in ${istiod.readyMs} ms (${istiod.debugUrl})`);

  t0 = Date.now();
  const hooks = webhooksByUrl(webhooks, istiod.ports.https);
  await applyDocs(cluster, hooks);
  // istiod patches its CA bundle into every webhook of its revision; until then the API server
  // cannot call it (and the injector's failurePolicy Fail would refuse Pods)
  await waitUntil(`${cluster}: istiod patched caBundle into its webhooks`, async () => {
    for (const h of hooks) {
      const r = await kubectl(['get', h.kind.toLowerCase(), h.metadata.name, '-o', 'json'], { context: cluster, allowFail: true });
      if (r.code !== 0) return false;
      if ((JSON.parse(r.stdout).webhooks as Array<{ clientConfig: { caBundle?: string } }>).some((w) => !w.clientConfig.caBundle)) return false;
    }
    return true;
  }, 60_000, 250);
  t.webhooks = Date.now() - t0;

  let objects = render.objects;
  if (ambient) {
    t0 = Date.now();
    // the Deployment and Service istiod's gateway deployment controller makes for the
    // istio-east-west Gateway (class info: no name suffix, Service type LoadBalancer); the bed plays
    // the cloud's load balancer, istiod then writes the address into the Gateway's status
    const made = await waitUntil(`${cluster}: istiod made the ${EASTWEST_GATEWAY} Deployment and Service for the istio-east-west Gateway`, async () => {
      const d = await kubectl(['-n', NS, 'get', 'deployment', EASTWEST_GATEWAY, '-o', 'json'], { context: cluster, allowFail: true });
      const sv = await kubectl(['-n', NS, 'get', 'service', EASTWEST_GATEWAY, '-o', 'name'], { context: cluster, allowFail: true });
      return d.code === 0 && sv.code === 0 ? (JSON.parse(d.stdout) as KubeDoc) : undefined;
    }, 90_000, 250);
    await setLoadBalancerIp(cluster, EASTWEST_GATEWAY, p.eastWestIP);
    // istiod writes the address into the Gateway's status only once the Service has a ready
    // endpoint (gatewaycommon/context.go ResolveGatewayInstances): the gateway's Pod first
    await ensureWorkloadNode(cluster);
    await addGatewayPod(cluster, [made.value], EASTWEST_GATEWAY, samplePodIps(p).eastwest);
    await waitUntil(`${cluster}: the ${EASTWEST_GATEWAY} Gateway's status has the address ${p.eastWestIP}`, async () => {
      const g = await kubectl(['-n', NS, 'get', 'gateways.gateway.networking.k8s.io', EASTWEST_GATEWAY, '-o', 'json'], { context: cluster, allowFail: true });
      return g.code === 0 && ((JSON.parse(g.stdout).status?.addresses ?? []) as Array<{ value: string }>).some((a) => a.value === p.eastWestIP);
    }, 90_000, 250);
    objects = [...render.objects, made.value];
    t.eastwest = Date.now() - t0;
    log(`${cluster}: the istio-east-west Gateway is programmed at ${p.eastWestIP} (istiod's Deployment and Service, the bed's load-balancer address)`);
  }

  t0 = Date.now();
  await addSamplePods(cluster, objects, samplePodIps(p), { ambient, gatewayPod: !ambient });
  t.pods = Date.now() - t0;

  const inst: IstioInstall = { cluster, istiod, render: { iop: render.iop, eastwestIop: render.eastwestIop, objects: [] }, timings: t, ambient };
  writeFileSync(installFile(cluster), JSON.stringify({ ...inst, objects: render.objects.map(ref), gatewayApiCrds: ambient ? gatewayApiCrds().map((o) => o.metadata.name) : [] }, null, 2));
  return { ...inst, render };
}

/** The load balancer's address in a Service's status (what a cloud controller writes). */
export async function setLoadBalancerIp(cluster: string, service: string, ip: string): Promise<void> {
  await kubectl(['-n', NS, 'patch', 'service', service, '--subresource=status', '--type=merge', '-p',
    JSON.stringify({ status: { loadBalancer: { ingress: [{ ip }] } } })], { context: cluster });
}

/** The Gateway API's standard-channel CRDs from the sigs.k8s.io/gateway-api module Istio pins. */
export function gatewayApiCrds(): KubeDoc[] {
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
  const cwd = join(import.meta.dirname, 'tools', 'istio');
  const r = spawnSync('go', ['list', '-m', '-json', 'sigs.k8s.io/gateway-api'], { cwd, encoding: 'utf8', env });
  let dir = r.status === 0 ? (JSON.parse(r.stdout) as { Dir?: string }).Dir : undefined;
  if (!dir || !existsSync(dir)) {
    const d = spawnSync('go', ['mod', 'download', '-json', 'sigs.k8s.io/gateway-api'], { cwd, encoding: 'utf8', env });
    dir = d.status === 0 ? (JSON.parse(d.stdout) as { Dir?: string }).Dir : undefined;
    if (!dir) throw new Error(`go mod download sigs.k8s.io/gateway-api failed: ${d.stderr}`);
  }
  const std = join(dir, 'config', 'crd', 'standard');
  return readdirSync(std).filter((f) => f.endsWith('.yaml') && f.startsWith('gateway.networking.k8s.io_')).sort()
    .flatMap((f) => docs(readFileSync(join(std, f), 'utf8'))).filter((o) => o.kind === 'CustomResourceDefinition');
}

/** The east-west gateway Pod, from the rendered Deployment's Pod template (the injector adds its proxy). */
/**
 * The node, the east-west gateway's Pod and the samples as injected-looking Pods (the fixture's
 * Services stay; its hand-written EndpointSlices go, so the controller-manager makes real ones).
 */
async function addSamplePods(cluster: string, objs: KubeDoc[], ips: ReturnType<typeof samplePodIps>, opts: { ambient?: boolean; gatewayPod?: boolean } = {}): Promise<void> {
  await ensureWorkloadNode(cluster);
  if (opts.gatewayPod !== false) await addGatewayPod(cluster, objs, EASTWEST_GATEWAY, ips.eastwest);
  // the remote profile renders no egress gateway
  if (objs.some((o) => o.kind === 'Deployment' && o.metadata.name === EGRESS_GATEWAY)) await addGatewayPod(cluster, objs, EGRESS_GATEWAY, ips.egress);
  if (opts.ambient) {
    // the samples' namespaces enrolled in ambient as Istio's guide does it (no injection label)
    await kubectl(['label', 'namespace', 'bar', 'foo', `${AMBIENT_LABEL}=ambient`, 'istio-injection-', '--overwrite'], { context: cluster });
  }
  await kubectl(['delete', 'endpointslice', '-A', '-l', 'kubectl-mesh.testbed/handmade=true', '--ignore-not-found'], { context: cluster, allowFail: true });
  await kubectl(['-n', 'bar', 'delete', 'endpointslice', 'httpbin-testbed', '--ignore-not-found'], { context: cluster, allowFail: true });
  await kubectl(['-n', 'foo', 'delete', 'endpointslice', 'sleep-testbed', '--ignore-not-found'], { context: cluster, allowFail: true });
  await addWorkload({ context: cluster, namespace: 'bar', name: 'httpbin', ports: [{ name: 'http', port: 8000, targetPort: 8080 }], ip: ips.httpbin, sidecar: opts.ambient ? false : undefined });
  await addWorkload({ context: cluster, namespace: 'foo', name: 'sleep', ports: [{ name: 'http', port: 80 }], ip: ips.sleep, sidecar: opts.ambient ? false : undefined });
}

/** Delete a recorded install's objects (webhooks first: without istiod they refuse every write they match, CRDs kept), its Pods and node. */
async function removeInstalledObjects(cluster: string, refs: string[]): Promise<void> {
  const order = (r: string): number => (r.startsWith('MutatingWebhookConfiguration/') || r.startsWith('ValidatingWebhookConfiguration/') ? 0 : 1);
  for (const r of [...refs].sort((a, b) => order(a) - order(b))) {
    const [kind, ...rest] = r.split('/');
    if (kind === 'CustomResourceDefinition') continue;
    const name = rest.pop() as string;
    const args = ['delete', kind.toLowerCase(), name, '--ignore-not-found', '--wait=false'];
    if (rest.length) args.push('-n', rest[0]);
    await kubectl(args, { context: cluster, allowFail: true });
  }
  await kubectl(['delete', 'pods', '-A', '-l', 'kubectl-mesh.testbed/workload', '--ignore-not-found', '--grace-period=0', '--force'], { context: cluster, allowFail: true });
  await kubectl(['-n', NS, 'delete', 'pod', `${EASTWEST_GATEWAY}-0`, `${EGRESS_GATEWAY}-0`, '--ignore-not-found', '--grace-period=0', '--force'], { context: cluster, allowFail: true });
  await kubectl(['delete', 'node', workloadNode(cluster), '--ignore-not-found'], { context: cluster, allowFail: true });
}

/** Undo what an ambient install added beyond its rendered objects: the Gateway API Gateway and its CRDs, the namespace labels, istiod's gateway objects. */
async function removeAmbientExtras(cluster: string, crds: string[]): Promise<void> {
  if (crds.length === 0) return;
  await kubectl(['-n', NS, 'delete', 'gateways.gateway.networking.k8s.io', '--all', '--ignore-not-found'], { context: cluster, allowFail: true });
  await kubectl(['-n', NS, 'delete', 'deployment,service,serviceaccount', EASTWEST_GATEWAY, '--ignore-not-found'], { context: cluster, allowFail: true });
  await kubectl(['label', 'namespace', '--all', `${AMBIENT_LABEL}-`], { context: cluster, allowFail: true });
  await kubectl(['delete', 'crd', ...crds, '--ignore-not-found'], { context: cluster, allowFail: true });
}

/** A gateway's Pod `<deployment>-0` from its rendered Deployment's template (no Deployment controller runs in the bed). */
export async function addGatewayPod(cluster: string, objs: KubeDoc[], deployment: string, ip: string): Promise<void> {
  const d = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === deployment);
  if (!d) throw new Error(`the render has no ${deployment} Deployment`);
  const name = `${deployment}-0`;
  await kubectl(['-n', NS, 'delete', 'pod', name, '--ignore-not-found', '--grace-period=0', '--force'], { context: cluster, allowFail: true });
  const tpl = structuredClone(d.spec.template);
  await kubectl(['create', '-f', '-'], { context: cluster, input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { ...tpl.metadata, name, namespace: NS },
    spec: { ...tpl.spec, nodeName: workloadNode(cluster), automountServiceAccountToken: false },
  }) });
  await setPodRunning(cluster, NS, name, ip);
}

/** Delete the simulated install's Istio objects (not the namespace, not the CRDs). */
async function removeFixtureInstall(cluster: string): Promise<void> {
  await kubectl(['-n', NS, 'delete', 'deployment,service,serviceaccount,configmap', '-l', 'release=istio', '--ignore-not-found'], { context: cluster, allowFail: true });
  await kubectl(['-n', NS, 'delete', 'service', EASTWEST_GATEWAY, '--ignore-not-found'], { context: cluster, allowFail: true });
  for (const n of ['istio', 'istio-sidecar-injector']) await kubectl(['-n', NS, 'delete', 'configmap', n, '--ignore-not-found'], { context: cluster, allowFail: true });
}

/**
 * Undo installIstio: stop istiod, delete the rendered objects (webhooks first), the Pods, and put
 * the simulated install and the samples' EndpointSlices back (testbed/fixtures).
 */
export async function uninstallIstio(cluster: string): Promise<void> {
  const f = installFile(cluster);
  await stopIstiod(cluster);
  let objects: string[] = [];
  let crds: string[] = [];
  try {
    const rec = JSON.parse(readFileSync(f, 'utf8')) as { objects: string[]; gatewayApiCrds?: string[] };
    objects = rec.objects;
    crds = rec.gatewayApiCrds ?? [];
  } catch { /* not recorded: render again */ }
  const p = clusterParams(clusterIndex(cluster));
  const rendered = objects.length ? undefined : renderIstio(p).objects;
  await removeAmbientExtras(cluster, crds);
  await removeInstalledObjects(cluster, (rendered ? rendered.map(ref) : objects).filter((r) => !r.startsWith('Gateway/')));
  await applyIstioFixtures(cluster, { samples: true });
  rmSync(f, { force: true });
}

export { MESH_ID };

// ---------------------------------------------------------------------------------------------
// The primary-remote install (`npm run testbed -- up --istio --remote cluster2`): the cluster gets
// Istio's own `remote` profile render (istioctl manifest generate, profile=remote) with
// global.remotePilotAddress = the primary's east-west gateway address and
// istiodRemote.injectionPath = /inject/cluster/<name>/net/<network>, and no istiod of its own.
// What the render holds (see docs/istio-testbed.md "The remote profile"): CRDs, a `values`
// ConfigMap (no `istio`, no `istio-sidecar-injector`), a selector-less `istiod` Service and an
// EndpointSlice with remotePilotAddress on 15012/15017, the injection webhook calling that istiod
// Service (443) on /inject/cluster/<name>/net/<network>, the reader account and RBAC.
//
// Deviation: the API server cannot reach the primary's istiod through the bed's east-west gateway
// (no data plane on 127.0.0.11), so the rendered webhooks are pointed at the primary's loopback
// istiod (its https port, the same path) and given its CA bundle — what they reach through the
// gateway in a real cluster. The remote's Pods are then injected by the primary's istiod with the
// remote's cluster ID and network, as in Istio's primary-remote guide.

/** The remote cluster's IstioOperator: Istio's primary-remote guide (profile remote, injectionPath, remotePilotAddress) with this cluster's name, network and mesh. */
export function remoteIop(p: ClusterParams, remotePilotAddress: string): string {
  return dump({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      profile: 'remote',
      values: {
        istiodRemote: { injectionPath: `/inject/cluster/${p.name}/net/${p.network}` },
        global: { meshID: p.meshID, multiCluster: { clusterName: p.name }, network: p.network, remotePilotAddress },
      },
    },
  });
}

/** Render a remote-profile install (and the east-west gateway) for one cluster, its control plane at `remotePilotAddress`. */
export function renderRemoteIstio(p: ClusterParams, remotePilotAddress: string): IstioRender {
  const iop = remoteIop(p, remotePilotAddress);
  const script = join(istioModuleDir(), 'samples', 'multicluster', 'gen-eastwest-gateway.sh');
  const sh = spawnSync('bash', [script, '--network', p.network], { encoding: 'utf8' });
  if (sh.status !== 0) throw new Error(`${script} failed: ${sh.stderr}`);
  const hubTag = ['--set', `hub=${ISTIO_HUB}`, '--set', `tag=${ISTIO_VERSION}`];
  const gen = (input: string): KubeDoc[] => docs(istioctl(['manifest', 'generate', ...hubTag, '-f', '-'], input));
  return { iop, eastwestIop: sh.stdout, objects: [...gen(iop), ...gen(sh.stdout)] };
}

/** The rendered webhooks, sent to the primary's loopback istiod (same path) with its CA bundle. */
export function webhooksToPrimary(objs: KubeDoc[], httpsPort: number, caBundle: string): KubeDoc[] {
  return objs.filter((o) => WEBHOOK_KINDS.includes(o.kind)).map((o) => {
    const c = structuredClone(o);
    for (const w of c.webhooks ?? []) {
      const cc = w.clientConfig ?? {};
      const path = cc.service ? (cc.service.path ?? '/') : cc.url ? new URL(cc.url).pathname : '/';
      w.clientConfig = { url: `https://127.0.0.1:${httpsPort}${path}`, caBundle };
    }
    return c;
  });
}

export interface RemoteInstall {
  cluster: string;
  primary: string;
  render: IstioRender;
  timings: Record<string, number>;
}

/**
 * Install `cluster` as a remote of `primary` (whose real Istio and istiod must run: installIstio):
 * its own simulated install (or real one: uninstallIstio first) is replaced by the remote-profile
 * render; the samples are Pods injected by the primary's istiod. Undo with uninstallRemoteIstio.
 */
export async function installRemoteIstio(cluster: string, primary: string, opts: { log?: (m: string) => void } = {}): Promise<RemoteInstall> {
  const log = opts.log ?? (() => {});
  const p = clusterParams(clusterIndex(cluster));
  const pp = clusterParams(clusterIndex(primary));
  const { runningIstiod } = await import('./istiod.ts');
  const istiod = runningIstiod(primary);
  if (!istiod) throw new Error(`${primary} has no running istiod: install it first (npm run testbed -- up --istio)`);
  const t: Record<string, number> = {};
  let t0 = Date.now();
  const render = renderRemoteIstio(p, pp.eastWestIP);
  t.render = Date.now() - t0;
  const webhooks = render.objects.filter((o) => WEBHOOK_KINDS.includes(o.kind));
  // The API server refuses the render's EndpointSlice istiod → 127.0.0.11 ("may not be in the
  // loopback range"): the bed leaves it out; the selector-less istiod Service stays, and the
  // values ConfigMap still says remotePilotAddress (verify reads it there when no slice exists).
  const loopbackSlice = (o: KubeDoc): boolean => o.kind === 'EndpointSlice' && (o.endpoints ?? []).some((e: { addresses?: string[] }) => (e.addresses ?? []).some((a) => a.startsWith('127.')));
  const rest = render.objects.filter((o) => !WEBHOOK_KINDS.includes(o.kind) && !loopbackSlice(o));

  t0 = Date.now();
  await kubectl(['apply', '-f', '-'], { context: cluster, input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'topology.istio.io/network': p.network } } }) });
  await removeFixtureInstall(cluster);
  await kubectl(['-n', NS, 'delete', 'configmap', 'istio-ca-root-cert', '--ignore-not-found'], { context: cluster, allowFail: true });
  const crds = rest.filter((o) => o.kind === 'CustomResourceDefinition');
  await applyDocs(cluster, crds);
  if (crds.length) await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((o) => `crd/${o.metadata.name}`)], { context: cluster });
  await applyDocs(cluster, rest.filter((o) => o.kind !== 'CustomResourceDefinition'));
  await kubectl(['-n', NS, 'patch', 'service', EASTWEST_GATEWAY, '--subresource=status', '--type=merge', '-p',
    JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: p.eastWestIP }] } } })], { context: cluster });
  t.apply = Date.now() - t0;
  log(`${cluster}: Istio's remote profile rendered (${render.objects.length} objects, remotePilotAddress ${pp.eastWestIP}) and applied`);

  t0 = Date.now();
  // the primary's CA bundle, as its istiod patched it into its own injector webhook
  const mwc = await kubectl(['get', 'mutatingwebhookconfiguration', 'istio-sidecar-injector', '-o', 'json'], { context: primary });
  const caBundle = (JSON.parse(mwc.stdout).webhooks as Array<{ clientConfig: { caBundle?: string } }>).find((w) => w.clientConfig.caBundle)?.clientConfig.caBundle;
  if (!caBundle) throw new Error(`${primary}: its injector webhook has no caBundle yet`);
  await applyDocs(cluster, webhooksToPrimary(webhooks, istiod.ports.https, caBundle));
  t.webhooks = Date.now() - t0;

  t0 = Date.now();
  await addSamplePods(cluster, render.objects, samplePodIps(p));
  t.pods = Date.now() - t0;
  const inst: RemoteInstall = { cluster, primary, render: { iop: render.iop, eastwestIop: render.eastwestIop, objects: [] }, timings: t };
  writeFileSync(remoteFile(cluster), JSON.stringify({ ...inst, objects: render.objects.map(ref) }, null, 2));
  return { ...inst, render };
}

function remoteFile(cluster: string): string {
  return join(stateDir(), `istio-remote-${cluster}.json`);
}

/** True when installRemoteIstio installed the remote profile into this cluster. */
export function remoteInstalled(cluster: string): boolean {
  return existsSync(remoteFile(cluster));
}

/** Undo installRemoteIstio: the rendered objects (webhooks first), the Pods; the simulated install and samples back. */
export async function uninstallRemoteIstio(cluster: string): Promise<void> {
  const f = remoteFile(cluster);
  let objects: string[] = [];
  try {
    objects = (JSON.parse(readFileSync(f, 'utf8')) as { objects: string[] }).objects;
  } catch { /* not recorded */ }
  await removeInstalledObjects(cluster, objects);
  await kubectl(['annotate', 'namespace', NS, 'topology.istio.io/controlPlaneClusters-'], { context: cluster, allowFail: true });
  await applyIstioFixtures(cluster, { samples: true });
  rmSync(f, { force: true });
}
