// verify -o dot|mermaid|svg: the mesh as a picture. Clusters are nodes; links (remote secrets),
// exports and imports are edges, each coloured by the worst check that concerns it and labelled
// with that check's id. Pure: facts and results in, a graph and its text out.
//
// Which results concern an edge: those of the edge's owner cluster (the holder of the remote
// secret, the exporter, the importer) in the edge's categories whose message names the other end
// (its cluster ID or report name, as a whole word) or, for exports and imports, the service.
import type {CheckContext} from './check.ts'
import type {CheckResult, ClusterFacts, Status} from './types.ts'
import {EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL} from '../istio/names.ts'

export type EdgeKind = 'link' | 'export' | 'import'

export interface MeshNode {
  id: string
  /** The cluster ID where known, else the report name. */
  label: string
  network: string | null
  /** false: named by a remote secret or an import but not verified. */
  verified: boolean
}

export interface MeshEdge {
  kind: EdgeKind
  from: string
  to: string
  /** What crosses: "link", or the service "ns/name". */
  what: string
  status: Exclude<Status, 'skip'>
  /** The ids of the warning or failing checks that decided the status (worst first). */
  checks: string[]
}

export interface MeshGraph {
  nodes: MeshNode[]
  edges: MeshEdge[]
}

const RANK: Record<string, number> = {pass: 0, warn: 1, fail: 2}
const CATEGORIES: Record<EdgeKind, string[]> = {
  link: ['links', 'networks', 'trust'],
  export: ['exports'],
  import: ['imports'],
}

const word = (s: string) => new RegExp(`(^|[^A-Za-z0-9-])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9-])`)

function judge(results: CheckResult[], owner: string, kind: EdgeKind, names: string[]): Pick<MeshEdge, 'status' | 'checks'> {
  const hits = results.filter((r) => r.cluster === owner && (r.status === 'warn' || r.status === 'fail') &&
    CATEGORIES[kind].includes(r.category) && names.some((n) => n && word(n).test(r.message)))
  hits.sort((a, b) => RANK[b.status] - RANK[a.status])
  const worst = hits[0]?.status as 'warn' | 'fail' | undefined
  return {status: worst ?? 'pass', checks: [...new Set(hits.filter((h) => h.status === worst).map((h) => h.id))]}
}

/** The graph of the verified mesh. */
export function buildGraph(ctx: CheckContext, results: CheckResult[]): MeshGraph {
  const nodes = new Map<string, MeshNode>()
  const nodeOf = (c: ClusterFacts): string => {
    if (!nodes.has(c.name)) nodes.set(c.name, {id: c.name, label: ctx.clusterIdOf(c), network: ctx.id(c).network ?? null, verified: true})
    return c.name
  }
  const outside = (id: string): string => {
    const known = ctx.byClusterId(id)
    if (known) return nodeOf(known)
    if (!nodes.has(id)) nodes.set(id, {id, label: id, network: null, verified: false})
    return id
  }
  for (const c of ctx.clusters) nodeOf(c)
  const edges: MeshEdge[] = []
  for (const c of ctx.reachable) {
    const owner = nodeOf(c)
    const seen = new Set<string>()
    for (const e of ctx.secrets(c)) {
      if (e.key === ctx.clusterIdOf(c)) continue
      const peer = ctx.peerOf(e)
      const to = peer ? nodeOf(peer) : outside(e.key)
      if (seen.has(to)) continue
      seen.add(to)
      edges.push({kind: 'link', from: owner, to, what: 'link', ...judge(results, c.name, 'link', [e.key, to, e.secret.metadata.name])})
    }
    for (const svc of (c.lists.Service ?? []).filter((s) => s.metadata.labels?.[EXPORTED_LABEL] === 'true')) {
      const what = `${svc.metadata.namespace}/${svc.metadata.name}`
      edges.push({kind: 'export', from: owner, to: owner, what, ...judge(results, c.name, 'export', [what, `${svc.metadata.name}.${svc.metadata.namespace}`])})
    }
    for (const se of (c.lists.ServiceEntry ?? []).filter((s) => s.metadata.labels?.[IMPORTED_FROM_LABEL])) {
      const fromId = se.metadata.labels![IMPORTED_FROM_LABEL]
      const what = `${se.metadata.namespace}/${se.metadata.labels![IMPORTED_SERVICE_LABEL] ?? se.metadata.name}`
      edges.push({kind: 'import', from: outside(fromId), to: owner, what, ...judge(results, c.name, 'import', [se.metadata.name, what])})
    }
  }
  return {nodes: [...nodes.values()], edges}
}

const COLOUR: Record<MeshEdge['status'], string> = {pass: '#2e7d32', warn: '#ef6c00', fail: '#c62828'}

function edgeLabel(e: MeshEdge): string {
  const base = e.kind === 'link' ? 'link' : `${e.kind} ${e.what}`
  return e.checks.length ? `${base}\n${e.status}: ${e.checks.join(', ')}` : base
}

const nodeLabel = (n: MeshNode) => (n.network ? `${n.label}\n${n.network}` : n.label)

/** Graphviz DOT. */
export function renderDot(g: MeshGraph): string {
  const q = (s: string) => JSON.stringify(s).replace(/\\n/g, '\\n')
  const lines = ['digraph mesh {', '  rankdir=LR;', '  node [shape=box, style="rounded", fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
  for (const n of g.nodes) lines.push(`  ${q(n.id)} [label=${q(nodeLabel(n))}${n.verified ? '' : ', style="rounded,dashed"'}];`)
  for (const e of g.edges) {
    const style = e.kind === 'link' ? 'solid' : e.kind === 'import' ? 'dashed' : 'dotted'
    lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(edgeLabel(e))}, color=${q(COLOUR[e.status])}, fontcolor=${q(COLOUR[e.status])}, style=${style}${e.status === 'pass' ? '' : ', penwidth=2'}];`)
  }
  lines.push('}')
  return `${lines.join('\n')}\n`
}

/** A Mermaid flowchart (GitHub and most wikis render it). */
export function renderMermaid(g: MeshGraph): string {
  const ids = new Map(g.nodes.map((n, i) => [n.id, `c${i}`]))
  const text = (s: string) => s.replace(/"/g, '#quot;').replace(/\n/g, '<br/>')
  const lines = ['flowchart LR']
  for (const n of g.nodes) lines.push(`  ${ids.get(n.id)}["${text(nodeLabel(n))}"]`)
  g.edges.forEach((e) => lines.push(`  ${ids.get(e.from)} ${e.kind === 'link' ? '-->' : '-.->'}|"${text(edgeLabel(e))}"| ${ids.get(e.to)}`))
  g.edges.forEach((e, i) => lines.push(`  linkStyle ${i} stroke:${COLOUR[e.status]}${e.status === 'pass' ? '' : ',stroke-width:3px'}`))
  for (const n of g.nodes.filter((x) => !x.verified)) lines.push(`  style ${ids.get(n.id)} stroke-dasharray: 5 5`)
  return `${lines.join('\n')}\n`
}

/** SVG, rendered in process by Graphviz compiled to WebAssembly (@viz-js/viz): no system Graphviz. */
export async function renderSvg(g: MeshGraph): Promise<string> {
  const {instance} = await import('@viz-js/viz')
  const viz = await instance()
  return viz.renderString(renderDot(g), {format: 'svg'})
}
