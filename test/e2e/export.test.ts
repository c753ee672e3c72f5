// service export / unexport against the test bed (cluster2 is the owner). Uses its own namespace
// exp-e2e and removes everything it writes.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {assertUsageError, kget, kubectl, mesh, stats, writes} from './harness.ts'

const WEST = 'cluster2'
const NS = 'exp-e2e'
const ISTIO = 'istio-system'
const GW = 'kubectl-mesh-exports'
const fqdn = (name: string) => `${name}.${NS}.svc.cluster.local`
const N = 20
// Many CLI processes at once on a small shared machine: give each request more time than the 10s default.
const SLOW = ['--request-timeout', '120s']

const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: NS},
  spec: {selector: {app: name}, ports: [{name: 'http', port: 8000, targetPort: 80}]},
})
const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})
const gateway = () => kget(WEST, ['-n', ISTIO, 'gateway.networking.istio.io', GW])
const hostsOf = (gw: any): string[] => gw?.spec?.servers?.[0]?.hosts ?? []
const exportedLabel = async (name: string) => (await kget(WEST, ['-n', NS, 'service', name]))?.metadata?.labels?.['kubectl-mesh/exported']

describe('service export / unexport', () => {
  before(async () => {
    await kubectl(['create', 'namespace', NS], {context: WEST})
    const names = ['httpbin', 'other', ...Array.from({length: N}, (_, i) => `svc-${i}`)]
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list(names.map(service))})
  })

  after(async () => {
    // unexport whatever a failed test left, then drop the namespace and the test's objects
    const gw = await gateway()
    if (gw) {
      const rest = hostsOf(gw).filter((h) => !h.endsWith(`.${NS}.svc.cluster.local`))
      if (rest.length === 0) await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', GW, '--ignore-not-found'], {context: WEST})
      else await kubectl(['-n', ISTIO, 'patch', 'gateway.networking.istio.io', GW, '--type=json', '-p', JSON.stringify([{op: 'replace', path: '/spec/servers/0/hosts', value: rest}])], {context: WEST})
    }
    await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', 'exp-e2e-cross-network', '--ignore-not-found'], {context: WEST})
    await kubectl(['delete', 'crd', 'serviceexports.multicluster.x-k8s.io', '--ignore-not-found'], {context: WEST})
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=120s'], {context: WEST})
  })

  test('export adds the host to the Gateway and labels the Service; a second run writes nothing; unexport leaves nothing', async () => {
    const before = await gateway()
    const r = await mesh(['service', 'export', 'httpbin', '-n', NS, '--context', WEST])
    assert.equal(r.code, 0, r.stderr)
    const gw = await gateway()
    assert.ok(hostsOf(gw).includes(fqdn('httpbin')))
    assert.deepEqual(hostsOf(gw), [...hostsOf(gw)].sort())
    assert.deepEqual(gw.spec.selector, (await kget(WEST, ['-n', ISTIO, 'service', 'istio-eastwestgateway'])).spec.selector)
    assert.deepEqual(gw.spec.servers[0].port, {number: 15443, name: 'tls', protocol: 'TLS'})
    assert.equal(gw.spec.servers[0].tls.mode, 'AUTO_PASSTHROUGH')
    assert.equal(gw.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.ok(gw.metadata.annotations['kubectl-mesh/version'])
    assert.equal(await exportedLabel('httpbin'), 'true')
    assert.match(r.stdout, new RegExp(`^${WEST}\\s+Gateway/${ISTIO}/${GW}\\s+${before ? 'configured' : 'created'}$`, 'm'))
    assert.match(r.stdout, new RegExp(`^${WEST}\\s+Service/${NS}/httpbin\\s+configured$`, 'm'))

    const again = await mesh(['export', 'httpbin', '-n', NS, '--context', WEST, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(writes(stats(again.stderr)), 0)
    const out = JSON.parse(again.stdout)
    assert.equal(out.host, fqdn('httpbin'))
    assert.ok(out.changes.length >= 2 && out.changes.every((c: any) => c.action === 'unchanged'), again.stdout)
    assert.equal((await gateway()).metadata.resourceVersion, gw.metadata.resourceVersion)

    const un = await mesh(['service', 'unexport', 'httpbin', '-n', NS, '--context', WEST])
    assert.equal(un.code, 0, un.stderr)
    assert.ok(!hostsOf(await gateway()).includes(fqdn('httpbin')))
    assert.equal(await exportedLabel('httpbin'), undefined)
    if (!before) assert.equal(await gateway(), undefined)
    const un2 = await mesh(['service', 'unexport', 'httpbin', '-n', NS, '--context', WEST], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(un2.code, 0, un2.stderr)
    assert.equal(writes(stats(un2.stderr)), 0)
  })

  test('-o yaml prints the Gateway and writes nothing; --dry-run persists nothing', async () => {
    const r = await mesh(['service', 'export', 'other', '-n', NS, '--context', WEST, '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(writes(stats(r.stderr)), 0)
    assert.match(r.stdout, /^# context: cluster2\n/)
    assert.match(r.stdout, new RegExp(`kind: Gateway[\\s\\S]*- ${fqdn('other').replaceAll('.', '\\.')}`))
    const d = await mesh(['service', 'export', 'other', '-n', NS, '--context', WEST, '--dry-run'])
    assert.equal(d.code, 0, d.stderr)
    assert.ok(!hostsOf(await gateway()).includes(fqdn('other')))
    assert.equal(await exportedLabel('other'), undefined)
  })

  test(`${N} concurrent exports into one Gateway leave all ${N} hosts; ${N} concurrent unexports remove them all`, async () => {
    const names = Array.from({length: N}, (_, i) => `svc-${i}`)
    const runs = await Promise.all(names.map((n) => mesh(['export', n, '-n', NS, '--context', WEST, ...SLOW])))
    for (const r of runs) assert.equal(r.code, 0, r.stderr)
    const hosts = hostsOf(await gateway())
    for (const n of names) assert.ok(hosts.includes(fqdn(n)), `missing ${n}`)
    assert.equal(new Set(hosts).size, hosts.length)
    const unruns = await Promise.all(names.map((n) => mesh(['service', 'unexport', n, '-n', NS, '--context', WEST, ...SLOW])))
    for (const r of unruns) assert.equal(r.code, 0, r.stderr)
    const left = hostsOf(await gateway()).filter((h) => h.endsWith(`.${NS}.svc.cluster.local`))
    assert.deepEqual(left, [])
  })

  test('an existing *.local AUTO_PASSTHROUGH Gateway for the same selector is recognised: no host added', async () => {
    const selector = (await kget(WEST, ['-n', ISTIO, 'service', 'istio-eastwestgateway'])).spec.selector
    await kubectl(['apply', '-f', '-'], {context: WEST, input: JSON.stringify({
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name: 'exp-e2e-cross-network', namespace: ISTIO},
      spec: {selector, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['*.local']}]},
    })})
    try {
      const r = await mesh(['export', 'httpbin', '-n', NS, '--context', WEST])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /already reachable: Gateway istio-system\/exp-e2e-cross-network/)
      assert.ok(!hostsOf(await gateway()).includes(fqdn('httpbin')))
      assert.equal(await exportedLabel('httpbin'), 'true')
      const un = await mesh(['service', 'unexport', 'httpbin', '-n', NS, '--context', WEST])
      assert.equal(un.code, 0, un.stderr)
      assert.equal(await exportedLabel('httpbin'), undefined)
    } finally {
      await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', 'exp-e2e-cross-network'], {context: WEST})
    }
  })

  test('--mcs: an error without the CRD, a ServiceExport with it, removed by unexport', async () => {
    const gwBefore = await gateway()
    const no = await mesh(['export', 'httpbin', '-n', NS, '--context', WEST, '--mcs'])
    assertUsageError(no, /MCS ServiceExport CRD/, /without --mcs/)
    assert.equal((await gateway())?.metadata.resourceVersion, gwBefore?.metadata.resourceVersion)
    assert.equal(await exportedLabel('httpbin'), undefined)

    await kubectl(['apply', '-f', '-'], {context: WEST, input: JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: {name: 'serviceexports.multicluster.x-k8s.io'},
      spec: {group: 'multicluster.x-k8s.io', scope: 'Namespaced', names: {plural: 'serviceexports', singular: 'serviceexport', kind: 'ServiceExport', shortNames: ['svcex']},
        versions: [{name: 'v1alpha1', served: true, storage: true, subresources: {status: {}}, schema: {openAPIV3Schema: {type: 'object', 'x-kubernetes-preserve-unknown-fields': true}}}]},
    })})
    await kubectl(['wait', '--for=condition=Established', 'crd/serviceexports.multicluster.x-k8s.io', '--timeout=60s'], {context: WEST})
    let r
    for (let i = 0; i < 30; i++) { // discovery can lag behind Established for a moment
      r = await mesh(['export', 'httpbin', '-n', NS, '--context', WEST, '--mcs'])
      if (r.code !== 2) break
      await new Promise((res) => setTimeout(res, 500))
    }
    assert.equal(r!.code, 0, r!.stderr)
    const se = await kget(WEST, ['-n', NS, 'serviceexports.multicluster.x-k8s.io', 'httpbin'])
    assert.equal(se?.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.match(r!.stdout, /ServiceExport\/exp-e2e\/httpbin\s+created/)
    const un = await mesh(['service', 'unexport', 'httpbin', '-n', NS, '--context', WEST])
    assert.equal(un.code, 0, un.stderr)
    assert.match(un.stdout, /ServiceExport\/exp-e2e\/httpbin\s+deleted/)
    assert.equal(await kget(WEST, ['-n', NS, 'serviceexports.multicluster.x-k8s.io', 'httpbin']), undefined)
    await kubectl(['delete', 'crd', 'serviceexports.multicluster.x-k8s.io'], {context: WEST})
  })

  test('bad input: exit 2, one line and a hint, nothing written', async () => {
    const gwBefore = await gateway()
    assertUsageError(await mesh(['export', 'nope', '-n', NS, '--context', WEST]), /Service exp-e2e\/nope does not exist/, /get services/)
    assertUsageError(await mesh(['export', 'httpbin', '-n', NS, '--context', WEST, '--istio-namespace', NS]), /no east-west gateway in namespace exp-e2e/)
    assert.equal((await gateway())?.metadata.resourceVersion, gwBefore?.metadata.resourceVersion)
    assert.equal(await exportedLabel('httpbin'), undefined)
  })
})
