// Errors oclif raises before any command runs (an unknown command or topic, or an argument after
// a command that takes none, which oclif reads as a subcommand): one line plus Hint:, exit 2, like
// every other usage error, instead of oclif's " ›   Error: command x:y not found" without a hint.
// Used by bin/run.js and the single executable's entry (scripts/sea/entry.ts). No dependencies
// beyond oclif, so it costs nothing at startup.
import {handle} from '@oclif/core'

export async function handleTopLevel(error: unknown): Promise<void> {
  const err = error instanceof Error ? error : new Error(String(error))
  const m = /^command (\S+) not found$/.exec(err.message)
  if (!m) return handle(err)
  const words = m[1].split(':')
  const what = words[0].startsWith('-') ? `unknown flag "${words[0]}"` : `unknown command "kubectl mesh ${words.join(' ')}"`
  const help = words.length > 1 ? `kubectl mesh ${words[0]} --help` : 'kubectl mesh --help'
  process.stderr.write(`Error: ${what}\nHint: see \`${help}\` for the commands and their arguments\n`)
  process.exitCode = 2
}
