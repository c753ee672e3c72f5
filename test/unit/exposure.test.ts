import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {
  addHost, allocatesAddresses, coveringGateway, dnsCaptureOn, exportsGateway, gatewayAddressesOf, gatewayHosts, hostMatches, hostOwner,
  importDestinationRule, importServiceEntry, istioProtocol, localServiceOf, nextFreeAddresses, parseIstioVersion, pickEastWestGateway,
  removeHost, remoteService, serviceEntryAddresses, type ImportTarget,
} from '../../src/exposure/plan.ts'
import {validateImportOptions, type ImportOptions} from '../../src/exposure/import.ts'
import {pool} from '../../src/exposure/writes.ts'
import {UsageError} from '../../src/errors.ts'

const selector = {istio: 'eastwestgateway'}
const gw = (name: string, hosts: string[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name, namespace: 'istio-system'},
  spec: {selector, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts, ...extra}]},
})

describe('exports Gateway hosts', () => {
  test('hosts are added once, sorted, and removed one at a time', () => {
    let hosts = addHost([], 'b.ns.svc.cluster.local')
    hosts = addHost(hosts, 'a.ns.svc.cluster.local')
    hosts = addHost(hosts, 'b.ns.svc.cluster.local')
    assert.deepEqual(hosts, ['a.ns.svc.cluster.local', 'b.ns.svc.cluster.local'])
    assert.deepEqual(removeHost(hosts, 'a.ns.svc.cluster.local'), ['b.ns.svc.cluster.local'])
    assert.deepEqual(removeHost(['x'], 'x'), [])
  })

  test('the Gateway has one AUTO_PASSTHROUGH server on 15443, the selector and the stamp', () => {
    const g = exportsGateway({namespace: 'istio-system', selector, hosts: ['a.ns.svc.cluster.local'], version: '9.9.9'})
    assert.equal(g.metadata.name, 'kubectl-mesh-exports')
    assert.deepEqual(g.spec.selector, selector)
    assert.deepEqual(g.spec.servers, [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['a.ns.svc.cluster.local']}])
    assert.equal(g.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(g.metadata.annotations!['kubectl-mesh/version'], '9.9.9')
    assert.deepEqual(gatewayHosts(g), ['a.ns.svc.cluster.local'])
    assert.deepEqual(gatewayHosts(undefined), [])
  })

  test('host patterns', () => {
    const fqdn = 'httpbin.bar.svc.cluster.local'
    assert.ok(hostMatches('*.local', fqdn, 'bar'))
    assert.ok(hostMatches('*', fqdn, 'bar'))
    assert.ok(hostMatches('bar/*', fqdn, 'bar'))
    assert.ok(hostMatches('*/*.bar.svc.cluster.local', fqdn, 'bar'))
    assert.ok(hostMatches(fqdn, fqdn, 'bar'))
    assert.ok(!hostMatches('foo/*', fqdn, 'bar'))
    assert.ok(!hostMatches('*.global', fqdn, 'bar'))
    assert.ok(!hostMatches('other.bar.svc.cluster.local', fqdn, 'bar'))
  })

  test('an existing *.local AUTO_PASSTHROUGH Gateway for the same selector covers the host; ours, other selectors and other modes do not', () => {
    const fqdn = 'httpbin.bar.svc.cluster.local'
    assert.equal(coveringGateway([gw('cross-network-gateway', ['*.local'])], selector, fqdn, 'bar')?.metadata.name, 'cross-network-gateway')
    assert.equal(coveringGateway([gw('kubectl-mesh-exports', ['*.local'])], selector, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([{...gw('x', ['*.local']), spec: {...gw('x', ['*.local']).spec, selector: {istio: 'ingressgateway'}}}], selector, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['*.local'], {tls: {mode: 'PASSTHROUGH'}})], selector, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['*.global'])], selector, fqdn, 'bar'), undefined)
  })

  test('the east-west gateway Service: istio=eastwestgateway first, else a network-labelled Service with a selector', () => {
    const svc = (name: string, labels: Record<string, string>, sel?: Record<string, string>) => ({apiVersion: 'v1', kind: 'Service', metadata: {name, labels}, spec: {selector: sel}})
    const ew = svc('istio-eastwestgateway', {istio: 'eastwestgateway'}, selector)
    const net = svc('net-gw', {'topology.istio.io/network': 'n1'}, {app: 'x'})
    assert.equal(pickEastWestGateway([net, ew], 'istio', 'eastwestgateway', 'topology.istio.io/network'), ew)
    assert.equal(pickEastWestGateway([svc('istiod', {app: 'istiod'}), net], 'istio', 'eastwestgateway', 'topology.istio.io/network'), net)
    assert.equal(pickEastWestGateway([svc('istiod', {app: 'istiod'})], 'istio', 'eastwestgateway', 'topology.istio.io/network'), undefined)
  })

  test('gateway addresses: LB ingress IPs and hostnames, else externalIPs', () => {
    const s = (status: unknown, spec: unknown = {}) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'g'}, spec, status})
    assert.deepEqual(gatewayAddressesOf(s({loadBalancer: {ingress: [{ip: '127.0.0.12'}, {hostname: 'gw.example.com'}]}})), ['127.0.0.12', 'gw.example.com'])
    assert.deepEqual(gatewayAddressesOf(s({loadBalancer: {}}, {externalIPs: ['10.0.0.1']})), ['10.0.0.1'])
    assert.deepEqual(gatewayAddressesOf(s({})), [])
  })
})

describe('import plan', () => {
  const svc = remoteService({
    apiVersion: 'v1', kind: 'Service', metadata: {name: 'multi', namespace: 'bar'},
    spec: {ports: [
      {name: 'http', port: 8000, protocol: 'TCP'},
      {name: 'grpc-api', port: 9000, protocol: 'TCP'},
      {port: 5432, protocol: 'TCP', appProtocol: 'tcp'},
      {name: 'dns', port: 53, protocol: 'UDP'},
    ]},
  })
  const target: ImportTarget = {service: svc, host: 'multi.bar.global', addresses: []}
  const ctx = {fromId: 'cluster2', gatewayAddresses: ['127.0.0.12'], clusterDomain: 'cluster.local', version: '1.0.0'}

  test('ServiceEntry: host, MESH_INTERNAL, remote TCP ports with protocols, STATIC endpoint on 15443 per port, names and labels', () => {
    const se = importServiceEntry(target, ctx)
    assert.equal(se.metadata.name, 'multi-cluster2')
    assert.equal(se.metadata.namespace, 'bar')
    assert.equal(se.metadata.labels!['kubectl-mesh/imported-from'], 'cluster2')
    assert.equal(se.metadata.labels!['kubectl-mesh/service'], 'multi')
    assert.equal(se.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.deepEqual(se.spec, {
      hosts: ['multi.bar.global'],
      location: 'MESH_INTERNAL',
      ports: [{number: 8000, name: 'http', protocol: 'HTTP'}, {number: 9000, name: 'grpc-api', protocol: 'GRPC'}, {number: 5432, name: 'tcp-5432', protocol: 'TCP'}],
      resolution: 'STATIC',
      endpoints: [{address: '127.0.0.12', ports: {http: 15443, 'grpc-api': 15443, 'tcp-5432': 15443}}],
    })
  })

  test('DNS resolution for hostname gateways, one endpoint per address, and addresses when given', () => {
    const se = importServiceEntry({...target, addresses: ['240.0.0.7']}, {...ctx, gatewayAddresses: ['gw.example.com', '127.0.0.13']})
    assert.equal(se.spec.resolution, 'DNS')
    assert.deepEqual(se.spec.addresses, ['240.0.0.7'])
    assert.deepEqual(se.spec.endpoints.map((e: any) => e.address), ['gw.example.com', '127.0.0.13'])
  })

  test('DestinationRule: ISTIO_MUTUAL and per-port SNI of the real remote FQDN', () => {
    const dr = importDestinationRule(target, {...ctx, clusterDomain: 'west.local'})
    assert.equal(dr.metadata.name, 'multi-cluster2')
    assert.equal(dr.spec.host, 'multi.bar.global')
    assert.deepEqual(dr.spec.trafficPolicy.tls, {mode: 'ISTIO_MUTUAL'})
    assert.deepEqual(dr.spec.trafficPolicy.portLevelSettings, [
      {port: {number: 8000}, tls: {mode: 'ISTIO_MUTUAL', sni: 'outbound_.8000_._.multi.bar.svc.west.local'}},
      {port: {number: 9000}, tls: {mode: 'ISTIO_MUTUAL', sni: 'outbound_.9000_._.multi.bar.svc.west.local'}},
      {port: {number: 5432}, tls: {mode: 'ISTIO_MUTUAL', sni: 'outbound_.5432_._.multi.bar.svc.west.local'}},
    ])
  })

  test('protocols from appProtocol, then the name prefix, else auto-detect', () => {
    assert.equal(istioProtocol({number: 1, appProtocol: 'kubernetes.io/h2c'}), 'HTTP2')
    assert.equal(istioProtocol({number: 1, name: 'http-web'}), 'HTTP')
    assert.equal(istioProtocol({number: 1, name: 'https'}), 'HTTPS')
    assert.equal(istioProtocol({number: 1, name: 'web'}), undefined)
    assert.equal(istioProtocol({number: 1, name: 'web', appProtocol: 'grpc'}), 'GRPC')
  })
})

describe('addresses and conflicts', () => {
  test('Istio version from the istiod image tag', () => {
    assert.deepEqual(parseIstioVersion('docker.io/istio/pilot:1.31.1'), {major: 1, minor: 31})
    assert.deepEqual(parseIstioVersion('localhost:5000/istio/pilot:1.24-dev'), {major: 1, minor: 24})
    assert.deepEqual(parseIstioVersion('gcr.io/istio-release/pilot:1.25.0-distroless@sha256:abc'), {major: 1, minor: 25})
    assert.equal(parseIstioVersion('localhost:5000/istio/pilot'), undefined)
    assert.equal(parseIstioVersion('istio/pilot:latest'), undefined)
    assert.equal(parseIstioVersion('istio/pilot@sha256:abc'), undefined)
    assert.equal(allocatesAddresses({major: 1, minor: 24}), false)
    assert.equal(allocatesAddresses({major: 1, minor: 25}), true)
    assert.equal(allocatesAddresses({major: 2, minor: 0}), true)
    assert.equal(allocatesAddresses(undefined), true)
  })

  test('next free addresses skip used ones and the network address', () => {
    assert.deepEqual(nextFreeAddresses([], 2), ['240.0.0.1', '240.0.0.2'])
    assert.deepEqual(nextFreeAddresses(['240.0.0.1', '240.0.0.3'], 3), ['240.0.0.2', '240.0.0.4', '240.0.0.5'])
    assert.deepEqual(nextFreeAddresses(Array.from({length: 256}, (_, i) => `240.0.0.${i}`), 1), ['240.0.1.0'])
    assert.deepEqual(nextFreeAddresses([], 0), [])
  })

  test('addresses of ServiceEntries: spec and status (auto-allocated), CIDRs reduced to the address', () => {
    const se = (spec: unknown, status?: unknown) => ({apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: {name: 'x', namespace: 'n'}, spec, status})
    assert.deepEqual(serviceEntryAddresses([se({addresses: ['240.0.0.1', '10.0.0.0/24']}), se({}, {addresses: [{value: '240.240.0.5', host: 'a'}]})]), ['240.0.0.1', '10.0.0.0', '240.240.0.5'])
  })

  test('host owners: another ServiceEntry with the host, not ourselves; local Service FQDNs', () => {
    const se = (ns: string, name: string, hosts: string[]) => ({apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: {name, namespace: ns}, spec: {hosts}})
    const entries = [se('bar', 'httpbin-cluster2', ['httpbin.bar.global']), se('x', 'other', ['a.b.global'])]
    assert.equal(hostOwner(entries, 'httpbin.bar.global', {namespace: 'bar', name: 'httpbin-cluster2'}), undefined)
    assert.equal(hostOwner(entries, 'httpbin.bar.global', {namespace: 'bar', name: 'httpbin-cluster3'})?.metadata.name, 'httpbin-cluster2')
    assert.equal(hostOwner(entries, 'a.b.global', {namespace: 'bar', name: 'a-c'})?.metadata.name, 'other')
    assert.deepEqual(localServiceOf('sleep.foo.svc.cluster.local', 'cluster.local'), {name: 'sleep', namespace: 'foo'})
    assert.equal(localServiceOf('sleep.foo.global', 'cluster.local'), undefined)
  })

  test('DNS capture from the mesh config', () => {
    assert.equal(dnsCaptureOn({defaultConfig: {proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'true'}}}), true)
    assert.equal(dnsCaptureOn({defaultConfig: {proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'false'}}}), false)
    assert.equal(dnsCaptureOn(undefined), false)
  })
})

describe('import flags', () => {
  const base: ImportOptions = {name: 'httpbin', allExported: false, namespace: 'bar', fromContext: 'w', address: 'auto', createNamespace: false, istioNamespace: 'istio-system', clusterDomain: 'cluster.local', dryRun: false, version: '1'}
  const bad: Array<[string, Partial<ImportOptions>]> = [
    ['NAME and --all-exported', {allExported: true}],
    ['neither NAME nor --all-exported', {name: undefined}],
    ['--host with --all-exported', {name: undefined, allExported: true, host: 'a.b.global'}],
    ['an invalid --host', {host: 'Not_A_Host'}],
    ['an invalid --address', {address: 'somewhere'}],
    ['--address IP with --all-exported', {name: undefined, allExported: true, address: '240.0.0.9'}],
    ['an invalid --from-name', {fromName: 'West_1'}],
  ]
  for (const [what, o] of bad) test(`rejects ${what}`, () => assert.throws(() => validateImportOptions({...base, ...o}), UsageError))
  test('accepts a plain import and --address forms', () => {
    validateImportOptions(base)
    validateImportOptions({...base, address: 'none', host: 'httpbin.west.mesh'})
    validateImportOptions({...base, address: '240.0.0.9'})
    validateImportOptions({...base, name: undefined, allExported: true})
  })
})

describe('write pool', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  test('at most `limit` in flight, results in order', async () => {
    let inFlight = 0
    let most = 0
    const out = await pool([5, 1, 3, 2, 4], 2, async (n, i) => {
      most = Math.max(most, ++inFlight)
      await sleep(n)
      inFlight--
      return `${i}:${n}`
    })
    assert.deepEqual(out, ['0:5', '1:1', '2:3', '3:2', '4:4'])
    assert.equal(most, 2)
  })

  test('after a failure: no new item starts, the ones in flight finish, the first failure in list order is thrown', async () => {
    const started: number[] = []
    const finished: number[] = []
    await assert.rejects(pool([0, 1, 2, 3, 4, 5], 3, async (n) => {
      started.push(n)
      await sleep(n === 0 ? 30 : n === 1 ? 5 : 10)
      if (n === 0 || n === 1) throw new Error(`item ${n}`)
      finished.push(n)
    }), /item 0/)
    assert.deepEqual(started, [0, 1, 2]) // 1 failed before 0 and 2 ended: nothing new started
    assert.deepEqual(finished, [2])
  })
})
