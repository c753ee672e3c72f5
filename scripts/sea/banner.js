// Prepended to the single-executable bundle (CommonJS). In a Node SEA, `require` of the main
// script loads built-in modules only. Everything else is bundled, so the only non-built-in
// require() that happens at run time is oclif's module loader asking for the explicit-strategy
// target: answer it from memory. Any other request fails with MODULE_NOT_FOUND, which optional
// dependencies (require in try/catch) expect, instead of Node's SEA warning.
// `var require` is legal here: `require` is a parameter of the CommonJS wrapper function.
process.env.OCLIF_DISABLE_ENGINE_WARNING = '1' // oclif would read its own package.json from disk
var require = ((real) => {
  const TARGET = '__kubectl_mesh_commands__.cjs'
  const {isBuiltin: builtin} = real('node:module')
  const isBuiltin = (id) => typeof id === 'string' && (id.startsWith('node:') || builtin(id))
  const notFound = (id) => Object.assign(new Error(`Cannot find module '${id}' (not bundled into the kubectl-mesh executable)`), {code: 'MODULE_NOT_FOUND'})
  const shim = (id) => {
    if (isBuiltin(id)) return real(id)
    if (typeof id === 'string' && id.endsWith(TARGET)) return {COMMANDS: globalThis.__KUBECTL_MESH_COMMANDS__}
    throw notFound(id)
  }
  shim.resolve = (id) => {
    if (isBuiltin(id) || (typeof id === 'string' && id.endsWith(TARGET))) return id
    throw notFound(id)
  }
  shim.cache = Object.create(null)
  shim.main = undefined
  return shim
})(require);
