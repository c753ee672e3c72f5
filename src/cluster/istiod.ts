// Reading istiod's own view of its remote clusters: GET /debug/clusterz on its monitoring port
// (15014), which istiod serves without authentication to callers on its loopback.
//
// For a cluster verified through a context: through a port-forward to a running istiod pod
// (label app=istiod in the Istio namespace), the path `kubectl port-forward` and
// `istioctl remote-clusters` take, opened through the API server without a local listener
// (src/kube/portforward.ts). --istiod-debug-url CLUSTER=URL reads it at a URL instead (an istiod
// outside its cluster). A cluster read through a remote secret's credentials is not
// port-forwarded into: those are istiod's reader credentials.
import * as http from 'node:http'
import type {KubeObject} from '../kube/resources.ts'
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import {getThroughPortForward} from '../kube/portforward.ts'
import {ISTIOD_APP_SELECTOR} from '../istio/revision.ts'

export const ISTIOD_MONITORING_PORT = 15014

/** What the reader needs to know of a cluster: how it is named, where Istio lives, how it is read. */
export interface IstiodSubject {
  name: string
  context?: string
  source?: 'context' | 'remote-secret'
  istioNamespace: string
  unreachable?: unknown
}

/**
 * istiod's /debug/clusterz of one cluster (this module). 'not-asked': no remote secrets,
 * or read through a remote secret without --istiod-debug-url; 'no-pod': no running istiod pod to
 * port-forward to; 'forbidden': the user may not list or port-forward to istiod's pods.
 */
export interface IstiodProbe {
  /** report name of the cluster */
  cluster: string
  /** what was asked: the URL, or "pod NS/NAME port 15014 (port-forward)" */
  url?: string
  outcome: 'ok' | 'error' | 'not-asked' | 'no-pod' | 'forbidden'
  detail: string
  clusterz?: Array<{id: string; secretName: string; syncStatus: string}>
  /** /debug/networkz (read after clusterz answered): the gateways istiod knows per network. */
  networkz?: NetworkGatewayEntry[]
  networkzError?: string
  /** /debug/endpointShardz: the endpoint shards istiod holds per host and namespace. */
  endpointShardz?: EndpointShardz
  endpointShardzError?: string
}


export interface ClusterzEntry {
  id: string
  secretName: string
  syncStatus: string
}

/** `name=URL` values of --istiod-debug-url, keyed by cluster (context name or cluster ID). */
export function parseIstiodDebugUrls(values: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values) {
    const i = v.indexOf('=')
    if (i <= 0 || !/^https?:\/\//.test(v.slice(i + 1))) throw new Error(`--istiod-debug-url ${JSON.stringify(v)}: expected CLUSTER=http://HOST:PORT`)
    out[v.slice(0, i)] = v.slice(i + 1).replace(/\/+$/, '')
  }
  return out
}

function get(url: string, timeoutMs: number): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {timeout: timeoutMs}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/** The istiod pod to ask: running and not terminating; ready ones first, then the newest. */
export function pickIstiodPod(pods: KubeObject[]): KubeObject | undefined {
  const ready = (p: KubeObject) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  return pods
    .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)
    .sort((a, b) => Number(ready(b)) - Number(ready(a)) || String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) || a.metadata.name.localeCompare(b.metadata.name))[0]
}

function parseClusterz(base: Omit<IstiodProbe, 'outcome' | 'detail'>, r: {status: number; body: string}): IstiodProbe {
  const list = parseJsonAnswer(r, 'list')
  if (typeof list === 'string') return {...base, outcome: 'error', detail: list}
  return {...base, outcome: 'ok', detail: '', clusterz: list as ClusterzEntry[]}
}

/** The JSON of an answer, or why there is none (a string). */
function parseJsonAnswer(r: {status: number; body: string}, want: 'list' | 'object'): unknown {
  if (r.status !== 200) return `HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`
  let v: unknown
  try {
    v = JSON.parse(r.body)
  } catch {
    return `the answer is not JSON`
  }
  // Go marshals an empty map as {} or null and a nil slice as null.
  if (v === null) return want === 'list' ? [] : {}
  if (want === 'list' ? !Array.isArray(v) : (typeof v !== 'object' || Array.isArray(v))) return `the answer is not a JSON ${want}`
  return v
}

// ---- istiod's network gateways and endpoint shards (/debug/networkz, /debug/endpointShardz) ----

/** One gateway istiod knows (/debug/networkz): meshNetworks gateways have cluster "", label-discovered ones their cluster ID. */
export interface NetworkGatewayEntry {
  network: string
  cluster: string
  addr: string
  port: number
}

/** One endpoint of a shard, as istiod holds it (model.IstioEndpoint), the fields explain and verify use. */
export interface ShardEndpoint {
  /** Addresses[0] (older istiods: Address) */
  address: string
  port: number
  servicePortName: string
  network: string
  /** "istio" when the workload has a sidecar (label security.istio.io/tlsMode), else "disabled" or "" */
  tlsMode: string
  /** model.HealthStatus: 1 healthy, 2 unhealthy, 3 draining, 4 terminating; 0/absent: healthy */
  healthStatus: number
  /** The cluster the endpoint came from (its locality's cluster ID, else the shard's). */
  cluster: string
  workload?: string
  /** LbWeight (0/absent: 1) */
  weight?: number
}

/** host → namespace → shard key ("Kubernetes/<cluster>", "External/<cluster>") → endpoints. */
export type EndpointShardz = Record<string, Record<string, Record<string, ShardEndpoint[]>>>

/** The cluster ID of a shard key `<provider>/<cluster>`. */
export const shardCluster = (key: string) => key.slice(key.indexOf('/') + 1)
/** The provider of a shard key: Kubernetes (a Service's pods) or External (ServiceEntry endpoints). */
export const shardProvider = (key: string) => key.slice(0, Math.max(0, key.indexOf('/')))

export function parseNetworkz(raw: unknown): NetworkGatewayEntry[] {
  return (Array.isArray(raw) ? raw : []).map((g: any) => ({
    network: String(g?.Network ?? g?.network ?? ''), cluster: String(g?.Cluster ?? g?.cluster ?? ''),
    addr: String(g?.Addr ?? g?.addr ?? ''), port: Number(g?.Port ?? g?.port ?? 0),
  }))
}

function parseEndpoint(e: any, shardKey: string): ShardEndpoint {
  const addresses: unknown = e?.Addresses ?? (e?.Address ? [e.Address] : [])
  return {
    address: Array.isArray(addresses) && typeof addresses[0] === 'string' ? addresses[0] : '',
    port: Number(e?.EndpointPort ?? 0),
    servicePortName: String(e?.ServicePortName ?? ''),
    network: String(e?.Network ?? ''),
    tlsMode: String(e?.TLSMode ?? ''),
    healthStatus: Number(e?.HealthStatus ?? 0),
    cluster: String(e?.Locality?.ClusterID || shardCluster(shardKey)),
    ...(e?.WorkloadName ? {workload: String(e.WorkloadName)} : {}),
    ...(Number(e?.LbWeight) > 1 ? {weight: Number(e.LbWeight)} : {}),
  }
}

/** /debug/endpointShardz: `{host: {namespace: {Shards: {key: [IstioEndpoint]}}}}` → EndpointShardz. */
export function parseEndpointShardz(raw: unknown): EndpointShardz {
  const out: EndpointShardz = {}
  for (const [host, byNs] of Object.entries<any>(raw && typeof raw === 'object' ? raw : {})) {
    for (const [ns, shards] of Object.entries<any>(byNs && typeof byNs === 'object' ? byNs : {})) {
      const keyed: Record<string, ShardEndpoint[]> = {}
      for (const [key, eps] of Object.entries<any>(shards?.Shards ?? {})) keyed[key] = (Array.isArray(eps) ? eps : []).map((e) => parseEndpoint(e, key))
      ;(out[host] ??= {})[ns] = keyed
    }
  }
  return out
}

/** Where an istiod's debug endpoints are read: through a port-forward to its pod, or at a URL. */
export type IstiodTarget = {kind: 'pod'; client: KubeClient; namespace: string; pod: string} | {kind: 'url'; url: string}

export const describeTarget = (t: IstiodTarget) => (t.kind === 'url' ? t.url : `pod ${t.namespace}/${t.pod} port ${ISTIOD_MONITORING_PORT} (port-forward)`)

/** GET one debug path of an istiod (one port-forward, or one HTTP GET). */
export function istiodGet(t: IstiodTarget, path: string, timeoutMs: number): Promise<{status: number; body: string}> {
  return t.kind === 'url' ? get(`${t.url}${path}`, timeoutMs) : getThroughPortForward(t.client, t.namespace, t.pod, ISTIOD_MONITORING_PORT, path, timeoutMs)
}

/** GET and parse a debug path that answers JSON; rejects with a sentence when it does not. */
export async function istiodJson(t: IstiodTarget, path: string, want: 'list' | 'object', timeoutMs: number): Promise<unknown> {
  let r: {status: number; body: string}
  try {
    r = await istiodGet(t, path, timeoutMs)
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) throw new Error(`cannot port-forward to ${describeTarget(t)} (forbidden)`)
    throw new Error(`${path} (${describeTarget(t)}): ${(error as Error).message.replace(/^context "[^"]*": /, '')}`)
  }
  const v = parseJsonAnswer(r, want)
  if (typeof v === 'string') throw new Error(`${path} (${describeTarget(t)}): ${v}`)
  return v
}

/** The istiod pod of a cluster to port-forward to, or why there is none (outcome no-pod / forbidden / error). */
export async function locateIstiodPod(c: Pick<IstiodSubject, 'name' | 'istioNamespace'>, client: KubeClient): Promise<{target: IstiodTarget} | {outcome: 'no-pod' | 'forbidden' | 'error'; detail: string}> {
  const ns = c.istioNamespace
  let pods: KubeObject[]
  try {
    pods = (await client.get<{items: KubeObject[]}>(`/api/v1/namespaces/${ns}/pods`, {labelSelector: ISTIOD_APP_SELECTOR})).items ?? []
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return {outcome: 'forbidden', detail: `cannot list pods in ${ns}`}
    return {outcome: 'error', detail: `cannot list istiod's pods in ${ns}: ${(error as Error).message.replace(/^context "[^"]*": /, '')}`}
  }
  const pod = pickIstiodPod(pods)
  if (!pod) return {outcome: 'no-pod', detail: pods.length === 0 ? `no pod with label ${ISTIOD_APP_SELECTOR} in ${ns}` : `no running pod among ${pods.length} with label ${ISTIOD_APP_SELECTOR} in ${ns}`}
  return {target: {kind: 'pod', client, namespace: ns, pod: pod.metadata.name}}
}

/** clusterz, then (with `view`) networkz and endpointShardz: one GET each. */
async function probeTarget(c: Pick<IstiodSubject, 'name'>, t: IstiodTarget, timeoutMs: number, view: boolean): Promise<IstiodProbe> {
  const base = {cluster: c.name, url: t.kind === 'url' ? `${t.url}/debug/clusterz` : describeTarget(t)}
  let probe: IstiodProbe
  try {
    probe = parseClusterz(base, await istiodGet(t, '/debug/clusterz', timeoutMs))
  } catch (error) {
    if (error instanceof ApiError && error.status === 403 && t.kind === 'pod') return {...base, outcome: 'forbidden', detail: `cannot port-forward to pod ${t.namespace}/${t.pod}`}
    return {...base, outcome: 'error', detail: (error as Error).message.replace(/^context "[^"]*": /, '')}
  }
  if (!view || probe.outcome !== 'ok') return probe
  const [networkz, shardz] = await Promise.allSettled([
    istiodJson(t, '/debug/networkz', 'list', timeoutMs).then(parseNetworkz),
    istiodJson(t, '/debug/endpointShardz', 'object', timeoutMs).then(parseEndpointShardz),
  ])
  if (networkz.status === 'fulfilled') probe.networkz = networkz.value
  else probe.networkzError = (networkz.reason as Error).message
  if (shardz.status === 'fulfilled') probe.endpointShardz = shardz.value
  else probe.endpointShardzError = (shardz.reason as Error).message
  return probe
}

/**
 * Through the API server: find istiod's pod, then GET /debug/clusterz over a port-forward to it
 * (with `view`, also /debug/networkz and /debug/endpointShardz).
 * Also used by `cluster rotate-credentials` (src/link/rotate.ts) to wait for istiod's sync.
 */
export async function probeThroughPod(c: Pick<IstiodSubject, 'name' | 'istioNamespace'>, client: KubeClient, timeoutMs: number, view = false): Promise<IstiodProbe> {
  const found = await locateIstiodPod(c, client)
  if (!('target' in found)) return {cluster: c.name, ...found}
  return probeTarget(c, found.target, timeoutMs, view)
}

/**
 * One probe per verified cluster: at its --istiod-debug-url (matched by report name, context, or
 * cluster ID) when given, else through a port-forward to its istiod pod when it is verified
 * through a context.
 */
export async function probeIstiods<C extends IstiodSubject>(clusters: C[], how: {
  urls: Record<string, string>
  clusterIdOf: (c: C) => string | undefined
  /** Only clusters holding remote secrets have a sync status to read. */
  hasRemoteSecrets: (c: C) => boolean
  clientOf: (c: C) => KubeClient | undefined
  timeoutMs: number
  /** Also read /debug/networkz and /debug/endpointShardz (two more GETs per cluster). */
  view?: boolean
}): Promise<IstiodProbe[]> {
  const {urls, clientOf, timeoutMs} = how
  return Promise.all(clusters.map(async (c): Promise<IstiodProbe> => {
    if (!how.hasRemoteSecrets(c)) return {cluster: c.name, outcome: 'not-asked', detail: ''}
    const id = how.clusterIdOf(c)
    const url = urls[c.name] ?? (c.context ? urls[c.context] : undefined) ?? (id ? urls[id] : undefined)
    if (!url) {
      const client = c.source === 'context' && !c.unreachable ? clientOf(c) : undefined
      return client ? probeThroughPod(c, client, timeoutMs, how.view) : {cluster: c.name, outcome: 'not-asked', detail: ''}
    }
    return probeTarget(c, {kind: 'url', url}, timeoutMs, Boolean(how.view))
  }))
}
