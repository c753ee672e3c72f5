// What istiod sends a ztunnel, through Istio's own delta ADS client (testbed/tools/istio/cmd/ztunnel-probe):
//
//   const z = await ztunnelView({ context: 'cluster1' });   // npm run testbed -- xds --ztunnel --context cluster1
//   serviceView(z, 'httpbin.bar.svc.cluster.local')          // the service and the workloads behind it
//
// The probe subscribes as a ztunnel (node type `ztunnel`, wildcard delta subscription to
// type.googleapis.com/istio.workload.Address, as Istio's own tests connect ztunnels) and prints
// every Address (a Workload or a Service) as Istio's protojson. It is described from the cluster's
// ztunnel Pod when one has a pod IP (the ambient profile's DaemonSet), else as a ztunnel on the bed's
// workload Node: its cluster ID (istiod's), network (istio-system's label), namespace, node.
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { runningIstiod, ztunnelProbeBin } from './istiod.ts';
import { kubectl } from './kubectl.ts';
import { ensureIstioTools, PROBE_ISTIO_VERSION, runJsonTool } from './xds.ts';
import { workloadNode } from './workloads.ts';

export interface ZtunnelTarget {
  context: string;
  /** connect to this context's istiod (default: context's) */
  istiodContext?: string;
  /** istiod's plaintext xDS address (default: the test bed istiod) */
  address?: string;
  timeoutMs?: number;
}

/** One Address resource: {name, address: {workload}|{service}} (protojson of istio.workload.Address). */
export interface ZtunnelAddress {
  name: string;
  address: { workload?: any; service?: any };
}

export interface ZtunnelDump {
  addresses: ZtunnelAddress[];
}

export interface ZtunnelConfig {
  address: string;
  ip: string;
  workload: string;
  namespace: string;
  meta: Record<string, unknown>;
}

async function json(context: string, args: string[]): Promise<any | undefined> {
  const r = await kubectl(['get', ...args, '-o', 'json'], { context, allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** Describe a ztunnel of `context` as it describes itself to istiod. */
export async function ztunnelConfig(context: string, address: string): Promise<ZtunnelConfig> {
  const ns = await json(context, ['namespace', 'istio-system']);
  const pods = await json(context, ['-n', 'istio-system', 'pods', '-l', 'app=ztunnel']);
  const pod = ((pods?.items ?? []) as any[]).filter((p) => p.status?.podIP).sort((a, b) => String(a.metadata.name).localeCompare(b.metadata.name))[0];
  const istiod = runningIstiod(context);
  const node = pod?.spec?.nodeName ?? workloadNode(context);
  const ip = pod?.status?.podIP ?? '127.0.0.1';
  const name = pod?.metadata?.name ?? `ztunnel-${context}`;
  return {
    address,
    ip,
    workload: name,
    namespace: 'istio-system',
    meta: {
      CLUSTER_ID: istiod?.cluster ?? context,
      ...(ns?.metadata?.labels?.['topology.istio.io/network'] ? { NETWORK: ns.metadata.labels['topology.istio.io/network'] } : {}),
      NAME: name,
      NAMESPACE: 'istio-system',
      NODE_NAME: node,
      INSTANCE_IPS: ip,
      SERVICE_ACCOUNT: 'ztunnel',
      ISTIO_VERSION: PROBE_ISTIO_VERSION,
    },
  };
}

/** Run the ztunnel probe with one description. */
export function runZtunnelProbe(cfg: ZtunnelConfig, timeoutMs = 20_000): Promise<ZtunnelDump> {
  ensureIstioTools();
  return runJsonTool<ZtunnelDump>(ztunnelProbeBin(), 'ztunnel-probe', cfg, timeoutMs);
}

/** What istiod of `context` (or istiodContext) sends a ztunnel of `context`. */
export async function ztunnelView(t: ZtunnelTarget): Promise<ZtunnelDump> {
  let address = t.address;
  if (!address) {
    const i = runningIstiod(t.istiodContext ?? t.context);
    if (!i) throw new Error(`no test bed istiod runs for ${t.istiodContext ?? t.context} (npm run testbed -- up --istio --ambient)`);
    address = `127.0.0.1:${i.ports.grpc}`;
  }
  return runZtunnelProbe(await ztunnelConfig(t.context, address), t.timeoutMs);
}

// ---- readers for tests ---------------------------------------------------------------------------

/** protojson bytes (base64) → dotted IPv4 or IPv6 text. */
export function ipText(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  if (b.length === 4) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i < b.length; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

/** A GatewayAddress as "ip:port" or "ns/hostname:port". */
export function gatewayText(g: any): string | undefined {
  if (!g) return undefined;
  const port = g.hboneMtlsPort ?? 0;
  if (g.address) return `${ipText(g.address.address)}:${port}`;
  if (g.hostname) return `${g.hostname.namespace}/${g.hostname.hostname}:${port}`;
  return undefined;
}

export interface ZtunnelEndpoint {
  /** the workload's cluster */
  cluster: string;
  network: string;
  /** pod IPs (empty for a remote network's workload, which ztunnel reaches through its gateway) */
  addresses: string[];
  /** "ip:15008": the east-west gateway ztunnel tunnels to (double HBONE), when the workload is on another network */
  networkGateway?: string;
  workload: string;
}

export interface ZtunnelServiceView {
  hostname: string;
  /** the Service resource, or undefined when istiod sends none (not known in this cluster: local elsewhere) */
  service?: any;
  /** every Workload whose `services` names this service, sorted */
  endpoints: ZtunnelEndpoint[];
}

/** The service `hostname` (e.g. httpbin.bar.svc.cluster.local) and the workloads behind it, as istiod sent them. */
export function serviceView(d: ZtunnelDump, hostname: string): ZtunnelServiceView {
  const svc = d.addresses.map((a) => a.address.service).find((s) => s && s.hostname === hostname);
  const endpoints: ZtunnelEndpoint[] = [];
  for (const a of d.addresses) {
    const w = a.address.workload;
    if (!w || !w.services) continue;
    if (!Object.keys(w.services).some((k) => k.endsWith(`/${hostname}`))) continue;
    endpoints.push({
      cluster: w.clusterId ?? '',
      network: w.network ?? '',
      addresses: ((w.addresses ?? []) as string[]).map(ipText),
      ...(w.networkGateway ? { networkGateway: gatewayText(w.networkGateway) } : {}),
      workload: w.name ?? '',
    });
  }
  endpoints.sort((a, b) => `${a.cluster}/${a.workload}`.localeCompare(`${b.cluster}/${b.workload}`));
  return { hostname, service: svc, endpoints };
}
