import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {
  addHost, exportsGateway, gatewayHosts, hostOwner, importDestinationRule, importServiceEntry, istioProtocol, localServiceOf,
  nextFreeAddresses, remoteService, serviceEntryAddresses, withoutService, type ImportTarget,
} from '../../src/exposure/plan.ts'
import {validateImportOptions, type ImportOptions} from '../../src/exposure/import.ts'
import {pool} from '../../src/exposure/writes.ts'
import {UsageError} from '../../src/errors.ts'

const selector = {istio: 'eastwestgateway'}

describe('exports Gateway hosts', () => {
  test('hosts are added once, sorted; unexport removes every host export added for the Service, and only those', () => {
    let hosts = addHost([], 'b.ns.svc.cluster.local')
    hosts = addHost(hosts, 'a.ns.svc.cluster.local')
    hosts = addHost(hosts, 'b.ns.svc.cluster.local')
    assert.deepEqual(hosts, ['a.ns.svc.cluster.local', 'b.ns.svc.cluster.local'])
    assert.deepEqual(withoutService(hosts, 'a', 'ns', 'a.ns.svc.cluster.local'), ['b.ns.svc.cluster.local'])
    // a host exported under another domain (the --cluster-domain journey) goes too; a namesake in another namespace stays
    assert.deepEqual(withoutService(['a.ns.svc.example.org', 'a.ns2.svc.cluster.local', 'ab.ns.svc.cluster.local'], 'a', 'ns', 'a.ns.svc.cluster.local'),
      ['a.ns2.svc.cluster.local', 'ab.ns.svc.cluster.local'])
    assert.deepEqual(withoutService(['custom.example.org'], 'a', 'ns', 'custom.example.org'), [])
  })

  test('the Gateway has one AUTO_PASSTHROUGH server on the gateway port, the selector and the stamp', () => {
    assert.equal(exportsGateway({namespace: 'istio-system', selector, port: 16443, hosts: ['h'], version: '1'}).spec.servers[0].port.number, 16443)
    const g = exportsGateway({namespace: 'istio-system', selector, port: 15443, hosts: ['a.ns.svc.cluster.local'], version: '9.9.9'})
    assert.equal(g.metadata.name, 'kubectl-mesh-exports')
    assert.deepEqual(g.spec.selector, selector)
    assert.deepEqual(g.spec.servers, [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['a.ns.svc.cluster.local']}])
    assert.equal(g.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(g.metadata.annotations!['kubectl-mesh/version'], '9.9.9')
    assert.deepEqual(gatewayHosts(g), ['a.ns.svc.cluster.local'])
    assert.deepEqual(gatewayHosts(undefined), [])
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
  const target: ImportTarget = {service: svc, fqdn: 'multi.bar.svc.cluster.local', host: 'multi.bar.global', addresses: []}
  const ctx = {fromId: 'cluster2', gatewayAddresses: ['127.0.0.12'], gatewayPort: 15443, version: '1.0.0'}

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
    // the gateway's own port (its networking.istio.io/gatewayPort label), not a fixed 15443
    assert.deepEqual(importServiceEntry(target, {...ctx, gatewayPort: 16443}).spec.endpoints[0].ports, {http: 16443, 'grpc-api': 16443, 'tcp-5432': 16443})
    // a NodePort gateway: each selected node's ExternalIP with the nodePort istiod uses there
    const np = importServiceEntry(target, {...ctx, gatewayAddresses: ['127.0.0.31', '127.0.0.32'], gatewayPorts: {'127.0.0.31': 31443, '127.0.0.32': 31443}})
    assert.equal(np.spec.resolution, 'STATIC')
    assert.deepEqual(np.spec.endpoints.map((e: any) => [e.address, e.ports.http]), [['127.0.0.31', 31443], ['127.0.0.32', 31443]])
  })

  test('DNS resolution for hostname gateways, one endpoint per address, and addresses when given', () => {
    const se = importServiceEntry({...target, addresses: ['240.0.0.7']}, {...ctx, gatewayAddresses: ['gw.example.com', '127.0.0.13']})
    assert.equal(se.spec.resolution, 'DNS')
    assert.deepEqual(se.spec.addresses, ['240.0.0.7'])
    assert.deepEqual(se.spec.endpoints.map((e: any) => e.address), ['gw.example.com', '127.0.0.13'])
  })

  test('DestinationRule: ISTIO_MUTUAL and per-port SNI of the owner\'s host', () => {
    const dr = importDestinationRule({...target, fqdn: 'multi.bar.svc.west.local'}, ctx)
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

})

describe('import flags', () => {
  const base: ImportOptions = {name: 'httpbin', allExported: false, namespace: 'bar', fromContext: 'w', address: 'auto', createNamespace: false, istioNamespace: 'istio-system', dryRun: false, version: '1'}
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
