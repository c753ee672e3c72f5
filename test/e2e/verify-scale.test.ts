// Scale: 3 clusters, 300 services imported into cluster1 from cluster2. verify's API request
// count must not grow with the number of imports (each kind listed once per cluster).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {kubectl as testbedKubectl} from '../../testbed/testbed.ts'
import {kubectl} from './harness.ts'
import {apply, describeChecks, exportsGateway, failures, importObjects, installCacerts, link, teardownJourney, verifyJson} from './verify-journey.ts'

const N = 300
const NSX = 'verify-scale'
const CTX = ['--context', 'cluster1', '--context', 'cluster2', '--context', 'cluster3']

describe('kubectl mesh verify at scale', () => {
  before(async () => {
    await teardownJourney()
    await kubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: 'cluster1'})
    await kubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: 'cluster2'})
    for (const c of ['cluster1', 'cluster2', 'cluster3']) await installCacerts(c)
    for (const [a, b] of [['cluster1', 'cluster2'], ['cluster2', 'cluster1'], ['cluster1', 'cluster3'], ['cluster3', 'cluster1'], ['cluster2', 'cluster3'], ['cluster3', 'cluster2']]) await link(a, b)
    for (const c of ['cluster1', 'cluster2']) await apply(c, [{apiVersion: 'v1', kind: 'Namespace', metadata: {name: NSX}}])
  })
  after(async () => {
    // The namespace controller removes the 900 objects server-side; then the rest of the journey.
    for (const c of ['cluster1', 'cluster2']) await testbedKubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: c, timeoutMs: 600_000})
    await teardownJourney()
  })

  async function importServices(from: number, to: number): Promise<void> {
    const svcs = []
    const imports = []
    for (let i = from; i < to; i++) {
      svcs.push({apiVersion: 'v1', kind: 'Service', metadata: {name: `s${i}`, namespace: NSX, labels: {'kubectl-mesh/exported': 'true'}}, spec: {clusterIP: 'None', ports: [{name: 'http', port: 8000, protocol: 'TCP'}]}}) // headless: the test bed's service range holds 254 IPs
      imports.push(...importObjects(`s${i}`, NSX, 'cluster2', [{number: 8000, name: 'http', protocol: 'HTTP'}]))
    }
    await apply('cluster2', svcs)
    await apply('cluster2', [exportsGateway(Array.from({length: to}, (_, i) => `s${i}.${NSX}.svc.cluster.local`))])
    await apply('cluster1', imports)
  }

  test(`requests do not grow from 1 to ${N} imports; wall time reported`, async () => {
    await importServices(0, 1)
    const one = await verifyJson(CTX)
    assert.equal(one.code, 0, describeChecks(one))
    await importServices(1, N)
    const many = await verifyJson(CTX)
    assert.equal(many.code, 0, describeChecks(many))
    assert.deepEqual(failures(many), [])
    assert.match(many.json.checks.find((c) => c.id === 'imports.ports' && c.cluster === 'cluster1')!.message, new RegExp(`${N} imported service`))
    assert.equal(many.stats.requests, one.stats.requests, `requests grew: ${JSON.stringify(one.stats)} → ${JSON.stringify(many.stats)}`)
    // 11 reads per cluster, 5 probe reads per remote secret (6 secrets)
    assert.equal(many.stats.requests, 3 * 11 + 6 * 5)
    console.log(`verify-scale: 3 clusters, ${N} imports: ${many.stats.requests} API requests (1 import: ${one.stats.requests}), wall ${Math.round(many.ms)} ms (1 import: ${Math.round(one.ms)} ms)`)
  })
})
