// Types of the modules scripts/package.ts hands to esbuild (virtual) or imports untyped.
declare module 'kubectl-mesh:package-json' {
  const pjson: {name: string; version: string; oclif: Record<string, unknown>; [key: string]: unknown}
  export default pjson
}
declare module 'kubectl-mesh:oclif-manifest' {
  const manifest: {version: string; commands: Record<string, unknown>}
  export default manifest
}
declare module 'kubectl-mesh:commands' {
  export const COMMANDS: Record<string, unknown>
}
declare module 'postject' {
  export function inject(file: string, name: string, data: Buffer, opts: object): Promise<void>
}
declare module 'kubectl-mesh:help-docs' {
  const help: unknown
  export default help
}
declare module 'kubectl-mesh:command-table' {
  const table: unknown
  export default table
}
