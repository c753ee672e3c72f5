// The Mesh file (`kubectl mesh plan|apply -f mesh.yaml`): parsed, checked against the shipped JSON
// schema (schema/mesh.schema.json), then against itself (unknown clusters, duplicates,
// contradictions). Pure: text in, a typed Mesh or a UsageError naming the line and field out —
// before anything is read from a cluster.
import {readFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {load} from 'js-yaml'
import {UsageError} from '../errors.ts'
import {DEFAULT_ISTIO_NAMESPACE, isDns1123Label} from '../istio/names.ts'
import {positionOf, positionsOf} from './positions.ts'
import {MESH_SCHEMA} from './mesh-schema.ts'
import {formatPath, type Path, validateSchema} from './schema.ts'

export const MESH_API_VERSION = 'kubectl-mesh/v1alpha1'
export const MESH_KIND = 'Mesh'

export interface MeshCluster {
  context: string
  /** The cluster's folder in ca.dir (default: the context). */
  name?: string
  remoteName?: string
  server?: string
  tlsServerName?: string
  network?: string
  gateway?: string
}
export interface MeshLink {
  from: string
  to: string
  bidirectional?: boolean
  /** cluster link --network-config: how `from`'s istiod learns `to`'s east-west gateway across networks. */
  networkConfig?: 'meshnetworks' | 'gateway'
  /** cluster link --create-gateway (ambient): the istio-east-west Gateway in `to` (and `from` when bidirectional) where none exists. */
  createGateway?: boolean
}
export interface MeshExport {cluster: string; namespace: string; service: string}
export interface MeshImport {cluster: string; from: string; namespace: string; service: string; host?: string; via?: 'direct' | 'egress'; egressGateway?: string}

export interface Mesh {
  name?: string
  istioNamespace: string
  /** ca.dir, resolved against the file's folder. */
  caDir?: string
  expose: 'all' | 'exported'
  clusters: MeshCluster[]
  links: 'all' | MeshLink[]
  exports: MeshExport[]
  imports: MeshImport[]
}


const HINT = 'fix the file; its schema is schema/mesh.schema.json (docs/apply.md has an example)'

/** Read and check a Mesh file; UsageError (exit 2) when it cannot be read or is invalid. */
export function readMeshFile(file: string): Mesh {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'pass the path of a Mesh file with -f')
  }
  return parseMesh(text, file)
}

export interface MeshProblem {
  path: Path
  message: string
}

/** Parse and check a Mesh file's text. `file` names it in messages and anchors ca.dir. */
export function parseMesh(text: string, file: string): Mesh {
  let doc: unknown
  try {
    doc = load(text, {filename: file})
  } catch (error) {
    const e = error as Error & {mark?: {line: number; column: number}; reason?: string}
    const where = e.mark ? `${file}:${e.mark.line + 1}:${e.mark.column + 1}` : file
    throw new UsageError(`${where}: not valid YAML: ${e.reason ?? e.message.split('\n')[0]}`, HINT)
  }
  const positions = positionsOf(text)
  const fail = (problems: MeshProblem[]): never => {
    const first = problems[0]
    const pos = positionOf(positions, first.path)
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).map((p) => `${formatPath(p.path)}${lineOf(positions, p.path)} ${p.message}`).join('; ')}${problems.length > 4 ? '; …' : ''})` : ''
    throw new UsageError(`${file}${pos ? `:${pos.line}` : ''}: ${formatPath(first.path)} ${first.message}${more}`, HINT)
  }
  const schemaProblems = validateSchema(MESH_SCHEMA, doc)
  if (schemaProblems.length > 0) fail(schemaProblems)
  const mesh = toMesh(doc as RawMesh, file)
  const problems = checkMesh(mesh)
  if (problems.length > 0) fail(problems)
  return mesh
}

function lineOf(positions: ReturnType<typeof positionsOf>, path: Path): string {
  const p = positionOf(positions, path)
  return p ? ` (line ${p.line})` : ''
}

interface RawMesh {
  metadata?: {name?: string}
  spec: {istioNamespace?: string; ca?: {dir: string}; expose?: 'all' | 'exported'; clusters: MeshCluster[]; links?: 'all' | MeshLink[]; exports?: MeshExport[]; imports?: MeshImport[]}
}

function toMesh(doc: RawMesh, file: string): Mesh {
  const s = doc.spec
  return {
    name: doc.metadata?.name,
    istioNamespace: s.istioNamespace ?? DEFAULT_ISTIO_NAMESPACE,
    caDir: s.ca ? resolve(dirname(resolve(file)), s.ca.dir) : undefined,
    expose: s.expose ?? 'all',
    clusters: s.clusters,
    links: s.links ?? [],
    exports: s.exports ?? [],
    imports: s.imports ?? [],
  }
}

/** The checks a schema cannot express: references, duplicates, contradictions. Pure. */
export function checkMesh(m: Mesh): MeshProblem[] {
  const problems: MeshProblem[] = []
  const known = new Set<string>()
  const caNames = new Map<string, number>()
  for (const [i, c] of m.clusters.entries()) {
    if (known.has(c.context)) problems.push({path: ['spec', 'clusters', i, 'context'], message: `"${c.context}" is listed twice`})
    known.add(c.context)
    if (m.caDir) {
      const name = c.name ?? c.context
      if (!isDns1123Label(name)) problems.push({path: ['spec', 'clusters', i, c.name ? 'name' : 'context'], message: `"${name}" is not a DNS-1123 label, so it cannot name the cluster's folder in ca.dir: set name`})
      else if (caNames.has(name)) problems.push({path: ['spec', 'clusters', i, c.name ? 'name' : 'context'], message: `the CA name "${name}" is also cluster ${caNames.get(name)}'s: two clusters would share one intermediate`})
      else caNames.set(name, i)
    }
  }
  const ref = (path: Path, ctx: string) => {
    if (!known.has(ctx)) problems.push({path, message: `"${ctx}" is not a cluster of spec.clusters`})
  }
  if (Array.isArray(m.links)) {
    const seen = new Map<string, number>()
    for (const [i, l] of m.links.entries()) {
      ref(['spec', 'links', i, 'from'], l.from)
      ref(['spec', 'links', i, 'to'], l.to)
      if (l.from === l.to) problems.push({path: ['spec', 'links', i, 'to'], message: `links "${l.from}" to itself`})
      // an ambient link writes no meshNetworks entry (ztunnels use the istio-east-west Gateway createGateway writes)
      if (l.createGateway && l.networkConfig === 'meshnetworks') problems.push({path: ['spec', 'links', i, 'networkConfig'], message: 'is meshnetworks, but createGateway writes an ambient east-west Gateway, and ambient links write no meshNetworks entry: remove networkConfig or createGateway'})
      for (const [a, b] of l.bidirectional ? [[l.from, l.to], [l.to, l.from]] : [[l.from, l.to]]) {
        const k = `${a}→${b}`
        if (seen.has(k)) problems.push({path: ['spec', 'links', i], message: `the link ${a} → ${b} is also declared by spec.links[${seen.get(k)}]`})
        else seen.set(k, i)
      }
    }
  }
  const exported = new Set<string>()
  for (const [i, e] of m.exports.entries()) {
    ref(['spec', 'exports', i, 'cluster'], e.cluster)
    const k = `${e.cluster}/${e.namespace}/${e.service}`
    if (exported.has(k)) problems.push({path: ['spec', 'exports', i], message: `exports ${e.namespace}/${e.service} from "${e.cluster}" a second time`})
    exported.add(k)
  }
  const imported = new Set<string>()
  const hosts = new Map<string, number>()
  for (const [i, im] of m.imports.entries()) {
    ref(['spec', 'imports', i, 'cluster'], im.cluster)
    ref(['spec', 'imports', i, 'from'], im.from)
    if (im.cluster === im.from) problems.push({path: ['spec', 'imports', i, 'from'], message: `imports into "${im.cluster}" from itself`})
    if (im.egressGateway !== undefined && im.via !== 'egress') problems.push({path: ['spec', 'imports', i, 'egressGateway'], message: 'egressGateway names the egress gateway of via: egress; set via: egress or remove it'})
    const k = `${im.cluster}/${im.from}/${im.namespace}/${im.service}`
    if (imported.has(k)) problems.push({path: ['spec', 'imports', i], message: `imports ${im.namespace}/${im.service} from "${im.from}" into "${im.cluster}" a second time`})
    imported.add(k)
    if (!exported.has(`${im.from}/${im.namespace}/${im.service}`)) {
      problems.push({path: ['spec', 'imports', i], message: `imports ${im.namespace}/${im.service} from "${im.from}", which no entry of spec.exports exports (add {cluster: ${im.from}, namespace: ${im.namespace}, service: ${im.service}} to spec.exports)`})
    }
    const host = `${im.cluster}/${im.host ?? `${im.service}.${im.namespace}.global`}`
    if (hosts.has(host)) problems.push({path: ['spec', 'imports', i, im.host ? 'host' : 'service'], message: `imports host ${host.split('/')[1]} into "${im.cluster}", as spec.imports[${hosts.get(host)}] does: one host, one service`})
    else hosts.set(host, i)
  }
  return problems
}
