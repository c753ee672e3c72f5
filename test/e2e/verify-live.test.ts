// verify's live checks against real istiods (cluster1 and cluster2, `--istio` install, read through
// the port-forward as a user would): links.istiod-stale (what cluster1's istiod serves from
// cluster2's shard vs cluster2's EndpointSlices) after a revoked token and a restart of cluster2's
// API server, trust.domain with another trust domain and aliases, and verify --wait (a mesh that
// becomes healthy during the wait, one that never does, requests per round). One bed; everything
// written here is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {CLI, KUBECONFIG, REPO, kget, kubectl, logRun, mesh, type RunResult, tempDir} from './harness.ts'
import {downIstio, type IstioBed, ok, upIstio} from './istio-bed.ts'
import {istiodLog, istiodLogSize, runningIstiod, waitUntil} from '../../testbed/istiod.ts'
import {addWorkload, removeWorkload} from '../../testbed/workloads.ts'
import {startApiServer, stopApiServer} from '../../testbed/testbed.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const APP = 'live'
const PORTS = [{name: 'http', port: 8080}]
const dir = tempDir('verify-live-e2e-')
let bed: IstioBed = {cacerts: [], installed: []}
const savedMesh: Record<string, string | undefined> = {}
const figures: Record<string, unknown> = {}
const started = Date.now()

interface Check {id: string; cluster: string; status: string; message: string; hint: string}
interface Report {checks: Check[]; summary: {failed: number}; wait?: {healthy: boolean; elapsedMs: number; rounds: Array<{round: number; elapsedMs: number; requests: number; failed: number}>}}

async function verify(extra: string[] = []): Promise<{r: RunResult; j: Report}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json', ...extra])
  assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return {r, j: JSON.parse(r.stdout) as Report}
}
const check = (j: Report, id: string, cluster: string) => {
  const c = j.checks.find((x) => x.id === id && x.cluster === cluster)
  assert.ok(c, `no ${id} result for ${cluster}`)
  return c
}
const failing = (j: Report) => j.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.cluster}: ${c.message}`)

/** verify's text output in a state, for docs/verify.md and the report (lines naming `want`, with the hint lines after them). */
async function show(state: string, want: RegExp) {
  const r = await mesh(['verify', '--context', C1, '--context', C2])
  const lines = r.stdout.split('\n')
  const picked: string[] = []
  lines.forEach((l, i) => {
    if (!want.test(l)) return
    picked.push(l)
    for (let k = i + 1; k < lines.length && /^\s+Hint:|^\s{4,}\S/.test(lines[k]) && !want.test(lines[k]); k++) picked.push(lines[k])
  })
  process.stderr.write(`# verify (${state}), exit ${r.code}:\n${picked.map((l) => `#   ${l}`).join('\n')}\n#   ${lines.filter((l) => /passed, .* failed/.test(l)).join(' ')}\n`)
}

/** Edit the `mesh` key of a cluster's istio ConfigMap (parsed, changed, written back). */
async function editMesh(ctx: string, edit: (m: Record<string, unknown>) => void) {
  const cm = await kget(ctx, ['-n', NS, 'configmap', 'istio'])
  const m = (load(cm.data.mesh ?? '') ?? {}) as Record<string, unknown>
  edit(m)
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh: dump(m)}})], {context: ctx})
}
async function restoreMesh() {
  for (const [ctx, mesh] of Object.entries(savedMesh)) {
    if (mesh !== undefined) await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh}})], {context: ctx, allowFail: true})
  }
}

async function unlinkAll() {
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
  await mesh(['cluster', 'unlink', '--context', C2, '--remote-name', C1, '--remote-context', C1, '--prune-remote'])
  for (const ctx of [C1, C2]) await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network', '--ignore-not-found'], {context: ctx, allowFail: true})
}

/** The bed is green: nothing fails (cluster1's istiod has synced cluster2 and holds web's endpoint). */
async function waitGreen(what: string, timeoutMs = 120_000): Promise<Report> {
  let last: Report | undefined
  await waitUntil(what, async () => {
    last = (await verify()).j
    return last.summary.failed === 0
  }, timeoutMs, 2000).catch(() => undefined)
  assert.deepEqual(failing(last!), [], `${what}: still failing`)
  return last!
}

/** `kubectl mesh ARGS` with stderr on a pseudo-terminal (util-linux script) and stdout to a file. */
function onTerminal(args: string[]): Promise<RunResult> {
  const out = join(dir, `stdout-${Date.now()}`)
  const shq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const cmd = `stty cols 200 rows 40; ${[process.execPath, CLI, ...args].map(shq).join(' ')} >${shq(out)}`
  const env: Record<string, string | undefined> = {...process.env, KUBECONFIG, NO_COLOR: '1', CI: undefined, TERM: 'xterm-256color'}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  return new Promise((resolve) => {
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], {env: env as NodeJS.ProcessEnv, cwd: REPO})
    let term = ''
    p.stdout.on('data', (c: Buffer) => { term += c.toString() })
    p.on('close', (code) => {
      const result = {code: code ?? -1, stdout: readFileSync(out, 'utf8'), stderr: term.replaceAll('\r', '')}
      logRun(args, result)
      resolve(result)
    })
  })
}

before(async () => {
  bed = await upIstio([C1, C2], dir)
  for (const ctx of [C1, C2]) savedMesh[ctx] = (await kget(ctx, ['-n', NS, 'configmap', 'istio'])).data.mesh
  await unlinkAll()
  ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional', '--token-ttl', '1h']), 'link --bidirectional --token-ttl 1h')
  await addWorkload({context: C2, namespace: APP, name: 'web', ports: PORTS})
  ok(await mesh(['service', 'export', 'web', '-n', APP, '--context', C2]), 'export web')
}, {timeout: 60 * 60_000})

after(async () => {
  await startApiServer(C2).catch(() => undefined)
  await restoreMesh()
  await mesh(['service', 'unexport', 'web', '-n', APP, '--context', C2])
  for (const w of ['web', 'web-b']) await removeWorkload(C2, APP, w, {service: true}).catch(() => undefined)
  await kubectl(['delete', 'namespace', APP, '--ignore-not-found', '--wait=false'], {context: C2, allowFail: true})
  await unlinkAll()
  await downIstio(bed)
  rmSync(dir, {recursive: true, force: true})
  figures.fileSeconds = Math.round((Date.now() - started) / 1000)
  process.stderr.write(`# verify-live e2e figures: ${JSON.stringify(figures)}\n`)
})

describe('verify: trust domains, --wait, and what a green sync hides', () => {
  test('healthy linked bed: links.istiod-stale and trust.domain pass', async () => {
    const j = await waitGreen('verify to be green on the linked bed')
    assert.match(check(j, 'links.istiod-stale', C1).message, /istiod serves what the linked clusters' EndpointSlices hold for each of \d+ service\(s\) compared/)
    assert.equal(check(j, 'trust.domain', C1).status, 'pass')
    assert.match(check(j, 'trust.domain', C2).message, /trust domain "cluster.local"/)
  })

  test('trust domain: cluster2 in another domain fails naming both; an alias on each side passes', async () => {
    await editMesh(C2, (m) => { m.trustDomain = 'west.example' })
    try {
      const {r, j} = await verify()
      assert.equal(r.code, 1)
      assert.match(check(j, 'trust.domain', C1).message, /cluster cluster1: trust domain "cluster.local" .*cluster cluster2 of the same mesh has trust domain "west.example", which cluster1 neither shares nor lists in trustDomainAliases/)
      assert.match(check(j, 'trust.domain', C2).message, /cluster cluster2: trust domain "west.example" \(mesh config\); cluster cluster1 of the same mesh has trust domain "cluster.local"/)
      assert.match(check(j, 'trust.domain', C1).hint, /trustDomainAliases: \[west.example\]/)
      await show('cluster2 in trust domain west.example', /trust\.domain|trust domain/)
      await editMesh(C1, (m) => { m.trustDomainAliases = ['west.example'] })
      await editMesh(C2, (m) => { m.trustDomainAliases = ['cluster.local'] })
      const again = (await verify()).j
      assert.equal(check(again, 'trust.domain', C1).status, 'pass', check(again, 'trust.domain', C1).message)
      assert.equal(check(again, 'trust.domain', C2).status, 'pass', check(again, 'trust.domain', C2).message)
      assert.match(check(again, 'trust.domain', C2).message, /trust domain "west.example" \(aliases cluster.local\)/)
    } finally {
      await restoreMesh()
    }
  })

  test('--wait on a mesh that never becomes healthy: a line per round on the terminal, exit 1 at the deadline, requests per round', async () => {
    await editMesh(C2, (m) => { m.trustDomain = 'west.example' })
    try {
      const t0 = Date.now()
      const r = await onTerminal(['verify', '--context', C1, '--context', C2, '-o', 'json', '--wait', '15s'])
      const ms = Date.now() - t0
      assert.equal(r.code, 1, r.stderr)
      const j = JSON.parse(r.stdout) as Report
      assert.match(check(j, 'trust.domain', C1).message, /west\.example/)
      assert.equal(j.wait!.healthy, false)
      assert.ok(j.wait!.rounds.length >= 2, `rounds: ${JSON.stringify(j.wait!.rounds)}`)
      assert.ok(ms >= 15_000, `exited after ${ms} ms, before the deadline`)
      assert.match(r.stderr, /^round 1 at [\d.]+ s: \d+ failing: .*trust\.domain cluster1.* \(\d+ requests\)$/m)
      assert.match(r.stderr, /^round 2 at [\d.]+ s: \d+ failing: /m)
      const line = /^verify --wait: (\d+) check\(s\) still fail at the deadline \(15\.0 s\), after (\d+) round\(s\) in ([\d.]+) s \(requests per round: ([\d, ]+)\)$/m.exec(r.stderr)
      assert.ok(line, r.stderr)
      const perRound = line[4].split(', ').map(Number)
      assert.deepEqual(perRound, j.wait!.rounds.map((x) => x.requests))
      // round 2 opens the watches instead of listing; from round 3 the listed kinds cost no request
      assert.ok(perRound.length >= 3, `requests per round ${perRound.join(', ')}`)
      assert.ok(perRound.slice(2).every((n) => n < perRound[0]), `requests per round ${perRound.join(', ')}`)
      figures.neverHealthy = {ms, rounds: perRound.length, requestsPerRound: perRound}
      process.stderr.write(`# verify --wait 15s (never healthy), the terminal:\n${r.stderr.split('\n').filter((l) => /^round |^verify --wait/.test(l)).map((l) => `#   ${l}`).join('\n')}\n`)
    } finally {
      await restoreMesh()
    }
  })

  test('--wait 60s on a mesh that becomes healthy during the wait: exit 0, how long it took', async () => {
    await editMesh(C2, (m) => { m.trustDomain = 'west.example' })
    const t0 = Date.now()
    const running = verify(['--wait', '60s'])
    await new Promise((r) => setTimeout(r, 8000))
    await restoreMesh()
    const {r, j} = await running
    const ms = Date.now() - t0
    assert.equal(r.code, 0, `${r.stderr}\n${failing(j).join('\n')}`)
    assert.equal(j.summary.failed, 0)
    assert.equal(j.wait!.healthy, true)
    assert.ok(j.wait!.rounds.length >= 2, `healthy in round 1: ${JSON.stringify(j.wait)}`)
    assert.ok(j.wait!.rounds[0].failed > 0)
    const line = /^verify --wait: no check fails, after (\d+) round\(s\) in ([\d.]+) s \(requests per round: ([\d, ]+)\)$/m.exec(r.stderr)
    assert.ok(line, r.stderr)
    assert.equal(Number(line[1]), j.wait!.rounds.length)
    process.stderr.write(`# verify --wait 60s (healthy during the wait): ${line[0]}\n`)
    figures.becomesHealthy = {ms, rounds: j.wait!.rounds.length, requestsPerRound: j.wait!.rounds.map((x) => x.requests), saidSeconds: Number(line[2])}
  })

  test("stale: a revoked token and a restarted API server; a phantom and a missing address while clusterz says synced; rotation recovers", async () => {
    const istiod = runningIstiod(C1)
    assert.ok(istiod, 'istiod of cluster1 runs')
    const mark = istiodLogSize(istiod)
    const web = (await kget(C2, ['-n', APP, 'pod', 'web-0'])).status.podIP as string
    // revoke the token cluster1's istiod reads cluster2 with, then restart cluster2's API server: istiod's watches must authenticate again
    const s = await kget(C1, ['-n', NS, 'secret', `istio-remote-secret-${C2}`])
    const token = (load(Buffer.from(s.data[C2], 'base64').toString()) as any).users[0].user.token as string
    const anchor = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())['kubernetes.io'].secret.name as string
    await kubectl(['-n', NS, 'delete', 'secret', anchor], {context: C2})
    await stopApiServer(C2)
    await startApiServer(C2)
    const watchError = await waitUntil(`"watch error in cluster ${C2}" in istiod's log`, async () =>
      istiodLog(istiod, mark).split('\n').find((l) => l.includes(`watch error in cluster ${C2}`)), 90_000, 500)
    figures.watchErrorMs = watchError.ms
    figures.watchErrorLine = watchError.value.replace(/^\S+\s+/, '').slice(0, 200)
    // cluster2 gains web-b-0 (behind the same Service; added first so it cannot reuse web-0's IP) and loses web-0: istiod sees neither
    const extra = await addWorkload({context: C2, namespace: APP, name: 'web-b', service: false, labels: {app: 'web'}, ports: PORTS})
    await removeWorkload(C2, APP, 'web')
    assert.notEqual(extra.ip, web)
    let j: Report | undefined
    const t0 = Date.now()
    await waitUntil('links.istiod-stale to fail for cluster1', async () => {
      j = (await verify()).j
      return check(j, 'links.istiod-stale', C1).status === 'fail'
    }, 60_000, 1000).catch(() => undefined)
    figures.staleVerifyMs = Date.now() - t0
    const c = check(j!, 'links.istiod-stale', C1)
    assert.equal(c.status, 'fail', c.message)
    assert.match(c.message, new RegExp(`serves 1 phantom address\\(es\\) cluster cluster2 no longer has ready \\(web\\.live\\.svc\\.cluster\\.local: ${web.replaceAll('.', '\\.')}:8080\\)`))
    assert.match(c.message, new RegExp(`lacks 1 ready address\\(es\\) cluster cluster2 has \\(web\\.live\\.svc\\.cluster\\.local: ${extra.ip.replaceAll('.', '\\.')}:8080\\)`))
    assert.match(c.message, /still after 5 s; its \/debug\/clusterz says cluster2 is "synced"/)
    assert.equal(check(j!, 'links.istiod-sync', C1).status, 'pass', 'istiod still claims synced')
    assert.match(c.hint, /watch error in cluster cluster2/)
    assert.match(c.hint, /kubectl mesh cluster rotate-credentials --context cluster1 --remote-context cluster2/)
    figures.staleMessage = c.message
    await show('token revoked, API server restarted, web-0 gone, web-b-0 added', /istiod-stale|phantom/)
    // new credentials: istiod rebuilds cluster2 from a fresh list and the check passes again
    ok(await mesh(['cluster', 'rotate-credentials', '--context', C1, '--remote-context', C2]), 'rotate-credentials')
    let k: Report | undefined
    await waitUntil('links.istiod-stale to pass again', async () => {
      k = (await verify()).j
      return check(k, 'links.istiod-stale', C1).status === 'pass'
    }, 90_000, 1000).catch(() => undefined)
    assert.equal(check(k!, 'links.istiod-stale', C1).status, 'pass', check(k!, 'links.istiod-stale', C1).message)
  })
})
