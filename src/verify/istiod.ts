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
import type {ClusterFacts, IstiodProbe, VerifyFacts} from './types.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import {getThroughPortForward} from '../kube/portforward.ts'
import {ISTIOD_APP_SELECTOR} from '../istio/revision.ts'

export const ISTIOD_MONITORING_PORT = 15014

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
  if (r.status !== 200) return {...base, outcome: 'error', detail: `HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`}
  let list: unknown
  try {
    list = JSON.parse(r.body)
  } catch {
    list = undefined
  }
  if (!Array.isArray(list)) return {...base, outcome: 'error', detail: 'the answer is not a JSON list'}
  return {...base, outcome: 'ok', detail: '', clusterz: list as ClusterzEntry[]}
}

/**
 * Through the API server: find istiod's pod, then GET /debug/clusterz over a port-forward to it.
 * Also used by `cluster rotate-credentials` (src/link/rotate.ts) to wait for istiod's sync.
 */
export async function probeThroughPod(c: Pick<ClusterFacts, 'name' | 'istioNamespace'>, client: KubeClient, timeoutMs: number): Promise<IstiodProbe> {
  const ns = c.istioNamespace
  let pods: KubeObject[]
  try {
    pods = (await client.get<{items: KubeObject[]}>(`/api/v1/namespaces/${ns}/pods`, {labelSelector: ISTIOD_APP_SELECTOR})).items ?? []
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return {cluster: c.name, outcome: 'forbidden', detail: `cannot list pods in ${ns}`}
    return {cluster: c.name, outcome: 'error', detail: `cannot list istiod's pods in ${ns}: ${(error as Error).message.replace(/^context "[^"]*": /, '')}`}
  }
  const pod = pickIstiodPod(pods)
  if (!pod) return {cluster: c.name, outcome: 'no-pod', detail: pods.length === 0 ? `no pod with label ${ISTIOD_APP_SELECTOR} in ${ns}` : `no running pod among ${pods.length} with label ${ISTIOD_APP_SELECTOR} in ${ns}`}
  const base = {cluster: c.name, url: `pod ${ns}/${pod.metadata.name} port ${ISTIOD_MONITORING_PORT} (port-forward)`}
  try {
    return parseClusterz(base, await getThroughPortForward(client, ns, pod.metadata.name, ISTIOD_MONITORING_PORT, '/debug/clusterz', timeoutMs))
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return {...base, outcome: 'forbidden', detail: `cannot port-forward to pod ${ns}/${pod.metadata.name}`}
    return {...base, outcome: 'error', detail: (error as Error).message.replace(/^context "[^"]*": /, '')}
  }
}

/**
 * One probe per verified cluster: at its --istiod-debug-url (matched by report name, context, or
 * cluster ID) when given, else through a port-forward to its istiod pod when it is verified
 * through a context.
 */
export async function probeIstiods(facts: VerifyFacts, how: {
  urls: Record<string, string>
  clusterIdOf: (c: ClusterFacts) => string | undefined
  /** Only clusters holding remote secrets have a sync status to read. */
  hasRemoteSecrets: (c: ClusterFacts) => boolean
  clientOf: (c: ClusterFacts) => KubeClient | undefined
  timeoutMs: number
}): Promise<IstiodProbe[]> {
  const {urls, clientOf, timeoutMs} = how
  return Promise.all(facts.clusters.map(async (c): Promise<IstiodProbe> => {
    if (!how.hasRemoteSecrets(c)) return {cluster: c.name, outcome: 'not-asked', detail: ''}
    const id = how.clusterIdOf(c)
    const url = urls[c.name] ?? (c.context ? urls[c.context] : undefined) ?? (id ? urls[id] : undefined)
    if (!url) {
      const client = c.source === 'context' && !c.unreachable ? clientOf(c) : undefined
      return client ? probeThroughPod(c, client, timeoutMs) : {cluster: c.name, outcome: 'not-asked', detail: ''}
    }
    try {
      return parseClusterz({cluster: c.name, url: `${url}/debug/clusterz`}, await get(`${url}/debug/clusterz`, timeoutMs))
    } catch (error) {
      return {cluster: c.name, url: `${url}/debug/clusterz`, outcome: 'error', detail: (error as Error).message}
    }
  }))
}
