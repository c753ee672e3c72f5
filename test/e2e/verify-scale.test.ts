// Scale: 3 clusters, 300 services imported into cluster1 from cluster2. verify's API request
// count must not grow with the number of imports (each kind listed once per cluster).
// The mesh is made with the real commands (ca gen, cluster link --bidirectional, the first export,
// service import --all-exported); the other 299 exports are made by hand (label + Gateway host),
// because 299 `export` runs would take minutes.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {kubectl as testbedKubectl} from '../../testbed/testbed.ts'
import {kubectl} from './harness.ts'
import {apply, caGen, describeChecks, failures, meshOk, NS, removeCaDir, teardownJourney, verifyJson} from './verify-journey.ts'

const N = 300
const NSX = 'verify-scale'
const CTX = ['--context', 'cluster1', '--context', 'cluster2', '--context', 'cluster3']

describe('kubectl mesh verify at scale', () => {
  before(async () => {
    await teardownJourney()
    await kubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: 'cluster1'})
    await kubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: 'cluster2'})
    await caGen(['cluster1', 'cluster2', 'cluster3'])
    // --expose exported: only exported services cross (else link's cross-network Gateway passes
    // every host through, and export adds no host to kubectl-mesh-exports: nothing to scale)
    for (const [a, b] of [['cluster1', 'cluster2'], ['cluster1', 'cluster3'], ['cluster2', 'cluster3']]) await meshOk(['cluster', 'link', '--context', a, '--remote-context', b, '--bidirectional', '--expose', 'exported'])
    for (const c of ['cluster1', 'cluster2']) await apply(c, [{apiVersion: 'v1', kind: 'Namespace', metadata: {name: NSX}}])
  })
  after(async () => {
    // The namespace controller removes the 900 objects server-side (the imports and the exported
    // Services); the exports Gateway (mostly hand-made hosts) is deleted with kubectl; then the real undo commands.
    for (const c of ['cluster1', 'cluster2']) await testbedKubectl(['delete', 'namespace', NSX, '--ignore-not-found', '--wait=true'], {context: c, timeoutMs: 600_000})
    await kubectl(['-n', NS, 'delete', 'gateway', 'kubectl-mesh-exports', '--ignore-not-found'], {context: 'cluster2'})
    assert.deepEqual(await teardownJourney(), [])
    removeCaDir()
  })

  const svc = (i: number, exported: boolean) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: `s${i}`, namespace: NSX, ...(exported ? {labels: {'kubectl-mesh/exported': 'true'}} : {})},
    spec: {clusterIP: 'None', ports: [{name: 'http', port: 8000, protocol: 'TCP'}]}}) // headless: the test bed's service range holds 254 IPs
  const importAll = async () => {
    const started = performance.now()
    await meshOk(['service', 'import', '--all-exported', '-n', NSX, '--from-context', 'cluster2', '--context', 'cluster1'])
    return Math.round(performance.now() - started)
  }

  test(`requests do not grow from 1 to ${N} imports; wall time reported`, async () => {
    // s0: exported and imported with the real commands
    await apply('cluster2', [svc(0, false)])
    await meshOk(['export', 's0', '-n', NSX, '--context', 'cluster2'])
    const import1 = await importAll()
    const one = await verifyJson(CTX)
    assert.equal(one.code, 0, describeChecks(one))
    // s1…s299: exported by hand (what `export` writes: the label and the Gateway host), imported with --all-exported
    await apply('cluster2', Array.from({length: N - 1}, (_, i) => svc(i + 1, true)))
    const hosts = Array.from({length: N}, (_, i) => `s${i}.${NSX}.svc.cluster.local`).sort()
    await kubectl(['-n', NS, 'patch', 'gateway', 'kubectl-mesh-exports', '--type=json', '-p', JSON.stringify([{op: 'replace', path: '/spec/servers/0/hosts', value: hosts}])], {context: 'cluster2'})
    const importN = await importAll()
    const many = await verifyJson(CTX)
    assert.equal(many.code, 0, describeChecks(many))
    assert.deepEqual(failures(many), [])
    assert.match(many.json.checks.find((c) => c.id === 'imports.ports' && c.cluster === 'cluster1')!.message, new RegExp(`${N} imported service`))
    assert.equal(many.stats.requests, one.stats.requests, `requests grew: ${JSON.stringify(one.stats)} → ${JSON.stringify(many.stats)}`)
    // 11 reads and 1 list of istiod pods per cluster (each holds remote secrets; the test bed
    // without istiod has no pod to port-forward to), 6 probe reads per distinct credentials: the 6
    // remote secrets hold 3 reader tokens (one per cluster linked to), each probed once
    assert.equal(many.stats.requests, 3 * 12 + 3 * 6)
    console.log(`verify-scale: 3 clusters, ${N} imports: ${many.stats.requests} API requests (1 import: ${one.stats.requests}), wall ${Math.round(many.ms)} ms (1 import: ${Math.round(one.ms)} ms); import --all-exported: ${importN} ms for ${N} (${import1} ms for 1)`)
  })
})
