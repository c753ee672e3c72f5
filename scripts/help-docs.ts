// Records, at build time, what the start-up paths without oclif read: oclif's help text of the
// root, every command (hidden ones too), alias and topic at 80 columns, styled, into
// dist/help.json (what the fast path, src/fast-path.ts, prints for `--help`), and the completion
// answerer's command table into dist/command-table.json (src/completion/model.ts commandTable,
// from the manifest). Run by `npm run build` after `oclif manifest`.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

process.env.FORCE_COLOR = '1' // bold section titles, as on a terminal; the fast path strips them when colours are off
const REPO = join(import.meta.dirname, '..')
const WIDTH = 80
const {Config, Help} = await import('@oclif/core')
const {USER_AGENT} = await import('../src/fast-path.ts')
const config = await Config.load(REPO)
const lines: string[] = []
class Capture extends Help {
  protected log(...args: string[]): void {
    lines.push(`${args.join(' ')}\n`)
  }
}
const keys = new Set<string>([''])
for (const c of config.commands) for (const id of [c.id, ...c.aliases]) keys.add(id.replaceAll(':', ' '))
for (const t of config.topics) keys.add(t.name.replaceAll(':', ' '))
const docs: Record<string, string> = {}
for (const key of [...keys].sort()) {
  lines.length = 0
  await new Capture(config, {...config.pjson.oclif.helpOptions, maxWidth: WIDTH}).showHelp(key ? key.split(' ') : [])
  // The root help names this machine's platform and Node (oclif's user agent): a placeholder,
  // which the fast path fills in where it runs.
  docs[key] = lines.join('').replaceAll(config.userAgent, USER_AGENT)
}
writeFileSync(join(REPO, 'dist', 'help.json'), JSON.stringify({version: config.version, width: WIDTH, docs}))
const {commandTable} = await import('../src/completion/model.ts')
const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'))
writeFileSync(join(REPO, 'dist', 'command-table.json'), JSON.stringify(commandTable(manifest, config.pjson.oclif.topics)))
