// Reading istiod's own view of its remote clusters: GET <debug URL>/debug/clusterz.
//
// istiod answers /debug/* on its monitoring port (15014) to loopback callers without
// authentication, so the URL must be a loopback one: in a real cluster, a port-forward to the
// istiod pod (`kubectl -n istio-system port-forward deploy/istiod 15014 --context X`, the path
// `istioctl remote-clusters` takes); in the test bed, the loopback address of the istiod running
// next to the API server. kubectl-mesh does not open the port-forward itself yet: without a URL
// for a cluster the check is skipped with that recipe as hint.
import * as http from 'node:http'
import type {IstiodProbe, VerifyFacts} from './types.ts'

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

/** One probe per verified cluster that has a URL (matched by report name, context, or cluster ID). */
export async function probeIstiods(facts: VerifyFacts, urls: Record<string, string>, clusterIdOf: (name: string) => string | undefined, timeoutMs: number): Promise<IstiodProbe[]> {
  return Promise.all(facts.clusters.map(async (c): Promise<IstiodProbe> => {
    const id = clusterIdOf(c.name)
    const url = urls[c.name] ?? (c.context ? urls[c.context] : undefined) ?? (id ? urls[id] : undefined)
    if (!url) return {cluster: c.name, outcome: 'no-url', detail: ''}
    try {
      const r = await get(`${url}/debug/clusterz`, timeoutMs)
      if (r.status !== 200) return {cluster: c.name, url, outcome: 'error', detail: `HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`}
      const list = JSON.parse(r.body) as ClusterzEntry[]
      if (!Array.isArray(list)) return {cluster: c.name, url, outcome: 'error', detail: 'the answer is not a JSON list'}
      return {cluster: c.name, url, outcome: 'ok', detail: '', clusterz: list}
    } catch (error) {
      return {cluster: c.name, url, outcome: 'error', detail: (error as Error).message}
    }
  }))
}
