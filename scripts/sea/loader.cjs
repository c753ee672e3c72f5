// The SEA main script. The program is five CommonJS bundles, SEA assets "<part>.cjs"
// (scripts/package.ts): "fast" (`--version` and `--help` as recorded at build time, without oclif:
// src/fast-path.ts), "core" (oclif, the entry, the manifest: what any other `--help` needs and
// what runs a command), "complete" (the completion answerer, without oclif: `__complete`, and the executable
// started under the name kubectl_complete-mesh), "commands" (every command and its dependencies,
// compiled when a command runs) and
// "client-node" (@kubernetes/client-node, compiled only for exec/auth-provider credentials).
// A part is compiled on first use, with the V8 code cache (asset "<part>.cache") that
// scripts/package.ts recorded by running this very executable: a cache made after execution holds
// every function that ran, not only the top level, so startup compiles almost nothing. A cache
// that does not fit (other V8, other flags) is rejected by V8 and the part is simply compiled.
// KUBECTL_MESH_TRAIN_CACHE=<dir> makes a run read and write <dir>/<part>.cache, and load every part.
const sea = require('node:sea')
const vm = require('node:vm')
const t0 = performance.now()
const train = process.env.KUBECTL_MESH_TRAIN_CACHE
const debug = process.env.KUBECTL_MESH_DEBUG_STARTUP
const fs = () => require('node:fs')
const loaded = new Map()

function asset(name) {
  try {
    return sea.getRawAsset(name)
  } catch {
    return undefined
  }
}

function part(name) {
  if (loaded.has(name)) return loaded.get(name).exports
  const t = performance.now()
  // esbuild writes the bundles as ASCII (non-ASCII escaped), so latin1 is exact and the cheapest decode.
  const source = Buffer.from(asset(`${name}.cjs`)).latin1Slice()
  let cachedData
  if (train) {
    try {
      cachedData = fs().readFileSync(`${train}/${name}.cache`) // training runs accumulate
    } catch {}
  } else {
    const cache = asset(`${name}.cache`)
    if (cache) cachedData = Buffer.from(cache)
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {filename: `kubectl-mesh-${name}.cjs`, cachedData})
  if (debug) process.stderr.write(`[startup] ${name}: compiled in ${(performance.now() - t).toFixed(1)} ms, code cache ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'absent'}\n`)
  const mod = {exports: {}, script}
  loaded.set(name, mod)
  script.runInThisContext()(mod.exports, require, mod, process.execPath, require('node:path').dirname(process.execPath))
  return mod.exports
}

globalThis.__KUBECTL_MESH_PART__ = part

if (train) {
  delete process.env.KUBECTL_MESH_TRAIN_CACHE
  process.once('exit', () => {
    // Evaluate what this run did not: every command module and client-node, so each part's
    // cache holds at least its module bodies (the commands need the core part's oclif: not in a
    // completion run, which records the complete part only).
    if (loaded.has('core')) {
      const commands = part('commands')
      for (const id of Object.keys(commands)) void commands[id]
      part('client-node')
    }
    for (const [name, mod] of loaded) fs().writeFileSync(`${train}/${name}.cache`, mod.script.createCachedData())
  })
}
if (debug) {
  process.stderr.write(`[startup] process ${t0.toFixed(1)} ms\n`)
  process.once('exit', () => process.stderr.write(`[startup] exit at ${performance.now().toFixed(1)} ms\n`))
}
const first = process.argv[2]
const name = require('node:path').basename(process.argv0 || '').replace(/\.exe$/i, '')
if (first === '__complete' || first === '__completeNoDesc' || name === 'kubectl_complete-mesh') part('complete')
else if (!((first === '--version' || process.argv.at(-1) === '--help') && part('fast').answered)) part('core')
