// service import / unimport against the test bed: WEST = cluster2 (owner), EAST = cluster1.
// Own namespaces (imp-e2e*); every object written is removed in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {assertUsageError, kget, kubectl, mesh, stats, writes} from './harness.ts'

const WEST = 'cluster2'
const EAST = 'cluster1'
const NS = 'imp-e2e'
const NS_WEST_ONLY = 'imp-e2e-westonly'
const NS_GW = 'imp-e2e-gw' // a fake gateway namespace in WEST (used as --istio-namespace)
const NS_MANY = 'imp-e2e-many'
const NS_ALL = 'imp-e2e-all'
const MANY = 50
// Many CLI processes at once on a small shared machine: give each request more time than the 10s default.
const SLOW = ['--request-timeout', '120s']
const EXPORTED = {'kubectl-mesh/exported': 'true'}

const svc = (name: string, namespace: string, ports: unknown[], labels: Record<string, string> = EXPORTED) => ({
  apiVersion: 'v1', kind: 'Service', metadata: {name, namespace, labels}, spec: {selector: {app: name}, ports},
})
const http = [{name: 'http', port: 8000, targetPort: 80}]
const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})
const ns = (name: string) => ({apiVersion: 'v1', kind: 'Namespace', metadata: {name}})
const se = (namespace: string, name: string) => kget(EAST, ['-n', namespace, 'serviceentries.networking.istio.io', name])
const dr = (namespace: string, name: string) => kget(EAST, ['-n', namespace, 'destinationrules.networking.istio.io', name])
const importsIn = async (namespace: string) => {
  const a = await kget(EAST, ['-n', namespace, 'serviceentries.networking.istio.io', '-l', 'kubectl-mesh/imported-from'])
  const b = await kget(EAST, ['-n', namespace, 'destinationrules.networking.istio.io', '-l', 'kubectl-mesh/imported-from'])
  return [...(a?.items ?? []), ...(b?.items ?? [])]
}
const ledger = () => kget(EAST, ['-n', 'istio-system', 'configmap', 'kubectl-mesh-addresses'])

describe('service import / unimport', () => {
  let istiodImage = ''

  before(async () => {
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([ns(NS), ns(NS_WEST_ONLY), ns(NS_GW), ns(NS_MANY), ns(NS_ALL)])})
    await kubectl(['apply', '-f', '-'], {context: EAST, input: list([ns(NS), ns(NS_MANY), ns(NS_ALL)])})
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([
      svc('multi', NS, [{name: 'http', port: 8000, targetPort: 80}, {name: 'grpc', port: 9000, appProtocol: 'grpc'}, {name: 'tcp-db', port: 5432}]),
      svc('private', NS, http, {}),
      svc('lonely', NS_WEST_ONLY, http),
      svc('moving', NS_GW, http),
      {...svc('fake-ewgw', NS_GW, [{name: 'tls', port: 15443}], {istio: 'eastwestgateway'}), spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{name: 'tls', port: 15443}]}},
      ...Array.from({length: MANY}, (_, i) => svc(`m-${i}`, NS_MANY, [{name: 'tcp', port: 7000 + i}])),
      ...Array.from({length: 5}, (_, i) => svc(`a-${i}`, NS_ALL, http)),
      svc('not-exported', NS_ALL, http, {}),
    ])})
    istiodImage = (await kget(EAST, ['-n', 'istio-system', 'deployment', 'istiod'])).spec.template.spec.containers[0].image
  })

  after(async () => {
    const {spec} = await kget(EAST, ['-n', 'istio-system', 'deployment', 'istiod'])
    if (spec.template.spec.containers[0].image !== istiodImage) {
      await kubectl(['-n', 'istio-system', 'set', 'image', 'deployment/istiod', `${spec.template.spec.containers[0].name}=${istiodImage}`], {context: EAST})
    }
    await kubectl(['-n', 'istio-system', 'delete', 'configmap', 'kubectl-mesh-addresses', '--ignore-not-found'], {context: EAST})
    await kubectl(['delete', 'namespace', NS, NS_MANY, NS_ALL, 'imp-e2e-created', '--ignore-not-found', '--timeout=120s'], {context: EAST})
    await kubectl(['delete', 'namespace', NS, NS_WEST_ONLY, NS_GW, NS_MANY, NS_ALL, '--ignore-not-found', '--timeout=120s'], {context: WEST})
  })

  test('a multi-port service imports with every port and the right SNI per port; second run writes nothing; unimport leaves nothing', async () => {
    const r = await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', WEST, '--context', EAST])
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /DNS proxying/) // the test bed's mesh config sets ISTIO_META_DNS_CAPTURE
    assert.match(r.stdout, /^cluster1\s+ServiceEntry\/imp-e2e\/multi-cluster2\s+created$/m)
    assert.match(r.stdout, /^cluster1\s+DestinationRule\/imp-e2e\/multi-cluster2\s+created$/m)
    const gwIP = (await kget(WEST, ['-n', 'istio-system', 'service', 'istio-eastwestgateway'])).status.loadBalancer.ingress[0].ip
    const entry = await se(NS, 'multi-cluster2')
    assert.deepEqual(entry.spec.hosts, ['multi.imp-e2e.global'])
    assert.equal(entry.spec.location, 'MESH_INTERNAL')
    assert.equal(entry.spec.resolution, 'STATIC')
    assert.deepEqual(entry.spec.ports, [{number: 8000, name: 'http', protocol: 'HTTP'}, {number: 9000, name: 'grpc', protocol: 'GRPC'}, {number: 5432, name: 'tcp-db', protocol: 'TCP'}])
    assert.deepEqual(entry.spec.endpoints, [{address: gwIP, ports: {http: 15443, grpc: 15443, 'tcp-db': 15443}}])
    assert.equal(entry.spec.addresses, undefined) // Istio 1.31 allocates addresses itself
    assert.equal(entry.metadata.labels['kubectl-mesh/imported-from'], 'cluster2')
    assert.equal(entry.metadata.labels['kubectl-mesh/service'], 'multi')
    assert.equal(entry.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    const rule = await dr(NS, 'multi-cluster2')
    assert.equal(rule.spec.host, 'multi.imp-e2e.global')
    assert.equal(rule.spec.trafficPolicy.tls.mode, 'ISTIO_MUTUAL')
    const sni = Object.fromEntries(rule.spec.trafficPolicy.portLevelSettings.map((p: any) => [p.port.number, [p.tls.mode, p.tls.sni]]))
    assert.deepEqual(sni, {
      8000: ['ISTIO_MUTUAL', 'outbound_.8000_._.multi.imp-e2e.svc.cluster.local'],
      9000: ['ISTIO_MUTUAL', 'outbound_.9000_._.multi.imp-e2e.svc.cluster.local'],
      5432: ['ISTIO_MUTUAL', 'outbound_.5432_._.multi.imp-e2e.svc.cluster.local'],
    })

    const again = await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', WEST, '--context', EAST, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(writes(stats(again.stderr)), 0)
    const out = JSON.parse(again.stdout)
    assert.deepEqual(out.changes.map((c: any) => c.action), ['unchanged', 'unchanged'])
    assert.equal(out.imported[0].host, 'multi.imp-e2e.global')
    assert.equal((await se(NS, 'multi-cluster2')).metadata.resourceVersion, entry.metadata.resourceVersion)

    const un = await mesh(['service', 'unimport', 'multi', '-n', NS, '--context', EAST])
    assert.equal(un.code, 0, un.stderr)
    assert.match(un.stdout, /ServiceEntry\/imp-e2e\/multi-cluster2\s+deleted/)
    assert.deepEqual(await importsIn(NS), [])
    const un2 = await mesh(['service', 'unimport', 'multi', '-n', NS, '--context', EAST], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(un2.code, 0, un2.stderr)
    assert.equal(writes(stats(un2.stderr)), 0)
  })

  test('-o yaml prints the objects and writes nothing; --dry-run persists nothing; --host names another host', async () => {
    const y = await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', WEST, '--context', EAST, '--host', 'multi.west.mesh', '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(y.code, 0, y.stderr)
    assert.equal(writes(stats(y.stderr)), 0)
    assert.equal((y.stdout.match(/^# context: cluster1$/gm) ?? []).length, 2)
    assert.match(y.stdout, /kind: ServiceEntry[\s\S]*- multi\.west\.mesh/)
    assert.match(y.stdout, /sni: outbound_\.9000_\._\.multi\.imp-e2e\.svc\.cluster\.local/)
    const d = await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', WEST, '--context', EAST, '--dry-run'])
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stdout, /ServiceEntry\/imp-e2e\/multi-cluster2\s+created/)
    assert.deepEqual(await importsIn(NS), [])
    const h = await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', WEST, '--context', EAST, '--host', 'multi.west.mesh', '--address', '240.0.9.9'])
    assert.equal(h.code, 0, h.stderr)
    assert.deepEqual((await se(NS, 'multi-cluster2')).spec.hosts, ['multi.west.mesh'])
    assert.deepEqual((await se(NS, 'multi-cluster2')).spec.addresses, ['240.0.9.9'])
    assert.equal((await dr(NS, 'multi-cluster2')).spec.host, 'multi.west.mesh')
    assert.equal((await mesh(['service', 'unimport', 'multi', '-n', NS, '--context', EAST, '--from-name', 'cluster2'])).code, 0)
    assert.deepEqual(await importsIn(NS), [])
  })

  test('bad input: exit 2, one line and a hint, nothing written', async () => {
    const base = ['--from-context', WEST, '--context', EAST]
    assertUsageError(await mesh(['service', 'import', 'nope', '-n', NS, ...base]), /Service imp-e2e\/nope does not exist/)
    assertUsageError(await mesh(['service', 'import', 'private', '-n', NS, ...base]), /Service imp-e2e\/private is not exported/, /kubectl mesh service export private -n imp-e2e --context cluster2/)
    assertUsageError(await mesh(['service', 'import', 'lonely', '-n', NS_WEST_ONLY, ...base]), /cluster1.*namespace imp-e2e-westonly not found/, /--create-namespace/)
    assertUsageError(await mesh(['service', 'import', 'multi', '-n', NS, ...base, '--host', 'sleep.foo.svc.cluster.local']), /local Service foo\/sleep/)
    await kubectl(['apply', '-f', '-'], {context: EAST, input: JSON.stringify({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: {name: 'someone-else', namespace: NS},
      spec: {hosts: ['taken.imp-e2e.global'], location: 'MESH_INTERNAL', resolution: 'NONE', ports: [{number: 80, name: 'http'}]},
    })})
    assertUsageError(await mesh(['service', 'import', 'multi', '-n', NS, ...base, '--host', 'taken.imp-e2e.global']), /already owned by ServiceEntry imp-e2e\/someone-else/, /another --host/)
    await kubectl(['-n', NS, 'delete', 'serviceentries.networking.istio.io', 'someone-else'], {context: EAST})
    // no east-west gateway: a namespace without one; a gateway without an address: the fake one in NS_GW
    assertUsageError(await mesh(['service', 'import', 'multi', '-n', NS, ...base, '--istio-namespace', NS]), /cluster2.*no east-west gateway/)
    assertUsageError(await mesh(['service', 'import', 'moving', '-n', NS_GW, ...base, '--istio-namespace', NS_GW, '--from-name', 'cluster2', '--create-namespace']), /gateway imp-e2e-gw\/fake-ewgw has no address/)
    assertUsageError(await mesh(['service', 'import', 'multi', '-n', NS, ...base, '--address', 'here']), /--address "here"/)
    assertUsageError(await mesh(['service', 'import', 'multi', '-n', NS, '--from-context', EAST, '--context', EAST]), /both name "cluster1"/)
    assert.deepEqual(await importsIn(NS), [])
    assert.equal(await kget(EAST, ['namespace', NS_WEST_ONLY]), undefined)
    assert.equal(await kget(EAST, ['namespace', NS_GW]), undefined)
  })

  test('--create-namespace creates the missing namespace', async () => {
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([ns('imp-e2e-created'), svc('lonely', 'imp-e2e-created', http)])})
    try {
      const r = await mesh(['service', 'import', 'lonely', '-n', 'imp-e2e-created', '--from-context', WEST, '--context', EAST, '--create-namespace'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Namespace\/imp-e2e-created\s+created/)
      assert.ok(await se('imp-e2e-created', 'lonely-cluster2'))
      assert.equal((await mesh(['service', 'unimport', 'lonely', '-n', 'imp-e2e-created', '--context', EAST])).code, 0)
      assert.deepEqual(await importsIn('imp-e2e-created'), [])
    } finally {
      await kubectl(['delete', 'namespace', 'imp-e2e-created', '--ignore-not-found', '--timeout=120s'], {context: EAST})
      await kubectl(['delete', 'namespace', 'imp-e2e-created', '--ignore-not-found', '--timeout=120s'], {context: WEST})
    }
  })

  test('re-import after the gateway moved updates the endpoints; a hostname gateway gives DNS resolution; DNS proxying off warns', async () => {
    const setIngress = (ingress: unknown[]) => kubectl(['-n', NS_GW, 'patch', 'service', 'fake-ewgw', '--subresource=status', '--type=merge', '-p', JSON.stringify({status: {loadBalancer: {ingress}}})], {context: WEST})
    const args = ['service', 'import', 'moving', '-n', NS, '--from-context', WEST, '--context', EAST, '--istio-namespace', NS_GW, '--from-name', 'cluster2']
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([svc('moving', NS, http)])})
    await setIngress([{ip: '127.0.0.50'}])
    try {
    const r1 = await mesh(args)
    assert.equal(r1.code, 0, r1.stderr)
    // EAST has no mesh config in NS_GW (the --istio-namespace), so DNS proxying reads as off
    assert.match(r1.stderr, /^Warning: .*DNS proxying is off.*moving\.imp-e2e\.global/m)
    assert.deepEqual((await se(NS, 'moving-cluster2')).spec.endpoints.map((e: any) => e.address), ['127.0.0.50'])
    await setIngress([{ip: '127.0.0.51'}])
    const r2 = await mesh(args)
    assert.equal(r2.code, 0, r2.stderr)
    assert.match(r2.stdout, /ServiceEntry\/imp-e2e\/moving-cluster2\s+configured/)
    assert.match(r2.stdout, /DestinationRule\/imp-e2e\/moving-cluster2\s+unchanged/)
    assert.deepEqual((await se(NS, 'moving-cluster2')).spec.endpoints.map((e: any) => e.address), ['127.0.0.51'])
    await setIngress([{hostname: 'gw.west.example'}])
    const r3 = await mesh(args)
    assert.equal(r3.code, 0, r3.stderr)
    const entry = await se(NS, 'moving-cluster2')
    assert.equal(entry.spec.resolution, 'DNS')
    assert.deepEqual(entry.spec.endpoints.map((e: any) => e.address), ['gw.west.example'])
    assert.equal((await mesh(['service', 'unimport', 'moving', '-n', NS, '--context', EAST])).code, 0)
    assert.deepEqual(await importsIn(NS), [])
    } finally {
      await setIngress([])
    }
  })

  test('--all-exported imports every exported service, reading WEST once; the second run writes nothing', async () => {
    const args = ['service', 'import', '--all-exported', '-n', NS_ALL, '--from-context', WEST, '--context', EAST, '-o', 'json']
    const r = await mesh(args, {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(r.code, 0, r.stderr)
    const s = stats(r.stderr)
    assert.equal(writes(s), 10)
    assert.ok(s.byContext[WEST].GET <= 5, JSON.stringify(s)) // exported Services; the install (src/istio/read.ts): namespace (network), istiod, injector, gateway Services
    assert.deepEqual(JSON.parse(r.stdout).imported.map((i: any) => i.name), ['a-0', 'a-1', 'a-2', 'a-3', 'a-4'])
    const names = (await importsIn(NS_ALL)).map((o: any) => `${o.kind}/${o.metadata.name}`).sort()
    assert.deepEqual(names, [0, 1, 2, 3, 4].flatMap((i) => [`DestinationRule/a-${i}-cluster2`, `ServiceEntry/a-${i}-cluster2`]).sort())
    const again = await mesh(args, {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(writes(stats(again.stderr)), 0)
    assert.ok(JSON.parse(again.stdout).changes.every((c: any) => c.action === 'unchanged'))
    // only what changed is written: one more exported service → two writes
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([svc('a-5', NS_ALL, http)])})
    const third = await mesh(args, {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(writes(stats(third.stderr)), 2)
    for (let i = 0; i <= 5; i++) assert.equal((await mesh(['service', 'unimport', `a-${i}`, '-n', NS_ALL, '--context', EAST])).code, 0)
    assert.deepEqual(await importsIn(NS_ALL), [])
  })

  test(`${MANY} concurrent imports into an Istio older than 1.25 get ${MANY} distinct 240.0.0.0/16 addresses`, async () => {
    const container = (await kget(EAST, ['-n', 'istio-system', 'deployment', 'istiod'])).spec.template.spec.containers[0].name
    await kubectl(['-n', 'istio-system', 'set', 'image', 'deployment/istiod', `${container}=docker.io/istio/pilot:1.24.3`], {context: EAST})
    try {
      const runs = await Promise.all(Array.from({length: MANY}, (_, i) => mesh(['service', 'import', `m-${i}`, '-n', NS_MANY, '--from-context', WEST, '--context', EAST, ...SLOW])))
      for (const r of runs) assert.equal(r.code, 0, r.stderr)
      const entries = (await kget(EAST, ['-n', NS_MANY, 'serviceentries.networking.istio.io', '-l', 'kubectl-mesh/imported-from=cluster2'])).items
      assert.equal(entries.length, MANY)
      const addresses = entries.map((e: any) => e.spec.addresses?.[0])
      assert.ok(addresses.every((a: string) => /^240\.0\.\d+\.\d+$/.test(a)), addresses.join(' '))
      assert.equal(new Set(addresses).size, MANY)
      const ledgerData = (await ledger()).data
      for (const e of entries) assert.equal(ledgerData[e.spec.addresses[0]], `${NS_MANY}/${e.metadata.name}`)
      // a second run keeps the address and writes nothing
      const again = await mesh(['service', 'import', 'm-7', '-n', NS_MANY, '--from-context', WEST, '--context', EAST], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(writes(stats(again.stderr)), 0)
      const unruns = await Promise.all(Array.from({length: MANY}, (_, i) => mesh(['service', 'unimport', `m-${i}`, '-n', NS_MANY, '--context', EAST, ...SLOW])))
      for (const r of unruns) assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(await importsIn(NS_MANY), [])
      const left = await ledger()
      assert.ok(!left || !Object.values(left.data ?? {}).some((o) => String(o).startsWith(`${NS_MANY}/`)))
    } finally {
      await kubectl(['-n', 'istio-system', 'set', 'image', 'deployment/istiod', `${container}=${istiodImage}`], {context: EAST})
    }
  })

  test('unimport --from-name gives back an address claimed by an import that never wrote its ServiceEntry', async () => {
    // What an import on Istio < 1.25 leaves when it fails between its ledger claim and the
    // ServiceEntry: a ledger entry and nothing else (the address is written here by hand).
    const before = (await ledger())?.data ?? {}
    const ghost = {...before, '240.0.9.9': `${NS_MANY}/ghost-cluster2`}
    await kubectl(['apply', '-f', '-'], {context: EAST, input: JSON.stringify({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'kubectl-mesh-addresses', namespace: 'istio-system'}, data: ghost})})
    const without = await mesh(['service', 'unimport', 'ghost', '-n', NS_MANY, '--context', EAST], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(without.code, 0, without.stderr)
    assert.match(without.stderr, /nothing imported as ghost in namespace imp-e2e-many/)
    assert.equal(writes(stats(without.stderr)), 0)
    assert.deepEqual((await ledger()).data, ghost, 'without --from-name the owner cannot be told')
    const r = await mesh(['service', 'unimport', 'ghost', '-n', NS_MANY, '--context', EAST, '--from-name', 'cluster2'])
    assert.equal(r.code, 0, r.stderr)
    const emptied = Object.keys(before).length === 0
    assert.match(r.stdout, new RegExp(`^cluster1\\s+ConfigMap/istio-system/kubectl-mesh-addresses\\s+${emptied ? 'deleted' : 'configured'}$`, 'm'))
    assert.deepEqual((await ledger())?.data, emptied ? undefined : before)
  })
})
