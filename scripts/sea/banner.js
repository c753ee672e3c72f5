// Prepended to each part of the single executable (CommonJS bundles, see scripts/sea/loader.cjs).
// In a Node SEA, `require` of the main script loads built-in modules only. Everything else is
// bundled, so the only non-built-in require() calls at run time are the ones between parts:
// oclif's module loader asking for the explicit-strategy target (answered by the core part),
// the commands part importing @oclif/core (the core part's instance: one Command class, one
// config) and the lazy import of @kubernetes/client-node (its own part). Any other request fails
// with MODULE_NOT_FOUND, which optional dependencies (require in try/catch) expect, instead of
// Node's SEA warning.
// `var require` is legal here: `require` is a parameter of the CommonJS wrapper function.
process.env.OCLIF_DISABLE_ENGINE_WARNING = '1' // oclif would read its own package.json from disk
var require = ((real) => {
  const TARGET = '__kubectl_mesh_commands__.cjs'
  const {isBuiltin: builtin} = real('node:module')
  const isBuiltin = (id) => typeof id === 'string' && (id.startsWith('node:') || builtin(id))
  const notFound = (id) => Object.assign(new Error(`Cannot find module '${id}' (not bundled into the kubectl-mesh executable)`), {code: 'MODULE_NOT_FOUND'})
  const between = {
    '@oclif/core': () => globalThis.__KUBECTL_MESH_OCLIF__,
    '@kubernetes/client-node': () => globalThis.__KUBECTL_MESH_PART__('client-node'),
  }
  const shim = (id) => {
    if (isBuiltin(id)) return real(id)
    if (typeof id === 'string' && id.endsWith(TARGET)) return {COMMANDS: globalThis.__KUBECTL_MESH_COMMANDS__}
    if (Object.hasOwn(between, id)) return between[id]()
    throw notFound(id)
  }
  shim.resolve = (id) => {
    if (isBuiltin(id) || Object.hasOwn(between, id) || (typeof id === 'string' && id.endsWith(TARGET))) return id
    throw notFound(id)
  }
  shim.cache = Object.create(null)
  shim.main = undefined
  return shim
})(require);
