// The SEA main script. It compiles the bundle (SEA asset "bundle.cjs") with the V8 code cache
// (asset "bundle.cache") that scripts/package.ts recorded by running this very executable: a
// cache made after execution holds every function that ran, not only the top level, so startup
// compiles almost nothing. A cache that does not fit (other V8, other flags) is rejected by V8
// and the bundle is simply compiled. KUBECTL_MESH_TRAIN_CACHE=<file> makes a run write the cache.
const sea = require('node:sea')
const vm = require('node:vm')
const t0 = performance.now()
// esbuild writes the bundle as ASCII (non-ASCII escaped), so latin1 is exact and the cheapest decode.
const source = Buffer.from(sea.getRawAsset('bundle.cjs')).latin1Slice()
const train = process.env.KUBECTL_MESH_TRAIN_CACHE
let cachedData
try {
  // Training runs accumulate: each starts from the cache the previous one wrote.
  cachedData = train ? require('node:fs').readFileSync(train) : Buffer.from(sea.getRawAsset('bundle.cache'))
} catch {}
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: 'kubectl-mesh.cjs',
  cachedData,
})
if (train) {
  delete process.env.KUBECTL_MESH_TRAIN_CACHE
  process.once('exit', () => require('node:fs').writeFileSync(train, script.createCachedData()))
}
if (process.env.KUBECTL_MESH_DEBUG_STARTUP) {
  process.stderr.write(`[startup] process ${t0.toFixed(1)} ms, compile ${(performance.now() - t0).toFixed(1)} ms, code cache ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'absent'}\n`)
  process.once('exit', () => process.stderr.write(`[startup] exit at ${performance.now().toFixed(1)} ms\n`))
}
const mod = {exports: {}}
script.runInThisContext()(mod.exports, require, mod, process.execPath, require('node:path').dirname(process.execPath))
