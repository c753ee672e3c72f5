// links.istiod-stale (src/verify/checks/stale.ts), trust.domain (src/verify/checks/trust.ts) and
// verify --wait's lines (src/verify/render-json.ts) on fixture facts.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {dump, load} from 'js-yaml'
import {runChecks} from '../../src/verify/runner.ts'
import {CheckContext} from '../../src/verify/check.ts'
import {compareShards, knownStaleBugs, readySliceEndpoints} from '../../src/verify/checks/stale.ts'
import {renderJson, roundLine, waitSummary} from '../../src/verify/render-json.ts'
import type {IstiodProbe, VerifyFacts} from '../../src/verify/types.ts'
import {healthyMesh} from './verify-fixtures.ts'

const ep = (address: string, cluster: string, healthStatus = 1) => ({address, port: 8080, servicePortName: 'http', network: `network${cluster.slice(-1)}`, tlsMode: 'istio', healthStatus, cluster})
/** cluster1's istiod holding cluster2's shard of httpbin.bar with these addresses. */
function probe(addresses: string[]): IstiodProbe {
  return {
    cluster: 'cluster1', url: 'u', outcome: 'ok', detail: '',
    clusterz: [{id: 'cluster1', secretName: '', syncStatus: 'synced'}, {id: 'cluster2', secretName: 'istio-system/istio-remote-secret-cluster2', syncStatus: 'synced'}],
    networkz: [{network: 'network2', cluster: 'cluster2', addr: '127.0.0.12', port: 15443}],
    endpointShardz: {'httpbin.bar.svc.cluster.local': {bar: {'Kubernetes/cluster1': [ep('10.244.1.10', 'cluster1')], 'Kubernetes/cluster2': addresses.map((a) => ep(a, 'cluster2'))}}},
  }
}
const slice = (name: string, ready: Record<string, boolean | undefined>) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: {name: `httpbin-${name}`, namespace: 'bar', labels: {'kubernetes.io/service-name': 'httpbin'}},
  ports: [{name: 'http', port: 8080, protocol: 'TCP'}],
  endpoints: Object.entries(ready).map(([a, r]) => ({addresses: [a], conditions: r === undefined ? {} : {ready: r}})),
})
function facts(held: string[], ready: Record<string, boolean | undefined>): VerifyFacts {
  const f = healthyMesh()
  f.istiod = [probe(held), {cluster: 'cluster2', outcome: 'not-asked', detail: ''}]
  f.serviceSlices = {cluster2: {slices: [slice('a', ready)]}}
  return f
}
const stale = (f: VerifyFacts) => runChecks(f).checks.filter((c) => c.id === 'links.istiod-stale' && c.cluster === 'cluster1')

describe('links.istiod-stale', () => {
  test('the ready addresses as istiod builds them: one per address and slice port; ready absent counts as ready', () => {
    assert.deepEqual([...readySliceEndpoints([slice('a', {'10.244.2.10': true, '10.244.2.11': undefined, '10.244.2.12': false})], 'bar', 'httpbin')].sort(), ['10.244.2.10:8080', '10.244.2.11:8080'])
    assert.deepEqual([...readySliceEndpoints([slice('a', {'10.244.2.10': true})], 'foo', 'httpbin')], [])
  })

  test('equal: passes naming how many services were compared', () => {
    const r = stale(facts(['10.244.2.10'], {'10.244.2.10': true}))
    assert.deepEqual(r.map((c) => c.status), ['pass'])
    assert.match(r[0].message, /istiod serves what the linked clusters' EndpointSlices hold for each of \d+ service\(s\) compared/)
  })

  test('a phantom and a missing address: one failure naming both, the host, and the sync status istiod still claims', () => {
    const r = stale(facts(['10.244.2.10', '10.244.2.99'], {'10.244.2.10': true, '10.244.2.11': true, '10.244.2.12': false}))
    assert.equal(r.length, 1)
    assert.equal(r[0].status, 'fail')
    assert.match(r[0].message, /serves 1 phantom address\(es\) cluster cluster2 no longer has ready \(httpbin\.bar\.svc\.cluster\.local: 10\.244\.2\.99:8080\) and lacks 1 ready address\(es\) cluster cluster2 has \(httpbin\.bar\.svc\.cluster\.local: 10\.244\.2\.11:8080\)/)
    assert.match(r[0].message, /says cluster2 is "synced"/)
    assert.match(r[0].hint, /watch error in cluster cluster2/)
    assert.match(r[0].hint, /rotate-credentials --context cluster1 --remote-context cluster2/)
  })

  test('an unhealthy endpoint in istiod is not served: no phantom', () => {
    const f = facts(['10.244.2.10'], {'10.244.2.10': true})
    f.istiod![0].endpointShardz!['httpbin.bar.svc.cluster.local'].bar['Kubernetes/cluster2'].push(ep('10.244.2.50', 'cluster2', 2))
    assert.equal(stale(f)[0].status, 'pass')
  })

  test('the settling re-read: only a difference seen in both reads fails', () => {
    const f = facts(['10.244.2.99'], {})
    const first = compareShards(new CheckContext(f)).diffs
    assert.deepEqual(first.map((d) => `${d.kind} ${d.address}:${d.port}`), ['phantom 10.244.2.99:8080'])
    f.staleRecheck = {graceMs: 5000, earlier: first.map((d) => d.id)}
    assert.match(stale(f)[0].message, /still after 5 s/)
    f.staleRecheck = {graceMs: 5000, earlier: []}
    assert.equal(stale(f)[0].status, 'pass')
  })

  test("the peer's EndpointSlices not readable: skipped saying why", () => {
    const f = facts([], {})
    f.serviceSlices = {cluster2: {error: 'forbidden'}}
    const r = stale(f)
    assert.equal(r[0].status, 'skip')
    assert.match(r[0].message, /EndpointSlices of linked cluster cluster2 were not read \(forbidden\)/)
  })

  test('the hint names the Istio bugs of the release', () => {
    assert.match(knownStaleBugs({major: 1, minor: 29, text: '1.29.4'}), /#60612 \(fixed in 1\.30\.3\) and #60920, #61043/)
    assert.match(knownStaleBugs({major: 1, minor: 30, text: '1.30.2'}), /#60612/)
    assert.match(knownStaleBugs({major: 1, minor: 30, text: '1.30.3'}), /^Istio 1\.30\.3 has istio\/istio#60920 and #61043 \(fixed only in 1\.31\)/)
    assert.equal(knownStaleBugs({major: 1, minor: 31, text: '1.31'}), '')
    assert.equal(knownStaleBugs(undefined), '')
  })
})

/** Set a cluster's mesh config trustDomain / trustDomainAliases. */
function setTrust(f: VerifyFacts, i: number, domain?: string, aliases?: string[]) {
  const cm = f.clusters[i].lists.ConfigMap!.find((c) => c.metadata.name === 'istio')!
  const mesh = (load(cm.data.mesh ?? '') ?? {}) as Record<string, unknown>
  if (domain) mesh.trustDomain = domain
  if (aliases) mesh.trustDomainAliases = aliases
  cm.data.mesh = dump(mesh)
}
const domain = (f: VerifyFacts) => runChecks(f).checks.filter((c) => c.id === 'trust.domain').map((c) => [c.cluster, c.status, c.message] as const)

describe('trust.domain', () => {
  test('the default domain on both: passes', () => {
    assert.deepEqual(domain(healthyMesh()).map((r) => r[1]), ['pass', 'pass'])
    assert.match(domain(healthyMesh())[0][2], /trust domain "cluster.local"/)
  })

  test('cluster2 in another trust domain: both fail naming both domains; aliases on both sides pass', () => {
    const f = healthyMesh()
    setTrust(f, 1, 'west.example')
    const r = domain(f)
    assert.deepEqual(r.map((x) => x[1]), ['fail', 'fail'])
    assert.match(r[0][2], /cluster cluster1: trust domain "cluster.local" \(mesh config\); cluster cluster2 of the same mesh has trust domain "west.example"/)
    assert.match(r[1][2], /cluster cluster2: trust domain "west.example" \(mesh config\); cluster cluster1 of the same mesh has trust domain "cluster.local"/)
    const hint = runChecks(f).checks.find((c) => c.id === 'trust.domain' && c.cluster === 'cluster1')!.hint
    assert.match(hint, /trustDomainAliases: \[west.example\]/)
    setTrust(f, 0, undefined, ['west.example'])
    assert.deepEqual(domain(f).map((x) => x[1]), ['pass', 'fail'])
    setTrust(f, 1, undefined, ['cluster.local'])
    assert.deepEqual(domain(f).map((x) => x[1]), ['pass', 'pass'])
  })
})

describe('trust.domain across meshes (imports)', () => {
  /** cluster1 imports from cluster2, and the two are not linked: two meshes. */
  function twoMeshes(): VerifyFacts {
    const f = healthyMesh()
    for (const c of f.clusters) c.lists.Secret = c.lists.Secret!.filter((s) => !s.metadata.name.startsWith('istio-remote-secret-'))
    f.probes = []
    // cluster2 of its own mesh
    for (const cm of f.clusters[1].lists.ConfigMap!) if (cm.data?.values) cm.data.values = cm.data.values.replace('"mesh1"', '"mesh2"')
    return f
  }
  const c1 = (f: VerifyFacts) => runChecks(f).checks.find((c) => c.id === 'trust.domain' && c.cluster === 'cluster1')!

  test("the owner in another domain: fails naming both and the import; an alias or a pinned identity passes", () => {
    const f = twoMeshes()
    assert.ok((f.clusters[0].lists.ServiceEntry ?? []).some((s) => s.metadata.labels?.['kubectl-mesh/imported-from'] === 'cluster2'), 'the fixture imports from cluster2')
    assert.equal(c1(f).status, 'pass')
    setTrust(f, 1, 'west.example')
    const r = c1(f)
    assert.equal(r.status, 'fail')
    assert.match(r.message, /from cluster2 of another mesh, whose trust domain is "west.example"; cluster1's is "cluster.local" and the import pins no identity/)
    assert.match(r.hint, /spiffe:\/\/west.example\/ns\//)
    const se = f.clusters[0].lists.ServiceEntry!.find((s) => s.metadata.labels?.['kubectl-mesh/imported-from'] === 'cluster2')!
    se.spec.subjectAltNames = ['spiffe://west.example/ns/bar/sa/httpbin']
    assert.equal(c1(f).status, 'pass')
    delete se.spec.subjectAltNames
    setTrust(f, 0, undefined, ['west.example'])
    assert.equal(c1(f).status, 'pass')
  })
})

describe('verify --wait lines', () => {
  const rounds = [
    {round: 1, elapsedMs: 4200, requests: 44, failing: ['links.istiod-stale cluster1'], summary: {passed: 60, warnings: 2, failed: 1, skipped: 3}},
    {round: 2, elapsedMs: 9100, requests: 21, failing: [], summary: {passed: 61, warnings: 2, failed: 0, skipped: 3}},
  ]
  test('a round, the outcome, and the JSON of the last round with the rounds', () => {
    assert.equal(roundLine(rounds[0]), 'round 1 at 4.2 s: 1 failing: links.istiod-stale cluster1 (44 requests)\n')
    assert.equal(waitSummary({rounds, elapsedMs: 9100, healthy: true}, 60_000), 'verify --wait: no check fails, after 2 round(s) in 9.1 s (requests per round: 44, 21)\n')
    assert.equal(waitSummary({rounds: rounds.slice(0, 1), elapsedMs: 61_000, healthy: false}, 60_000), 'verify --wait: 1 check(s) still fail at the deadline (60.0 s), after 1 round(s) in 61.0 s (requests per round: 44)\n')
    const j = JSON.parse(renderJson({clusters: [], checks: [], summary: rounds[1].summary}, {rounds, elapsedMs: 9100, healthy: true}))
    assert.deepEqual(j.wait, {healthy: true, elapsedMs: 9100, rounds: [{round: 1, elapsedMs: 4200, requests: 44, failed: 1}, {round: 2, elapsedMs: 9100, requests: 21, failed: 0}]})
    assert.equal(JSON.parse(renderJson({clusters: [], checks: [], summary: rounds[1].summary})).wait, undefined)
  })
})
