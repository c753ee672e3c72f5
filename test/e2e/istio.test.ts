// Does real Istio accept what kubectl-mesh writes? One istiod (pilot-discovery built from Go
// modules, testbed/build-istio.sh) per cluster runs on 127.0.0.1 against cluster1 and cluster2,
// and istioctl analyzes both clusters. Opt-in: only this file starts istiods. Everything written
// (cacerts, links, exports, imports, what istiod itself publishes) is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile, spawn} from 'node:child_process'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {kget, kubectl, KUBECONFIG, mesh, stats, tempDir, writes} from './harness.ts'
import {kubectlBin, startApiServer, startControllerManager, stopApiServer, stopControllerManager} from '../../testbed/testbed.ts'
import {applyIstioFixtures} from '../../testbed/fixtures.ts'
import {clusterz, ensureIstioBuilt, istioctlBin, istiodLog, startIstiod, stopIstiod, waitUntil} from '../../testbed/istiod.ts'
import type {Istiod} from '../../testbed/istiod.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const MANAGED = 'app.kubernetes.io/managed-by=kubectl-mesh'
const SYNC_TIMEOUT_MS = 30_000
const run = promisify(execFile)
const dir = tempDir('istio-e2e-')
const caDir = join(dir, 'mesh-ca')
const istiod: Record<string, Istiod> = {}
/** cacerts Secrets this file installed (deleted again in after()) */
const installedCacerts: string[] = []
/** the `istio` ConfigMap data as found, restored in after() */
const original: Record<string, Record<string, string>> = {}
const timings: Record<string, number> = {}
/** The test bed has no pods; analyze's gateway checks (IST0101) look for the east-west gateway's pod. */
const GATEWAY_POD = 'istio-eastwestgateway-testbed'
const READER_ROLE = 'istio-reader-clusterrole-istio-system'

/** A (never scheduled) east-west gateway Pod with the gateway Service's selector labels. */
async function createGatewayPod(ctx: string) {
  const svc = await kget(ctx, ['-n', NS, 'service', 'istio-eastwestgateway'])
  const pod = {apiVersion: 'v1', kind: 'Pod', metadata: {name: GATEWAY_POD, namespace: NS, labels: {...svc.spec.selector, 'sidecar.istio.io/inject': 'false'}},
    spec: {containers: [{name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.31-eed52ebb66ad', ports: [{containerPort: 15443}]}]}}
  await kubectl(['apply', '-f', '-'], {context: ctx, input: JSON.stringify(pod)})
}

function ok(r: {code: number; stdout: string; stderr: string}, what: string) {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
}

interface AnalyzeMessage {code: string; level: string; origin?: string; message: string}

/** `istioctl analyze -A` of one context (optionally with remote contexts), JSON messages. */
async function analyze(context: string, remotes: string[] = []): Promise<AnalyzeMessage[]> {
  const args = ['analyze', '-A', '--kubeconfig', KUBECONFIG, '--context', context, '-o', 'json', '--timeout', '60s']
  if (remotes.length > 0) args.push('--remote-contexts', remotes.join(','))
  let stdout: string
  try {
    stdout = (await run(istioctlBin(), args, {env: {...process.env, HOME: dir}, maxBuffer: 64 << 20})).stdout
  } catch (error) {
    // non-zero exit when messages at or above the failure threshold exist; the JSON is still on stdout
    const e = error as {stdout?: string; stderr?: string; code?: number}
    if (!e.stdout?.trim().startsWith('[')) throw new Error(`istioctl ${args.join(' ')} failed (${e.code}): ${e.stderr}`)
    stdout = e.stdout
  }
  return stdout.trim() ? (JSON.parse(stdout) as AnalyzeMessage[]) : []
}

/** "Kind ns/name" of every object in a cluster that carries kubectl-mesh's managed-by label. */
async function managedObjects(context: string): Promise<string[]> {
  const r = await kubectl(['get', 'secrets,configmaps,serviceaccounts,gateways.networking.istio.io,serviceentries.networking.istio.io,destinationrules.networking.istio.io',
    '-A', '-l', MANAGED, '-o', 'jsonpath={range .items[*]}{.kind} {.metadata.namespace}/{.metadata.name}{"\\n"}{end}'], {context})
  return r.stdout.split('\n').filter(Boolean)
}

/** Error-level analyzer messages about objects kubectl-mesh wrote (managed objects, and meshNetworks which link edits). */
function errorsAboutOurs(messages: AnalyzeMessage[], ours: string[]): AnalyzeMessage[] {
  return messages.filter((m) => m.level === 'Error' && (
    ours.some((o) => (m.origin ?? '').includes(o.split(' ')[1]) && (m.origin ?? '').startsWith(o.split(' ')[0])) ||
    /MeshNetworks|meshnetworks/.test(m.origin ?? '') || m.code === 'IST0126'))
}

async function cleanupMeshObjects() {
  await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2])
  await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2])
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
  await mesh(['cluster', 'unlink', '--context', C2, '--remote-name', C1, '--remote-context', C1, '--prune-remote'])
}

before(async () => {
  ensureIstioBuilt((m) => process.stderr.write(`# ${m}\n`)) // a cold build takes ~30 min on 2 cores
  for (const ctx of [C1, C2]) original[ctx] = (await kget(ctx, ['-n', NS, 'configmap', 'istio'])).data
  // One root for both clusters, installed as cacerts before istiod starts (as in a real install):
  // istiod then uses it as its plugin CA and publishes that root as istio-ca-root-cert.
  ok(await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--dir', caDir, '--key-size', '2048']), 'ca gen')
  for (const ctx of [C1, C2]) {
    if (await kget(ctx, ['-n', NS, 'secret', 'cacerts'])) continue
    ok(await mesh(['ca', 'gen', '--cluster', ctx, '--context', ctx, '--dir', caDir]), `ca gen --context ${ctx}`)
    installedCacerts.push(ctx)
  }
  for (const ctx of [C1, C2]) await createGatewayPod(ctx)
  for (const ctx of [C1, C2]) {
    istiod[ctx] = await startIstiod(ctx)
    timings[`${ctx} istiod ready`] = istiod[ctx].readyMs
  }
}, {timeout: 60 * 60_000})

after(async () => {
  await startApiServer(C2) // in case the verify failure test stopped there
  // The verify failure test restarted cluster2's API server. The controller-manager's informers
  // relist after such an outage, and for a minute or more its token controller can miss a new
  // token Secret (seen once: the next file's `cluster link` got no token within 30 s). A fresh
  // controller-manager starts from a clean list.
  await stopControllerManager(C2)
  await startControllerManager(C2)
  for (const i of Object.values(istiod)) await stopIstiod(i)
  await cleanupMeshObjects()
  for (const ctx of [C1, C2]) await kubectl(['-n', NS, 'delete', 'pod', GATEWAY_POD, '--ignore-not-found', '--wait=false'], {context: ctx})
  // the link-RBAC test deletes the fixture's reader ClusterRole in cluster2; put it back
  if (!(await kget(C2, ['clusterrole', READER_ROLE]))) await applyIstioFixtures(C2)
  for (const ctx of installedCacerts) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: ctx})
  for (const [ctx, data] of Object.entries(original)) {
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data})], {context: ctx})
  }
  rmSync(dir, {recursive: true, force: true})
  process.stderr.write(`# istio e2e timings (ms): ${JSON.stringify(timings)}\n`)
})

describe('real istiod and istioctl accept what kubectl-mesh writes', () => {
  test('istiod starts on loopback and lists only its own cluster', async () => {
    for (const ctx of [C1, C2]) {
      const cz = await clusterz(istiod[ctx].debugUrl)
      assert.deepEqual(cz.map((c) => c.id), [ctx], JSON.stringify(cz))
    }
  })

  test('after `cluster link --bidirectional`, each istiod lists the other cluster as synced within 30 s', async () => {
    const tLink = Date.now()
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional'])
    ok(r, 'cluster link')
    timings['cluster link --bidirectional'] = Date.now() - tLink
    const t0 = Date.now()
    await Promise.all([[C1, C2], [C2, C1]].map(async ([here, remote]) => {
      const {ms} = await waitUntil(`${here}'s istiod to list ${remote} as synced`, async () => {
        const cz = await clusterz(istiod[here].debugUrl)
        const e = cz.find((c) => c.id === remote)
        return e?.syncStatus === 'synced' && e.secretName === `${NS}/istio-remote-secret-${remote}`
      }, SYNC_TIMEOUT_MS)
      timings[`${here} sees ${remote} synced after link`] = ms
    }))
    timings['both synced after link returned'] = Date.now() - t0
    timings['both synced from link start'] = Date.now() - tLink
  })

  test('istiod takes the meshNetworks link wrote: no "invalid mesh networks", and /debug/networkz lists the remote network\'s gateway', async () => {
    for (const [here, remote, remoteNet, gw] of [[C1, C2, 'network2', '127.0.0.12'], [C2, C1, 'network1', '127.0.0.11']]) {
      const cm = await kget(here, ['-n', NS, 'configmap', 'istio'])
      assert.match(cm.data.meshNetworks, new RegExp(`fromRegistry: ${remote}`), 'link wrote meshNetworks')
      // meshNetworks gateways have no cluster (label-discovered ones carry the cluster ID)
      await waitUntil(`${here}'s istiod to list the ${remoteNet} gateway from meshNetworks`, async () => {
        const res = await fetch(`${istiod[here].debugUrl}/debug/networkz`)
        const gws = (await res.json()) as Array<{Network: string; Cluster: string; Addr: string; Port: number}>
        return gws.some((g) => g.Network === remoteNet && g.Cluster === '' && g.Addr === gw && g.Port === 15443)
      }, SYNC_TIMEOUT_MS)
      assert.doesNotMatch(istiodLog(istiod[here]), /invalid mesh networks/)
    }
  })

  test('after export and import, istiod loads the Gateways, ServiceEntry and DestinationRule without validation errors', async () => {
    // the link made each east-west gateway pass its cluster's services through (kubectl-mesh-cross-network), so export adds no host
    const ex = await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2, '-o', 'json'])
    ok(ex, 'service export')
    assert.equal(JSON.parse(ex.stdout).coveredBy, `${NS}/kubectl-mesh-cross-network`)
    ok(await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1]), 'service import')
    const want: Array<[string, string, string, string]> = [
      [C2, 'Gateway', NS, 'kubectl-mesh-cross-network'],
      [C1, 'Gateway', NS, 'kubectl-mesh-cross-network'],
      [C1, 'ServiceEntry', 'bar', `httpbin-${C2}`],
      [C1, 'DestinationRule', 'bar', `httpbin-${C2}`],
    ]
    for (const [ctx, kind, ns, name] of want) {
      await waitUntil(`${ctx}'s istiod to load ${kind} ${ns}/${name}`, async () => {
        const res = await fetch(`${istiod[ctx].debugUrl}/debug/configz`)
        const cfgs = (await res.json()) as Array<{kind: string; metadata: {name: string; namespace: string}}>
        return cfgs.some((c) => c.kind === kind && c.metadata.name === name && c.metadata.namespace === ns)
      }, SYNC_TIMEOUT_MS)
    }
    for (const ctx of [C1, C2]) {
      const bad = istiodLog(istiod[ctx]).split('\n')
        .filter((l) => /kubectl-mesh-exports|kubectl-mesh-cross-network|httpbin-cluster2/.test(l) && /\b(error|warn)\b|invalid|failed|reject/i.test(l))
      assert.deepEqual(bad, [], `${ctx}'s istiod complained about our objects`)
    }
  })

  test('istioctl analyze (with --remote-contexts) finds no error-level message about anything kubectl-mesh wrote', async () => {
    for (const [ctx, remote] of [[C1, C2], [C2, C1]]) {
      const ours = await managedObjects(ctx)
      const local = await analyze(ctx)
      const withRemote = await analyze(ctx, [remote])
      const bad = [...errorsAboutOurs(local, ours), ...errorsAboutOurs(withRemote, ours)]
      const notes = new Set([...local, ...withRemote].filter((m) => m.level !== 'Error' && ours.some((o) => (m.origin ?? '').endsWith(o.split(' ')[1])))
        .map((m) => `${m.level} ${m.code} ${m.origin}: ${m.message}`))
      for (const n of notes) process.stderr.write(`# analyze --context ${ctx}: ${n}\n`)
      assert.deepEqual(bad, [], `istioctl analyze --context ${ctx}: errors about kubectl-mesh's objects (${ours.join(', ')})`)
    }
  })

  interface VerifyCheck {id: string; cluster: string; status: string; message: string; hint: string}
  /** verify's istiod check; without extra flags it reads /debug/clusterz through a port-forward to istiod's pod. */
  async function verifyIstiod(extra: string[] = []): Promise<{code: number; checks: VerifyCheck[]; stderr: string}> {
    const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json', ...extra])
    assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
    const checks = (JSON.parse(r.stdout).checks as VerifyCheck[]).filter((c) => c.id === 'links.istiod-sync')
    return {code: r.code, checks, stderr: r.stderr}
  }

  test('the test bed\'s port-forward is the real one: kubectl port-forward to the istiod pod reaches /debug/clusterz', async () => {
    // kubectl's own client (SPDY tunnelled over WebSocket) through the API server to
    // testbed-kubelet (the kubelet's streaming code): the path verify's port-forward takes too.
    const child = spawn(kubectlBin(), ['--kubeconfig', KUBECONFIG, '--context', C1, '-n', NS, 'port-forward', `pod/${istiod[C1].pod}`, ':15014'], {stdio: ['ignore', 'pipe', 'pipe']})
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 15014/.exec(out)
          if (m) resolve(Number(m[1]))
        })
        child.stderr.on('data', (d: Buffer) => { out += d.toString() })
        child.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)))
        setTimeout(() => reject(new Error(`kubectl port-forward: no port within 20 s: ${out}`)), 20_000)
      })
      const ids = (await clusterz(`http://127.0.0.1:${port}`)).map((c) => c.id).sort()
      assert.deepEqual(ids, [C1, C2])
    } finally {
      child.kill()
    }
  })

  test("verify's istiod check passes on the linked test bed, reading each istiod through a port-forward to its pod", async () => {
    const v = await verifyIstiod()
    assert.equal(v.code, 0, v.stderr)
    assert.deepEqual(v.checks.map((c) => [c.cluster, c.status]), [[C1, 'pass'], [C2, 'pass']], JSON.stringify(v.checks, null, 1))
    assert.match(v.checks[0].message, new RegExp(`synced: ${C2}`))
    // --istiod-debug-url reads the given URL instead (an istiod outside its cluster)
    const u = await verifyIstiod(['--istiod-debug-url', `${C1}=${istiod[C1].debugUrl}`, '--istiod-debug-url', `${C2}=http://127.0.0.1:1`])
    assert.equal(u.code, 1, u.stderr)
    assert.deepEqual(u.checks.map((c) => [c.cluster, c.status]), [[C1, 'pass'], [C2, 'fail']], JSON.stringify(u.checks, null, 1))
    assert.match(u.checks[1].message, /istiod did not answer \/debug\/clusterz \(http:\/\/127\.0\.0\.1:1\/debug\/clusterz\): .*ECONNREFUSED/)
  })

  test("verify's istiod check fails, naming the cluster, when istiod is down or cannot reach a remote", async () => {
    // istiod's process gone, its pod still Running: the port-forward reaches nothing.
    process.kill(-istiod[C1].pid, 'SIGKILL')
    await waitUntil(`${C1}'s istiod to exit`, async () => {
      try {
        process.kill(istiod[C1].pid, 0)
        return false
      } catch {
        return true
      }
    }, 10_000, 50)
    const down = await verifyIstiod()
    assert.equal(down.code, 1, down.stderr)
    assert.deepEqual(down.checks.map((c) => [c.cluster, c.status]), [[C1, 'fail'], [C2, 'pass']], JSON.stringify(down.checks, null, 1))
    assert.match(down.checks[0].message, new RegExp(`^cluster ${C1}: istiod did not answer /debug/clusterz \\(pod ${NS}/${istiod[C1].pod} port 15014 \\(port-forward\\)\\): .*connection refused`))
    assert.match(down.checks[0].hint, /get pods -l app=istiod --context cluster1/)

    // /debug/clusterz keeps reporting `synced` once the initial sync happened, even when the remote
    // API server goes away later (Istio's Cluster.SyncStatus); what it shows is an istiod that
    // (re)starts, or re-reads the secret, while the remote is unreachable.
    await stopApiServer(C2)
    try {
      await stopIstiod(istiod[C1])
      istiod[C1] = await startIstiod(C1, {env: {PILOT_REMOTE_CLUSTER_TIMEOUT: '5s'}})
      await waitUntil(`${C1}'s istiod to report ${C2} as not synced`, async () => {
        const e = (await clusterz(istiod[C1].debugUrl)).find((c) => c.id === C2)
        return e !== undefined && e.syncStatus !== 'synced'
      }, SYNC_TIMEOUT_MS)
      const v = await verifyIstiod()
      assert.equal(v.code, 1, v.stderr)
      const bad = v.checks.filter((c) => c.status === 'fail')
      assert.equal(bad.length, 1, JSON.stringify(v.checks, null, 1))
      assert.equal(bad[0].cluster, C1)
      assert.match(bad[0].message, new RegExp(`cluster ${C2} is "(timeout|syncing)"`))
      assert.match(bad[0].hint, new RegExp(C2))
    } finally {
      await startApiServer(C2)
    }
    // and it recovers: once the API server is back, istiod finishes the sync on its own
    const {ms} = await waitUntil(`${C1}'s istiod to sync ${C2} again`, async () =>
      (await clusterz(istiod[C1].debugUrl)).find((c) => c.id === C2)?.syncStatus === 'synced', 60_000)
    timings[`${C1} re-syncs ${C2} after its API server is back`] = ms
    const v = await verifyIstiod()
    assert.deepEqual(v.checks.map((c) => c.status), ['pass', 'pass'], JSON.stringify(v.checks, null, 1))
  })

  test('after unlink, the remote cluster disappears from /debug/clusterz', async () => {
    ok(await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2]), 'unimport')
    ok(await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2]), 'unexport')
    ok(await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2]), 'unlink cluster1 -> cluster2')
    ok(await mesh(['cluster', 'unlink', '--context', C2, '--remote-name', C1, '--remote-context', C1]), 'unlink cluster2 -> cluster1')
    const t0 = Date.now()
    await Promise.all([[C1, C2], [C2, C1]].map(([here, remote]) =>
      waitUntil(`${remote} to leave ${here}'s clusterz`, async () => {
        const cz = await clusterz(istiod[here].debugUrl)
        return !cz.some((c) => c.id === remote)
      }, SYNC_TIMEOUT_MS)))
    timings['remote gone from clusterz after unlink'] = Date.now() - t0
  })

  test('the reader ClusterRole link creates (when missing) lets istiod sync the remote', async () => {
    // istiod 1.31 also watches the remote cluster's `istio` ConfigMap through the reader token
    // (a mesh watcher per remote cluster); the chart's istio-reader-clusterrole grants configmaps.
    await kubectl(['delete', 'clusterrolebinding,clusterrole', '-l', 'app=istio-reader', '--ignore-not-found'], {context: C2})
    try {
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'cluster link')
      assert.ok(await kget(C2, ['clusterrole', READER_ROLE]), 'link created the reader ClusterRole')
      await waitUntil(`${C1}'s istiod to list ${C2} as synced with link's own reader RBAC`, async () =>
        (await clusterz(istiod[C1].debugUrl)).find((c) => c.id === C2)?.syncStatus === 'synced', SYNC_TIMEOUT_MS)
    } finally {
      await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
      await kubectl(['delete', 'clusterrolebinding,clusterrole', '-l', 'app=istio-reader', '--ignore-not-found'], {context: C2})
      await applyIstioFixtures(C2)
    }
  })
})

// --network-config gateway where cluster1's istiod cannot discover cluster2's gateway by its label
// (here: an address only --gateway knows): link writes an istio-remote Gateway in cluster1 naming
// network2's gateway there (src/link/remote-gateway.ts), which the real istiod turns into a network
// gateway (network.go handleGatewayResource; its Gateway informer starts once the Gateway API CRDs
// exist); unlink removes it. The sidecar bed has no Gateway API CRDs: installed here (the ones the
// ambient bed installs, testbed/istio-install.ts gatewayApiCrds), removed again when added here.
describe('cluster link --network-config gateway: an istio-remote Gateway istiod takes as network2\'s gateway', () => {
  const ADDR = '127.0.0.77'
  const GW = 'kubectl-mesh-remote-cluster2'
  let addedCrds: string[] = []
  const networkz = async () => (await (await fetch(`${istiod[C1].debugUrl}/debug/networkz`)).json()) as Array<{Network: string; Cluster: string; Addr: string; Port: number}>

  before(async () => {
    const served = await kubectl(['get', 'crd', 'gateways.gateway.networking.k8s.io'], {context: C1, allowFail: true})
    if (served.code === 0) return
    const {gatewayApiCrds} = await import('../../testbed/istio-install.ts')
    const crds = gatewayApiCrds()
    await kubectl(['apply', '--server-side', '-f', '-'], {context: C1, input: crds.map((o) => JSON.stringify(o)).join('\n---\n')})
    addedCrds = crds.map((o) => o.metadata.name)
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...addedCrds.map((n) => `crd/${n}`)], {context: C1})
  })

  /** cluster2's gateway Service network label, when a test removed it (put back in after()) */
  let unlabelled: string | undefined

  after(async () => {
    await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2])
    if (unlabelled) await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', `topology.istio.io/network=${unlabelled}`, '--overwrite'], {context: C2, allowFail: true})
    if (addedCrds.length > 0) await kubectl(['delete', 'crd', ...addedCrds, '--ignore-not-found', '--wait=false'], {context: C1, allowFail: true})
  })

  test('link writes it (class istio-remote, network2, the address), istiod lists network2 at that address; a repeat writes nothing; unlink removes it and istiod forgets it', async () => {
    const args = ['cluster', 'link', '--context', C1, '--remote-context', C2, '--network-config', 'gateway', '--gateway', `${ADDR}:15443`]
    const r = await mesh(args)
    ok(r, 'link --network-config gateway --gateway')
    assert.match(r.stdout, new RegExp(`^${C1}\\s+Gateway/${NS}/${GW}\\s+created$`, 'm'))
    assert.match(r.stderr, new RegExp(`Gateway ${NS}/${GW} \\(class istio-remote\\) names network network2 at ${ADDR.replace(/\./g, '\\.')}:15443`))
    const gw = await kget(C1, ['-n', NS, 'gateways.gateway.networking.k8s.io', GW])
    assert.equal(gw.spec.gatewayClassName, 'istio-remote')
    assert.equal(gw.metadata.labels['topology.istio.io/network'], 'network2')
    assert.deepEqual(gw.spec.addresses, [{type: 'IPAddress', value: ADDR}])
    // nothing in meshNetworks for this link
    assert.doesNotMatch((await kget(C1, ['-n', NS, 'configmap', 'istio'])).data.meshNetworks ?? '', /fromRegistry: cluster2/)
    // the consumer: cluster1's istiod knows network2's gateway at ADDR (a Gateway resource's gateway carries the cluster that holds it)
    await waitUntil(`${C1}'s istiod to list network2's gateway at ${ADDR}:15443 from the istio-remote Gateway`, async () =>
      (await networkz()).some((g) => g.Network === 'network2' && g.Addr === ADDR && g.Port === 15443 && g.Cluster === C1), SYNC_TIMEOUT_MS)

    const again = await mesh(args, {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'link again')
    assert.match(again.stdout, new RegExp(`^${C1}\\s+Gateway/${NS}/${GW}\\s+unchanged$`, 'm'))
    assert.deepEqual(again.stdout.split('\n').filter((l) => l.trim() && !/\sunchanged$/.test(l)), [], again.stdout)
    assert.equal(writes(stats(again.stderr)), 0, again.stderr)

    const un = await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2])
    ok(un, 'unlink')
    assert.match(un.stdout, new RegExp(`^${C1}\\s+Gateway/${NS}/${GW}\\s+deleted$`, 'm'))
    assert.equal(await kget(C1, ['-n', NS, 'gateways.gateway.networking.k8s.io', GW]), undefined)
    await waitUntil(`${C1}'s istiod to forget network2's gateway at ${ADDR}`, async () => !(await networkz()).some((g) => g.Addr === ADDR), SYNC_TIMEOUT_MS)
  })

  // verify reads cluster1's istio-remote Gateways (src/verify/model.ts remoteWiring): here the link
  // relies on one, as cluster2's gateway Service is not labelled with its network, so cluster1's
  // istiod cannot discover it (network.go getGatewayDetails) and knows network2 only from the Gateway
  test('verify: a link wired by an istio-remote Gateway is green and says so; the Gateway deleted fails naming it; the printed fix makes it green again', async () => {
    interface Check {id: string; cluster: string; status: string; message: string; hint: string}
    const verify = async () => {
      const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json', '--istiod-debug-url', `${C1}=${istiod[C1].debugUrl}`, '--istiod-debug-url', `${C2}=${istiod[C2].debugUrl}`])
      assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
      return JSON.parse(r.stdout).checks as Check[]
    }
    const check = (checks: Check[], id: string, cluster: string) => {
      const c = checks.find((x) => x.id === id && x.cluster === cluster)
      assert.ok(c, `${id} for ${cluster} in ${JSON.stringify(checks.map((x) => `${x.id}/${x.cluster}`))}`)
      return c!
    }
    const svc = await kget(C2, ['-n', NS, 'service', 'istio-eastwestgateway'])
    const addr = svc.status.loadBalancer.ingress[0].ip as string
    unlabelled = svc.metadata.labels['topology.istio.io/network']
    assert.equal(unlabelled, 'network2')
    ok(await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', 'topology.istio.io/network-'], {context: C2}), 'unlabel cluster2\'s gateway')
    const fromGateway = async () => (await networkz()).some((g) => g.Network === 'network2' && g.Addr === addr && g.Port === 15443 && g.Cluster === C1)

    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--network-config', 'gateway'])
    ok(r, 'link --network-config gateway')
    assert.match(r.stdout, new RegExp(`^${C1}\\s+Gateway/${NS}/${GW}\\s+created$`, 'm'))
    assert.deepEqual((await kget(C1, ['-n', NS, 'gateways.gateway.networking.k8s.io', GW])).spec.addresses, [{type: 'IPAddress', value: addr}])
    await waitUntil(`${C1}'s istiod to list network2 at ${addr}:15443 from the istio-remote Gateway`, fromGateway, SYNC_TIMEOUT_MS)

    const green = async (what: string) => {
      const checks = await verify()
      const gw = check(checks, 'links.istiod-gateways', C1)
      assert.equal(gw.status, 'pass', `${what}: ${JSON.stringify(gw)}`)
      assert.match(gw.message, new RegExp(`${C2} wired by istio-remote Gateway ${NS}/${GW} \\(${addr.replace(/\./g, '\\.')}:15443\\)`))
      assert.equal(check(checks, 'networks.gateway-address', C2).status, 'pass', what)
      for (const id of ['networks.mesh-networks', 'networks.labels', 'networks.gateway-port']) {
        for (const c of [C1, C2]) assert.notEqual(check(checks, id, c).status, 'fail', `${what}: ${JSON.stringify(check(checks, id, c))}`)
      }
      return gw
    }
    const first = await green('after link')
    console.log(`  pass: ${first.message}`)

    ok(await kubectl(['-n', NS, 'delete', 'gateways.gateway.networking.k8s.io', GW], {context: C1}), 'delete the istio-remote Gateway')
    await waitUntil(`${C1}'s istiod to forget the deleted Gateway's gateway`, async () => !(await fromGateway()), SYNC_TIMEOUT_MS)
    const broken = check(await verify(), 'links.istiod-gateways', C1)
    assert.equal(broken.status, 'fail', JSON.stringify(broken))
    assert.match(broken.message, new RegExp(`relies on istio-remote Gateway ${NS}/${GW} naming network network2`))
    console.log(`  fail: ${broken.message}\n  fix:  ${broken.hint}`)
    const fix = /`([^`]+)`/.exec(broken.hint)?.[1]
    assert.equal(fix, `kubectl mesh cluster link --context ${C1} --remote-context ${C2} --network-config gateway`)
    ok(await mesh(fix!.split(' ').slice(2)), fix!)
    await waitUntil(`${C1}'s istiod to list network2 at ${addr}:15443 again`, fromGateway, SYNC_TIMEOUT_MS)
    await green('after the fix')
  })
})
