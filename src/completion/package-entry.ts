// The answerer as installed from npm (bin/kubectl_complete-mesh.js, and `bin/run.js __complete`):
// the command table from the package's oclif.manifest.json and package.json. The single
// executable has its own entry with both inlined (scripts/sea/complete-entry.ts).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {main} from './answer.ts'
import {commandTable} from './model.ts'

export async function completeFromPackage(argv: string[]): Promise<void> {
  const root = join(import.meta.dirname, '..', '..')
  let table
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
    const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    table = commandTable(manifest, pjson.oclif?.topics)
  } catch {
    table = commandTable({commands: {}})
  }
  await main(argv, table)
}
