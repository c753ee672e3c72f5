// Progress and the -o json contract against the test bed (cluster1 = EAST, cluster2 = WEST).
// Progress: run under a pseudo-terminal (util-linux `script`), stderr a terminal and stdout a file,
// the listr2 tasks must appear on stderr; on a pipe (harness mesh()) and with -o json, stdout is the
// same and stderr carries no task. The -o json shapes of the commands that need clusters are
// compared with test/contract/json/ (test/contract.ts; `npm run contract:update:e2e` rewrites them).
// Everything written is removed in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {CLI, KUBECONFIG, kubectl, logRun, mesh, REPO, type RunResult, tempDir} from './harness.ts'
import {matchSnapshot, shapeOf} from '../contract.ts'

const EAST = 'cluster1'
const WEST = 'cluster2'
const NS = 'ctr-e2e'
const ISTIO_NS = 'istio-system'
const MANY = 12
const tmp = tempDir('contract-e2e-')
const LINK = ['cluster', 'link', '--context', EAST, '--remote-context', WEST]
const UNLINK = ['cluster', 'unlink', '--context', EAST, '--remote-context', WEST, '--prune-remote']
// listr2's task marks (with NO_COLOR) and any escape sequence.
const TASK = /[✔✖❯⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/
const ESC = /\x1b\[/

const shq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
let runs = 0

/** `kubectl mesh ARGS` with stderr on a pseudo-terminal and stdout to a file: {code, stdout, transcript (what the terminal showed)}. */
function onTerminal(args: string[]): RunResult & {transcript: string} {
  const out = join(tmp, `stdout-${runs++}`)
  const cmd = `stty cols 160 rows 40; ${[process.execPath, CLI, ...args].map(shq).join(' ')} >${shq(out)}`
  const env: Record<string, string | undefined> = {...process.env, KUBECONFIG, NO_COLOR: '1', CI: undefined, TERM: 'xterm-256color'}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {env: env as NodeJS.ProcessEnv, cwd: REPO, encoding: 'utf8', timeout: 120_000})
  const stdout = readFileSync(out, 'utf8')
  // The terminal shows stderr (and the CLI's stdout went to the file).
  const result = {code: r.status ?? -1, stdout, stderr: r.stdout, transcript: r.stdout.replaceAll('\r', '')}
  logRun(args, result)
  return result
}

const plain = (s: string) => s.replaceAll(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
/** The lines the terminal showed last for each task (listr2 redraws them). */
function tasksShown(transcript: string): string[] {
  return [...new Set(plain(transcript).split('\n').map((l) => l.trim()).filter((l) => /^✔ /.test(l)))]
}

function assertNoProgress(r: RunResult): void {
  assert.doesNotMatch(r.stderr, TASK, `no task on stderr:\n${r.stderr}`)
  assert.doesNotMatch(r.stderr, ESC, `no escape sequence on stderr:\n${r.stderr}`)
}

const svc = (name: string) => ({apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: NS, labels: {'kubectl-mesh/exported': 'true'}}, spec: {selector: {app: name}, ports: [{name: 'http', port: 8000, targetPort: 80}]}})
const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})

async function cleanLinks(): Promise<void> {
  await mesh(UNLINK)
  await mesh(['cluster', 'unlink', '--context', WEST, '--remote-context', EAST, '--prune-remote'])
}

describe('progress on a terminal, nothing on a pipe; -o json shapes', () => {
  const meshNetworks: Record<string, string | undefined> = {}

  before(async () => {
    for (const ctx of [EAST, WEST]) {
      const cm = JSON.parse((await kubectl(['-n', ISTIO_NS, 'get', 'configmap', 'istio', '-o', 'json'], {context: ctx})).stdout)
      meshNetworks[ctx] = cm.data?.meshNetworks
    }
    await cleanLinks()
    for (const ctx of [EAST, WEST]) await kubectl(['create', 'namespace', NS], {context: ctx, allowFail: true})
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list(Array.from({length: MANY}, (_, i) => svc(`s-${i}`)))})
  })

  after(async () => {
    await cleanLinks()
    for (const ctx of [EAST, WEST]) {
      if (meshNetworks[ctx] !== undefined) {
        await kubectl(['-n', ISTIO_NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: meshNetworks[ctx]}})], {context: ctx, allowFail: true})
      }
    }
    await kubectl(['-n', ISTIO_NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-exports', '--ignore-not-found'], {context: WEST, allowFail: true})
    await kubectl(['-n', ISTIO_NS, 'delete', 'configmap', 'kubectl-mesh-addresses', '--ignore-not-found'], {context: EAST, allowFail: true})
    for (const ctx of [EAST, WEST]) await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=120s'], {context: ctx, allowFail: true})
  })

  test('cluster link: tasks for reading both clusters, the token wait and each write; the same stdout on a pipe', async () => {
    const t = onTerminal(LINK)
    assert.equal(t.code, 0, t.transcript)
    const shown = tasksShown(t.transcript)
    for (const want of [`Read cluster "${EAST}"`, `Read cluster "${WEST}"`, 'Check write permissions', `Wait for the reader token in "${WEST}"`,
      `Write ServiceAccount istio-reader-service-account in "${WEST}"`, `Write Secret istio-remote-secret-${WEST} in "${EAST}"`]) {
      assert.ok(shown.includes(`✔ ${want}`), `task "${want}" not shown; shown:\n${shown.join('\n')}`)
    }
    assert.doesNotMatch(t.stdout, TASK)
    assert.doesNotMatch(t.stdout, ESC)
    assert.match(t.stdout, /Secret\/istio-system\/istio-remote-secret-cluster2\s+created/)

    // The same link again from scratch, on a pipe: the same stdout, and no task on stderr.
    assert.equal((await mesh(UNLINK)).code, 0)
    const p = await mesh(LINK)
    assert.equal(p.code, 0, p.stderr)
    assert.equal(p.stdout, t.stdout)
    assertNoProgress(p)
    // What stderr says besides the tasks (warnings) is the same on both.
    for (const line of p.stderr.split('\n').filter(Boolean)) assert.ok(plain(t.transcript).includes(line), `"${line}" not on the terminal`)
  })

  test('cluster link -o json on a terminal: no task; the shape is the contract', async () => {
    const t = onTerminal([...LINK, '-o', 'json'])
    assert.equal(t.code, 0, t.transcript)
    assert.doesNotMatch(t.transcript, TASK, t.transcript)
    const json = JSON.parse(t.stdout)
    assert.ok(json.changes.length > 0)
    matchSnapshot('json/cluster-link', shapeOf(json))
    assert.deepEqual(JSON.parse((await mesh([...LINK, '-o', 'json'])).stdout), json)
  })

  test('service export / import of many services: tasks with a count on a terminal; -o json shapes', async () => {
    const e = onTerminal(['service', 'export', 's-0', '-n', NS, '--context', WEST])
    assert.equal(e.code, 0, e.transcript)
    assert.ok(tasksShown(e.transcript).includes(`✔ Read cluster "${WEST}"`), e.transcript)
    const ej = onTerminal(['export', 's-1', '-n', NS, '--context', WEST, '-o', 'json'])
    assert.equal(ej.code, 0, ej.transcript)
    assert.doesNotMatch(ej.transcript, TASK)
    matchSnapshot('json/service-export', shapeOf(JSON.parse(ej.stdout)))

    const IMPORT = ['service', 'import', '--all-exported', '-n', NS, '--from-context', WEST, '--context', EAST]
    const i = onTerminal(IMPORT)
    assert.equal(i.code, 0, i.transcript)
    const shown = tasksShown(i.transcript)
    for (const want of [`Read cluster "${WEST}"`, `Read cluster "${EAST}"`, `Write ${MANY} imports in "${EAST}" (${MANY}/${MANY})`]) {
      assert.ok(shown.includes(`✔ ${want}`), `task "${want}" not shown; shown:\n${shown.join('\n')}`)
    }
    const p = await mesh(IMPORT)
    assert.equal(p.code, 0, p.stderr)
    assertNoProgress(p)
    // A repeat on the pipe: the same ServiceEntry and DestinationRule lines, now unchanged.
    const objects = (out: string, action: string) => out.split('\n').filter((l) => /(ServiceEntry|DestinationRule)\//.test(l) && l.endsWith(action)).map((l) => l.replace(/\s+\S+$/, ''))
    assert.equal(objects(i.stdout, 'created').length, 2 * MANY, i.stdout)
    assert.deepEqual(objects(p.stdout, 'unchanged'), objects(i.stdout, 'created'))
    const ij = onTerminal([...IMPORT, '-o', 'json'])
    assert.equal(ij.code, 0, ij.transcript)
    assert.doesNotMatch(ij.transcript, TASK)
    matchSnapshot('json/service-import', shapeOf(JSON.parse(ij.stdout)))

    const uj = await mesh(['service', 'unimport', 's-0', '-n', NS, '--context', EAST, '-o', 'json'])
    assert.equal(uj.code, 0, uj.stderr)
    matchSnapshot('json/service-unimport', shapeOf(JSON.parse(uj.stdout)))
    const xj = await mesh(['service', 'unexport', 's-1', '-n', NS, '--context', WEST, '-o', 'json'])
    assert.equal(xj.code, 0, xj.stderr)
    matchSnapshot('json/service-unexport', shapeOf(JSON.parse(xj.stdout)))
  })

  test('verify across clusters and ca gen key generation show tasks; verify -o json does not', async () => {
    const v = onTerminal(['verify', '--context', EAST, '--context', WEST])
    const shown = tasksShown(v.transcript)
    for (const want of [`Read cluster "${EAST}"`, `Read cluster "${WEST}"`, "Read istiod's sync status"]) {
      assert.ok(shown.includes(`✔ ${want}`), `task "${want}" not shown; shown:\n${shown.join('\n')}`)
    }
    assert.ok(shown.some((l) => /^✔ Probe \d+ remote secrets? with their own credentials$/.test(l)), shown.join('\n'))
    assert.match(v.stdout, /\d+ passed, \d+ warnings, \d+ failed, \d+ skipped/)
    const vj = onTerminal(['verify', '--context', EAST, '--context', WEST, '-o', 'json'])
    assert.doesNotMatch(vj.transcript, TASK, vj.transcript)
    assert.ok(JSON.parse(vj.stdout).checks.length > 0)

    const c = onTerminal(['ca', 'gen', '--cluster', 'east', '--cluster', 'west', '--dir', join(tmp, 'ca'), '--key-size', '2048'])
    assert.equal(c.code, 0, c.transcript)
    assert.ok(tasksShown(c.transcript).includes('✔ Generate 3 RSA-2048 key pairs'), c.transcript)
    const p = await mesh(['ca', 'gen', '--cluster', 'east', '--cluster', 'north', '--dir', join(tmp, 'ca'), '--key-size', '2048'])
    assert.equal(p.code, 0, p.stderr)
    assertNoProgress(p)
  })

  test('cluster unlink -o json: the shape is the contract', async () => {
    const r = await mesh([...UNLINK, '-o', 'json'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(JSON.parse(r.stdout).changes.length > 0)
    matchSnapshot('json/cluster-unlink', shapeOf(JSON.parse(r.stdout)))
  })
})
