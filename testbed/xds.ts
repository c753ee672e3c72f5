// What istiod sends to one proxy, through Istio's own ADS client (testbed/tools/istio/cmd/xds-probe):
//
//   const x = await xds({ context: 'cluster1', app: 'foo/sleep' });   // or pod: 'foo/sleep-0', eastwest: true, egress: true
//   x.endpoints.find((e) => e.clusterName === 'outbound|8000||httpbin.bar.svc.cluster.local')
//
// The proxy is described from its Pod the way pilot-agent describes itself to istiod: node ID
// `<sidecar|router>~<pod IP>~<pod>.<ns>~<ns>.svc.cluster.local`, metadata from the istio-proxy
// container's `ISTIO_META_*` environment (and proxyMetadata of its PROXY_CONFIG), the Pod's labels,
// namespace, IPs and service account. A Pod without an injected istio-proxy container (the
// simulated install, whose injection the bed mimics) is described from the cluster's facts: its
// istiod's CLUSTER_ID, the network label of istio-system, the mesh config's proxyMetadata.
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { runningIstiod, xdsProbeBin } from './istiod.ts';
import { kubectl } from './kubectl.ts';

/** The Istio version the probe announces (ISTIO_VERSION metadata; istiod gates features on it). */
export const PROBE_ISTIO_VERSION = '1.31.0';

export interface XdsTarget {
  context: string;
  /** NS/NAME of a Pod */
  pod?: string;
  /** NS/APP: the first Running Pod labelled app=APP */
  app?: string;
  /** the east-west gateway Pod (istio-system, label istio=eastwestgateway) */
  eastwest?: boolean;
  /** the egress gateway Pod (istio-system, label istio=egressgateway): a router in standard mode */
  egress?: boolean;
  /** how long to wait for istiod (default 20 s) */
  timeoutMs?: number;
  /** istiod's plaintext xDS address (default: the test bed istiod of that context) */
  address?: string;
  /** connect to this context's istiod instead (the Pod is still read from `context`): a remote-profile cluster's Pod asks its primary */
  istiodContext?: string;
}

/** Envoy protojson resources, typed loosely: tests read the fields they assert on. */
export interface XdsDump {
  clusters: any[];
  endpoints: any[];
  listeners: any[];
  routes: any[];
  nameTable: { table?: Record<string, { ips?: string[]; registry?: string; shortname?: string; namespace?: string }> } | null;
}

export interface ProbeConfig {
  address: string;
  nodeType: 'sidecar' | 'router';
  ip: string;
  workload: string;
  namespace: string;
  meta: Record<string, unknown>;
}

async function getJson(context: string, args: string[]): Promise<any> {
  const r = await kubectl(['get', ...args, '-o', 'json'], { context });
  return JSON.parse(r.stdout);
}

function split(ref: string, what: string): [string, string] {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) throw new Error(`${what} must be NAMESPACE/NAME, got ${JSON.stringify(ref)}`);
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** The Pod a target names. */
export async function targetPod(t: XdsTarget): Promise<any> {
  const n = [t.pod, t.app, t.eastwest, t.egress].filter((x) => x !== undefined && x !== false).length;
  if (n !== 1) throw new Error('give exactly one of --pod NS/NAME, --app NS/APP, --eastwest, --egress');
  if (t.pod) {
    const [ns, name] = split(t.pod, '--pod');
    return getJson(t.context, ['-n', ns, 'pod', name]);
  }
  const [ns, selector] = t.app ? [split(t.app, '--app')[0], `app=${split(t.app, '--app')[1]}`] : ['istio-system', t.egress ? 'istio=egressgateway' : 'istio=eastwestgateway'];
  const list = await getJson(t.context, ['-n', ns, 'pods', '-l', selector]);
  const pods = (list.items as any[]).filter((p) => p.status?.phase === 'Running' && p.status?.podIP);
  if (pods.length === 0) throw new Error(`${t.context}: no Running Pod with a pod IP in ${ns} labelled ${selector}`);
  return pods.sort((a, b) => String(a.metadata.name).localeCompare(b.metadata.name))[0];
}

function fieldRef(pod: any, path: string): string | undefined {
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace;
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'spec.nodeName': return pod.spec.nodeName;
    case 'status.podIP': return pod.status?.podIP;
    case 'status.hostIP': return pod.status?.hostIP;
    default: {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      return m ? pod.metadata[m[1]]?.[m[2]] : undefined;
    }
  }
}

/** The cluster's facts a proxy of a non-injected Pod would carry: cluster ID, network, proxyMetadata. */
async function clusterFacts(context: string): Promise<{ clusterId: string; network?: string; proxyMetadata: Record<string, string> }> {
  const ns = await getJson(context, ['namespace', 'istio-system']);
  const cm = (await kubectl(['get', '-n', 'istio-system', 'configmap', 'istio', '-o', 'json'], { context, allowFail: true }));
  const mesh = (cm.code === 0 ? load(JSON.parse(cm.stdout).data?.mesh ?? '') ?? {} : {}) as { defaultConfig?: { proxyMetadata?: Record<string, string> } };
  const istiod = runningIstiod(context);
  return { clusterId: istiod?.cluster ?? context, network: ns.metadata.labels?.['topology.istio.io/network'], proxyMetadata: mesh.defaultConfig?.proxyMetadata ?? {} };
}

/** Describe a Pod's proxy as pilot-agent would (see the top of this file). */
export async function probeConfig(context: string, pod: any, address: string): Promise<ProbeConfig> {
  const labels: Record<string, string> = { ...pod.metadata.labels };
  const proxy = (pod.spec.containers as any[]).find((c) => c.name === 'istio-proxy');
  const gateway = labels.istio === 'eastwestgateway' || pod.metadata.annotations?.['inject.istio.io/templates'] === 'gateway' ||
    (proxy && (proxy.args ?? []).includes('router'));
  const meta: Record<string, unknown> = {};
  const setEnv = (name: string, value: string): void => {
    if (name.startsWith('ISTIO_METAJSON_')) {
      try { meta[name.slice('ISTIO_METAJSON_'.length)] = JSON.parse(value); } catch { /* not JSON */ }
    } else if (name.startsWith('ISTIO_META_')) {
      meta[name.slice('ISTIO_META_'.length)] = value;
    }
  };
  if (proxy) {
    for (const e of proxy.env ?? []) {
      const v = e.value ?? (e.valueFrom?.fieldRef ? fieldRef(pod, e.valueFrom.fieldRef.fieldPath) : undefined);
      if (v === undefined) continue;
      if (e.name === 'PROXY_CONFIG') {
        try {
          for (const [k, pv] of Object.entries((JSON.parse(v) as { proxyMetadata?: Record<string, string> }).proxyMetadata ?? {})) setEnv(k, pv);
        } catch { /* not JSON */ }
      } else {
        setEnv(e.name, v);
      }
    }
  } else {
    const f = await clusterFacts(context);
    meta.CLUSTER_ID = f.clusterId;
    if (f.network) meta.NETWORK = f.network;
    for (const [k, v] of Object.entries(f.proxyMetadata)) setEnv(k, v);
  }
  // env set last in the Pod wins, as for pilot-agent; what the agent adds itself:
  Object.assign(meta, {
    NAME: pod.metadata.name,
    NAMESPACE: pod.metadata.namespace,
    LABELS: labels,
    INSTANCE_IPS: pod.status.podIP,
    SERVICE_ACCOUNT: pod.spec.serviceAccountName ?? 'default',
    NODE_NAME: pod.spec.nodeName ?? '',
    ISTIO_VERSION: PROBE_ISTIO_VERSION,
  });
  if (!meta.WORKLOAD_NAME) meta.WORKLOAD_NAME = labels.app ?? pod.metadata.name;
  // the east-west gateway needs SNI-DNAT routing (AUTO_PASSTHROUGH); Istio's gateway env sets it.
  // The egress gateway's chart sets none: pilot-agent's default, standard.
  if (gateway && !meta.ROUTER_MODE) meta.ROUTER_MODE = labels.istio === 'egressgateway' ? 'standard' : 'sni-dnat';
  if (!pod.status?.podIP) throw new Error(`${context}: pod ${pod.metadata.namespace}/${pod.metadata.name} has no pod IP`);
  return { address, nodeType: gateway ? 'router' : 'sidecar', ip: pod.status.podIP, workload: pod.metadata.name, namespace: pod.metadata.namespace, meta };
}

let toolsChecked = false;

/** Build (or rebuild, when their source changed) the Istio tools once per process: testbed/build-istio.sh. */
export function ensureIstioTools(): void {
  if (toolsChecked) return;
  const r = spawnSync('bash', [join(import.meta.dirname, 'build-istio.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`testbed/build-istio.sh failed (${r.status ?? r.signal})`);
  toolsChecked = true;
}

/** The xDS probe, built if needed. */
export function ensureProbe(): string {
  ensureIstioTools();
  return xdsProbeBin();
}

/**
 * Run one of the bed's Go probes (`BIN --config - --timeout Ns`) with its JSON config on stdin and
 * parse the JSON it prints; its own `NAME: …` error line when it fails.
 */
export function runJsonTool<T>(bin: string, name: string, cfg: unknown, timeoutMs: number): Promise<T> {
  return new Promise((res, rej) => {
    const child = spawn(bin, ['--config', '-', '--timeout', `${Math.round(timeoutMs / 1000)}s`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 10_000);
    child.on('error', (e) => { clearTimeout(timer); rej(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString().trim();
      if (code !== 0) return rej(new Error(stderr.split('\n').filter((l) => l.startsWith(`${name}:`)).pop() ?? `${name} exited ${code}: ${stderr}`));
      try {
        res(JSON.parse(Buffer.concat(out).toString()) as T);
      } catch (e) {
        rej(new Error(`${name} printed no JSON: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(cfg));
  });
}

/** Run the probe with one proxy description. */
export function runProbe(cfg: ProbeConfig, timeoutMs = 20_000): Promise<XdsDump> {
  return runJsonTool<XdsDump>(ensureProbe(), 'xds-probe', cfg, timeoutMs);
}

/** What istiod of `context` sends to the proxy of that Pod. */
export async function xds(t: XdsTarget): Promise<XdsDump> {
  let address = t.address;
  if (!address) {
    const i = runningIstiod(t.istiodContext ?? t.context);
    if (!i) throw new Error(`no test bed istiod runs for ${t.istiodContext ?? t.context} (npm run testbed -- up --istio)`);
    address = `127.0.0.1:${i.ports.grpc}`;
  }
  const pod = await targetPod(t);
  return runProbe(await probeConfig(t.context, pod, address), t.timeoutMs);
}

// ---- small readers for tests --------------------------------------------------------------------

/** "ip:port" of every endpoint istiod sent for one cluster name (undefined when that cluster has no EDS resource). */
export function endpointsOf(d: XdsDump, clusterName: string): string[] | undefined {
  const cla = d.endpoints.find((e) => e.clusterName === clusterName);
  if (!cla) return undefined;
  const out: string[] = [];
  for (const l of cla.endpoints ?? []) {
    for (const e of l.lbEndpoints ?? []) {
      const a = e.endpoint?.address?.socketAddress;
      if (a) out.push(`${a.address}:${a.portValue}`);
    }
  }
  return out.sort();
}

/** The cluster named so, or undefined. */
export function clusterOf(d: XdsDump, name: string): any {
  return d.clusters.find((c) => c.name === name);
}

/** SNI names the cluster's TLS transport socket(s) set (the cluster's own, and per transportSocketMatches). */
export function clusterSnis(c: any): string[] {
  const out = new Set<string>();
  const visit = (ts: any): void => {
    const sni = ts?.typedConfig?.sni;
    if (sni) out.add(sni);
  };
  visit(c?.transportSocket);
  for (const m of c?.transportSocketMatches ?? []) visit(m.transportSocket);
  return [...out].sort();
}

/** Every serverNames entry of a listener's filter chains. */
export function listenerServerNames(d: XdsDump, listenerName: string): string[] {
  const l = d.listeners.find((x) => x.name === listenerName);
  if (!l) return [];
  return (l.filterChains ?? []).flatMap((fc: any) => fc.filterChainMatch?.serverNames ?? []).sort();
}
