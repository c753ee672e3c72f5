// Answers that need neither oclif nor any command, for a start as quick as kubectl's:
// `--version`, and `--help` of the root, a topic or a command, from help.json, which
// `npm run build` records (scripts/help-docs.ts: oclif's own help text of every command, alias
// and topic at 80 columns, styled as on a terminal). Used by bin/run.js and by the single
// executable's loader (scripts/sea/loader.cjs). Whatever is not exactly one of those (another
// help width, a word that is not a command, WSL for --version, KUBECTL_MESH_NO_FAST_PATH=1)
// goes to oclif, which prints the same text the slow way; test/unit/fast-path.test.ts compares
// the two.
import {readFileSync} from 'node:fs'
import {release} from 'node:os'
import supportsColor from 'supports-color'

export interface HelpDocs {
  version: string
  width: number
  /** words before --help ('' for the root) → oclif's help text, with bold section titles */
  docs: Record<string, string>
}

/** oclif's platform: WSL is named 'wsl' (wsl-utils); that case is left to oclif. */
function maybeWsl(): boolean {
  if (process.platform !== 'linux') return false
  if (release().toLowerCase().includes('microsoft')) return true
  try {
    return readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft')
  } catch {
    return false
  }
}

/** The help width oclif would use (@oclif/core screen.js). */
function helpWidth(env: NodeJS.ProcessEnv): number {
  const columns = Number.parseInt(env.OCLIF_COLUMNS ?? '', 10)
  if (columns) return columns
  if (!process.stdout.isTTY) return 80
  const width = process.stdout.getWindowSize()[0]
  return width < 1 ? 80 : width < 40 ? 40 : width
}

/** Stands in help.json for oclif's user agent (the root help's VERSION), which names where it runs. */
export const USER_AGENT = '\u0000user-agent\u0000'

/** oclif's config.userAgent, or undefined on WSL (oclif names that platform 'wsl'). */
function userAgent(pjson: {name: string; version: string}): string | undefined {
  if (maybeWsl()) return undefined
  return `${pjson.name}/${pjson.version} ${process.platform}-${process.arch === 'ia32' ? 'x86' : process.arch} node-${process.version}`
}

/** What oclif would print for argv, when it can be said without oclif; else undefined. */
export function fastOutput(argv: string[], pjson: {name: string; version: string}, help: () => HelpDocs | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KUBECTL_MESH_NO_FAST_PATH) return undefined
  if (argv.length === 1 && argv[0] === '--version') {
    const agent = userAgent(pjson)
    return agent === undefined ? undefined : `${agent}\n`
  }
  if (argv.length === 0 || argv.at(-1) !== '--help' || argv.slice(0, -1).some((w) => w.startsWith('-'))) return undefined
  const docs = help()
  if (!docs || docs.version !== pjson.version || helpWidth(env) !== docs.width) return undefined
  let text = docs.docs[argv.slice(0, -1).join(' ')]
  if (text === undefined) return undefined
  if (text.includes(USER_AGENT)) {
    const agent = userAgent(pjson)
    if (agent === undefined) return undefined
    text = text.replaceAll(USER_AGENT, agent)
  }
  // oclif's colour decision (@oclif/core ux/supports-color.js): styled, or no escape at all.
  return supportsColor.stdout && supportsColor.stderr ? text : text.replace(/\u001B\[\d+m/g, '')
}

/** Print and report whether it was answered here. */
export function answerFast(argv: string[], pjson: {name: string; version: string}, help: () => HelpDocs | undefined): boolean {
  const out = fastOutput(argv, pjson, help)
  if (out === undefined) return false
  process.stdout.write(out)
  return true
}
