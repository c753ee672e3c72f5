// Printers. stdout carries the result (text, yaml or json); stderr carries warnings, notes,
// errors and progress. Colour only on a terminal, never with NO_COLOR.
import {Chalk} from 'chalk'
import {dump} from 'js-yaml'
import type {Change} from '../kube/apply.ts'
import type {KubeObject} from '../kube/resources.ts'

const useColor = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '')
const errColor = new Chalk({level: useColor(process.stderr) ? 1 : 0})
const outColor = new Chalk({level: useColor(process.stdout) ? 1 : 0})

export type OutputFormat = 'text' | 'yaml' | 'json'

export function printError(message: string, hint?: string): void {
  process.stderr.write(`${errColor.red('Error:')} ${message}\n`)
  if (hint) process.stderr.write(`${errColor.dim('Hint:')} ${hint}\n`)
}

export function warn(message: string): void {
  process.stderr.write(`${errColor.yellow('Warning:')} ${message}\n`)
}

export function note(message: string): void {
  process.stderr.write(`${message}\n`)
}

const ACTION_COLOR = {created: outColor.green, configured: outColor.yellow, unchanged: outColor.dim, deleted: outColor.red}

export function objectRef(c: Pick<Change, 'kind' | 'namespace' | 'name'>): string {
  return c.namespace ? `${c.kind}/${c.namespace}/${c.name}` : `${c.kind}/${c.name}`
}

/** `<context>  <kind>/<namespace>/<name>  <action>`, aligned; or `{"changes":[…], …extra}`. */
export function printChanges(changes: Change[], format: OutputFormat, extra: Record<string, unknown> = {}): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({changes, ...extra}, null, 2)}\n`)
    return
  }
  const ctxWidth = Math.max(0, ...changes.map((c) => c.context.length))
  const refWidth = Math.max(0, ...changes.map((c) => objectRef(c).length))
  for (const c of changes) {
    process.stdout.write(`${c.context.padEnd(ctxWidth)}  ${objectRef(c).padEnd(refWidth)}  ${ACTION_COLOR[c.action](c.action)}\n`)
  }
}

/** One YAML document per object, each preceded by `# context: <name>`. */
export function printYamlDocs(docs: Array<{context: string; object: KubeObject | Record<string, unknown>}>): void {
  const text = docs.map((d) => `# context: ${d.context}\n${dump(d.object, {lineWidth: -1, noRefs: true})}`).join('---\n')
  process.stdout.write(text)
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export const STATS_PREFIX = 'kubectl-mesh-stats '

export interface RequestStats {
  requests: number
  byContext: Record<string, Record<string, number>>
}

/** The stats line printStats wrote into a run's stderr (for tests and benchmarks). */
export function parseStats(stderr: string): RequestStats | undefined {
  const line = stderr.split('\n').find((l) => l.startsWith(STATS_PREFIX))
  return line ? JSON.parse(line.slice(STATS_PREFIX.length)) : undefined
}

/** How many of the requests were writes (anything but GET). */
export function writesOf(s: RequestStats): number {
  let n = 0
  for (const m of Object.values(s.byContext)) for (const [verb, c] of Object.entries(m)) if (verb !== 'GET') n += c
  return n
}

/** With KUBECTL_MESH_STATS set: the API requests of this run, per context and method, on stderr; with KUBECTL_MESH_STATS=paths, each request before that (method, context, path, status). */
export async function printStats(): Promise<void> {
  const {requestLog} = await import('../kube/client.ts')
  if (process.env.KUBECTL_MESH_STATS === 'paths') {
    for (const r of requestLog) process.stderr.write(`kubectl-mesh-request ${r.method} ${r.context} ${r.path} ${r.status}\n`)
  }
  const byContext: Record<string, Record<string, number>> = {}
  for (const r of requestLog) {
    const m = (byContext[r.context] ??= {})
    m[r.method] = (m[r.method] ?? 0) + 1
  }
  process.stderr.write(`${STATS_PREFIX}${JSON.stringify({requests: requestLog.length, byContext} satisfies RequestStats)}\n`)
}

/** Colours for stdout (none when not a terminal or with NO_COLOR), for renderers outside src/ui. */
export const stdoutPainter = {green: outColor.green, yellow: outColor.yellow, red: outColor.red, dim: outColor.dim, bold: outColor.bold}
