#!/usr/bin/env node
// Completion answers (cobra's __complete, on every TAB; src/completion/), --version and --help
// (src/fast-path.ts) are answered without loading oclif; everything else runs through oclif.
import {readFileSync} from 'node:fs'

const argv = process.argv.slice(2)
const read = (file) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8'))
if (argv[0] === '__complete' || argv[0] === '__completeNoDesc') {
  const {completeFromPackage} = await import('../dist/completion/package-entry.js')
  await completeFromPackage(argv)
} else if (!(argv[0] === '--version' || argv.at(-1) === '--help') || !(await import('../dist/fast-path.js')).answerFast(argv, read('../package.json'), () => {
  try {
    return read('../dist/help.json')
  } catch {
    return undefined
  }
})) {
  const [{flush, run}, {handleTopLevel}] = await Promise.all([import('@oclif/core'), import('../dist/top-level.js')])
  await run(argv, import.meta.url).then(() => flush(), handleTopLevel)
}
