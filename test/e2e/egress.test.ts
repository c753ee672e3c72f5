// service import --via-egress (seeds 001 and 004) against a real istiod per cluster: the hops are
// read from what istiod sends (the xDS probe posing as cluster1's sleep sidecar, as cluster1's
// egress gateway, and as cluster2's east-west gateway), never from our own objects. Then verify
// names each hop broken by hand, a re-import goes back to the direct path, and unimport leaves nothing.
//
// Needs the --istio install of cluster1 and cluster2 (installed here when missing, undone in after()).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {kget, kubectl, mesh, stats, tempDir, writes} from './harness.ts'
import {downIstio, type IstioBed, ok, upIstio} from './istio-bed.ts'
import {waitUntil} from '../../testbed/istiod.ts'
import {addWorkload, removeWorkload, setPodRunning} from '../../testbed/workloads.ts'
import {clusterOf, clusterSnis, endpointsOf, xds} from '../../testbed/xds.ts'
import type {XdsDump, XdsTarget} from '../../testbed/xds.ts'

const C1 = 'cluster1'
const C2 = 'cluster2'
const NS = 'istio-system'
const XDS_TIMEOUT_MS = 60_000
const EGRESS = 'istio-egressgateway.istio-system.svc.cluster.local'
const EGRESS_POD = '10.244.1.3:8443'
const GW2 = '127.0.0.12:15443'
const OWNER_SNI = (port: number, svc: string) => `outbound_.${port}_._.${svc}.bar.svc.cluster.local`
const OUT = (port: number, host: string, subset = '') => `outbound|${port}|${subset}|${host}`
const dir = tempDir('egress-e2e-')
let bed: IstioBed = {cacerts: [], installed: []}
const t0 = Date.now()
const hops: string[] = []

const sleep1: XdsTarget = {context: C1, app: 'foo/sleep'}
const egress1: XdsTarget = {context: C1, egress: true}
const gw2: XdsTarget = {context: C2, eastwest: true}

/** Probe until `check` returns a value (istiod pushes after a debounce). */
async function probeUntil<T>(t: XdsTarget, what: string, check: (d: XdsDump) => T | undefined | false): Promise<{value: T; dump: XdsDump}> {
  let last: XdsDump | undefined
  const {value} = await waitUntil(`${t.context} ${t.egress ? 'egress gateway' : t.eastwest ? 'east-west gateway' : t.app}: ${what}`, async () => {
    last = await xds(t)
    return check(last)
  }, XDS_TIMEOUT_MS, 500)
  return {value, dump: last!}
}

/** Every network filter of every filter chain of a listener, with the chain's server names. */
function chains(d: XdsDump, port: number): Array<{serverNames: string[]; tcpCluster?: string; routeConfig?: string; tls: boolean}> {
  return d.listeners.filter((l) => l.address?.socketAddress?.portValue === port).flatMap((l) => (l.filterChains ?? []).map((fc: any) => {
    const filters: any[] = fc.filters ?? []
    const tcp = filters.find((f) => f.name === 'envoy.filters.network.tcp_proxy')?.typedConfig
    const hcm = filters.find((f) => f.name === 'envoy.filters.network.http_connection_manager')?.typedConfig
    return {serverNames: fc.filterChainMatch?.serverNames ?? [], tcpCluster: tcp?.cluster, routeConfig: hcm?.rds?.routeConfigName, tls: Boolean(fc.transportSocket)}
  }))
}

/** "ip:port" of the endpoints istiod sends as usable (Istio 1.31 sends not-ready ones too, marked UNHEALTHY: PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS). */
function healthyEndpointsOf(d: XdsDump, clusterName: string): string[] {
  const cla = d.endpoints.find((e) => e.clusterName === clusterName)
  return (cla?.endpoints ?? []).flatMap((l: any) => l.lbEndpoints ?? []).filter((e: any) => !['UNHEALTHY', 'DRAINING'].includes(e.healthStatus))
    .map((e: any) => `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`).sort()
}

/** The cluster an HTTP route config sends a host to (first matching virtual host, first route). */
function httpRouteCluster(d: XdsDump, routeName: string, host: string): string | undefined {
  const rc = d.routes.find((r) => r.name === routeName)
  const vh = (rc?.virtualHosts ?? []).find((v: any) => (v.domains ?? []).includes(host))
  return vh?.routes?.[0]?.route?.cluster
}

/** ISTIO_MUTUAL on an Envoy cluster: an UpstreamTlsContext with Istio's SDS certificate ("default") and root ("ROOTCA"). */
function istioMutual(c: any): boolean {
  const ts = [c?.transportSocket, ...(c?.transportSocketMatches ?? []).map((m: any) => m.transportSocket)].filter(Boolean)
  return ts.some((t: any) => {
    const ctx = t.typedConfig?.commonTlsContext
    return ctx?.tlsCertificateSdsSecretConfigs?.some((s: any) => s.name === 'default') &&
      JSON.stringify(ctx?.combinedValidationContext ?? ctx?.validationContextSdsSecretConfig ?? {}).includes('ROOTCA')
  })
}

async function verifyChecks(): Promise<{code: number; checks: Array<{id: string; cluster: string; status: string; message: string; hint: string}>}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  assert.ok(r.stdout.trim().startsWith('{'), `verify printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return {code: r.code, checks: JSON.parse(r.stdout).checks}
}
const failing = (v: Awaited<ReturnType<typeof verifyChecks>>) => v.checks.filter((c) => c.status === 'fail' && c.id.startsWith('imports.egress'))

/** The egress path of an import, hop by hop, from the three proxies' xDS; returns what it saw. */
async function assertTwoHops(host: string, svc: string, ports: Array<{port: number; kind: 'http' | 'tcp'}>): Promise<void> {
  const subset = (port: number) => `${svc}-bar-${C2}-${port}`
  const toEgress = (port: number) => OUT(443, EGRESS, subset(port))
  // hop 1: the sidecar's route for the host on each port leads to the egress gateway's subset cluster, ISTIO_MUTUAL with SNI <port>.<host>
  const s = await probeUntil(sleep1, `routes of ${host} lead to the egress gateway`, (d) => ports.every(({port, kind}) => kind === 'http'
    ? httpRouteCluster(d, String(port), host) === toEgress(port)
    : chains(d, port).some((fc) => fc.tcpCluster === toEgress(port))) && endpointsOf(d, toEgress(ports[0].port))?.length && true)
  for (const {port, kind} of ports) {
    const c = clusterOf(s.dump, toEgress(port))
    assert.ok(c, `sidecar: no cluster ${toEgress(port)}`)
    assert.ok(istioMutual(c), `sidecar: ${toEgress(port)} is not ISTIO_MUTUAL: ${JSON.stringify(c.transportSocket ?? c.transportSocketMatches)}`)
    assert.deepEqual(clusterSnis(c), [`${port}.${host}`])
    assert.deepEqual(healthyEndpointsOf(s.dump, toEgress(port)), [EGRESS_POD])
    hops.push(`${host}:${port} (${kind}) sidecar → ${toEgress(port)} SNI ${clusterSnis(c)} ISTIO_MUTUAL → ${endpointsOf(s.dump, toEgress(port))}`)
  }
  // hop 2: the egress gateway's 8443 listener terminates <port>.<host> and forwards to the ServiceEntry host's cluster, whose endpoint is cluster2's gateway with the owner's SNI
  const e = await probeUntil(egress1, `8443 chains for ${host}`, (d) => ports.every(({port}) =>
    chains(d, 8443).some((fc) => fc.serverNames.includes(`${port}.${host}`) && fc.tcpCluster === OUT(port, host))) && endpointsOf(d, OUT(ports[0].port, host))?.length && true)
  for (const {port} of ports) {
    const fc = chains(e.dump, 8443).find((x) => x.serverNames.includes(`${port}.${host}`))!
    assert.ok(fc.tls, `egress gateway: the chain for ${port}.${host} does not terminate TLS`)
    const c = clusterOf(e.dump, OUT(port, host))
    assert.ok(istioMutual(c), `egress gateway: ${OUT(port, host)} is not ISTIO_MUTUAL`)
    assert.deepEqual(clusterSnis(c), [OWNER_SNI(port, svc)])
    assert.deepEqual(endpointsOf(e.dump, OUT(port, host)), [GW2])
    hops.push(`${host}:${port} egress gateway 8443 [${port}.${host}] → ${OUT(port, host)} SNI ${clusterSnis(c)} → ${endpointsOf(e.dump, OUT(port, host))}`)
  }
  // cluster2's gateway: the matching 15443 chain, with the pod behind it
  const g = await probeUntil(gw2, `15443 chains for ${svc}`, (d) => ports.every(({port}) => chains(d, 15443).some((fc) => fc.serverNames.includes(OWNER_SNI(port, svc))) && endpointsOf(d, OWNER_SNI(port, svc))?.length) && true)
  for (const {port} of ports) {
    const eps = endpointsOf(g.dump, OWNER_SNI(port, svc))!
    assert.ok(eps.length > 0 && eps.every((a) => a.startsWith('10.244.2.')), `cluster2 gateway: ${OWNER_SNI(port, svc)} → ${eps}`)
    hops.push(`${host}:${port} cluster2 gateway 15443 [${OWNER_SNI(port, svc)}] → ${eps}`)
  }
}

before(async () => {
  bed = await upIstio([C1, C2], dir)
  // a service with an HTTP and a TCP port, beside the bed's httpbin (HTTP only)
  await addWorkload({context: C2, namespace: 'bar', name: 'echo', ports: [{name: 'http', port: 8000, targetPort: 8080}, {name: 'tcp-echo', port: 9000}]})
  for (const svc of ['httpbin', 'echo']) ok(await mesh(['service', 'export', svc, '-n', 'bar', '--context', C2]), `export ${svc}`)
}, {timeout: 60 * 60_000})

after(async () => {
  for (const svc of ['httpbin', 'echo']) {
    await mesh(['service', 'unimport', svc, '-n', 'bar', '--context', C1, '--from-name', C2])
    await mesh(['service', 'unexport', svc, '-n', 'bar', '--context', C2])
  }
  await removeWorkload(C2, 'bar', 'echo', {service: true})
  await downIstio(bed)
  rmSync(dir, {recursive: true, force: true})
  process.stderr.write(`# egress e2e: ${Math.round((Date.now() - t0) / 1000)} s\n# hops:\n${hops.map((h) => `#   ${h}`).join('\n')}\n`)
})

describe('service import --via-egress (real istiod)', () => {
  test('no egress gateway (none labelled istio=egressgateway, or the one named missing): exit 2 with the fix, nothing written', async () => {
    const args = ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1]
    const named = await mesh([...args, '--via-egress', 'nope/gw'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(named.code, 2, named.stderr)
    assert.match(named.stderr, /Service nope\/gw \(the egress gateway --via-egress names\) does not exist\nHint: .*-l istio=egressgateway/)
    assert.equal(writes(stats(named.stderr)), 0)
    await kubectl(['-n', NS, 'label', 'service', 'istio-egressgateway', 'istio-'], {context: C1})
    try {
      const none = await mesh([...args, '--via-egress'], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(none.code, 2, none.stderr)
      assert.match(none.stderr, /no egress gateway \(no Service labelled istio=egressgateway\)\nHint: install Istio's egress gateway \(istioctl install .*components\.egressGateways\[0\]\.enabled=true\), or name yours: --via-egress NAMESPACE\/NAME/)
      assert.equal(writes(stats(none.stderr)), 0)
    } finally {
      await kubectl(['-n', NS, 'label', 'service', 'istio-egressgateway', 'istio=egressgateway', '--overwrite'], {context: C1})
    }
  })

  test('httpbin: the sidecar → egress gateway (ISTIO_MUTUAL) → cluster2\'s gateway on 15443 with the owner SNI; the output names the identity; again: no write', async () => {
    const r = await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1, '--via-egress'])
    ok(r, 'import --via-egress')
    for (const ref of ['ServiceEntry/bar/httpbin-cluster2', 'DestinationRule/bar/httpbin-cluster2', `DestinationRule/${NS}/httpbin-cluster2.bar`, 'Gateway/bar/httpbin-cluster2-8000', 'VirtualService/bar/httpbin-cluster2-8000', 'VirtualService/bar/httpbin-cluster2']) {
      assert.match(r.stdout, new RegExp(`${C1}\\s+${ref.replace(/\./g, '\\.')}\\s+created`), r.stdout)
    }
    assert.match(r.stderr, /^identity: .*cluster\.local\/ns\/istio-system\/sa\/istio-egressgateway-service-account.*from\.source\.principals/m)
    await assertTwoHops('httpbin.bar.global', 'httpbin', [{port: 8000, kind: 'http'}])

    const again = await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1, '--via-egress', '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'import again')
    assert.equal(writes(stats(again.stderr)), 0)
    const out = JSON.parse(again.stdout)
    assert.ok(out.changes.every((c: any) => c.action === 'unchanged'), again.stdout)
    assert.equal(out.imported[0].egressGateway, `${NS}/istio-egressgateway`)
    assert.match(out.imported[0].identity, /istio-egressgateway-service-account/)
  })

  test('a .remote host with an HTTP and a TCP port: resolves in the sidecar\'s name table and follows the same two hops; -o yaml and --dry-run write nothing', async () => {
    const host = 'echo.bar.remote'
    const y = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '--host', host, '--via-egress', `${NS}/istio-egressgateway`, '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(y, 'import -o yaml')
    assert.equal(writes(stats(y.stderr)), 0)
    assert.deepEqual([...y.stdout.matchAll(/^kind: (\w+)\n(?:.*\n)*?  name: (\S+)/gm)].map((m) => `${m[1]}/${m[2]}`).sort(), [
      'DestinationRule/echo-cluster2', 'DestinationRule/echo-cluster2.bar', 'Gateway/echo-cluster2-8000', 'Gateway/echo-cluster2-9000',
      'ServiceEntry/echo-cluster2', 'VirtualService/echo-cluster2', 'VirtualService/echo-cluster2-8000', 'VirtualService/echo-cluster2-9000',
    ])
    const dry = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '--host', host, '--via-egress', '--dry-run'])
    ok(dry, 'import --dry-run')
    assert.equal(await kget(C1, ['-n', 'bar', 'virtualservice.networking.istio.io', 'echo-cluster2']), undefined, 'dry run persisted nothing')

    ok(await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '--host', host, '--via-egress']), 'import echo --via-egress')
    const n = await probeUntil(sleep1, `name table has ${host}`, (d) => (d.nameTable?.table?.[host]?.ips?.length ? d.nameTable.table[host] : undefined))
    hops.push(`${host} name table → ${n.value.ips}`)
    await assertTwoHops(host, 'echo', [{port: 8000, kind: 'http'}, {port: 9000, kind: 'tcp'}])
  })

  test('verify passes every egress check, then names each hop broken by hand: the Gateway deleted, the route removed, the egress gateway not ready', async () => {
    let v = await verifyChecks()
    assert.deepEqual(failing(v), [])
    for (const id of ['imports.egress-gateway', 'imports.egress-server', 'imports.egress-route', 'imports.egress-only']) {
      assert.ok(v.checks.some((c) => c.id === id && c.cluster === C1 && c.status === 'pass'), `${id} passes`)
    }
    const reimport = ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1, '--via-egress']

    // the egress gateway's Gateway for httpbin:8000 deleted: its 8443 chain goes, verify names it
    await kubectl(['-n', 'bar', 'delete', 'gateway.networking.istio.io', 'httpbin-cluster2-8000'], {context: C1})
    await probeUntil(egress1, 'no chain for 8000.httpbin.bar.global', (d) => !chains(d, 8443).some((fc) => fc.serverNames.includes('8000.httpbin.bar.global')))
    v = await verifyChecks()
    assert.notEqual(v.code, 0)
    const server = failing(v).find((c) => c.id === 'imports.egress-server')
    assert.ok(server, JSON.stringify(failing(v)))
    assert.match(server.message, /8000\.httpbin\.bar\.global.*Gateway bar\/httpbin-cluster2-8000/)
    assert.match(server.hint, /--via-egress/)
    ok(await mesh(reimport), 're-import')
    assert.deepEqual(failing(await verifyChecks()), [])

    // the sidecars' route removed: sleep goes straight to cluster2's gateway; verify says the route is missing and the direct path is open
    await kubectl(['-n', 'bar', 'delete', 'virtualservice.networking.istio.io', 'httpbin-cluster2'], {context: C1})
    await probeUntil(sleep1, 'httpbin.bar.global:8000 goes direct', (d) => httpRouteCluster(d, '8000', 'httpbin.bar.global') === OUT(8000, 'httpbin.bar.global'))
    v = await verifyChecks()
    assert.deepEqual([...new Set(failing(v).map((c) => c.id))].sort(), ['imports.egress-only', 'imports.egress-route'])
    assert.match(failing(v).find((c) => c.id === 'imports.egress-only')!.message, /direct path is open/)
    ok(await mesh(reimport), 're-import')

    // the egress gateway's Pod not ready (what scaling it to zero leaves the sidecars): no endpoint for the egress cluster; verify names the gateway
    const pod = await kget(C1, ['-n', NS, 'pod', 'istio-egressgateway-0'])
    await kubectl(['-n', NS, 'patch', 'pod', 'istio-egressgateway-0', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({status: {conditions: [{type: 'Ready', status: 'False'}, {type: 'ContainersReady', status: 'False'}]}})], {context: C1})
    try {
      await probeUntil(sleep1, 'the egress gateway endpoint is no longer healthy', (d) => !healthyEndpointsOf(d, OUT(443, EGRESS, `httpbin-bar-${C2}-8000`)).includes(EGRESS_POD))
      v = await verifyChecks()
      const gw = failing(v).find((c) => c.id === 'imports.egress-gateway')
      assert.ok(gw, JSON.stringify(failing(v)))
      assert.match(gw.message, /istio-system\/istio-egressgateway has no ready Pod/)
      assert.match(gw.hint, /scale deployment istio-egressgateway --replicas=1/)
    } finally {
      await setPodRunning(C1, NS, 'istio-egressgateway-0', pod.status.podIP)
    }
    await waitUntil('verify green again', async () => failing(await verifyChecks()).length === 0, XDS_TIMEOUT_MS, 1000)
  })

  test('explain shows the two hops', async () => {
    const r = await mesh(['explain', 'echo.bar.remote', '-n', 'bar', '--context', C1, '--from', 'foo', '-o', 'json'])
    ok(r, 'explain')
    const e = JSON.parse(r.stdout).egress
    assert.equal(e.gateway, `${NS}/istio-egressgateway`)
    assert.deepEqual(e.hops.map((h: any) => [h.port, h.sidecar.to, h.sidecar.sni, h.egress.endpoints, h.egress.sni]), [
      [8000, 'egress', '8000.echo.bar.remote', [GW2], OWNER_SNI(8000, 'echo')],
      [9000, 'egress', '9000.echo.bar.remote', [GW2], OWNER_SNI(9000, 'echo')],
    ])
    const text = await mesh(['explain', 'echo.bar.remote', '-n', 'bar', '--context', C1, '--from', 'foo'])
    assert.match(text.stdout, /through the egress gateway istio-system\/istio-egressgateway/)
  })

  test('import without --via-egress returns to the direct path (the egress objects deleted); unimport leaves nothing', async () => {
    const r = await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1])
    ok(r, 'import direct')
    assert.match(r.stdout, /ServiceEntry\/bar\/httpbin-cluster2\s+configured/)
    for (const ref of [`DestinationRule/${NS}/httpbin-cluster2.bar`, 'Gateway/bar/httpbin-cluster2-8000', 'VirtualService/bar/httpbin-cluster2-8000', 'VirtualService/bar/httpbin-cluster2']) {
      assert.match(r.stdout, new RegExp(`${ref.replace(/\./g, '\\.')}\\s+deleted`), r.stdout)
    }
    const se = await kget(C1, ['-n', 'bar', 'serviceentry.networking.istio.io', 'httpbin-cluster2'])
    assert.equal(se.metadata.labels['kubectl-mesh/via'], undefined)
    assert.equal(se.metadata.annotations['kubectl-mesh/egress-gateway'], undefined)
    await probeUntil(sleep1, 'httpbin.bar.global:8000 goes direct', (d) => httpRouteCluster(d, '8000', 'httpbin.bar.global') === OUT(8000, 'httpbin.bar.global') && endpointsOf(d, OUT(8000, 'httpbin.bar.global'))?.includes(GW2))

    for (const svc of ['httpbin', 'echo']) ok(await mesh(['service', 'unimport', svc, '-n', 'bar', '--context', C1, '--from-name', C2]), `unimport ${svc}`)
    for (const kind of ['serviceentries', 'destinationrules', 'gateways.networking.istio.io', 'virtualservices']) {
      const l = await kget(C1, [kind, '-A', '-l', 'kubectl-mesh/imported-from'])
      assert.deepEqual(l.items.map((o: any) => `${o.metadata.namespace}/${o.metadata.name}`), [], `${kind} left behind`)
    }
  })
})
