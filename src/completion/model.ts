// Shell completion, the pure part: from the oclif manifest's commands and the words typed after
// `mesh`, what to complete (a subcommand, a flag name, a flag's value or an argument) and where its
// candidates come from. The protocol is cobra's `__complete` (kubectl's plugin completion runs
// `kubectl_complete-mesh ARGS… TOCOMPLETE`): candidates one per line (`value\tdescription`), then
// `:<directive>`. No I/O here; src/completion/answer.ts reads the sources.

/** cobra's ShellCompDirective bits (github.com/spf13/cobra completions.go). */
export const Directive = {Default: 0, Error: 1, NoSpace: 2, NoFileComp: 4, FilterFileExt: 8, FilterDirs: 16, KeepOrder: 32} as const

export interface FlagSpec {
  name: string
  char?: string
  type: 'boolean' | 'option'
  options?: readonly string[]
  multiple?: boolean
  hidden?: boolean
  summary?: string
}
export interface ArgSpec {
  name: string
  options?: readonly string[]
}
export interface CommandSpec {
  id: string
  aliases: readonly string[]
  hidden: boolean
  summary?: string
  args: ArgSpec[]
  flags: FlagSpec[]
}
export interface CommandTable {
  commands: CommandSpec[]
  topics: Record<string, {description?: string}>
}

/** The parts of an oclif manifest (oclif.manifest.json) and package.json `oclif` read here. */
export interface OclifManifest {
  commands: Record<string, {
    id: string
    aliases?: string[]
    hidden?: boolean
    summary?: string
    description?: string
    args?: Record<string, {name: string; options?: string[]}>
    flags?: Record<string, {name: string; char?: string; type: string; options?: string[]; multiple?: boolean; hidden?: boolean; summary?: string; description?: string}>
  }>
}

const firstLine = (s?: string) => s?.split('\n')[0]

export function commandTable(manifest: OclifManifest, topics: Record<string, {description?: string}> = {}): CommandTable {
  const commands = Object.values(manifest.commands).map((c) => ({
    id: c.id,
    aliases: c.aliases ?? [],
    hidden: Boolean(c.hidden),
    summary: c.summary ?? firstLine(c.description),
    args: Object.values(c.args ?? {}).map((a) => ({name: a.name, options: a.options})),
    flags: Object.values(c.flags ?? {}).map((f) => ({
      name: f.name, char: f.char, type: f.type === 'boolean' ? 'boolean' as const : 'option' as const, options: f.options, multiple: f.multiple, hidden: f.hidden,
      summary: f.summary ?? firstLine(f.description),
    })),
  }))
  return {commands, topics}
}

/** Where a value's candidates come from. */
export type Source =
  | {kind: 'contexts'}
  | {kind: 'namespaces'}
  | {kind: 'services'; contextFlag: string}
  | {kind: 'cluster-ids'}
  | {kind: 'options'; values: readonly string[]}
  | {kind: 'files'}
  | {kind: 'dirs'}
  | {kind: 'none'}

export interface Candidate {
  value: string
  description?: string
}

/** What the typed words ask for. */
export type Request =
  | {kind: 'static'; candidates: Candidate[]; directive: number}
  | {kind: 'source'; source: Source; prefix: string; toComplete: string; command: CommandSpec; typed: Typed}

/** The flags and positional words typed so far (for the command found). */
export interface Typed {
  flags: Map<string, string[]>
  positionals: string[]
}

/** A context flag: its value is a kubeconfig context. */
export const CONTEXT_FLAGS = new Set(['context', 'remote-context', 'from-context', 'peer-context'])
const SERVICE_COMMANDS = new Set(['service:export', 'service:unexport', 'service:import', 'service:unimport', 'explain'])

/** The source of a flag's value, by flag name (the same name means the same kind of value in every command). */
export function flagSource(command: CommandSpec, flag: FlagSpec): Source {
  if (flag.options && flag.options.length > 0) return {kind: 'options', values: flag.options}
  if (CONTEXT_FLAGS.has(flag.name)) return {kind: 'contexts'}
  switch (flag.name) {
    case 'namespace':
    case 'istio-namespace':
      return {kind: 'namespaces'}
    case 'remote-name':
    case 'from-name':
      return {kind: 'cluster-ids'}
    case 'file':
    case 'kubeconfig':
    case 'root-cert':
    case 'root-key':
      return {kind: 'files'}
    case 'dir':
    case 'output-dir':
      return {kind: 'dirs'}
    default:
      return {kind: 'none'}
  }
}

/** The source of the positional argument at `index`. */
export function argSource(command: CommandSpec, index: number): Source {
  const arg = command.args[index]
  if (!arg) return {kind: 'none'}
  if (arg.options && arg.options.length > 0) return {kind: 'options', values: arg.options}
  if (index === 0 && SERVICE_COMMANDS.has(command.id)) {
    // import and unimport name the Service of the source cluster (--from-context) when given.
    return {kind: 'services', contextFlag: command.id === 'service:import' ? 'from-context' : 'context'}
  }
  return {kind: 'none'}
}

const visible = (c: CommandSpec) => !c.hidden

/** The command named by the leading words, and how many words it took; or the topic path so far. */
function findCommand(table: CommandTable, words: string[]): {command?: CommandSpec; used: number; path: string[]} {
  const path: string[] = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if (w.startsWith('-')) break
    const id = [...path, w].join(':')
    const command = table.commands.find((c) => c.id === id || c.aliases.includes(id))
    if (command) return {command, used: i + 1, path: [...path, w]}
    const isTopic = table.commands.some((c) => c.id.startsWith(`${id}:`))
    if (!isTopic) break
    path.push(w)
  }
  return {used: path.length, path}
}

/** The subcommands (and topics) under a topic path. */
function subcommands(table: CommandTable, path: string[]): Candidate[] {
  const prefix = path.length > 0 ? `${path.join(':')}:` : ''
  const out = new Map<string, Candidate>()
  for (const c of table.commands.filter(visible)) {
    for (const id of [c.id, ...c.aliases]) {
      if (!id.startsWith(prefix)) continue
      const rest = id.slice(prefix.length).split(':')
      const word = rest[0]
      if (out.has(word)) continue
      if (rest.length === 1) out.set(word, {value: word, description: c.summary})
      else out.set(word, {value: word, description: table.topics[[...path, word].join(':')]?.description})
    }
  }
  return [...out.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
}

function flagByToken(command: CommandSpec, token: string): FlagSpec | undefined {
  if (token.startsWith('--')) return command.flags.find((f) => f.name === token.slice(2))
  if (/^-[a-zA-Z]$/.test(token)) return command.flags.find((f) => f.char === token.slice(1))
  return undefined
}

/** Parse the words after the command: flags with their values, and positionals. `--` ends flags. */
export function parseTyped(command: CommandSpec, words: string[]): Typed & {pendingFlag?: FlagSpec} {
  const flags = new Map<string, string[]>()
  const positionals: string[] = []
  const add = (name: string, value: string) => flags.set(name, [...(flags.get(name) ?? []), value])
  let pendingFlag: FlagSpec | undefined
  let dashdash = false
  for (const w of words) {
    if (pendingFlag) {
      add(pendingFlag.name, w)
      pendingFlag = undefined
      continue
    }
    if (!dashdash && w === '--') {
      dashdash = true
      continue
    }
    if (!dashdash && w.startsWith('-') && w.length > 1) {
      const eq = w.indexOf('=')
      const flag = flagByToken(command, eq > 0 ? w.slice(0, eq) : w)
      if (!flag) continue
      if (flag.type === 'boolean') add(flag.name, 'true')
      else if (eq > 0) add(flag.name, w.slice(eq + 1))
      else pendingFlag = flag
      continue
    }
    positionals.push(w)
  }
  return {flags, positionals, pendingFlag}
}

/** The flags still worth offering: not hidden, and not given already unless repeatable. */
function flagCandidates(command: CommandSpec, typed: Typed, toComplete: string): Candidate[] {
  const out: Candidate[] = []
  for (const f of command.flags) {
    if (f.hidden || (typed.flags.has(f.name) && !f.multiple)) continue
    out.push({value: `--${f.name}`, description: f.summary})
    if (f.char && toComplete !== '--' && !toComplete.startsWith('--')) out.push({value: `-${f.char}`, description: f.summary})
  }
  return out
}

/**
 * What to complete for `args` (every word after `mesh`, the last being the word under the
 * cursor, possibly empty).
 */
export function request(table: CommandTable, args: string[]): Request {
  const words = args.length > 0 ? args.slice(0, -1) : []
  const toComplete = args.length > 0 ? args[args.length - 1] : ''
  const found = findCommand(table, words)
  if (!found.command) {
    // Still at a command word: the words typed so far must all be topics.
    if (found.used < words.length) return {kind: 'static', candidates: [], directive: Directive.NoFileComp}
    return {kind: 'static', candidates: subcommands(table, found.path), directive: Directive.NoFileComp}
  }
  const command = found.command
  const typed = parseTyped(command, words.slice(found.used))
  if (typed.pendingFlag) return {kind: 'source', source: flagSource(command, typed.pendingFlag), prefix: '', toComplete, command, typed}
  if (toComplete.startsWith('-')) {
    const eq = toComplete.indexOf('=')
    if (eq > 0) {
      const flag = flagByToken(command, toComplete.slice(0, eq))
      if (!flag || flag.type === 'boolean') return {kind: 'static', candidates: [], directive: Directive.NoFileComp}
      return {kind: 'source', source: flagSource(command, flag), prefix: toComplete.slice(0, eq + 1), toComplete: toComplete.slice(eq + 1), command, typed}
    }
    return {kind: 'static', candidates: flagCandidates(command, typed, toComplete), directive: Directive.NoFileComp}
  }
  const index = typed.positionals.length
  if (index < command.args.length) return {kind: 'source', source: argSource(command, index), prefix: '', toComplete, command, typed}
  // Nothing positional left to type: offer the flags.
  return {kind: 'static', candidates: flagCandidates(command, typed, toComplete), directive: Directive.NoFileComp}
}

/** The directive for candidates of a source. */
export function sourceDirective(source: Source): number {
  if (source.kind === 'files') return Directive.Default
  if (source.kind === 'dirs') return Directive.FilterDirs
  return Directive.NoFileComp
}

/** Keep the candidates starting with what is typed (cobra leaves this to the program). */
export function matching(candidates: Candidate[], toComplete: string): Candidate[] {
  return candidates.filter((c) => c.value.startsWith(toComplete))
}

/** The answer as cobra prints it: `value\tdescription` lines, then `:<directive>`. */
export function formatAnswer(candidates: Candidate[], directive: number, opts: {prefix?: string; descriptions?: boolean} = {}): string {
  const lines = candidates.map((c) => {
    const value = `${opts.prefix ?? ''}${c.value}`
    const description = c.description?.replace(/[\t\n]+/g, ' ').trim()
    return opts.descriptions !== false && description ? `${value}\t${description}` : value
  })
  return `${[...lines, `:${directive}`].join('\n')}\n`
}
