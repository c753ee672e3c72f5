// Faults: an API server that goes away in the middle of `cluster link`, API servers that refuse
// or never answer (every command ends within its --request-timeout: a failed check or a clear
// error, never a hang), and a conflict storm on the `istio` ConfigMap while link edits it.
// cluster1 is EAST, cluster2/cluster3 WEST. Everything written is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh, type RunResult, stats, tempDir} from './harness.ts'
import {adminRequest, assertUnchanged, snapshot} from './snapshot.ts'
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
  for (const c of ['cluster2', 'cluster3']) {
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
 */
async function hangingProxy(upstream?: URL): Promise<{url: string; hang: () => void; close: () => Promise<void>}> {
  let hanging = !upstream
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('error', () => {})
    client.on('close', () => sockets.delete(client))
    if (hanging || !upstream) return
    const up = net.connect(Number(upstream.port), upstream.hostname)
    sockets.add(up)
    up.on('error', () => client.destroy())
    up.on('close', () => sockets.delete(up))
    client.on('close', () => up.destroy())
    client.on('data', (d) => { if (!hanging) up.write(d) })
    up.on('data', (d) => { if (!hanging) client.write(d) })
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
    oneLineError(r, /^Error: context "cluster2": cannot reach the API server .*; already written: cluster2 Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token created$/)
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
    oneLineError(r, /^Error: context "west-proxy": the API server did not answer within the timeout .*; already written: west-proxy Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token created$/)
    assert.match(r.stderr, /^Hint: run the same command again .* unlink --context cluster1 --remote-name cluster3 --remote-context west-proxy --prune-remote$/m)
    assert.ok(ms < 2000 + 8000, `ended within the timeout (+ startup slack): ${ms} ms`)
    await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: 'cluster3'})
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
    await stopApiServer('cluster3')
    let res: {r: RunResult; ms: number}
    try {
      res = await timed(['verify', '--context', 'cluster1', '--context', 'cluster3'], {})
    } finally {
      await startApiServer('cluster3')
    }
    t.diagnostic(`verify: ${Math.round(res.ms)} ms`)
    assert.equal(res.r.code, 1, res.r.stderr)
    assert.ok(res.ms < BOUND_MS)
    assert.match(res.r.stdout, /✖ .*cluster3.*\[reachability\.api\]/)
    assert.match(res.r.stdout, /\d+ passed, \d+ warnings?, [1-9]\d* failed/)
  })

  test('link to a hanging WEST: exit 2 within the timeout, nothing written', async () => {
    const before = await snapshot(['cluster1', 'cluster3'])
    const {r, ms} = await timed(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'hang'])
    assert.equal(r.code, 2, r.stderr)
    oneLineError(r, /context "hang": cannot reach the API server .*nothing was written in either cluster/)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assertUnchanged(before, await snapshot(['cluster1', 'cluster3']))
  })

  test('ca gen --context of a hanging cluster: exit 1 within the timeout', async () => {
    const {r, ms} = await timed(['ca', 'gen', '--cluster', 'hang', '--key-size', '2048', '--dir', join(tmp, 'ca'), '--context', 'hang'])
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /context "hang": the API server did not answer within the timeout/)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
  })

  test('service import from a hanging WEST, and export in a hanging cluster: a clear error within the timeout, nothing written', async () => {
    const before = await snapshot(['cluster1', 'cluster3'])
    for (const args of [
      ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'hang', '--context', 'cluster1'],
      ['service', 'export', 'httpbin', '-n', 'bar', '--context', 'hang'],
    ]) {
      const {r, ms} = await timed(args)
      assert.ok(r.code === 1 || r.code === 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
      oneLineError(r, /context "hang": .*(did not answer within the timeout|cannot reach)/)
      assert.ok(ms < BOUND_MS, `${args.join(' ')}: ${ms} ms`)
    }
    assertUnchanged(before, await snapshot(['cluster1', 'cluster3']))
  })

  test('unlink of a hanging cluster: exit 1 within the timeout', async () => {
    const {r, ms} = await timed(['cluster', 'unlink', '--context', 'hang', '--remote-name', 'cluster1'])
    assert.equal(r.code, 1, r.stderr)
    oneLineError(r, /context "hang": the API server did not answer within the timeout/)
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
