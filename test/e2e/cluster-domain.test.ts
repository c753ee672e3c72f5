// The read model's journey (issue 12): export and import under a non-default --cluster-domain are
// green in verify and undone without residue and without repeating the flag; Gateways that pass
// hosts through with the `./*` and `ns/*` forms count as Istio counts them, in export and verify.
// Own namespace domain-e2e in cluster1 (owner) and cluster2 (importer); everything is removed after.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {kget, kubectl, mesh, stats, writes} from './harness.ts'

const OWNER = 'cluster1'
const CONSUMER = 'cluster2'
const NS = 'domain-e2e'
const ISTIO = 'istio-system'
const GW = 'kubectl-mesh-exports'
const HOST = `sleep.${NS}.svc.example.org`

const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})
const service = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'sleep', namespace: NS}, spec: {selector: {app: 'sleep'}, ports: [{name: 'http', port: 80, targetPort: 80}]}}
const gateway = () => kget(OWNER, ['-n', ISTIO, 'gateway.networking.istio.io', GW])
const hostsOf = (gw: any): string[] => gw?.spec?.servers?.[0]?.hosts ?? []
const passthrough = (name: string, namespace: string, hosts: string[]) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name, namespace},
  spec: {selector: {istio: 'eastwestgateway'}, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts}]},
})

async function verifyFindings(): Promise<Array<{id: string; status: string; cluster: string; message: string}>> {
  const r = await mesh(['verify', '--context', OWNER, '--context', CONSUMER, '-o', 'json'])
  return JSON.parse(r.stdout).checks
}
const failures = async () => (await verifyFindings()).filter((c) => c.status === 'fail' && ['exports', 'imports'].includes(c.id.split('.')[0]))

describe('a non-default cluster domain, end to end', () => {
  before(async () => {
    for (const ctx of [OWNER, CONSUMER]) await kubectl(['create', 'namespace', NS], {context: ctx})
    await kubectl(['apply', '-f', '-'], {context: OWNER, input: list([service])})
  })
  after(async () => {
    await mesh(['service', 'unimport', 'sleep', '-n', NS, '--context', CONSUMER])
    await mesh(['service', 'unexport', 'sleep', '-n', NS, '--context', OWNER])
    await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', '--all', '--ignore-not-found'], {context: OWNER})
    await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', 'domain-e2e-ns', '--ignore-not-found'], {context: OWNER})
    for (const ctx of [OWNER, CONSUMER]) await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=120s'], {context: ctx})
  })

  test('export and import with --cluster-domain example.org: the SNI names the owner\'s host, verify is green; unexport and unimport without the flag leave nothing', async () => {
    const before = await gateway()
    const ex = await mesh(['export', 'sleep', '-n', NS, '--context', OWNER, '--cluster-domain', 'example.org', '-o', 'json'])
    assert.equal(ex.code, 0, ex.stderr)
    assert.equal(JSON.parse(ex.stdout).host, HOST)
    assert.ok(hostsOf(await gateway()).includes(HOST))
    const svc = await kget(OWNER, ['-n', NS, 'service', 'sleep'])
    assert.equal(svc.metadata.annotations['kubectl-mesh/exported-host'], HOST)

    // import without the flag takes the host the export recorded
    const im = await mesh(['service', 'import', 'sleep', '-n', NS, '--from-context', OWNER, '--context', CONSUMER])
    assert.equal(im.code, 0, im.stderr)
    const dr = await kget(CONSUMER, ['-n', NS, 'destinationrule', 'sleep-cluster1'])
    assert.deepEqual(dr.spec.trafficPolicy.portLevelSettings.map((p: any) => p.tls.sni), [`outbound_.80_._.${HOST}`])
    // and with the flag, the same: a second run is unchanged and writes nothing
    const again = await mesh(['service', 'import', 'sleep', '-n', NS, '--from-context', OWNER, '--context', CONSUMER, '--cluster-domain', 'example.org'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(writes(stats(again.stderr)), 0)

    assert.deepEqual(await failures(), [])

    const un = await mesh(['service', 'unexport', 'sleep', '-n', NS, '--context', OWNER])
    assert.equal(un.code, 0, un.stderr)
    assert.ok(!hostsOf(await gateway()).some((h) => h.startsWith(`sleep.${NS}.`)), JSON.stringify(hostsOf(await gateway())))
    if (!before) assert.equal(await gateway(), undefined)
    const after = await kget(OWNER, ['-n', NS, 'service', 'sleep'])
    assert.equal(after.metadata.labels?.['kubectl-mesh/exported'], undefined)
    assert.equal(after.metadata.annotations?.['kubectl-mesh/exported-host'], undefined)

    const unim = await mesh(['service', 'unimport', 'sleep', '-n', NS, '--context', CONSUMER])
    assert.equal(unim.code, 0, unim.stderr)
    assert.equal(await kget(CONSUMER, ['-n', NS, 'serviceentry', 'sleep-cluster1']), undefined)
    assert.equal(await kget(CONSUMER, ['-n', NS, 'destinationrule', 'sleep-cluster1']), undefined)
  })

  for (const [form, gwNamespace, hosts] of [['./*', NS, ['./*']], ['ns/*', ISTIO, [`${NS}/*`]]] as const) {
    test(`a Gateway passing ${form} through (in ${gwNamespace}) already covers the Service: export adds no host, verify agrees`, async () => {
      const name = gwNamespace === NS ? 'domain-e2e-dot' : 'domain-e2e-ns'
      await kubectl(['apply', '-f', '-'], {context: OWNER, input: JSON.stringify(passthrough(name, gwNamespace, [...hosts]))})
      try {
        const before = hostsOf(await gateway())
        const ex = await mesh(['export', 'sleep', '-n', NS, '--context', OWNER, '-o', 'json'])
        assert.equal(ex.code, 0, ex.stderr)
        assert.equal(JSON.parse(ex.stdout).coveredBy, `${gwNamespace}/${name}`)
        assert.deepEqual(hostsOf(await gateway()), before)
        const exportFindings = (await verifyFindings()).filter((c) => c.id === 'exports.gateway' && c.cluster === OWNER)
        assert.deepEqual(exportFindings.map((c) => c.status), ['pass'], JSON.stringify(exportFindings))
        assert.equal((await mesh(['service', 'unexport', 'sleep', '-n', NS, '--context', OWNER])).code, 0)
      } finally {
        await kubectl(['-n', gwNamespace, 'delete', 'gateway.networking.istio.io', name, '--ignore-not-found'], {context: OWNER})
      }
    })
  }

  test('a ./* Gateway in another namespace does not cover the Service: export adds the host', async () => {
    await kubectl(['apply', '-f', '-'], {context: OWNER, input: JSON.stringify(passthrough('domain-e2e-ns', ISTIO, ['./*']))})
    try {
      const ex = await mesh(['export', 'sleep', '-n', NS, '--context', OWNER, '-o', 'json'])
      assert.equal(ex.code, 0, ex.stderr)
      assert.equal(JSON.parse(ex.stdout).coveredBy, undefined)
      assert.ok(hostsOf(await gateway()).includes(`sleep.${NS}.svc.cluster.local`))
      assert.equal((await mesh(['service', 'unexport', 'sleep', '-n', NS, '--context', OWNER])).code, 0)
    } finally {
      await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', 'domain-e2e-ns', '--ignore-not-found'], {context: OWNER})
    }
  })
})
