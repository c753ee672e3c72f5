// The fast path (src/fast-path.ts) prints exactly what oclif prints: every recorded `--help`
// (root, commands, aliases, topics) and `--version`, through bin/run.js with and without it
// (KUBECTL_MESH_NO_FAST_PATH=1), plain and with colours forced. Needs `npm run build` (dist/help.json).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

const REPO = join(import.meta.dirname, '..', '..')
const RUN = join(REPO, 'bin', 'run.js')
const HELP = join(REPO, 'dist', 'help.json')
const exec = promisify(execFile)

async function run(args: string[], env: Record<string, string>): Promise<string> {
  const {stdout, stderr} = await exec(process.execPath, [RUN, ...args], {env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env}})
  assert.equal(stderr, '')
  return stdout
}

test('fast --help and --version equal oclif\'s own output', async () => {
  assert.ok(existsSync(HELP), 'dist/help.json missing: run `npm run build`')
  const docs = JSON.parse(readFileSync(HELP, 'utf8'))
  assert.ok(!JSON.stringify(docs).includes(process.version), 'help.json names no Node version (the user agent is filled in where it runs)')
  assert.equal(docs.version, JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version)
  const keys: string[] = Object.keys(docs.docs)
  assert.ok(keys.includes('') && keys.includes('service export') && keys.includes('export') && keys.includes('cluster'), keys.join(', '))
  const cases = [...keys.map((k) => [...(k ? k.split(' ') : []), '--help']), ['--version']]
  const pending = [...cases]
  const worker = async () => {
    for (let args = pending.shift(); args; args = pending.shift()) {
      // Every text styled; the stripping of styles (colours off) on two of them.
      const plain = args.length <= 1 || args.join(' ') === 'service export --help'
      for (const env of (plain ? [{NO_COLOR: '1'}, {FORCE_COLOR: '1'}] : [{FORCE_COLOR: '1'}]) as Array<Record<string, string>>) {
        const [fast, slow]: string[] = await Promise.all([run(args, env), run(args, {...env, KUBECTL_MESH_NO_FAST_PATH: '1'})])
        assert.equal(fast, slow, `kubectl-mesh ${args.join(' ')} (${JSON.stringify(env)})`)
        assert.ok(fast.length > 10)
      }
    }
  }
  await Promise.all([worker(), worker()])
})

test('fast path declines what it cannot answer exactly', async () => {
  const {fastOutput} = await import('../../src/fast-path.ts')
  const docs = {version: '1.0.0', width: 80, docs: {'': 'root\n', 'verify': 'v\n'}}
  const pjson = {name: 'kubectl-mesh', version: '1.0.0'}
  assert.equal(fastOutput(['verify', '--help'], pjson, () => docs, {}), 'v\n')
  assert.equal(fastOutput(['--help'], pjson, () => docs, {}), 'root\n')
  assert.equal(fastOutput(['verify', 'x', '--help'], pjson, () => docs, {}), undefined, 'not a command')
  assert.equal(fastOutput(['verify', '--context', 'a', '--help'], pjson, () => docs, {}), undefined, 'flags before --help')
  assert.equal(fastOutput(['verify', '--help'], pjson, () => docs, {OCLIF_COLUMNS: '120'}), undefined, 'another width')
  assert.equal(fastOutput(['verify', '--help'], {...pjson, version: '2.0.0'}, () => docs, {}), undefined, 'stale help.json')
  assert.equal(fastOutput(['verify', '--help'], pjson, () => docs, {KUBECTL_MESH_NO_FAST_PATH: '1'}), undefined)
  assert.match(fastOutput(['--version'], pjson, () => docs, {}) ?? '', /^kubectl-mesh\/1\.0\.0 \w+-\w+ node-v\d+/)
  assert.equal(fastOutput(['verify'], pjson, () => docs, {}), undefined)
  // The root help's VERSION names the platform and Node it runs on, not the build machine's.
  const {USER_AGENT} = await import('../../src/fast-path.ts')
  const root = fastOutput(['--help'], pjson, () => ({...docs, docs: {'': `VERSION\n  ${USER_AGENT}\n`}}), {})
  assert.equal(root, `VERSION\n  kubectl-mesh/1.0.0 ${process.platform}-${process.arch} node-${process.version}\n`)
})
