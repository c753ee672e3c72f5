// The data path, hop by hop, as the real control plane configures it: Istio installed as istioctl
// renders it (testbed/istio-install.ts), one real istiod per cluster, injected workload Pods behind
// EndpointSlices, and Istio's own ADS client posing as the proxies (testbed/xds.ts). Every hop
// assertion reads what istiod sends (the probe's JSON), never our own objects; each journey also
// breaks one hop and checks that the xDS and `kubectl mesh verify` both show it.
//
// When the bed was not brought up with `--istio`, this file installs Istio into cluster1 and
// cluster2 itself and puts the simulated install back in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {kget, kubectl, mesh, tempDir} from './harness.ts'
import {downIstio, type IstioBed, ok, upIstio} from './istio-bed.ts'
import {memoryMiB, runningIstiod, waitUntil} from '../../testbed/istiod.ts'
import {addWorkload, removeWorkload} from '../../testbed/workloads.ts'
import {clusterOf, clusterSnis, endpointsOf, xds} from '../../testbed/xds.ts'
import type {XdsDump, XdsTarget} from '../../testbed/xds.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const XDS_TIMEOUT_MS = 60_000
const HTTPBIN = 'httpbin.bar.svc.cluster.local'
const SLEEP = 'sleep.foo.svc.cluster.local'
const SNI = (port: number, host: string) => `outbound_.${port}_._.${host}`
const OUT = (port: number, host: string) => `outbound|${port}||${host}`
const GW2 = '127.0.0.12:15443'
const dir = tempDir('datapath-e2e-')
let bed: IstioBed = {cacerts: [], installed: []}
const timings: Record<string, number | string> = {}
/** every hop the probe showed, for the report: journey → rows */
const hops: Array<{journey: string; proxy: string; hop: string; seen: string}> = []

function who(t: XdsTarget): string {
  return `${t.context} ${t.eastwest ? 'east-west gateway' : t.app ?? t.pod}`
}

/** Probe until `check` returns a value (istiod pushes after a debounce; remote clusters sync in seconds). */
async function probeUntil<T>(t: XdsTarget, what: string, check: (d: XdsDump) => T | undefined | false): Promise<{value: T; dump: XdsDump; ms: number}> {
  let last: XdsDump | undefined
  const {value, ms} = await waitUntil(`${who(t)}: ${what}`, async () => {
    last = await xds(t)
    return check(last)
  }, XDS_TIMEOUT_MS, 500).catch((error: Error) => {
    const eds = last ? last.endpoints.map((e) => `${e.clusterName}=${JSON.stringify(endpointsOf(last!, e.clusterName))}`).filter((s) => /httpbin|echo/.test(s)) : []
    throw new Error(`${error.message}\nlast EDS of interest: ${eds.join('; ') || '(none)'}`)
  })
  return {value, dump: last!, ms}
}

function record(journey: string, t: XdsTarget, hop: string, seen: unknown) {
  hops.push({journey, proxy: who(t), hop, seen: typeof seen === 'string' ? seen : JSON.stringify(seen)})
}

/** The 15443 listener of a gateway dump, and the SNI names of its filter chains. */
function gatewaySnis(d: XdsDump): string[] {
  const l = d.listeners.find((x) => x.address?.socketAddress?.portValue === 15443)
  return l ? (l.filterChains ?? []).flatMap((fc: any) => fc.filterChainMatch?.serverNames ?? []).sort() : []
}

interface VerifyCheck {id: string; cluster: string; status: string; message: string}
async function verify(): Promise<{code: number; checks: VerifyCheck[]}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return {code: r.code, checks: JSON.parse(r.stdout).checks as VerifyCheck[]}
}
function failed(v: {checks: VerifyCheck[]}, id: string): VerifyCheck[] {
  return v.checks.filter((c) => c.id === id && c.status === 'fail')
}

before(async () => {
  // one root for both clusters, as cacerts, before istiod starts
  bed = await upIstio([C1, C2], dir, (ctx, inst, ms) => {
    timings[`${ctx} install`] = ms
    timings[`${ctx} istiod ready`] = inst.istiod.readyMs
  })
}, {timeout: 60 * 60_000})

after(async () => {
  for (const ctx of [C1, C2]) {
    const i = runningIstiod(ctx)
    const m = i && memoryMiB(i.pid)
    if (m) timings[`${ctx} istiod memory (MiB rss/peak)`] = `${m.rss}/${m.peak}`
  }
  await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2])
  await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2])
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
  await mesh(['cluster', 'unlink', '--context', C2, '--remote-name', C1, '--remote-context', C1, '--prune-remote'])
  for (const ctx of [C1, C2]) await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'cross-network-gateway', '--ignore-not-found'], {context: ctx})
  for (const ctx of [C1, C2]) await removeWorkload(ctx, 'baz', 'echo', {service: true})
  for (const ctx of [C1, C2]) await kubectl(['delete', 'namespace', 'baz', '--ignore-not-found', '--wait=false'], {context: ctx})
  await downIstio(bed)
  rmSync(dir, {recursive: true, force: true})
  process.stderr.write(`# datapath timings (ms): ${JSON.stringify(timings)}\n`)
  process.stderr.write(`# hops:\n${hops.map((h) => `#   ${h.journey} | ${h.proxy} | ${h.hop} | ${h.seen}`).join('\n')}\n`)
})

const sleep1: XdsTarget = {context: C1, app: 'foo/sleep'}
const gw2: XdsTarget = {context: C2, eastwest: true}

describe('the data path as istiod configures it', () => {
  test('the bed is real: EndpointSlices from the controller, injected Pods, istiod answers the probe', async () => {
    for (const ctx of [C1, C2]) {
      const pod = await kget(ctx, ['-n', 'bar', 'pod', 'httpbin-0'])
      assert.equal(pod.metadata.labels['security.istio.io/tlsMode'], 'istio', `${ctx}: httpbin-0 was not injected`)
      assert.ok(pod.spec.containers.some((c: {name: string}) => c.name === 'istio-proxy'), `${ctx}: no istio-proxy container (injector not called?)`)
      const slices = await kget(ctx, ['-n', 'bar', 'endpointslices', '-l', 'kubernetes.io/service-name=httpbin'])
      assert.ok(slices.items.some((s: any) => s.metadata.labels['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io' &&
        s.endpoints?.some((e: any) => e.addresses.includes(pod.status.podIP))), `${ctx}: no controller-made EndpointSlice with ${pod.status.podIP}`)
    }
    const d = await xds(sleep1)
    const eps = endpointsOf(d, OUT(8000, HTTPBIN))
    record('bed', sleep1, `EDS ${OUT(8000, HTTPBIN)} (not linked)`, eps)
    assert.deepEqual(eps, ['10.244.1.10:8080'])
  })

  test('the probe fails clearly when istiod does not answer', async () => {
    await assert.rejects(xds({...sleep1, address: '127.0.0.1:1', timeoutMs: 3000}), /xds-probe: istiod at 127\.0\.0\.1:1/)
  })

  describe('separate meshes: export + import (seeds 000, 001, 004)', () => {
    test('the .global cluster carries the per-port SNI and the gateway endpoint; the name table resolves it; the gateway passes the SNI to the pod', async () => {
      ok(await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2]), 'service export')
      ok(await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1]), 'service import')
      const host = 'httpbin.bar.global'
      const {dump, ms} = await probeUntil(sleep1, `EDS of ${OUT(8000, host)} = ${GW2}`, (d) => endpointsOf(d, OUT(8000, host))?.includes(GW2) && true)
      timings['import → sidecar EDS'] = ms
      const c = clusterOf(dump, OUT(8000, host))
      assert.ok(c, `no cluster ${OUT(8000, host)}`)
      const snis = clusterSnis(c)
      record('separate meshes', sleep1, `CDS ${OUT(8000, host)} SNI`, snis)
      record('separate meshes', sleep1, `EDS ${OUT(8000, host)}`, endpointsOf(dump, OUT(8000, host)))
      assert.ok(snis.includes(SNI(8000, HTTPBIN)), `SNI of ${OUT(8000, host)}: ${JSON.stringify(snis)}`)
      assert.deepEqual(endpointsOf(dump, OUT(8000, host)), [GW2])
      const entry = dump.nameTable?.table?.[host]
      record('separate meshes', sleep1, `NDS ${host}`, entry?.ips)
      assert.ok(entry?.ips?.length, `name table has no address for ${host}: ${JSON.stringify(Object.keys(dump.nameTable?.table ?? {}))}`)

      const g = await probeUntil(gw2, `15443 filter chain for ${SNI(8000, HTTPBIN)}`, (d) => gatewaySnis(d).includes(SNI(8000, HTTPBIN)) && endpointsOf(d, SNI(8000, HTTPBIN))?.length && true)
      record('separate meshes', gw2, 'LDS 15443 serverNames', gatewaySnis(g.dump))
      record('separate meshes', gw2, `EDS ${SNI(8000, HTTPBIN)}`, endpointsOf(g.dump, SNI(8000, HTTPBIN)))
      assert.deepEqual(endpointsOf(g.dump, SNI(8000, HTTPBIN)), ['10.244.2.10:8080'])
    })

    test('break: unexport → the gateway drops the SNI chain, and verify fails imports.exported', async () => {
      ok(await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2]), 'unexport')
      const g = await probeUntil(gw2, `no 15443 chain for ${SNI(8000, HTTPBIN)}`, (d) => !gatewaySnis(d).includes(SNI(8000, HTTPBIN)))
      record('separate meshes: unexported', gw2, 'LDS 15443 serverNames', gatewaySnis(g.dump))
      const v = await verify()
      assert.notEqual(v.code, 0)
      assert.ok(failed(v, 'imports.exported').some((c) => c.cluster === C1), JSON.stringify(v.checks.filter((c) => c.status === 'fail')))
      ok(await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2]), 'unimport')
    })
  })

  describe('one mesh over two networks: cluster link --bidirectional (seeds 002, 003)', () => {
    test('cluster1\'s sidecar has cluster1\'s pod and cluster2\'s gateway; cluster2\'s gateway has the SNI chain and its SNI cluster holds cluster2\'s pod', async () => {
      // link itself passes each cluster's services through its east-west gateway (Gateway kubectl-mesh-cross-network)
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional']), 'cluster link')
      const t0 = Date.now()
      const s = await probeUntil(sleep1, `EDS ${OUT(8000, HTTPBIN)} = own pod + ${GW2}`, (d) => {
        const e = endpointsOf(d, OUT(8000, HTTPBIN))
        return e?.includes('10.244.1.10:8080') && e.includes(GW2) && e
      })
      timings['link → sidecar EDS has the remote gateway'] = Date.now() - t0
      record('one mesh, two networks', sleep1, `EDS ${OUT(8000, HTTPBIN)}`, s.value)
      assert.deepEqual(s.value, ['10.244.1.10:8080', GW2])
      const g = await probeUntil(gw2, `15443 chain + SNI cluster for ${SNI(8000, HTTPBIN)}`, (d) => gatewaySnis(d).includes(SNI(8000, HTTPBIN)) && endpointsOf(d, SNI(8000, HTTPBIN))?.length && true)
      record('one mesh, two networks', gw2, 'LDS 15443 serverNames (httpbin)', gatewaySnis(g.dump).filter((n) => n.includes('httpbin')))
      record('one mesh, two networks', gw2, `EDS ${SNI(8000, HTTPBIN)}`, endpointsOf(g.dump, SNI(8000, HTTPBIN)))
      assert.deepEqual(endpointsOf(g.dump, SNI(8000, HTTPBIN)), ['10.244.2.10:8080'])
      // a service of cluster2 that was never exported is passed through too, with its pod behind it
      const sleepSnis = gatewaySnis(g.dump).filter((n) => n.endsWith(`_._.${SLEEP}`))
      record('one mesh, two networks', gw2, 'LDS 15443 serverNames (foo/sleep, never exported)', sleepSnis)
      assert.ok(sleepSnis.length > 0, `no 15443 chain for ${SLEEP}: ${gatewaySnis(g.dump).join(', ')}`)
      assert.ok(sleepSnis.every((n) => (endpointsOf(g.dump, n) ?? []).length > 0), 'the SNI cluster of foo/sleep has its pod')
      const s2 = await probeUntil(sleep1, `EDS of cluster2's foo/sleep through ${GW2}`, (d) => endpointsOf(d, OUT(80, SLEEP))?.includes(GW2) && true)
      record('one mesh, two networks', sleep1, `EDS ${OUT(80, SLEEP)}`, endpointsOf(s2.dump, OUT(80, SLEEP)))
      const v = await verify()
      assert.deepEqual(failed(v, 'links.reverse'), [])
      assert.deepEqual(failed(v, 'networks.expose'), [])
    })

    test('break: the exposure Gateway removed by hand → cluster2\'s gateway drops the chains of unexported services, verify fails networks.expose; link again restores it', async () => {
      await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network'], {context: C2})
      const g = await probeUntil(gw2, `no 15443 chain for ${SLEEP}`, (d) => !gatewaySnis(d).some((n) => n.endsWith(`_._.${SLEEP}`)) && true)
      record('one mesh, two networks: exposure removed', gw2, 'LDS 15443 serverNames (foo/sleep)', gatewaySnis(g.dump).filter((n) => n.endsWith(`_._.${SLEEP}`)))
      const v = await verify()
      assert.notEqual(v.code, 0)
      const hit = failed(v, 'networks.expose').find((c) => c.cluster === C1)
      assert.ok(hit, JSON.stringify(v.checks.filter((c) => c.status === 'fail')))
      assert.match(hit.message, /cluster2's east-west gateway istio-system\/istio-eastwestgateway does not pass its services through/)
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'link again')
      const back = await probeUntil(gw2, `15443 chain for ${SLEEP} again`, (d) => gatewaySnis(d).some((n) => n.endsWith(`_._.${SLEEP}`)) && true)
      record('one mesh, two networks: linked again', gw2, 'LDS 15443 serverNames (foo/sleep)', gatewaySnis(back.dump).filter((n) => n.endsWith(`_._.${SLEEP}`)))
      assert.deepEqual(failed(await verify(), 'networks.expose'), [])
    })

    test('break: unlink cluster1 → cluster2 → cluster1\'s EDS loses the remote gateway, and verify fails links.reverse', async () => {
      ok(await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2]), 'unlink one direction')
      const s = await probeUntil(sleep1, `EDS ${OUT(8000, HTTPBIN)} without ${GW2}`, (d) => {
        const e = endpointsOf(d, OUT(8000, HTTPBIN))
        return e && !e.includes(GW2) && e
      })
      record('one mesh, two networks: unlinked 1→2', sleep1, `EDS ${OUT(8000, HTTPBIN)}`, s.value)
      assert.deepEqual(s.value, ['10.244.1.10:8080'])
      const v = await verify()
      assert.notEqual(v.code, 0)
      assert.ok(failed(v, 'links.reverse').some((c) => c.cluster === C2), JSON.stringify(v.checks.filter((c) => c.status === 'fail')))
      ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'link again')
    })
  })

  describe('a multi-port service in another namespace', () => {
    const ECHO = 'echo.baz.svc.cluster.local'
    test('both ports cross the networks: cluster1\'s sidecar has the gateway for each port, cluster2\'s gateway has one SNI chain and pod endpoint per port', async () => {
      // the Service in both clusters (a namespace-sameness mesh), the Pod only in cluster2
      await addWorkload({context: C2, namespace: 'baz', name: 'echo', ports: [{name: 'http', port: 8080}, {name: 'tcp-echo', port: 9090}]})
      await kubectl(['apply', '-f', '-'], {context: C1, input: JSON.stringify({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'baz', labels: {'istio-injection': 'enabled'}}})})
      await kubectl(['apply', '-f', '-'], {context: C1, input: JSON.stringify({apiVersion: 'v1', kind: 'Service', metadata: {name: 'echo', namespace: 'baz'},
        spec: {selector: {app: 'echo'}, ports: [{name: 'http', port: 8080}, {name: 'tcp-echo', port: 9090}]}})})
      const pod = await kget(C2, ['-n', 'baz', 'pod', 'echo-0'])
      const s = await probeUntil(sleep1, `EDS of both echo ports = ${GW2}`, (d) => [8080, 9090].every((p) => endpointsOf(d, OUT(p, ECHO))?.includes(GW2)) && true)
      for (const p of [8080, 9090]) {
        record('multi-port, other namespace', sleep1, `EDS ${OUT(p, ECHO)}`, endpointsOf(s.dump, OUT(p, ECHO)))
        assert.deepEqual(endpointsOf(s.dump, OUT(p, ECHO)), [GW2])
      }
      const g = await probeUntil(gw2, 'SNI chains and clusters for both echo ports', (d) =>
        [8080, 9090].every((p) => gatewaySnis(d).includes(SNI(p, ECHO)) && endpointsOf(d, SNI(p, ECHO))?.length) && true)
      for (const p of [8080, 9090]) {
        record('multi-port, other namespace', gw2, `EDS ${SNI(p, ECHO)}`, endpointsOf(g.dump, SNI(p, ECHO)))
        assert.deepEqual(endpointsOf(g.dump, SNI(p, ECHO)), [`${pod.status.podIP}:${p}`])
      }
    })

    test('break: cluster1\'s remote secret for cluster2 deleted → both echo ports lose the gateway endpoint, and verify fails links.reverse', async () => {
      await kubectl(['-n', NS, 'delete', 'secret', `istio-remote-secret-${C2}`], {context: C1})
      const s = await probeUntil(sleep1, 'no remote endpoint for echo', (d) => [8080, 9090].every((p) => !(endpointsOf(d, OUT(p, ECHO)) ?? []).includes(GW2)) && true)
      for (const p of [8080, 9090]) record('multi-port: remote secret deleted', sleep1, `EDS ${OUT(p, ECHO)}`, endpointsOf(s.dump, OUT(p, ECHO)) ?? 'no EDS resource')
      const v = await verify()
      assert.notEqual(v.code, 0)
      assert.ok(failed(v, 'links.reverse').some((c) => c.cluster === C2), JSON.stringify(v.checks.filter((c) => c.status === 'fail')))
    })
  })
})
