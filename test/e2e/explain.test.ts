// `kubectl mesh explain` against real istiods, with the xDS probe as the oracle (STYLE.md §14):
// for each state of the bed, the endpoints explain predicts for foo/sleep's sidecar in cluster1
// equal (address and port) the EDS istiod sends that sidecar (testbed/xds.ts: Istio's own ADS
// client posing as the proxy), and every peer that contributes nothing carries a reason naming the
// cause. Also: verify's links.istiod-gateways and links.istiod-endpoints pass on the healthy bed and
// fail, naming cluster and network, when cluster2's gateway Service loses its address.
//
// Like test/e2e/datapath.test.ts: when the bed was not brought up with `--istio`, Istio is installed
// into cluster1 and cluster2 here and the simulated install is put back in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {assertUsageError, kget, kubectl, mesh, stats, tempDir} from './harness.ts'
import {downIstio, type IstioBed, ok, upIstio} from './istio-bed.ts'
import {waitUntil} from '../../testbed/istiod.ts'
import {addWorkload, removeWorkload} from '../../testbed/workloads.ts'
import {endpointsOf, xds} from '../../testbed/xds.ts'
import type {XdsDump, XdsTarget} from '../../testbed/xds.ts'
import {matchSnapshot, shapeOf} from '../contract.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const GW_SVC = 'istio-eastwestgateway'
const HTTPBIN = 'httpbin.bar.svc.cluster.local'
const OUT = (port: number, host: string) => `outbound|${port}||${host}`
const GW2 = '127.0.0.12'
const MOVED = '127.0.0.22'
const TIMEOUT_MS = 60_000
const dir = tempDir('explain-e2e-')
let bed: IstioBed = {cacerts: [], installed: []}
const sleep1: XdsTarget = {context: C1, app: 'foo/sleep'}
/** cluster1's meshNetworks while a test has replaced it */
let savedMeshNetworks: string | undefined

interface Explained {
  service: string
  from: {context: string; namespace: string}
  endpoints: Array<{cluster: string; address: string; port: number; servicePort: number; via: string}>
  dropped: Array<{cluster: string; reason: string; hint: string}>
}
/** state → predicted vs received, for the report */
const table: Array<{state: string; predicted: string; received: string; dropped: string}> = []
const runs: Array<{ms: number; requests: number}> = []

async function explain(service: string, port: number, extra: string[] = []): Promise<Explained> {
  const t0 = Date.now()
  const r = await mesh(['explain', service, '-n', 'bar', '--context', C1, '--from', 'foo', '--port', String(port), '-o', 'json', ...extra], {env: {KUBECTL_MESH_STATS: '1'}})
  const ms = Date.now() - t0
  ok(r, `explain ${service}`)
  const s = stats(r.stderr)
  runs.push({ms, requests: s.requests})
  assert.equal(Object.values(s.byContext).reduce((n, m) => n + Object.entries(m).filter(([v]) => v !== 'GET').reduce((a, [, c]) => a + c, 0), 0), 0, 'explain writes nothing')
  return JSON.parse(r.stdout) as Explained
}

const predicted = (e: Explained) => e.endpoints.map((x) => `${x.address}:${x.port}`).sort()

/**
 * Wait until istiod's EDS for the sidecar meets `ready` (the state has settled), then until explain's
 * prediction equals that EDS (istiod's debug view and its push may be a moment apart), and assert it.
 */
async function settle(state: string, cluster: string, ready: (eds: string[]) => boolean, service: string, port: number, extra: string[] = []): Promise<{e: Explained; eds: string[]}> {
  let dump: XdsDump | undefined
  await waitUntil(`${state}: EDS of ${cluster}`, async () => {
    dump = await xds(sleep1)
    const eds = endpointsOf(dump, cluster)
    return eds !== undefined && ready(eds)
  }, TIMEOUT_MS, 500)
  let e: Explained | undefined
  let eds: string[] = []
  await waitUntil(`${state}: explain = EDS`, async () => {
    e = await explain(service, port, extra)
    eds = endpointsOf(await xds(sleep1), cluster) ?? []
    return JSON.stringify(predicted(e)) === JSON.stringify(eds)
  }, 30_000, 1000).catch(() => undefined)
  table.push({state, predicted: predicted(e!).join(' ') || '(none)', received: eds.join(' ') || '(none)', dropped: e!.dropped.map((d) => `${d.cluster}: ${d.reason.split(':')[0]}`).join('; ') || '-'})
  assert.deepEqual(predicted(e!), eds, `${state}: explain predicted ${JSON.stringify(e!.endpoints)}, istiod sent ${JSON.stringify(eds)}`)
  return {e: e!, eds}
}

/** explain's own output in a state, for the report and docs/explain.md */
async function show(state: string, args: string[]) {
  const r = await mesh(['explain', 'httpbin', '-n', 'bar', '--context', C1, '--from', 'foo', ...args])
  ok(r, `explain (${state})`)
  process.stderr.write(`# explain ${args.join(' ')} (${state}):\n${r.stdout.trimEnd().split('\n').map((l) => `#   ${l}`).join('\n')}\n`)
  return r.stdout
}

function droppedFor(e: Explained, cluster: string, reason: RegExp, hint?: RegExp) {
  const d = e.dropped.find((x) => x.cluster === cluster)
  assert.ok(d, `no reason for ${cluster}: ${JSON.stringify(e.dropped)}`)
  assert.match(d.reason, reason)
  if (hint) assert.match(d.hint, hint)
}

interface VerifyCheck {id: string; cluster: string; status: string; message: string}
async function verifyChecks(): Promise<VerifyCheck[]> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return JSON.parse(r.stdout).checks as VerifyCheck[]
}

async function setGatewayAddress(ctx: string, ip: string | undefined) {
  await kubectl(['-n', NS, 'patch', 'service', GW_SVC, '--subresource=status', '--type=merge', '-p',
    JSON.stringify({status: {loadBalancer: ip ? {ingress: [{ip}]} : {ingress: null}}})], {context: ctx})
}

before(async () => {
  bed = await upIstio([C1, C2], dir)
}, {timeout: 60 * 60_000})

after(async () => {
  await setGatewayAddress(C2, GW2).catch(() => undefined)
  if (savedMeshNetworks !== undefined) await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: savedMeshNetworks}})], {context: C1, allowFail: true})
  await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2])
  await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2])
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
  await mesh(['cluster', 'unlink', '--context', C2, '--remote-name', C1, '--remote-context', C1, '--prune-remote'])
  for (const ctx of [C1, C2]) await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network', '--ignore-not-found'], {context: ctx, allowFail: true})
  for (const ctx of [C1, C2]) await removeWorkload(ctx, 'bar', 'plain', {service: true}).catch(() => undefined)
  await downIstio(bed)
  rmSync(dir, {recursive: true, force: true})
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b)
  process.stderr.write(`# explain: ${runs.length} runs, wall ms median ${ms[Math.floor(ms.length / 2)] ?? '-'} (min ${ms[0] ?? '-'}, max ${ms.at(-1) ?? '-'}), API requests per run ${[...new Set(runs.map((r) => r.requests))].join('/')}\n`)
  process.stderr.write(`# state | predicted | received (EDS) | dropped\n${table.map((r) => `#   ${r.state} | ${r.predicted} | ${r.received} | ${r.dropped}`).join('\n')}\n`)
})

describe('explain predicts the EDS istiod sends foo/sleep in cluster1', () => {
  test('unknown service or namespace: exit 2, one line and a hint, nothing written', async () => {
    assertUsageError(await mesh(['explain', 'nosuch', '-n', 'bar', '--context', C1]), /service bar\/nosuch not found/, /kubectl get services -n bar --context cluster1/)
    assertUsageError(await mesh(['explain', 'httpbin', '-n', 'nosuch', '--context', C1]), /namespace nosuch not found/, /kubectl get namespaces/)
    assertUsageError(await mesh(['explain', 'httpbin', '-n', 'bar', '--from', 'nosuch', '--context', C1]), /namespace nosuch \(--from\) not found/)
    assertUsageError(await mesh(['explain', 'httpbin', '-n', 'bar', '--port', '9', '--context', C1]), /has no port 9/, /--port 8000/)
  })

  test('not linked: cluster1\'s own pod only; cluster2 (--peer-context) is "not linked" with the link command', async () => {
    const {e} = await settle('not linked (--peer-context cluster2)', OUT(8000, HTTPBIN), (eds) => eds.length > 0 && !eds.includes(`${GW2}:15443`), 'httpbin', 8000, ['--peer-context', C2])
    assert.deepEqual(e.endpoints, [{cluster: C1, address: '10.244.1.10', port: 8080, servicePort: 8000, via: 'pod'}])
    droppedFor(e, C2, /^not linked: cluster1 holds no remote secret for cluster cluster2/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
    matchSnapshot('json/explain', shapeOf(e))
  })

  describe('an imported .global service (export + import)', () => {
    test('the import\'s endpoint is cluster2\'s gateway', async () => {
      ok(await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2]), 'export')
      ok(await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1]), 'import')
      const {e} = await settle('imported httpbin.bar.global', OUT(8000, 'httpbin.bar.global'), (eds) => eds.includes(`${GW2}:15443`), 'httpbin.bar.global', 8000)
      assert.deepEqual(e.endpoints, [{cluster: C2, address: GW2, port: 15443, servicePort: 8000, via: 'gateway'}])
      assert.deepEqual(e.dropped, [])
    })

    test('unexported: istiod still sends the gateway, and explain says the gateway does not pass it through', async () => {
      ok(await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2]), 'unexport')
      const {e} = await settle('imported, owner unexported', OUT(8000, 'httpbin.bar.global'), (eds) => eds.includes(`${GW2}:15443`), 'httpbin.bar.global', 8000)
      droppedFor(e, C2, /^not passed through the remote gateway: .*not exported/, /kubectl mesh service export httpbin -n bar --context cluster2/)
      ok(await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2]), 'unimport')
    })
  })

  describe('one mesh over two networks (cluster link --bidirectional)', () => {
    test('linked: cluster1\'s pod and cluster2\'s gateway; verify\'s istiod-view checks pass', async () => {
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional']), 'link')
      const {e} = await settle('linked', OUT(8000, HTTPBIN), (eds) => eds.includes(`${GW2}:15443`), 'httpbin', 8000)
      assert.deepEqual(e.endpoints, [
        {cluster: C1, address: '10.244.1.10', port: 8080, servicePort: 8000, via: 'pod'},
        {cluster: C2, address: GW2, port: 15443, servicePort: 8000, via: 'gateway'},
      ])
      assert.deepEqual(e.dropped, [])
      assert.match(await show('linked', []), /cluster2\n    127\.0\.0\.12:15443 +via gateway \(network network2, weight \d+\)/)
      let checks: VerifyCheck[] = []
      await waitUntil('verify: istiod-view checks pass', async () => {
        checks = (await verifyChecks()).filter((c) => c.id === 'links.istiod-gateways' || c.id === 'links.istiod-endpoints')
        return checks.length === 4 && checks.every((c) => c.status === 'pass')
      }, TIMEOUT_MS, 1000).catch(() => undefined)
      assert.deepEqual(checks.map((c) => `${c.id} ${c.cluster} ${c.status}`).sort(), [
        'links.istiod-endpoints cluster1 pass', 'links.istiod-endpoints cluster2 pass', 'links.istiod-gateways cluster1 pass', 'links.istiod-gateways cluster2 pass',
      ], JSON.stringify(checks))
    })

    test('exposure removed: istiod still sends cluster2\'s gateway; explain says it does not pass the host through', async () => {
      await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network'], {context: C2})
      const {e} = await settle('exposure removed', OUT(8000, HTTPBIN), (eds) => eds.includes(`${GW2}:15443`), 'httpbin', 8000)
      droppedFor(e, C2, /^not passed through the remote gateway: .*istio-system\/istio-eastwestgateway passes httpbin\.bar\.svc\.cluster\.local/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
      await show('exposure removed', [])
      await show('exposure removed', ['-o', 'json'])
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'link again')
      const back = await settle('linked again', OUT(8000, HTTPBIN), (eds) => eds.includes(`${GW2}:15443`), 'httpbin', 8000)
      assert.deepEqual(back.e.dropped, [])
    })

    test('gateway moved: istiod follows cluster2\'s gateway Service to its new address, and so does explain', async () => {
      await setGatewayAddress(C2, MOVED)
      const {e} = await settle('gateway moved', OUT(8000, HTTPBIN), (eds) => eds.includes(`${MOVED}:15443`), 'httpbin', 8000)
      assert.ok(e.endpoints.some((x) => x.cluster === C2 && x.address === MOVED && x.via === 'gateway'), JSON.stringify(e.endpoints))
      assert.deepEqual(e.dropped, [])
    })

    test('gateway lost its address: istiod keeps sending the gateway it knew (it does not drop a label-discovered gateway when the address goes); explain says nothing serves it; verify fails naming cluster and network', async () => {
      await setGatewayAddress(C2, undefined)
      // nothing in istiod's EDS changes (Istio 1.31): the state is settled once the Service has no address
      await waitUntil('the gateway Service has no address', async () => !(await kget(C2, ['-n', NS, 'service', GW_SVC])).status?.loadBalancer?.ingress?.length, 10_000, 250)
      const {e} = await settle('gateway without address', OUT(8000, HTTPBIN), (eds) => eds.some((x) => x.endsWith(':15443')), 'httpbin', 8000)
      droppedFor(e, C2, /^gateway without address: cluster1's istiod sends cluster2's endpoints to 127\.0\.0\.\d+:15443 .*has no address/, /istio-system\/istio-eastwestgateway a load-balancer address/)
      let bad: VerifyCheck[] = []
      await waitUntil('verify fails links.istiod-gateways', async () => {
        bad = (await verifyChecks()).filter((c) => c.id === 'links.istiod-gateways' && c.status === 'fail')
        return bad.some((c) => c.cluster === C1)
      }, TIMEOUT_MS, 1000).catch(() => undefined)
      assert.ok(bad.some((c) => c.cluster === C1 && /network network2 of cluster cluster2: its east-west gateway Service istio-system\/istio-eastwestgateway has no address/.test(c.message)), JSON.stringify(bad))
    })

    test('no gateway known for network2 (and meshNetworks without it): istiod sends cluster2\'s pod IP; explain says so', async () => {
      const cm = await kget(C1, ['-n', NS, 'configmap', 'istio'])
      savedMeshNetworks = cm.data.meshNetworks ?? ''
      await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: 'networks: {}\n'}})], {context: C1})
      const {e} = await settle('no gateway known for network2', OUT(8000, HTTPBIN), (eds) => eds.includes('10.244.2.10:8080'), 'httpbin', 8000)
      assert.ok(e.endpoints.some((x) => x.cluster === C2 && x.address === '10.244.2.10' && x.via === 'pod'), JSON.stringify(e.endpoints))
      droppedFor(e, C2, /^no gateway known for its network network2: .*10\.244\.2\.10:8080/, /istio-system\/istio-eastwestgateway has no address/)
      const bad = (await verifyChecks()).filter((c) => c.id === 'links.istiod-gateways' && c.status === 'fail')
      assert.ok(bad.some((c) => c.cluster === C1 && /knows no gateway for network network2 and sends cluster2's pod IPs/.test(c.message)), JSON.stringify(bad))
      await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: savedMeshNetworks}})], {context: C1})
      savedMeshNetworks = undefined
      await setGatewayAddress(C2, GW2)
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'link again')
      const back = await settle('gateway address back', OUT(8000, HTTPBIN), (eds) => eds.includes(`${GW2}:15443`) && !eds.includes('10.244.2.10:8080'), 'httpbin', 8000)
      assert.deepEqual(back.e.dropped, [])
    })

    test('remote endpoints without a sidecar: dropped across networks, with the injection fix', async () => {
      await addWorkload({context: C1, namespace: 'bar', name: 'plain', ports: [{name: 'http', port: 9000}]})
      await addWorkload({context: C2, namespace: 'bar', name: 'plain', ports: [{name: 'http', port: 9000}], sidecar: false})
      const OUT_PLAIN = OUT(9000, 'plain.bar.svc.cluster.local')
      // wait until istiod holds cluster2's endpoint (explain names it), then compare
      await waitUntil('istiod holds cluster2\'s plain endpoint', async () => (await explain('plain', 9000)).dropped.some((d) => d.cluster === C2 && /without a sidecar/.test(d.reason)), TIMEOUT_MS, 1000)
      const {e} = await settle('remote endpoints without a sidecar', OUT_PLAIN, (eds) => eds.length === 1, 'plain', 9000)
      assert.deepEqual(e.endpoints.map((x) => x.cluster), [C1])
      droppedFor(e, C2, /^endpoints without a sidecar cannot cross networks: cluster2's 1 endpoint\(s\) of port 9000/, /istio-injection=enabled/)
    })

    test('unlinked one way: cluster1 loses cluster2\'s gateway; explain says not linked', async () => {
      ok(await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2]), 'unlink one direction')
      const {e} = await settle('unlinked 1→2', OUT(8000, HTTPBIN), (eds) => !eds.some((x) => x.endsWith(':15443')), 'httpbin', 8000, ['--peer-context', C2])
      assert.deepEqual(e.endpoints.map((x) => x.cluster), [C1])
      droppedFor(e, C2, /^not linked/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
    })
  })

  test('text output: endpoints per port and cluster, reasons with hints', async () => {
    const r = await mesh(['explain', 'httpbin', '-n', 'bar', '--context', C1, '--from', 'foo', '--peer-context', C2])
    ok(r, 'explain text')
    process.stderr.write(`# explain text:\n${r.stdout.split('\n').map((l) => `#   ${l}`).join('\n')}\n`)
    assert.match(r.stdout, /port 8000 \(http\): 1 endpoint\n  cluster1\n    10\.244\.1\.10:8080 +via pod/)
    assert.match(r.stdout, /✖ cluster2: not linked: .*\n    Hint: `kubectl mesh cluster link --context cluster1 --remote-context cluster2`/)
  })
})
