// Link credentials with a lifetime (`cluster link --token-ttl`, `cluster rotate-credentials`,
// verify `links.token-lifetime`) against the test bed, proven by their consumers: WEST's API
// server (kubectl with the token: accepted, or 401) and a real istiod in EAST (its /debug/clusterz
// and its log). cluster1 = EAST (runs istiod), cluster2 = WEST. Everything is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {load} from 'js-yaml'
import {assertUsageError, kget, kubectl, mesh, type RunResult, stats, tempDir, writes} from './harness.ts'
import {adminRequest, assertUnchanged, snapshot} from './snapshot.ts'
import {kubectlBin} from '../../testbed/testbed.ts'
import {clusterz, type Istiod, istiodLog, istiodLogSize, pilotDiscoveryBin, startIstiod, stopIstiod, waitUntil} from '../../testbed/istiod.ts'

const NS = 'istio-system'
const E = 'cluster1'
const W = 'cluster2'
const LEGACY = 'istio-reader-service-account-istio-remote-secret-token'
const MANAGED = 'app.kubernetes.io/managed-by=kubectl-mesh'
const run = promisify(execFile)
const tmp = tempDir('credentials-e2e-')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let istiod: Istiod | undefined
const original: Record<string, Record<string, string>> = {}
const figures: Record<string, unknown> = {}

function ok(r: RunResult, what: string) {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
}

/** The token in EAST's remote secret for WEST (never printed), and a kubeconfig file holding it. */
async function currentToken(): Promise<{token: string; claims: any; file: string}> {
  const s = await kget(E, ['-n', NS, 'secret', `istio-remote-secret-${W}`])
  const text = Buffer.from(s.data[W], 'base64').toString()
  const doc = load(text) as any
  const token: string = doc.users[0].user.token
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  const file = join(tmp, `kubeconfig-${Date.now()}-${Math.random().toString(36).slice(2)}`)
  writeFileSync(file, text, {mode: 0o600})
  return {token, claims, file}
}

async function asToken(file: string, args: string[]): Promise<{code: number; stderr: string}> {
  try {
    await run(kubectlBin(), ['--kubeconfig', file, ...args])
    return {code: 0, stderr: ''}
  } catch (error) {
    const e = error as {code: number; stderr: string}
    return {code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr}
  }
}

/** What istiod reads in WEST, with that token alone. */
async function assertReads(file: string) {
  for (const args of [['get', 'namespaces'], ['get', 'services', '-A'], ['get', 'pods', '-A'], ['get', 'endpointslices', '-A'], ['get', 'secrets', '-n', NS], ['get', 'configmaps', '-n', NS]]) {
    const r = await asToken(file, [...args, '-o', 'name'])
    assert.equal(r.code, 0, `${args.join(' ')} with the token: ${r.stderr}`)
  }
}

/** WEST's API server rejects the token (401); the API server's token cache may take up to 10 s. */
async function assertRejected(file: string): Promise<number> {
  const {ms} = await waitUntil('WEST to reject the old token with 401', async () => {
    const r = await asToken(file, ['get', 'namespaces', '-o', 'name'])
    return r.code !== 0 && /Unauthorized|must be logged in/.test(r.stderr)
  }, 30_000, 250)
  return ms
}

async function cleanup() {
  for (const ctx of [E, W]) {
    await kubectl(['-n', NS, 'delete', 'secret', '-l', `${MANAGED},istio/multiCluster=true`, '--ignore-not-found'], {context: ctx, allowFail: true})
    await kubectl(['-n', NS, 'delete', 'secret', '-l', 'kubectl-mesh/token-for', '--ignore-not-found'], {context: ctx, allowFail: true})
    await kubectl(['-n', NS, 'delete', 'secret', LEGACY, '--ignore-not-found'], {context: ctx, allowFail: true})
    // what a cross-network link makes in WEST (its exposure Gateway)
    await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network', '--ignore-not-found'], {context: ctx, allowFail: true})
  }
}

async function waitSynced(what: string, timeoutMs = 60_000): Promise<number> {
  return (await waitUntil(what, async () => (await clusterz(istiod!.debugUrl)).find((c) => c.id === W)?.syncStatus === 'synced', timeoutMs)).ms
}

/**
 * Run rotate-credentials while polling istiod's /debug/clusterz (every 100 ms) and the old token's
 * revoking Secret in WEST; returns the run, the samples and when that Secret disappeared.
 */
async function rotateWatched(args: string[], oldSecret: string) {
  const samples: Array<{t: number; status: string}> = []
  let revokedAt: number | undefined
  let stop = false
  const mark = istiodLogSize(istiod!)
  const poller = (async () => {
    while (!stop) {
      const [cz, old] = await Promise.all([
        clusterz(istiod!.debugUrl).catch(() => undefined),
        revokedAt ? undefined : adminRequest(W, 'GET', `/api/v1/namespaces/${NS}/secrets/${oldSecret}`).catch(() => undefined),
      ])
      const t = Date.now()
      samples.push({t, status: cz ? cz.find((c) => c.id === W)?.syncStatus ?? 'absent' : 'no answer'})
      if (old?.status === 404 && !revokedAt) revokedAt = t
      await sleep(100)
    }
  })()
  const t0 = Date.now()
  const r = await mesh(['cluster', 'rotate-credentials', '--context', E, '--remote-context', W, ...args], {env: {KUBECTL_MESH_STATS: '1'}})
  const wallMs = Date.now() - t0
  await sleep(500)
  stop = true
  await poller
  const log = istiodLog(istiod!, mark)
  const at = (re: RegExp) => {
    const line = log.split('\n').find((l) => re.test(l))
    return line ? Date.parse(line.split(/\s/)[0]) : undefined
  }
  const seenAt = at(new RegExp(`processing remote config event for ${NS}/istio-remote-secret-${W}`))
  const swappedAt = at(new RegExp(`stopping previous cluster ${W} after new cluster synced`))
  return {r, wallMs, samples, revokedAt, seenAt, swappedAt, t0}
}

function assertSyncedThroughout(w: Awaited<ReturnType<typeof rotateWatched>>, what: string) {
  const bad = w.samples.filter((s) => s.status !== 'synced' && s.status !== 'syncing')
  assert.deepEqual(bad, [], `${what}: istiod stopped listing ${W} (synced/syncing) during the rotation: ${JSON.stringify(bad)}`)
  assert.ok(w.revokedAt, `${what}: the old token's Secret was not deleted`)
  assert.ok(w.swappedAt, `${what}: istiod's log has no "stopping previous cluster ${W} after new cluster synced"`)
  // Make-before-break: istiod had the new cluster synced (and dropped the old one) before the old token was revoked.
  assert.ok(w.swappedAt! <= w.revokedAt!, `${what}: the old token was revoked ${w.swappedAt! - w.revokedAt!} ms before istiod synced with the new one`)
  const before = w.samples.filter((s) => s.t <= w.revokedAt!).at(-1)
  assert.equal(before?.status, 'synced', `${what}: istiod's last status before the revocation`)
  for (const s of w.samples.filter((s) => s.t >= w.revokedAt!)) assert.equal(s.status, 'synced', `${what}: after the revocation`)
}

/** What a watched rotation measured (the file's figures): its requests, and when istiod saw, synced and the old token went. */
function rotationFigures(w: Awaited<ReturnType<typeof rotateWatched>>, old401AfterMs: number) {
  const s = stats(w.r.stderr)
  return {wallMs: w.wallMs, requests: s.requests, byContext: s.byContext, istiodSawSecretMs: w.seenAt && w.seenAt - w.t0,
    istiodSyncedNewMs: w.seenAt && w.swappedAt && w.swappedAt - w.seenAt, revokedAfterSwapMs: w.swappedAt && w.revokedAt! - w.swappedAt,
    syncingSamples: w.samples.filter((x) => x.status === 'syncing').length, samples: w.samples.length, old401AfterMs}
}

before(async () => {
  // The istiod binary comes from the shared warm-up build; never start a second build here.
  await waitUntil('pilot-discovery to be built (by the warm-up job)', async () => existsSync(pilotDiscoveryBin()), 45 * 60_000, 10_000)
  await cleanup()
  for (const ctx of [E, W]) original[ctx] = (await kget(ctx, ['-n', NS, 'configmap', 'istio'])).data
  istiod = await startIstiod(E)
}, {timeout: 50 * 60_000})

after(async () => {
  if (istiod) await stopIstiod(istiod)
  await cleanup()
  for (const [ctx, data] of Object.entries(original)) {
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data})], {context: ctx})
  }
  process.stderr.write(`# credentials e2e figures: ${JSON.stringify(figures)}\n`)
})

describe('bad --token-ttl', () => {
  test('outside 10m…8760h or not a duration: exit 2 with the range, nothing written', async () => {
    const snap = await snapshot([E, W])
    for (const ttl of ['5m', '599s', '8761h', 'soon', '1y', '']) {
      assertUsageError(await mesh(['cluster', 'link', '--context', E, '--remote-context', W, '--token-ttl', ttl]), /--token-ttl/, /10m to 8760h/)
      assertUsageError(await mesh(['cluster', 'rotate-credentials', '--context', E, '--remote-context', W, '--token-ttl', ttl]), /--token-ttl/, /10m to 8760h/)
    }
    assertUnchanged(snap, await snapshot([E, W]))
  })
})

describe('the API server\'s TokenRequest limits (test bed flags)', () => {
  test('no --service-account-max-token-expiration: 8760h is granted; under 10 minutes is refused', async (t) => {
    const long = await kubectl(['-n', NS, 'create', 'token', 'default', '--duration', '8760h'], {context: W})
    const claims = JSON.parse(Buffer.from(long.stdout.trim().split('.')[1], 'base64url').toString())
    assert.equal(claims.exp - claims.iat, 8760 * 3600)
    const short = await kubectl(['-n', NS, 'create', 'token', 'default', '--duration', '599s'], {context: W, allowFail: true})
    assert.notEqual(short.code, 0)
    figures.tokenRequestLimits = {maxGranted: '8760h (no --service-account-max-token-expiration)', below10m: short.stderr.trim().split('\n')[0]}
    t.diagnostic(JSON.stringify(figures.tokenRequestLimits))
  })
})

describe('cluster link --token-ttl 1h', () => {
  let first: {token: string; claims: any; file: string}

  test('a bound token that expires in 1h and reads what istiod needs in WEST', async (t) => {
    const r = await mesh(['cluster', 'link', '--context', E, '--remote-context', W, '--token-ttl', '1h'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(r, 'link --token-ttl 1h')
    t.diagnostic(`link --token-ttl 1h: ${JSON.stringify(stats(r.stderr))}`)
    assert.match(r.stdout, new RegExp(`^${W}\\s+Secret/${NS}/istio-reader-${E}-anchor-1\\s+created$`, 'm'))
    assert.match(r.stdout, new RegExp(`^${E}\\s+Secret/${NS}/istio-remote-secret-${W}\\s+created$`, 'm'))
    assert.equal(await kget(W, ['-n', NS, 'secret', LEGACY]), undefined, 'no long-lived token Secret')
    const anchor = await kget(W, ['-n', NS, 'secret', `istio-reader-${E}-anchor-1`])
    assert.equal(anchor.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    first = await currentToken()
    const left = first.claims.exp - Date.now() / 1000
    assert.ok(Math.abs(left - 3600) <= 300, `expires in ${left} s, not 1h ±5 min`)
    assert.deepEqual(first.claims['kubernetes.io'].secret, {name: `istio-reader-${E}-anchor-1`, uid: anchor.metadata.uid})
    assert.equal(first.claims.sub, `system:serviceaccount:${NS}:istio-reader-service-account`)
    await assertReads(first.file)
    figures.syncAfterLinkMs = await waitSynced(`istiod in ${E} to list ${W} as synced`)
  })

  test('again while more than half its life is left: unchanged, no write', async () => {
    const r = await mesh(['cluster', 'link', '--context', E, '--remote-context', W, '--token-ttl', '1h'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(r, 'repeat link')
    for (const line of r.stdout.trim().split('\n')) assert.match(line, /\sunchanged$/, r.stdout)
    assert.equal(writes(stats(r.stderr)), 0)
    assert.equal((await currentToken()).token, first.token)
  })

  test('verify reports the lifetime', async () => {
    const r = await mesh(['verify', '--context', E, '--context', W, '-o', 'json'])
    const c = JSON.parse(r.stdout).checks.find((x: any) => x.id === 'links.token-lifetime' && x.cluster === E)
    assert.ok(c, r.stdout)
    assert.equal(c.status, 'warn', c.message) // under 7 days left
    assert.match(c.message, new RegExp(`link to ${W}: the bound token \\(anchor Secret ${NS}/istio-reader-${E}-anchor-1 in ${W}\\), issued \\S+, expires \\S+: expires in \\d+\\.\\d h`))
    assert.match(c.hint, new RegExp(`kubectl mesh cluster rotate-credentials --context ${E} --remote-context ${W}`))
  })

  test('rotate-credentials: new token works, the old one gets 401, istiod synced throughout', async (t) => {
    const w = await rotateWatched([], `istio-reader-${E}-anchor-1`)
    ok(w.r, 'rotate-credentials')
    assert.match(w.r.stdout, new RegExp(`^${W}\\s+Secret/${NS}/istio-reader-${E}-anchor-2\\s+created$`, 'm'))
    assert.match(w.r.stdout, new RegExp(`^${E}\\s+Secret/${NS}/istio-remote-secret-${W}\\s+configured$`, 'm'))
    assert.match(w.r.stdout, new RegExp(`^${W}\\s+Secret/${NS}/istio-reader-${E}-anchor-1\\s+deleted$`, 'm'))
    assert.match(w.r.stderr, new RegExp(`revoked the bound token of Secret ${NS}/istio-reader-${E}-anchor-1`))
    assertSyncedThroughout(w, 'bound rotation')
    const now = await currentToken()
    assert.notEqual(now.token, first.token)
    assert.ok(Math.abs(now.claims.exp - now.claims.iat - 3600) <= 1, 'the same 1h lifetime')
    await assertReads(now.file)
    const rejectMs = await assertRejected(first.file)
    figures.boundRotation = rotationFigures(w, rejectMs)
    t.diagnostic(JSON.stringify(figures.boundRotation))
  })

  test('a revoked token fails verify naming the link; rotation recovers', async () => {
    const anchor = (await currentToken()).claims['kubernetes.io'].secret.name
    await kubectl(['-n', NS, 'delete', 'secret', anchor], {context: W})
    const r = await mesh(['verify', '--context', E, '--context', W, '-o', 'json'])
    assert.equal(r.code, 1, r.stderr)
    const c = JSON.parse(r.stdout).checks.find((x: any) => x.id === 'links.token-lifetime' && x.cluster === E)
    assert.equal(c.status, 'fail', c.message)
    assert.match(c.message, new RegExp(`link to ${W}: .*revoked`))
    const text = await mesh(['verify', '--context', E, '--context', W])
    assert.match(text.stdout, new RegExp(`link to ${W}: .*revoked`))
    const fix = await mesh(['cluster', 'rotate-credentials', '--context', E, '--remote-context', W])
    ok(fix, 'rotate after revocation')
    assert.match(fix.stderr, /already gone/)
    await waitSynced(`istiod in ${E} to list ${W} as synced after the recovery`)
    await assertReads((await currentToken()).file)
    const again = await mesh(['verify', '--context', E, '--context', W, '-o', 'json'])
    assert.notEqual(JSON.parse(again.stdout).checks.find((x: any) => x.id === 'links.token-lifetime' && x.cluster === E).status, 'fail')
  })
})

describe('a legacy link (no --token-ttl)', () => {
  test('rotate-credentials moves it to a new long-lived token Secret; the old token gets 401; istiod synced throughout', async (t) => {
    await cleanup()
    await waitUntil(`istiod in ${E} to drop ${W}`, async () => !(await clusterz(istiod!.debugUrl)).some((c) => c.id === W))
    ok(await mesh(['cluster', 'link', '--context', E, '--remote-context', W]), 'legacy link')
    await waitSynced(`istiod in ${E} to list ${W} as synced (legacy)`)
    const old = await currentToken()
    assert.equal(old.claims.exp, undefined, 'long-lived')
    const w = await rotateWatched([], LEGACY)
    ok(w.r, 'rotate-credentials (legacy)')
    assert.match(w.r.stdout, new RegExp(`^${W}\\s+Secret/${NS}/istio-reader-${E}-token-1\\s+created$`, 'm'))
    assert.match(w.r.stdout, new RegExp(`^${E}\\s+Secret/${NS}/istio-remote-secret-${W}\\s+configured$`, 'm'))
    assert.match(w.r.stdout, new RegExp(`^${W}\\s+Secret/${NS}/${LEGACY}\\s+deleted$`, 'm'))
    assert.match(w.r.stderr, /shares/, 'warns that the shared legacy token is revoked')
    assertSyncedThroughout(w, 'legacy rotation')
    const now = await currentToken()
    assert.equal(now.claims['kubernetes.io/serviceaccount/secret.name'], `istio-reader-${E}-token-1`)
    await assertReads(now.file)
    const rejectMs = await assertRejected(old.file)
    figures.legacyRotation = rotationFigures(w, rejectMs)
    t.diagnostic(JSON.stringify(figures.legacyRotation))
  })
})

describe('partial failure', () => {
  test('istiod never confirms the sync: exit 1, the new token is live, the old one not revoked, the finish command given', async () => {
    const old = await currentToken()
    const oldSecret: string = old.claims['kubernetes.io/serviceaccount/secret.name']
    // istiod's process dies; its Pod and port-forward stand-in stay, so clusterz does not answer.
    process.kill(-istiod!.pid, 'SIGKILL')
    const r = await mesh(['cluster', 'rotate-credentials', '--context', E, '--remote-context', W, '--token-ttl', '10m', '--sync-timeout', '3s'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`^Error: .*the new token \\(bound to Secret ${NS}/istio-reader-${E}-anchor-\\d+, 10m\\) is live in ${E}'s remote secret; the old token \\(Secret ${NS}/${oldSecret} in "${W}"\\) was NOT revoked and still works`, 'm'))
    const finish = /finish: (kubectl --context \S+ -n \S+ delete secret \S+)/.exec(r.stderr)
    assert.ok(finish, r.stderr)
    assert.equal(finish[1], `kubectl --context ${W} -n ${NS} delete secret ${oldSecret}`)
    await assertReads(old.file) // not revoked
    const now = await currentToken()
    assert.ok(now.claims.exp - now.claims.iat === 600, 'the new 10m token is in the remote secret')
    await assertReads(now.file)
    istiod = await startIstiod(E)
    await waitSynced(`the restarted istiod in ${E} to list ${W} as synced`)
    await kubectl(['-n', NS, 'delete', 'secret', oldSecret], {context: W})
    await assertRejected(old.file)
  })
})

describe('cluster unlink revokes what the link was issued', () => {
  test('with --remote-context: the anchor (or per-link token Secret) in WEST is deleted and its token rejected; the shared reader stays', async () => {
    const r = await mesh(['cluster', 'link', '--context', E, '--remote-context', W, '--token-ttl', '1h'])
    ok(r, 'link --token-ttl 1h')
    const live = await currentToken()
    const anchor: string = live.claims['kubernetes.io'].secret.name
    await assertReads(live.file)
    const u = await mesh(['cluster', 'unlink', '--context', E, '--remote-context', W])
    ok(u, 'unlink')
    assert.match(u.stdout, new RegExp(`^${W}\\s+Secret/${NS}/${anchor}\\s+deleted$`, 'm'))
    assert.equal((await kubectl(['-n', NS, 'get', 'secret', '-l', `kubectl-mesh/token-for=${E}`, '-o', 'name'], {context: W})).stdout, '')
    await assertRejected(live.file)
    const again = await mesh(['cluster', 'unlink', '--context', E, '--remote-context', W, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'repeat unlink')
    assert.deepEqual(JSON.parse(again.stdout).changes, [])
    assert.equal(writes(stats(again.stderr)), 0)
  })
})
