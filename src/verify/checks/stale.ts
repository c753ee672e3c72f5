// links.istiod-stale: what istiod serves from a linked peer's shard equals the peer's ready
// EndpointSlice addresses. istiod keeps serving the endpoints it had when its watch of a remote
// cluster fails (a revoked or expired token, a network cut) while /debug/clusterz still says
// `synced`: phantom addresses (the peer no longer has them) and missing ones (the peer has ready
// endpoints istiod never saw). Pure: facts in, findings out; the settling re-read is done by
// src/verify/service.ts (facts.staleRecheck).
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip} from '../check.ts'
import {fqdnIn} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'
import type {ShardEndpoint} from '../../cluster/istiod.ts'
import {EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL} from '../../istio/names.ts'
import {ENDPOINT_SAMPLE, linkedPeers, viewOf} from './istiod.ts'

/** How long verify waits before reading again when istiod and a peer's EndpointSlices differ. */
export const STALE_GRACE_MS = 5000

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

export interface StaleDiff {
  /** the cluster whose istiod serves the shard (report name) */
  cluster: string
  /** the linked peer's cluster ID (its remote secret's key, the shard `Kubernetes/<key>`) */
  key: string
  namespace: string
  service: string
  host: string
  kind: 'phantom' | 'missing'
  address: string
  port: number
  /** `cluster|key|ns/service|kind|address:port`: compared across the settling re-read */
  id: string
}

export interface StaleComparison {
  diffs: StaleDiff[]
  /** per cluster whose istiod was compared: how many services were compared */
  compared: Map<string, number>
  /** why a cluster (or one of its peers) was not compared */
  skipped: Finding[]
}

/** istiod serves a shard endpoint to sidecars when it is healthy (model.HealthStatus 0 or 1). */
const serving = (e: ShardEndpoint) => e.healthStatus === 0 || e.healthStatus === 1

/** The peer's ready endpoints of one Service as `address:port`, as istiod builds them from its EndpointSlices (pilot/pkg/serviceregistry/kube/controller/endpointslice.go updateEndpointCacheForSlice: one endpoint per address and slice port; ready nil counts as ready). */
export function readySliceEndpoints(slices: any[], ns: string, name: string): Set<string> {
  const out = new Set<string>()
  for (const s of slices) {
    if (s.metadata?.namespace !== ns || s.metadata?.labels?.[SERVICE_NAME_LABEL] !== name || s.addressType === 'FQDN') continue
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue
      for (const a of e.addresses ?? []) for (const p of s.ports ?? []) out.add(`${a}:${p.port ?? 0}`)
    }
  }
  return out
}

/** The services of a peer to compare: exported, imported by the cluster, and a bounded sample of the others. */
function servicesToCompare(c: ClusterFacts, key: string, peer: ClusterFacts, peerSlices: any[], shardHosts: Array<{host: string; ns: string}>): Array<{ns: string; name: string; why: string}> {
  const out = new Map<string, {ns: string; name: string; why: string}>()
  for (const s of peer.lists.Service ?? []) {
    if (s.metadata.labels?.[EXPORTED_LABEL] === 'true') out.set(`${s.metadata.namespace}/${s.metadata.name}`, {ns: s.metadata.namespace!, name: s.metadata.name, why: 'exported'})
  }
  for (const se of c.lists.ServiceEntry ?? []) {
    if (se.metadata.labels?.[IMPORTED_FROM_LABEL] !== key) continue
    const name = se.metadata.labels?.[IMPORTED_SERVICE_LABEL] ?? se.metadata.name
    const k = `${se.metadata.namespace}/${name}`
    if (!out.has(k)) out.set(k, {ns: se.metadata.namespace!, name, why: 'imported'})
  }
  // the sample: services istiod holds a shard of this peer for, and services with ready endpoints in the peer
  const others = new Set<string>()
  for (const h of shardHosts) others.add(`${h.ns}/${h.host.split('.')[0]}`)
  for (const s of peerSlices) {
    const name = s.metadata?.labels?.[SERVICE_NAME_LABEL]
    if (name && (s.endpoints ?? []).length > 0) others.add(`${s.metadata.namespace}/${name}`)
  }
  const sample = [...others].filter((k) => !out.has(k) && !k.startsWith(`${peer.istioNamespace}/`)).sort().slice(0, ENDPOINT_SAMPLE)
  for (const k of sample) {
    const [ns, name] = k.split('/')
    out.set(k, {ns, name, why: 'sampled'})
  }
  return [...out.values()]
}

/** Compare every linked peer's shard in every istiod read with the peer's EndpointSlices. */
export function compareShards(ctx: CheckContext): StaleComparison {
  const diffs: StaleDiff[] = []
  const compared = new Map<string, number>()
  const skipped: Finding[] = []
  for (const c of ctx.clusters) {
    const probe = ctx.facts.istiod?.find((p) => p.cluster === c.name)
    const shardz = probe?.outcome === 'ok' ? probe.endpointShardz : undefined
    if (!shardz) continue
    const discoverySelectors = (ctx.id(c).install.mesh?.discoverySelectors ?? []).length > 0
    for (const {key, peer} of linkedPeers(ctx, c)) {
      if (!peer || peer.unreachable) continue
      const read = ctx.facts.serviceSlices?.[peer.name]
      const peerSlices = read?.slices
      if (!peerSlices) {
        skipped.push(skip(c.name, `cluster ${c.name}: the EndpointSlices of linked cluster ${key} were not read${read?.error ? ` (${read.error})` : ''}, so what istiod serves from it cannot be compared`,
          `reading them needs \`list endpointslices\` cluster-wide in ${key} (\`kubectl get endpointslices -A --context ${ctxOf(peer)}\`)`))
        continue
      }
      const shard = `Kubernetes/${key}`
      const shardHosts = Object.entries(shardz).flatMap(([host, byNs]) => Object.entries(byNs).filter(([, s]) => (s[shard] ?? []).length > 0).map(([ns]) => ({host, ns})))
      let n = compared.get(c.name) ?? 0
      for (const svc of servicesToCompare(c, key, peer, peerSlices, shardHosts)) {
        n++
        // istiod names the service by its own domain: the host in shardz of that namespace whose first labels are name.ns.svc
        const hosts = Object.keys(shardz).filter((h) => h.startsWith(`${svc.name}.${svc.ns}.svc.`) && shardz[h][svc.ns])
        const host = hosts[0] ?? fqdnIn(ctx.id(c), svc.name, svc.ns)
        const held = new Set(hosts.flatMap((h) => (shardz[h][svc.ns][shard] ?? []).filter(serving).map((e) => `${e.address}:${e.port}`)))
        const ready = readySliceEndpoints(peerSlices, svc.ns, svc.name)
        const add = (kind: StaleDiff['kind'], ep: string) => {
          const i = ep.lastIndexOf(':')
          diffs.push({cluster: c.name, key, namespace: svc.ns, service: svc.name, host, kind, address: ep.slice(0, i), port: Number(ep.slice(i + 1)),
            id: `${c.name}|${key}|${svc.ns}/${svc.name}|${kind}|${ep}`})
        }
        for (const ep of held) if (!ready.has(ep)) add('phantom', ep)
        // with discoverySelectors istiod may leave a namespace out on purpose: missing counts only where it knows the service
        if (!discoverySelectors || hosts.length > 0) for (const ep of ready) if (!held.has(ep)) add('missing', ep)
      }
      compared.set(c.name, n)
    }
  }
  return {diffs, compared, skipped}
}

/** Istio releases that keep stale shards after a failed remote watch, for the hint. */
export function knownStaleBugs(version: {major: number; minor: number; text: string} | undefined): string {
  if (!version) return ''
  const patch = Number(version.text.split('.')[2] ?? 0)
  const v = `Istio ${version.text}`
  if (version.major === 1 && (version.minor < 30 || (version.minor === 30 && patch < 3))) return `${v} has istio/istio#60612 (fixed in 1.30.3) and #60920, #61043 (fixed in 1.31): upgrade istiod; `
  if (version.major === 1 && version.minor === 30) return `${v} has istio/istio#60920 and #61043 (fixed only in 1.31): upgrade istiod; `
  return ''
}

export const staleChecks: CheckDef[] = [
  {
    id: 'links.istiod-stale',
    category: 'links',
    title: `What istiod serves from each linked cluster's shard (/debug/endpointShardz) for its exported, imported and ${ENDPOINT_SAMPLE} sampled services equals that cluster's ready EndpointSlice addresses and ports: phantom addresses (the peer no longer has them) and missing ones (istiod never saw them) fail when still there after a re-read ${STALE_GRACE_MS / 1000} s later.`,
    run: (ctx) => {
      const {diffs, compared, skipped} = compareShards(ctx)
      const recheck = ctx.facts.staleRecheck
      const lasting = recheck ? diffs.filter((d) => recheck.earlier.includes(d.id)) : diffs
      const out: Finding[] = [...skipped]
      for (const c of ctx.clusters) {
        const v = viewOf(ctx, c, 'endpointShardz')
        if (!('probe' in v)) {
          if (v.finding) out.push(v.finding)
          continue
        }
        if (!compared.has(c.name)) {
          if (!skipped.some((f) => f.cluster === c.name)) out.push(skip(c.name, `cluster ${c.name}: no linked cluster verified whose EndpointSlices were read`))
          continue
        }
        const mine = lasting.filter((d) => d.cluster === c.name)
        if (mine.length === 0) {
          if (!skipped.some((f) => f.cluster === c.name)) out.push(pass(c.name, `cluster ${c.name}: istiod serves what the linked clusters' EndpointSlices hold for each of ${compared.get(c.name)} service(s) compared`))
          continue
        }
        const probe = ctx.facts.istiod?.find((p) => p.cluster === c.name)
        for (const key of [...new Set(mine.map((d) => d.key))]) {
          const peer = ctx.byClusterId(key) ?? ctx.clusters.find((x) => x.name === key)
          const ofKey = mine.filter((d) => d.key === key)
          const list = (kind: StaleDiff['kind']) => {
            const byHost = new Map<string, string[]>()
            for (const d of ofKey.filter((x) => x.kind === kind)) byHost.set(d.host, [...(byHost.get(d.host) ?? []), `${d.address}:${d.port}`])
            return [...byHost].map(([h, eps]) => `${h}: ${eps.join(', ')}`).join('; ')
          }
          const phantom = list('phantom')
          const missing = list('missing')
          const status = probe?.clusterz?.find((e) => e.id === key)?.syncStatus
          const parts = [
            phantom ? `serves ${ofKey.filter((d) => d.kind === 'phantom').length} phantom address(es) cluster ${key} no longer has ready (${phantom})` : '',
            missing ? `lacks ${ofKey.filter((d) => d.kind === 'missing').length} ready address(es) cluster ${key} has (${missing})` : '',
          ].filter(Boolean)
          const grace = recheck ? `, still after ${recheck.graceMs / 1000} s` : ''
          out.push(fail(c.name, `cluster ${c.name}: istiod ${parts.join(' and ')}${grace}${status ? `; its /debug/clusterz says ${key} is "${status}"` : ''}`,
            `${knownStaleBugs(ctx.id(c).install.version)}istiod stopped following ${key}: look for "watch error in cluster ${key}" in its log (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)} | grep "watch error in cluster ${key}"\`; Unauthorized there means the token of its remote secret was revoked or expired); give it working credentials: \`kubectl mesh cluster rotate-credentials --context ${ctxOf(c)} --remote-context ${peer ? ctxOf(peer) : key}\` (or \`${ctx.linkCommand(c, peer ?? key)}\`); if the log shows no watch error, \`kubectl -n ${c.istioNamespace} rollout restart deployment/istiod --context ${ctxOf(c)}\` rebuilds its shards`))
        }
      }
      return out
    },
  },
]
