#!/usr/bin/env node
// Completion answers (cobra's __complete, on every TAB) skip oclif: see src/completion/.
if (process.argv[2] === '__complete' || process.argv[2] === '__completeNoDesc') {
  const {completeFromPackage} = await import('../dist/completion/package-entry.js')
  await completeFromPackage(process.argv.slice(2))
} else {
  const [{flush, run}, {handleTopLevel}] = await Promise.all([import('@oclif/core'), import('../dist/top-level.js')])
  await run(process.argv.slice(2), import.meta.url).then(() => flush(), handleTopLevel)
}
