// The single executable (scripts/package.ts): runs with no Node on PATH, says exactly what
// `bin/run.js` says, keeps the exit codes; and no command that does not talk to a cluster loads
// @kubernetes/client-node (checked on bin/run.js, whose module graph the bundle mirrors lazily,
// and on the executable, which compiles its client-node part only when a credential needs it).
// No test bed needed.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {before, describe, test} from 'node:test'
import {ensureHostExecutable, REPO} from '../../scripts/package.ts'
import {logSpawn, tempDir} from './harness.ts'

const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'))
const ids = Object.keys(manifest.commands).sort()
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version
const bareEnv = () => ({PATH: '/nonexistent', HOME: tempDir(), NO_COLOR: '1'})

describe('single executable', () => {
  let exe = ''
  before(async () => {
    exe = await ensureHostExecutable()
  })
  const sea = (args: string[]) => logSpawn(args, spawnSync(exe, args, {encoding: 'utf8', env: bareEnv()}))
  const npm = (args: string[]) => logSpawn(args, spawnSync(process.execPath, [join(REPO, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...bareEnv(), HOME: tempDir()}}))

  test('--version with no node on PATH', () => {
    const r = sea(['--version'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^kubectl-mesh/${version.replaceAll('.', '\\.')} linux-x64 node-v24\\.`))
    assert.equal(r.stderr, '')
  })

  test('--help and every command help are the same as bin/run.js', () => {
    for (const args of [['--help'], ...ids.map((id) => [...id.split(':'), '--help'])]) {
      const a = sea(args)
      const b = npm(args)
      assert.equal(a.status, 0, `${args.join(' ')}: ${a.stderr}`)
      assert.equal(a.stdout, b.stdout, args.join(' '))
      assert.equal(a.stderr, b.stderr, args.join(' '))
    }
  })

  test('--help and --version compile only the fast part, completion only the complete part; a command that talks to no cluster, no client-node part', () => {
    const parts = (args: string[], env: Record<string, string> = {}) => {
      const r = logSpawn(args, spawnSync(exe, args, {encoding: 'utf8', env: {...bareEnv(), KUBECTL_MESH_DEBUG_STARTUP: '1', ...env}}))
      assert.equal(r.status, 0, r.stderr)
      return [...r.stderr.matchAll(/^\[startup\] (\S+): compiled in [\d.]+ ms, code cache accepted$/gm)].map((m) => m[1])
    }
    assert.deepEqual(parts(['--help']), ['fast'])
    assert.deepEqual(parts(['--version']), ['fast'])
    assert.deepEqual(parts([...ids[0].split(':'), '--help']), ['fast'])
    // What the fast path declines goes to oclif (the core part), e.g. another help width.
    assert.deepEqual(parts(['--help'], {OCLIF_COLUMNS: '120'}), ['fast', 'core'])
    assert.deepEqual(parts(['--help'], {KUBECTL_MESH_NO_FAST_PATH: '1'}), ['fast', 'core'])
    assert.deepEqual(parts(['__complete', 'cluster', 'link', '--remote-context', '']), ['complete'])
    if (ids.includes('ca:gen')) assert.deepEqual(parts(['ca', 'gen', '--cluster', 'east', '--dir', join(tempDir(), 'ca'), '--key-size', '2048']), ['core', 'commands'])
  })

  test("completion: the archive's kubectl_complete-mesh and `kubectl-mesh __complete` answer as bin/kubectl_complete-mesh.js", () => {
    const kubeconfig = join(tempDir(), 'config')
    writeFileSync(kubeconfig, JSON.stringify({apiVersion: 'v1', kind: 'Config', 'current-context': 'east', clusters: [{name: 'c', cluster: {server: 'https://127.0.0.1:1'}}], users: [{name: 'u', user: {}}], contexts: ['east', 'west'].map((name) => ({name, context: {cluster: 'c', user: 'u'}}))}))
    const env = {...bareEnv(), KUBECONFIG: kubeconfig, PATH: '/usr/bin:/bin'}
    const completer = join(exe, '..', 'kubectl_complete-mesh')
    for (const args of [[''], ['cluster', 'link', '--remote-context', ''], ['verify', '-o', ''], ['service', 'export', '--']]) {
      const a = logSpawn(args, spawnSync(completer, args, {encoding: 'utf8', env}))
      const b = logSpawn(args, spawnSync(exe, ['__complete', ...args], {encoding: 'utf8', env}))
      const c = logSpawn(args, spawnSync(process.execPath, [join(REPO, 'bin', 'kubectl_complete-mesh.js'), ...args], {encoding: 'utf8', env}))
      assert.equal(a.status, 0, a.stderr)
      assert.equal(a.stderr + b.stderr + c.stderr, '')
      assert.equal(a.stdout, c.stdout, args.join(' '))
      assert.equal(b.stdout, c.stdout, args.join(' '))
      assert.match(a.stdout, /\n:\d+\n$/)
    }
    assert.match(spawnSync(completer, ['cluster', 'link', '--remote-context', ''], {encoding: 'utf8', env}).stdout, /^east\tcluster c \(current\)\nwest\tcluster c\n:4\n$/)
  })

  test('usage errors exit 2 with the same message', () => {
    const args = [...ids[0].split(':'), '--no-such-flag']
    const a = sea(args)
    const b = npm(args)
    assert.equal(a.status, 2, a.stderr)
    assert.equal(a.stderr, b.stderr)
    const c = sea(['no-such-command'])
    assert.equal(c.status, npm(['no-such-command']).status)
  })
})

describe('startup stays light', () => {
  // Records every module file the process loads (ESM and CommonJS: module.registerHooks).
  const hook = join(tempDir(), 'record-modules.mjs')
  writeFileSync(
    hook,
    `import {registerHooks} from 'node:module'
import {appendFileSync} from 'node:fs'
const out = process.env.RECORD_MODULES
registerHooks({load(url, context, next) { appendFileSync(out, url + '\\n'); return next(url, context) }})
`,
  )
  const loaded = (args: string[]) => {
    const out = join(tempDir(), 'modules.txt')
    writeFileSync(out, '')
    const r = logSpawn(args, spawnSync(process.execPath, ['--import', hook, join(REPO, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, RECORD_MODULES: out, HOME: tempDir(), KUBECONFIG: join(tempDir(), 'none')}}))
    return {r, modules: readFileSync(out, 'utf8').split('\n').filter(Boolean)}
  }

  const cases: string[][] = [['--help'], ['--version'], ...ids.map((id) => [...id.split(':'), '--help'])]
  // `ca gen` without --context only writes files: it must not load the Kubernetes client either.
  if (ids.includes('ca:gen')) cases.push(['ca', 'gen', '--cluster', 'east', '--cluster', 'west', '--dir', join(tempDir(), 'ca'), '--key-size', '2048'])

  for (const args of cases) {
    test(`kubectl mesh ${args.join(' ')} does not load @kubernetes/client-node`, () => {
      const {r, modules} = loaded(args)
      assert.equal(r.status, 0, r.stderr)
      assert.ok(modules.length > 0, 'the module recorder saw nothing')
      const heavy = modules.filter((m) => m.includes('/@kubernetes/client-node/'))
      assert.deepEqual(heavy, [], `loaded ${heavy.length} client-node modules`)
    })
  }
})
