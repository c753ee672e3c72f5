// Entry point of the single executable (Node SEA). esbuild bundles this file, every command and
// every dependency into one CommonJS script (scripts/package.ts). It does what bin/run.js does,
// except that nothing is read from disk: package.json is inlined, and oclif's explicit command
// discovery strategy loads its target through the `require` shim in scripts/sea/banner.js, which
// hands back the command map below.
import {dirname} from 'node:path'
import {flush, handle, run, settings} from '@oclif/core'
// Both are provided by the esbuild plugin in scripts/package.ts.
import pjson from 'kubectl-mesh:package-json'
import {COMMANDS} from 'kubectl-mesh:commands'

settings.enableAutoTranspile = false
;(globalThis as {__KUBECTL_MESH_COMMANDS__?: unknown}).__KUBECTL_MESH_COMMANDS__ = COMMANDS

const oclif = {
  ...pjson.oclif,
  commands: {strategy: 'explicit', target: './__kubectl_mesh_commands__.cjs', identifier: 'COMMANDS'},
}

run(process.argv.slice(2), {root: dirname(process.execPath), pjson: {...pjson, oclif}})
  .then(async () => flush())
  .catch(async (error) => handle(error))
