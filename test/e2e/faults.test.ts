// Faults: an API server that goes away in the middle of `cluster link` and of `service import`,
// API servers that refuse or never answer (every command ends within its --request-timeout: a
// failed check or a clear error, never a hang), and a conflict storm on the `istio` ConfigMap
// while link edits it. cluster1 is EAST, cluster2/cluster3 WEST. Everything written is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh, type RunResult, stats, tempDir, whileApiServerDown, writes} from './harness.ts'
import {adminRequest, adminWatch, assertUnchanged, snapshot} from './snapshot.ts'
import {startApiServer, startControllerManager, stopApiServer, stopControllerManager} from '../../testbed/testbed.ts'

const NS = 'istio-system'
const TOKEN = 'istio-reader-service-account-istio-remote-secret-token'
const tmp = tempDir('faults-e2e-')
let savedMeshNetworks = ''

async function cleanLinks(): Promise<void> {
  await kubectl(['-n', NS, 'delete', 'secret', 'istio-remote-secret-cluster2', 'istio-remote-secret-cluster3', '--ignore-not-found'], {context: 'cluster1'})
  for (const ctx of ['cluster2', 'cluster3']) await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: ctx})
}

before(async () => {
  savedMeshNetworks = (await kubectl(['-n', NS, 'get', 'configmap', 'istio', '-o', 'jsonpath={.data.meshNetworks}'], {context: 'cluster1'})).stdout
  await cleanLinks()
})

after(async () => {
  for (const c of ['cluster1', 'cluster2', 'cluster3']) {
    await startApiServer(c).catch(() => {})
    await startControllerManager(c).catch(() => {})
  }
  await cleanLinks()
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: savedMeshNetworks}})], {context: 'cluster1'})
})

/** A kubeconfig with one extra context `name` for cluster `like`'s credentials, pointed at `server`. */
function kubeconfigWith(name: string, like: string, server: string): string {
  const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
  const ctx = full.contexts.find((c: any) => c.name === like).context
  const cluster = full.clusters.find((c: any) => c.name === ctx.cluster).cluster
  const file = join(tmp, `${name}.yaml`)
  writeFileSync(file, dump({
    apiVersion: 'v1', kind: 'Config', clusters: [{name, cluster: {...cluster, server}}],
    users: full.users.filter((u: any) => u.name === ctx.user), contexts: [{name, context: {cluster: name, user: ctx.user}}],
  }), {mode: 0o600})
  return `${KUBECONFIG}:${file}`
}

function serverOf(context: string): URL {
  const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
  const ctx = full.contexts.find((c: any) => c.name === context).context
  return new URL(full.clusters.find((c: any) => c.name === ctx.cluster).cluster.server)
}

/**
 * A TCP proxy in front of a real API server that can be switched to "hang": from then on it
 * accepts connections and swallows bytes both ways without ever answering (a black hole).
 * With `gate`, every connection waits for gate() before its first byte goes upstream.
 */
async function hangingProxy(upstream?: URL, gate?: () => Promise<void>): Promise<{url: string; hang: () => void; close: () => Promise<void>}> {
  let hanging = !upstream
  const sockets = new Set<net.Socket>()
  const server = net.createServer(async (client) => {
    sockets.add(client)
    client.on('error', () => {})
    client.on('close', () => sockets.delete(client))
    if (hanging || !upstream) return
    client.pause() // buffers what the client sends until upstream is connected
    await gate?.()
    if (client.destroyed) return
    const up = net.connect(Number(upstream.port), upstream.hostname)
    sockets.add(up)
    up.on('error', () => client.destroy())
    up.on('close', () => sockets.delete(up))
    client.on('close', () => up.destroy())
    client.on('data', (d) => { if (!hanging) up.write(d) })
    up.on('data', (d) => { if (!hanging) client.write(d) })
    client.resume()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `https://127.0.0.1:${port}`,
    hang: () => { hanging = true },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function oneLineError(r: RunResult, re: RegExp): void {
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('Error:'))
  assert.equal(errors.length, 1, r.stderr)
  assert.match(errors[0], re)
  assert.match(r.stderr, /^Hint: \S/m)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
}

describe('an API server that goes away in the middle of cluster link', () => {
  test("WEST stops after its token Secret was written: exit 1 says what was written and how to finish or undo; link again converges", async (t) => {
    // Without WEST's controller manager the token Secret is never filled in, so link is held in
    // its token poll after writing the Secret; WEST's API server is stopped right then.
    await stopControllerManager('cluster2')
    let r: RunResult
    let ms = 0
    try {
      const started = performance.now()
      const running = mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--request-timeout', '3s'])
      await waitFor('the token Secret in cluster2', async () => Boolean(await kget('cluster2', ['-n', NS, 'secret', TOKEN])))
      await stopApiServer('cluster2')
      r = await running
      ms = performance.now() - started
    } finally {
      await startApiServer('cluster2')
      await startControllerManager('cluster2')
    }
    t.diagnostic(`link failed after ${Math.round(ms)} ms: ${r.stderr.trim()}`)
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /^Error: context "cluster2": cannot reach the API server https:\/\/127\.0\.0\.1:\d+ .*; already written: cluster2 Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token created$/)
    assert.match(r.stderr, /^Hint: run the same command again to finish the link, or undo it: kubectl mesh cluster unlink --context cluster1 --remote-name cluster2 --remote-context cluster2 --prune-remote$/m)
    assert.equal(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster2']), undefined, 'EAST was not written')

    const again = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^cluster2\s+Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token\s+unchanged$/m)
    assert.match(again.stdout, /^cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster2\s+created$/m)
    const third = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2'])
    assert.equal(third.code, 0, third.stderr)
    for (const l of third.stdout.trim().split('\n')) assert.match(l, /\sunchanged$/)
    const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster2', '--remote-context', 'cluster2', '--prune-remote'])
    assert.equal(u.code, 0, u.stderr)
  })

  test('WEST hangs (a black hole) while link polls for the token: exit 1 within the request timeout, what was written named', async (t) => {
    const proxy = await hangingProxy(serverOf('cluster3'))
    await stopControllerManager('cluster3')
    let r: RunResult
    let hungAt = 0
    try {
      const running = mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'west-proxy', '--remote-name', 'cluster3', '--request-timeout', '2s'],
        {env: {KUBECONFIG: kubeconfigWith('west-proxy', 'cluster3', proxy.url)}})
      await waitFor('the token Secret in cluster3', async () => Boolean(await kget('cluster3', ['-n', NS, 'secret', TOKEN])))
      proxy.hang()
      hungAt = performance.now()
      r = await running
    } finally {
      await proxy.close()
      await startControllerManager('cluster3')
    }
    const ms = performance.now() - hungAt
    t.diagnostic(`link ended ${Math.round(ms)} ms after WEST stopped answering`)
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /^Error: context "west-proxy": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout .*; already written: west-proxy Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token created$/)
    assert.match(r.stderr, /^Hint: run the same command again .* unlink --context cluster1 --remote-name cluster3 --remote-context west-proxy --prune-remote$/m)
    assert.ok(ms < 2000 + 8000, `ended within the timeout (+ startup slack): ${ms} ms`)
    await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: 'cluster3'})
  })

  test('EAST stops answering the moment the remote secret is written: the error names it, answered or not; link again converges', async (t) => {
    // EAST behind a proxy; a watch on EAST itself switches the proxy to a black hole when the
    // remote secret appears. Whether link got the answer to that POST first is a race: answered,
    // it is "already written … created" (and link hangs on its next request); unanswered, it is
    // "sent without an answer (may have been written)". Either way the error must name it.
    // No meshNetworks yet: an answered POST is then followed by the ConfigMap edit, which hangs.
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: ''}})], {context: 'cluster1'})
    const watch = adminWatch('cluster1', `/api/v1/namespaces/${NS}/secrets?fieldSelector=${encodeURIComponent('metadata.name=istio-remote-secret-cluster3')}`)
    const proxy = await hangingProxy(serverOf('cluster1'))
    let r: RunResult
    try {
      await watch.ready
      const running = mesh(['cluster', 'link', '--context', 'east-proxy', '--remote-context', 'cluster3', '--request-timeout', '2s'],
        {env: {KUBECONFIG: kubeconfigWith('east-proxy', 'cluster1', proxy.url)}})
      await watch.event
      proxy.hang()
      r = await running
    } finally {
      watch.close()
      await proxy.close()
    }
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /^Error: context "east-proxy": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout /)
    const error = r.stderr.split('\n').find((l) => l.startsWith('Error:'))!
    const answered = error.includes('; already written: ') && /east-proxy Secret\/istio-system\/istio-remote-secret-cluster3 created/.test(error)
    const inFlight = /; sent without an answer \(may have been written\): east-proxy Secret\/istio-system\/istio-remote-secret-cluster3$/.test(error)
    t.diagnostic(inFlight ? 'the POST of the remote secret got no answer: named as sent without an answer' : 'the POST was answered first: named as written')
    assert.ok(answered !== inFlight, `the remote secret is named exactly once, written or in flight:\n${error}`)
    assert.match(r.stderr, /^Hint: run the same command again .* unlink --context east-proxy --remote-name cluster3 --remote-context cluster3 --prune-remote$/m)
    assert.ok(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3']), 'the secret is in EAST')
    // again, straight to EAST: the secret is kept, meshNetworks finished; a third run writes nothing
    const again = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster3\s+unchanged$/m)
    const third = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(writes(stats(third.stderr)), 0)
    // the hint's undo (with the real context) leaves no link behind for the next tests
    const undo = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'])
    assert.equal(undo.code, 0, undo.stderr)
    assert.equal(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3']), undefined)
  })
})

describe('an API server that goes away in the middle of service import', () => {
  // WEST = cluster2 exports MANY headless Services; EAST = cluster1.
  const NS_IMP = 'faults-import'
  const MANY = 48
  const names = Array.from({length: MANY}, (_, i) => `s-${String(i).padStart(2, '0')}`)
  const ns = (name: string) => ({apiVersion: 'v1', kind: 'Namespace', metadata: {name}})
  const svc = (name: string) => ({apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: NS_IMP, labels: {'kubectl-mesh/exported': 'true'}},
    spec: {clusterIP: 'None', ports: [{name: 'tcp', port: 7000}]}})
  const importAll = ['service', 'import', '--all-exported', '-n', NS_IMP, '--from-context', 'cluster2', '--context', 'cluster1', '--request-timeout', '5s']
  /** `ServiceEntry/faults-import/s-00-cluster2`… of every import object in EAST, read straight from the API server. */
  async function importedInEast(): Promise<string[]> {
    const out: string[] = []
    for (const [kind, plural] of [['ServiceEntry', 'serviceentries'], ['DestinationRule', 'destinationrules']]) {
      const r = await adminRequest('cluster1', 'GET', `/apis/networking.istio.io/v1/namespaces/${NS_IMP}/${plural}`)
      for (const o of r.body.items) out.push(`${kind}/${NS_IMP}/${o.metadata.name}`)
    }
    return out.sort()
  }

  before(async () => {
    // A namespace left terminating by an earlier run would refuse new objects: wait until it is gone.
    for (const c of ['cluster1', 'cluster2']) await kubectl(['delete', 'namespace', NS_IMP, '--ignore-not-found', '--timeout=120s'], {context: c})
    await kubectl(['apply', '-f', '-'], {context: 'cluster2', input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: [ns(NS_IMP), ...names.map(svc)]})})
    await kubectl(['apply', '-f', '-'], {context: 'cluster1', input: JSON.stringify(ns(NS_IMP))})
  })
  after(async () => {
    await startApiServer('cluster1').catch(() => {})
    // Wait until the namespaces are gone: the namespace controller deleting their objects later
    // would show up as writes in the next test's snapshot.
    for (const c of ['cluster1', 'cluster2']) await kubectl(['delete', 'namespace', NS_IMP, '--ignore-not-found', '--timeout=120s'], {context: c})
  })

  test('WEST stops right after import read it: import never goes back to WEST and completes', async () => {
    // EAST behind a proxy that holds every connection until WEST is stopped: import reads WEST
    // completely before its first request to EAST, so WEST dies exactly between the read and the writes.
    let westStopped: Promise<void> | undefined
    const proxy = await hangingProxy(serverOf('cluster1'), () => (westStopped ??= stopApiServer('cluster2')))
    let r: RunResult
    try {
      r = await mesh(['service', 'import', 's-00', '-n', NS_IMP, '--from-context', 'cluster2', '--context', 'east-gated', '--request-timeout', '5s'],
        {env: {KUBECONFIG: kubeconfigWith('east-gated', 'cluster1', proxy.url)}})
    } finally {
      await proxy.close()
      await startApiServer('cluster2')
    }
    assert.ok(westStopped, 'WEST was stopped before EAST was contacted')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^east-gated\s+ServiceEntry\/faults-import\/s-00-cluster2\s+created$/m)
    assert.match(r.stdout, /^east-gated\s+DestinationRule\/faults-import\/s-00-cluster2\s+created$/m)
    assert.deepEqual(await importedInEast(), ['DestinationRule/faults-import/s-00-cluster2', 'ServiceEntry/faults-import/s-00-cluster2'])
    const u = await mesh(['service', 'unimport', 's-00', '-n', NS_IMP, '--context', 'cluster1'])
    assert.equal(u.code, 0, u.stderr)
    assert.deepEqual(await importedInEast(), [])
  })

  test(`EAST stops while import --all-exported writes ${MANY} services: exit 1 says exactly what was written and how to undo it; again converges; unimport removes everything`, async (t) => {
    // A watch on EAST's ServiceEntries: EAST's API server is killed the moment the first one is written.
    const watch = adminWatch('cluster1', `/apis/networking.istio.io/v1/namespaces/${NS_IMP}/serviceentries`)
    let r: RunResult
    try {
      await watch.ready
      const running = mesh(importAll)
      await watch.event
      await stopApiServer('cluster1')
      r = await running
    } finally {
      watch.close()
      await startApiServer('cluster1')
    }
    const inEast = await importedInEast()
    t.diagnostic(`${inEast.length} of ${2 * MANY} objects were in EAST after the restart`)
    t.diagnostic(r.stderr.trim().slice(0, 600))
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /^Error: context "cluster1": cannot reach the API server https:\/\/127\.0\.0\.1:\d+ to create (serviceentries|destinationrules) in namespace faults-import: .*(; already written: |; sent without an answer \(may have been written\): )cluster1 /)
    assert.ok(inEast.length > 0 && inEast.length < 2 * MANY, `some but not all written: ${inEast.length}`)

    // The message names every object EAST holds: those written for sure, and those sent without an answer.
    const error = r.stderr.split('\n').find((l) => l.startsWith('Error:'))!
    const listed = (label: string) => {
      const m = new RegExp(`; ${label}: ([^;]+)`).exec(error)
      return m ? m[1].split(', ') : []
    }
    const written = listed('already written').map((w) => /^cluster1 (\S+) created$/.exec(w)?.[1] ?? `unexpected: ${w}`)
    const unanswered = listed('sent without an answer \\(may have been written\\)').map((w) => /^cluster1 (\S+)$/.exec(w)?.[1] ?? `unexpected: ${w}`)
    t.diagnostic(`the error lists ${written.length} written and ${unanswered.length} unanswered`)
    for (const w of written) assert.ok(inEast.includes(w), `${w} is listed as written and is in EAST`)
    for (const o of inEast) assert.ok(written.includes(o) || unanswered.includes(o), `${o} is in EAST and named in the error`)

    // The hint: run again, or the exact unimport of every service named, last written first.
    const hint = r.stderr.split('\n').find((l) => l.startsWith('Hint:'))!
    const m = /^Hint: run the same command again to finish \(it writes only what is missing\), or undo it: (.+)$/.exec(hint)
    assert.ok(m, hint)
    const undo = m[1].split('; ')
    const service = (ref: string) => /\/(s-\d\d)-cluster2$/.exec(ref)![1]
    const touched = [...new Set([...written, ...unanswered].map(service))].sort()
    assert.deepEqual(undo.map((c) => /^kubectl mesh service unimport (s-\d\d) -n faults-import --context cluster1 --from-name cluster2$/.exec(c)?.[1] ?? c).sort(), touched)

    // Again: writes what is missing, keeps what is there; a third run writes nothing.
    const again = await mesh(importAll)
    assert.equal(again.code, 0, again.stderr)
    const lines = again.stdout.trim().split('\n').map((l) => l.split(/\s+/))
    assert.equal(lines.length, 2 * MANY, again.stdout)
    for (const [ctx, ref, action] of lines) {
      assert.equal(ctx, 'cluster1')
      assert.equal(action, inEast.includes(ref) ? 'unchanged' : 'created', ref)
    }
    const third = await mesh(importAll, {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(third.code, 0, third.stderr)
    assert.equal(writes(stats(third.stderr)), 0)
    assert.equal(third.stdout.trim().split('\n').filter((l) => !/\sunchanged$/.test(l)).length, 0, third.stdout)
    assert.equal((await importedInEast()).length, 2 * MANY)

    // Undo: the hint's commands exactly as printed, then the same for the services written by the second run.
    const rest = names.filter((n) => !touched.includes(n)).map((n) => `kubectl mesh service unimport ${n} -n faults-import --context cluster1 --from-name cluster2`)
    const commands = [...undo, ...rest]
    for (let i = 0; i < commands.length; i += 8) {
      await Promise.all(commands.slice(i, i + 8).map(async (c) => {
        const u = await mesh(c.split(' ').slice(2))
        assert.equal(u.code, 0, `${c}: ${u.stderr}`)
        assert.match(u.stdout, /ServiceEntry\/faults-import\/s-\d\d-cluster2\s+deleted/)
      }))
    }
    assert.deepEqual(await importedInEast(), [])
  })
})

describe('API servers that refuse or never answer: a failed check or a clear error within the timeout', () => {
  let blackHole: Awaited<ReturnType<typeof hangingProxy>>
  let env: Record<string, string>
  before(async () => {
    blackHole = await hangingProxy()
    env = {KUBECONFIG: kubeconfigWith('hang', 'cluster3', blackHole.url)}
  })
  after(async () => blackHole.close())

  const BOUND_MS = 2000 + 8000 // --request-timeout 2s, plus start-up and slack on a loaded machine

  async function timed(args: string[], e = env): Promise<{r: RunResult; ms: number}> {
    const started = performance.now()
    const r = await mesh([...args, '--request-timeout', '2s'], {env: e})
    return {r, ms: performance.now() - started}
  }

  test('verify: a hanging cluster is a failed reachability check; the other cluster is still verified', async (t) => {
    const {r, ms} = await timed(['verify', '--context', 'cluster1', '--context', 'hang', '-o', 'json'])
    t.diagnostic(`verify: ${Math.round(ms)} ms`)
    assert.equal(r.code, 1, r.stderr)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    const j = JSON.parse(r.stdout)
    const api = j.checks.filter((c: any) => c.id === 'reachability.api')
    assert.equal(api.find((c: any) => c.cluster === 'hang')?.status, 'fail', r.stdout)
    assert.match(api.find((c: any) => c.cluster === 'hang').hint, /request-timeout|readyz/)
    assert.equal(api.find((c: any) => c.cluster === 'cluster1')?.status, 'pass')
  })

  test('verify: a stopped API server (connection refused) is a failed check, fast', async (t) => {
    const res = await whileApiServerDown('cluster3', () => timed(['verify', '--context', 'cluster1', '--context', 'cluster3'], {}))
    t.diagnostic(`verify: ${Math.round(res.ms)} ms`)
    assert.equal(res.r.code, 1, res.r.stderr)
    assert.ok(res.ms < BOUND_MS)
    assert.match(res.r.stdout, /✖ .*cluster3.*\[reachability\.api\]/)
    assert.match(res.r.stdout, /\d+ passed, \d+ warnings?, [1-9]\d* failed/)
  })

  test('every command against a stopped API server: exit 1, one line naming the context and its server, nothing written', async () => {
    const before = await snapshot(['cluster1'])
    const commands = [
      ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'],
      ['cluster', 'unlink', '--context', 'cluster3', '--remote-name', 'cluster1'],
      ['service', 'export', 'httpbin', '-n', 'bar', '--context', 'cluster3'],
      ['service', 'unexport', 'httpbin', '-n', 'bar', '--context', 'cluster3'],
      ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster3', '--context', 'cluster1'],
      ['service', 'unimport', 'httpbin', '-n', 'bar', '--context', 'cluster3'],
      ['ca', 'gen', '--cluster', 'cluster3', '--key-size', '2048', '--dir', join(tmp, 'ca-stopped'), '--context', 'cluster3'],
    ]
    const results: Array<{args: string[]; r: RunResult}> = []
    await whileApiServerDown('cluster3', async () => {
      for (const args of commands) results.push({args, r: (await timed(args, {})).r})
    })
    for (const {args, r} of results) {
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
      oneLineError(r, /^Error: context "cluster3": cannot reach the API server https:\/\/127\.0\.0\.1:\d+ to .*connection refused.*; nothing was written( in either cluster)?$/)
    }
    assertUnchanged(before, await snapshot(['cluster1']))
  })

  test('link to a hanging WEST: exit 1 within the timeout, naming the server, nothing written', async () => {
    const before = await snapshot(['cluster1', 'cluster3'])
    const {r, ms} = await timed(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'hang'])
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /context "hang": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout .*; nothing was written in either cluster$/)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assertUnchanged(before, await snapshot(['cluster1', 'cluster3']))
  })

  test('ca gen --context of a hanging cluster: exit 1 within the timeout', async () => {
    const {r, ms} = await timed(['ca', 'gen', '--cluster', 'hang', '--key-size', '2048', '--dir', join(tmp, 'ca'), '--context', 'hang'])
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /context "hang": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout .*; nothing was written$/)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
  })

  test('service import from a hanging WEST, and export in a hanging cluster: a clear error within the timeout, nothing written', async () => {
    const before = await snapshot(['cluster1', 'cluster3'])
    for (const args of [
      ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'hang', '--context', 'cluster1'],
      ['service', 'export', 'httpbin', '-n', 'bar', '--context', 'hang'],
    ]) {
      const {r, ms} = await timed(args)
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
      oneLineError(r, /context "hang": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout .*; nothing was written$/)
      assert.ok(ms < BOUND_MS, `${args.join(' ')}: ${ms} ms`)
    }
    assertUnchanged(before, await snapshot(['cluster1', 'cluster3']))
  })

  test('unlink of a hanging cluster: exit 1 within the timeout', async () => {
    const {r, ms} = await timed(['cluster', 'unlink', '--context', 'hang', '--remote-name', 'cluster1'])
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /context "hang": the API server https:\/\/127\.0\.0\.1:\d+ did not answer within the timeout .*; nothing was written$/)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
  })
})

describe('a conflict storm on the istio ConfigMap', () => {
  test('another writer updates the ConfigMap in a loop while link edits meshNetworks: link converges, the other keys survive', async (t) => {
    const path = `/api/v1/namespaces/${NS}/configmaps/istio`
    let stop = false
    let writes = 0
    let last = -1
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await adminRequest('cluster1', 'PATCH', path, {data: {[`storm-${i % 4}`]: String(i), 'storm-last': String(i)}})
        if (r.status !== 200) throw new Error(`storm write ${i}: HTTP ${r.status}`)
        writes++
        last = i
      }
    })()
    let r: RunResult
    try {
      await waitFor('the storm to start', async () => writes >= 5)
      r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'], {env: {KUBECTL_MESH_STATS: '1'}})
    } finally {
      stop = true
      await writer
    }
    const s = stats(r.stderr)
    t.diagnostic(`${writes} competing writes; link sent ${JSON.stringify(s.byContext.cluster1)} to cluster1`)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^cluster1\s+ConfigMap\/istio-system\/istio\s+configured$/m)
    const cm = await kget('cluster1', ['-n', NS, 'configmap', 'istio'])
    assert.deepEqual((load(cm.data.meshNetworks) as any).networks.network3, {endpoints: [{fromRegistry: 'cluster3'}], gateways: [{address: '127.0.0.13', port: 15443}]})
    assert.equal(cm.data['storm-last'], String(last), "the other writer's last write survived")
    for (let k = 0; k < 4; k++) assert.ok(cm.data[`storm-${k}`], `storm-${k} survived`)
    const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'])
    assert.equal(u.code, 0, u.stderr)
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {'storm-last': null, 'storm-0': null, 'storm-1': null, 'storm-2': null, 'storm-3': null}})], {context: 'cluster1'})
  })
})
