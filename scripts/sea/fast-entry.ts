// Entry of the single executable's "fast" part (scripts/sea/loader.cjs): `--version` and `--help`
// answered without oclif (src/fast-path.ts), with package.json and dist/help.json inlined.
import {answerFast, type HelpDocs} from '../../src/fast-path.ts'
// Both are provided by the esbuild plugin in scripts/package.ts.
import pjson from 'kubectl-mesh:package-json'
import help from 'kubectl-mesh:help-docs'

export const answered: boolean = answerFast(process.argv.slice(2), pjson, () => help as HelpDocs)
