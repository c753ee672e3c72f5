// Workloads for the test bed: a Service and one Pod behind it, bound to the bed's workload Node,
// made Running and Ready with a pod IP by the test bed itself (there is no kubelet and no container
// runtime: nothing runs, the status is written through the status subresource). The endpointslice
// controller of kube-controller-manager then publishes the Pod in the Service's EndpointSlice, and
// istiod reads Pod and slice like any other.
//
// In a namespace labelled istio-injection=enabled the Pod goes through the API server's admission
// as written: with a real istiod behind the injection webhook (`up --istio`) it comes back
// injected (istio-proxy container, `security.istio.io/tlsMode: istio`, canonical name/revision).
// When no injector answers (the simulated install), the labels and annotations the injector would
// add are written by the bed (`mimicInjection`), so istiod still treats the Pod as a sidecar.
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { clusterIndex } from './fixtures.ts';
import { kubectl } from './kubectl.ts';

export const WORKLOAD_LABEL = 'kubectl-mesh.testbed/workload';
/** The namespace label that enrolls a namespace's Pods in ambient (Istio's label.IoIstioDataplaneMode). */
export const AMBIENT_LABEL = 'istio.io/dataplane-mode';
/** What istio-cni writes on a Pod it redirected to ztunnel; istiod then gives the workload HBONE (pilot/pkg/serviceregistry/ambient/workloads.go). */
export const AMBIENT_REDIRECTION = 'ambient.istio.io/redirection';

export interface WorkloadPort {
  /** Service port name (protocol prefix: http-, tcp-, grpc-, ...) */
  name: string;
  port: number;
  /** container port (default = port) */
  targetPort?: number;
}

export interface WorkloadOptions {
  context: string;
  namespace: string;
  /** Service name, label app=NAME, Pod NAME-0 */
  name: string;
  ports: WorkloadPort[];
  /** false: label sidecar.istio.io/inject=false (no sidecar: its endpoints are plaintext) */
  sidecar?: boolean;
  /** pod IP (default: the next free 10.244.N.x, x >= 30) */
  ip?: string;
  /** label version (canonical revision), default v1 */
  version?: string;
  /** also create the Service (default true) */
  service?: boolean;
  /** extra Pod labels */
  labels?: Record<string, string>;
}

export interface Workload {
  context: string;
  namespace: string;
  name: string;
  pod: string;
  ip: string;
  /** injected: an istio-proxy container came from the webhook; mimicked: the bed added the injector's labels; ambient: captured by ztunnel (namespace label; the bed writes istio-cni's annotation); none */
  sidecar: 'injected' | 'mimicked' | 'ambient' | 'none';
}

export function workloadNode(context: string): string {
  return `testbed-${context}-workloads`;
}

/** `http:8000:8080`, `http:8000`, `8000` (name http-8000) → WorkloadPort. */
export function parsePort(spec: string): WorkloadPort {
  const parts = spec.split(':');
  const num = (s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`bad port ${JSON.stringify(spec)} (NAME:PORT[:TARGET] or PORT)`);
    return n;
  };
  if (parts.length === 1) return { name: `http-${num(parts[0])}`, port: num(parts[0]) };
  if (parts.length === 2) return { name: parts[0], port: num(parts[1]) };
  if (parts.length === 3) return { name: parts[0], port: num(parts[1]), targetPort: num(parts[2]) };
  throw new Error(`bad port ${JSON.stringify(spec)} (NAME:PORT[:TARGET] or PORT)`);
}

async function getJson(context: string, args: string[]): Promise<any | undefined> {
  const r = await kubectl(['get', ...args, '-o', 'json'], { context, allowFail: true });
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')} (${context}): ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout);
}

/** The Node workload Pods are bound to (no kubelet behind it; the endpointslice controller reads it). */
export async function ensureWorkloadNode(context: string): Promise<void> {
  const node = workloadNode(context);
  if (await getJson(context, ['node', node])) return;
  await kubectl(['apply', '-f', '-'], { context, input: JSON.stringify({
    apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { 'kubectl-mesh.testbed/node': 'true', 'kubernetes.io/hostname': node } },
  }) });
  await kubectl(['patch', 'node', node, '--subresource=status', '--type=merge', '-p', JSON.stringify({
    status: {
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: node }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'test bed node (no kubelet)', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    },
  })], { context });
}

async function nextFreeIp(context: string): Promise<string> {
  const n = clusterIndex(context);
  const r = await kubectl(['get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.status.podIP}{"\\n"}{end}'], { context });
  const used = new Set(r.stdout.split('\n').filter(Boolean));
  for (let x = 30; x < 250; x++) {
    const ip = `10.244.${n}.${x}`;
    if (!used.has(ip)) return ip;
  }
  throw new Error(`${context}: no free pod IP in 10.244.${n}.0/24`);
}

/**
 * What the sidecar injector adds that istiod reads (pilot/pkg/kube/inject): the tlsMode label
 * (istiod sends mTLS endpoints only for it, and crosses networks only with mTLS), the canonical
 * service labels, and the status annotation.
 */
export function injectedMetadata(labels: Record<string, string>): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: {
      'security.istio.io/tlsMode': 'istio',
      'service.istio.io/canonical-name': labels['service.istio.io/canonical-name'] ?? labels.app,
      'service.istio.io/canonical-revision': labels['service.istio.io/canonical-revision'] ?? labels.version ?? 'latest',
    },
    annotations: {
      'sidecar.istio.io/status': JSON.stringify({ initContainers: ['istio-init'], containers: ['istio-proxy'], volumes: ['istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert'], imagePullSecrets: null, revision: 'default' }),
      'kubectl-mesh.testbed/injection': 'mimicked (no injector answered)',
    },
  };
}

/** Mark a Pod Running and Ready with this IP (what the kubelet would report). */
export async function setPodRunning(context: string, namespace: string, pod: string, ip: string): Promise<void> {
  const p = await getJson(context, ['-n', namespace, 'pod', pod]);
  if (!p) throw new Error(`${context}: pod ${namespace}/${pod} not found`);
  const now = new Date().toISOString();
  const cond = (type: string): Record<string, string> => ({ type, status: 'True', lastTransitionTime: now });
  const status = (c: { name: string; image: string }): Record<string, unknown> => ({
    name: c.name, image: c.image, imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } },
  });
  await kubectl(['-n', namespace, 'patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({
    status: {
      phase: 'Running', hostIP: '127.0.0.1', hostIPs: [{ ip: '127.0.0.1' }], podIP: ip, podIPs: [{ ip }], startTime: now,
      conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
      containerStatuses: (p.spec.containers as Array<{ name: string; image: string }>).map(status),
      initContainerStatuses: ((p.spec.initContainers ?? []) as Array<{ name: string; image: string }>).map((c) => ({
        name: c.name, image: c.image, imageID: '', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
      })),
    },
  })], { context });
}

/**
 * Create (or replace) a Service and one Pod `NAME-0` behind it, Running and Ready with a pod IP.
 * The Pod is deleted and created again when it exists, so it goes through admission (injection)
 * again.
 */
export async function addWorkload(o: WorkloadOptions): Promise<Workload> {
  const { context, namespace, name } = o;
  if (o.ports.length === 0) throw new Error('a workload needs at least one --port');
  await ensureWorkloadNode(context);
  if (!(await getJson(context, ['namespace', namespace]))) {
    // a new namespace is labelled for injection, as a user of a mesh would (unless no sidecar is wanted)
    await kubectl(['apply', '-f', '-'], { context, input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: o.sidecar === false ? {} : { 'istio-injection': 'enabled' } } }) });
  }
  if (o.service !== false) {
    await kubectl(['apply', '-f', '-'], { context, input: JSON.stringify({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name, namespace, labels: { app: name, service: name } },
      spec: { selector: { app: name }, ports: o.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: 'TCP' })) },
    }) });
  }
  const pod = `${name}-0`;
  await kubectl(['-n', namespace, 'delete', 'pod', pod, '--ignore-not-found', '--grace-period=0', '--force'], { context, allowFail: true });
  const ip = o.ip ?? await nextFreeIp(context);
  const labels: Record<string, string> = { app: name, version: o.version ?? 'v1', [WORKLOAD_LABEL]: name, ...o.labels };
  if (o.sidecar === false) labels['sidecar.istio.io/inject'] = 'false';
  const ports = [...new Map(o.ports.map((p) => [p.targetPort ?? p.port, p])).values()];
  await kubectl(['create', '-f', '-'], { context, input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: pod, namespace, labels },
    spec: {
      nodeName: workloadNode(context),
      serviceAccountName: 'default',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name, image: `testbed.local/${name}:v1`, ports: ports.map((p) => ({ name: p.name.slice(0, 15), containerPort: p.targetPort ?? p.port, protocol: 'TCP' })) }],
    },
  }) });
  const p = await getJson(context, ['-n', namespace, 'pod', pod]);
  const injected = (p.spec.containers as Array<{ name: string }>).some((c) => c.name === 'istio-proxy');
  let sidecar: Workload['sidecar'] = injected ? 'injected' : 'none';
  if (!injected && o.sidecar !== false) {
    const ns = await getJson(context, ['namespace', namespace]);
    if (ns?.metadata?.labels?.['istio-injection'] === 'enabled' || ns?.metadata?.labels?.['istio.io/rev']) {
      const m = injectedMetadata(p.metadata.labels);
      await kubectl(['-n', namespace, 'patch', 'pod', pod, '--type=merge', '-p', JSON.stringify({ metadata: m })], { context });
      sidecar = 'mimicked';
    }
  }
  if (!injected) {
    const ns = await getJson(context, ['namespace', namespace]);
    if (ns?.metadata?.labels?.[AMBIENT_LABEL] === 'ambient' && p.metadata.labels?.[AMBIENT_LABEL] !== 'none') {
      // what istio-cni does for a Pod of an ambient namespace (there is no CNI on the bed)
      await kubectl(['-n', namespace, 'annotate', 'pod', pod, `${AMBIENT_REDIRECTION}=enabled`, '--overwrite'], { context });
      sidecar = 'ambient';
    }
  }
  await setPodRunning(context, namespace, pod, ip);
  return { context, namespace, name, pod, ip, sidecar };
}

/** Delete a workload's Pod and (service: true) its Service. */
export async function removeWorkload(context: string, namespace: string, name: string, opts: { service?: boolean } = {}): Promise<void> {
  await kubectl(['-n', namespace, 'delete', 'pod', `${name}-0`, '--ignore-not-found', '--grace-period=0', '--force'], { context, allowFail: true });
  if (opts.service) await kubectl(['-n', namespace, 'delete', 'service', name, '--ignore-not-found'], { context, allowFail: true });
}

/** The Ready addresses in a Service's EndpointSlices (from the endpointslice controller). */
export async function sliceAddresses(context: string, namespace: string, service: string): Promise<string[]> {
  const l = await getJson(context, ['-n', namespace, 'endpointslices', '-l', `kubernetes.io/service-name=${service}`]);
  const out: string[] = [];
  for (const s of l?.items ?? []) {
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) out.push(...e.addresses);
  }
  return out.sort();
}
