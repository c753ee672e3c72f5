// Entry point of the single executable (Node SEA): the "core" part (see scripts/sea/loader.cjs).
// esbuild bundles this file, oclif and everything `--help` and `--version` need into one CommonJS
// script (scripts/package.ts). It does what bin/run.js does, except that nothing is read from disk:
// - package.json and oclif.manifest.json are inlined (the manifest is handed to oclif through
//   globalThis.__KUBECTL_MESH_MANIFEST__, see the oclif patch in scripts/package.ts), so, as with
//   bin/run.js, `--help` and `--version` evaluate no command module;
// - oclif's explicit command discovery strategy loads its target through the `require` shim in
//   scripts/sea/banner.js, which hands back COMMANDS: one getter per command id that compiles the
//   "commands" part on first use and evaluates that command's module (and its imports) only.
// - the commands part gets this part's @oclif/core through the shim (globalThis.__KUBECTL_MESH_OCLIF__).
import {dirname} from 'node:path'
import * as oclifCore from '@oclif/core'
import {handleTopLevel} from '../../src/top-level.ts'
// All three are provided by the esbuild plugin in scripts/package.ts.
import pjson from 'kubectl-mesh:package-json'
import manifest from 'kubectl-mesh:oclif-manifest'
import {COMMANDS} from 'kubectl-mesh:commands'

const {flush, run, settings} = oclifCore
settings.enableAutoTranspile = false
Object.assign(globalThis, {__KUBECTL_MESH_COMMANDS__: COMMANDS, __KUBECTL_MESH_MANIFEST__: manifest, __KUBECTL_MESH_OCLIF__: oclifCore})

const oclif = {
  ...pjson.oclif,
  commands: {strategy: 'explicit' as const, target: './__kubectl_mesh_commands__.cjs', identifier: 'COMMANDS'},
}

export const done: Promise<void> = run(process.argv.slice(2), {root: dirname(process.execPath), pjson: {...pjson, oclif}})
  .then(async () => flush())
  .catch(handleTopLevel)
