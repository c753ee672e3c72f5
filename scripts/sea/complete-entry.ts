// Entry of the single executable's "complete" part (scripts/sea/loader.cjs): the completion
// answerer (src/completion/) with the oclif manifest and package.json inlined, and without oclif,
// for `kubectl-mesh __complete …` and kubectl_complete-mesh (kubectl's plugin completion).
import {main} from '../../src/completion/answer.ts'
import {commandTable, type OclifManifest} from '../../src/completion/model.ts'
// Both are provided by the esbuild plugin in scripts/package.ts.
import pjson from 'kubectl-mesh:package-json'
import manifest from 'kubectl-mesh:oclif-manifest'

const args = process.argv.slice(2)
export const done: Promise<void> = main(args[0] === '__complete' || args[0] === '__completeNoDesc' ? args : ['__complete', ...args], commandTable(manifest as unknown as OclifManifest, pjson.oclif?.topics as Record<string, {description?: string}>))
