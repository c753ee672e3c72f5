// The desired state of a Mesh as the step commands' operations, in dependency order
// (cacerts → links → exports → imports), and what the file declares per cluster (for --prune).
// Pure: a checked Mesh in, plain data out.
import type {Mesh, MeshCluster, MeshLink} from './file.ts'

export interface LinkOverrides {remoteName?: string; server?: string; tlsServerName?: string; network?: string; gateway?: string}
/** A link's own options (spec.links[]), passed to cluster link as they are. */
export interface LinkOptions {networkConfig?: 'meshnetworks' | 'gateway'; createGateway?: boolean}

export type MeshStep =
  | {kind: 'cacerts'; context: string; caName: string}
  | {kind: 'link'; context: string; remoteContext: string; bidirectional: boolean; overrides: LinkOverrides; options: LinkOptions}
  | {kind: 'export'; context: string; namespace: string; service: string}
  | {kind: 'import'; context: string; fromContext: string; namespace: string; service: string; host?: string; viaEgress?: string}
  /** Imports into one cluster from one cluster and namespace without a host of their own, going the same way: one `service import` run, each cluster read once. */
  | {kind: 'imports'; context: string; fromContext: string; namespace: string; services: string[]; viaEgress?: string}

/** Every directed link (from discovers to), sorted by the clusters' order in the file. */
export function directedLinks(m: Mesh): Array<{from: string; to: string; options: LinkOptions}> {
  const order = new Map(m.clusters.map((c, i) => [c.context, i]))
  const pairs: Array<{from: string; to: string; options: LinkOptions}> = []
  if (m.links === 'all') {
    for (const a of m.clusters) for (const b of m.clusters) if (a !== b) pairs.push({from: a.context, to: b.context, options: {}})
  } else {
    for (const l of m.links) {
      const options = linkOptionsOf(l)
      pairs.push({from: l.from, to: l.to, options})
      if (l.bidirectional) pairs.push({from: l.to, to: l.from, options})
    }
  }
  return pairs.sort((x, y) => order.get(x.from)! - order.get(y.from)! || order.get(x.to)! - order.get(y.to)!)
}

export function overridesOf(c: MeshCluster): LinkOverrides {
  const o: LinkOverrides = {}
  if (c.remoteName !== undefined) o.remoteName = c.remoteName
  if (c.server !== undefined) o.server = c.server
  if (c.tlsServerName !== undefined) o.tlsServerName = c.tlsServerName
  if (c.network !== undefined) o.network = c.network
  if (c.gateway !== undefined) o.gateway = c.gateway
  return o
}

export function linkOptionsOf(l: MeshLink): LinkOptions {
  const o: LinkOptions = {}
  if (l.networkConfig !== undefined) o.networkConfig = l.networkConfig
  if (l.createGateway !== undefined) o.createGateway = l.createGateway
  return o
}

const sameOptions = (a: LinkOptions, b: LinkOptions) => a.networkConfig === b.networkConfig && Boolean(a.createGateway) === Boolean(b.createGateway)

const hasOverrides = (c: MeshCluster) => Object.keys(overridesOf(c)).length > 0

/**
 * The operations, in order. Links: a pair linked both ways is one `cluster link --bidirectional`
 * (each cluster read once) with the remote's overrides — which cluster link applies to the remote
 * side only; when both sides have overrides, the pair is two one-way links.
 */
export function desiredSteps(m: Mesh): MeshStep[] {
  const byContext = new Map(m.clusters.map((c) => [c.context, c]))
  const steps: MeshStep[] = []
  if (m.caDir) for (const c of m.clusters) steps.push({kind: 'cacerts', context: c.context, caName: c.name ?? c.context})
  const directed = directedLinks(m)
  const has = new Map(directed.map((d) => [`${d.from}→${d.to}`, d.options]))
  const done = new Set<string>()
  for (const d of directed) {
    if (done.has(`${d.from}→${d.to}`)) continue
    const from = byContext.get(d.from)!
    const to = byContext.get(d.to)!
    const back = has.get(`${d.to}→${d.from}`)
    // both ways with the same link options: one --bidirectional run (the options apply to both directions)
    if (back && sameOptions(back, d.options) && (!hasOverrides(from) || !hasOverrides(to))) {
      // The side with overrides is the remote of the call.
      const [east, west] = hasOverrides(from) ? [to, from] : [from, to]
      steps.push({kind: 'link', context: east.context, remoteContext: west.context, bidirectional: true, overrides: overridesOf(west), options: d.options})
      done.add(`${d.from}→${d.to}`).add(`${d.to}→${d.from}`)
    } else {
      steps.push({kind: 'link', context: from.context, remoteContext: to.context, bidirectional: false, overrides: overridesOf(to), options: d.options})
      done.add(`${d.from}→${d.to}`)
    }
  }
  for (const e of m.exports) steps.push({kind: 'export', context: e.cluster, namespace: e.namespace, service: e.service})
  const groups = new Map<string, {kind: 'imports'; context: string; fromContext: string; namespace: string; services: string[]; viaEgress?: string}>()
  for (const i of m.imports) {
    // via: egress → service import --via-egress [egressGateway] ('' = the default egress gateway)
    const via = i.via === 'egress' ? {viaEgress: i.egressGateway ?? ''} : {}
    if (i.host) {
      steps.push({kind: 'import', context: i.cluster, fromContext: i.from, namespace: i.namespace, service: i.service, host: i.host, ...via})
      continue
    }
    const k = `${i.cluster}\0${i.from}\0${i.namespace}\0${via.viaEgress ?? '-'}`
    const g = groups.get(k)
    if (g) g.services.push(i.service)
    else {
      const step = {kind: 'imports' as const, context: i.cluster, fromContext: i.from, namespace: i.namespace, services: [i.service], ...via}
      groups.set(k, step)
      steps.push(step)
    }
  }
  // A group of one is a plain import.
  return steps.map((s) => (s.kind === 'imports' && s.services.length === 1
    ? {kind: 'import', context: s.context, fromContext: s.fromContext, namespace: s.namespace, service: s.services[0], ...(s.viaEgress !== undefined ? {viaEgress: s.viaEgress} : {})} : s))
}

/** What the file declares in one cluster: the clusters it links to, its exports and imports (keys as prune compares them). */
export interface Declared {
  /** Contexts this cluster discovers (holds a remote secret for). */
  linksTo: Set<string>
  /** `namespace/service` */
  exports: Set<string>
  /** `fromContext/namespace/service` */
  imports: Set<string>
}

export function declaredByCluster(m: Mesh): Map<string, Declared> {
  const out = new Map<string, Declared>(m.clusters.map((c) => [c.context, {linksTo: new Set(), exports: new Set(), imports: new Set()}]))
  for (const d of directedLinks(m)) out.get(d.from)!.linksTo.add(d.to)
  for (const e of m.exports) out.get(e.cluster)!.exports.add(`${e.namespace}/${e.service}`)
  for (const i of m.imports) out.get(i.cluster)!.imports.add(`${i.from}/${i.namespace}/${i.service}`)
  return out
}

/** `cluster link --context A --remote-context B [--bidirectional]` and the like, for messages. */
export function describeStep(s: MeshStep): string {
  switch (s.kind) {
    case 'cacerts': return `install cacerts of "${s.caName}" in "${s.context}"`
    case 'link': return `link "${s.context}" ${s.bidirectional ? '⇄' : '→'} "${s.remoteContext}"${s.options.networkConfig ? ` (network config ${s.options.networkConfig})` : ''}${s.options.createGateway ? ' (creating the ambient east-west Gateway)' : ''}`
    case 'export': return `export ${s.namespace}/${s.service} from "${s.context}"`
    case 'import': return `import ${s.namespace}/${s.service} from "${s.fromContext}" into "${s.context}"${s.viaEgress !== undefined ? ' through its egress gateway' : ''}`
    case 'imports': return `import ${s.services.length} services of ${s.namespace} (${s.services.slice(0, 3).join(', ')}${s.services.length > 3 ? ', …' : ''}) from "${s.fromContext}" into "${s.context}"`
  }
}
