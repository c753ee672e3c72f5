// The answerer as installed from npm (bin/kubectl_complete-mesh.js, and `bin/run.js __complete`):
// the command table `npm run build` made from the oclif manifest (dist/command-table.json,
// scripts/help-docs.ts), else made here from oclif.manifest.json. The single executable has its
// own entry with the table inlined (scripts/sea/complete-entry.ts).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {main} from './answer.ts'
import {commandTable, type CommandTable} from './model.ts'

const read = (file: string) => JSON.parse(readFileSync(file, 'utf8'))

function table(): CommandTable {
  const root = join(import.meta.dirname, '..', '..')
  try {
    return read(join(root, 'dist', 'command-table.json'))
  } catch {
    try {
      return commandTable(read(join(root, 'oclif.manifest.json')), read(join(root, 'package.json')).oclif?.topics)
    } catch {
      return commandTable({commands: {}})
    }
  }
}

export async function completeFromPackage(argv: string[]): Promise<void> {
  await main(argv, table())
}
