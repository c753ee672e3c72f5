// Entry of the single executable's "complete" part (scripts/sea/loader.cjs): the completion
// answerer (src/completion/) without oclif, for `kubectl-mesh __complete …` and
// kubectl_complete-mesh (kubectl's plugin completion). The command table is made from the oclif
// manifest at build time (scripts/package.ts).
import {main} from '../../src/completion/answer.ts'
import type {CommandTable} from '../../src/completion/model.ts'
import table from 'kubectl-mesh:command-table'

const args = process.argv.slice(2)
export const done: Promise<void> = main(args[0] === '__complete' || args[0] === '__completeNoDesc' ? args : ['__complete', ...args], table as CommandTable)
