// The verify check links.istiod-sync (src/verify/checks/istiod.ts) on fixture facts, and the
// --istiod-debug-url parser.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks} from '../../src/verify/runner.ts'
import {parseIstiodDebugUrls, pickIstiodPod} from '../../src/cluster/istiod.ts'
import type {IstiodProbe, VerifyFacts} from '../../src/verify/types.ts'
import {healthyMesh} from './verify-fixtures.ts'

const ID = 'links.istiod-sync'
const clusterz = (self: string, peer: string, status = 'synced') => [
  {id: self, secretName: '', syncStatus: 'synced'},
  {id: peer, secretName: `istio-system/istio-remote-secret-${peer}`, syncStatus: status},
]
function withIstiod(probes: IstiodProbe[]): VerifyFacts {
  const f = healthyMesh()
  f.istiod = probes
  return f
}
const results = (f: VerifyFacts) => runChecks(f).checks.filter((c) => c.id === ID)

describe('verify: istiod sync status (/debug/clusterz)', () => {
  test('every linked cluster synced: one pass per cluster naming the peers', () => {
    const r = results(withIstiod([
      {cluster: 'cluster1', url: 'http://127.0.0.1:1', outcome: 'ok', detail: '', clusterz: clusterz('cluster1', 'cluster2')},
      {cluster: 'cluster2', url: 'http://127.0.0.1:2', outcome: 'ok', detail: '', clusterz: clusterz('cluster2', 'cluster1')},
    ]))
    assert.deepEqual(r.map((c) => [c.cluster, c.status]), [['cluster1', 'pass'], ['cluster2', 'pass']])
    assert.match(r[0].message, /cluster2/)
  })

  test('a remote that is not synced fails, naming the holder and the remote, with a hint', () => {
    const r = results(withIstiod([
      {cluster: 'cluster1', url: 'http://127.0.0.1:1', outcome: 'ok', detail: '', clusterz: clusterz('cluster1', 'cluster2', 'timeout')},
      {cluster: 'cluster2', url: 'http://127.0.0.1:2', outcome: 'ok', detail: '', clusterz: clusterz('cluster2', 'cluster1')},
    ]))
    const bad = r.filter((c) => c.status === 'fail')
    assert.equal(bad.length, 1)
    assert.equal(bad[0].cluster, 'cluster1')
    assert.match(bad[0].message, /cluster cluster2 is "timeout"/)
    assert.ok(bad[0].hint.length > 10)
  })

  test('a remote istiod does not list fails; an unreachable debug URL fails', () => {
    const r = results(withIstiod([
      {cluster: 'cluster1', url: 'http://127.0.0.1:1', outcome: 'ok', detail: '', clusterz: [{id: 'cluster1', secretName: '', syncStatus: 'synced'}]},
      {cluster: 'cluster2', url: 'http://127.0.0.1:2', outcome: 'error', detail: 'connect ECONNREFUSED 127.0.0.1:2'},
    ]))
    assert.deepEqual(r.map((c) => [c.cluster, c.status]), [['cluster1', 'fail'], ['cluster2', 'fail']])
    assert.match(r[0].message, /does not list cluster cluster2/)
    assert.match(r[1].message, /ECONNREFUSED/)
  })

  test('not asked (no probe): skipped with the by-hand recipe', () => {
    const r = results(healthyMesh())
    assert.deepEqual(r.map((c) => c.status), ['skip', 'skip'])
    assert.match(r[0].hint, /port-forward deploy\/istiod 15014:15014 --context cluster1/)
    assert.match(r[0].hint, /istioctl remote-clusters --context cluster1/)
  })

  test('no istiod pod, or no permission to port-forward: skipped, saying why and what to do', () => {
    const r = results(withIstiod([
      {cluster: 'cluster1', outcome: 'no-pod', detail: 'no pod with label app=istiod in istio-system'},
      {cluster: 'cluster2', outcome: 'forbidden', detail: 'cannot port-forward to pod istio-system/istiod-1', url: 'pod istio-system/istiod-1 port 15014 (port-forward)'},
    ]))
    assert.deepEqual(r.map((c) => [c.cluster, c.status]), [['cluster1', 'skip'], ['cluster2', 'skip']])
    assert.match(r[0].message, /no pod with label app=istiod in istio-system/)
    assert.match(r[0].hint, /--istiod-debug-url cluster1=http:\/\/HOST:15014/)
    assert.match(r[1].message, /cannot port-forward to pod istio-system\/istiod-1 \(forbidden\)/)
    assert.match(r[1].hint, /create pods\/portforward/)
  })

  test('an istiod pod that does not answer through the port-forward fails, naming the pod', () => {
    const r = results(withIstiod([
      {cluster: 'cluster1', url: 'pod istio-system/istiod-1 port 15014 (port-forward)', outcome: 'error', detail: 'error forwarding port 15014 to pod istio-system/istiod-1, uid : dial tcp 127.0.0.1:1: connect: connection refused'},
      {cluster: 'cluster2', url: 'http://127.0.0.1:2/debug/clusterz', outcome: 'ok', detail: '', clusterz: clusterz('cluster2', 'cluster1')},
    ]))
    assert.deepEqual(r.map((c) => [c.cluster, c.status]), [['cluster1', 'fail'], ['cluster2', 'pass']])
    assert.match(r[0].message, /istiod did not answer \/debug\/clusterz \(pod istio-system\/istiod-1 port 15014 \(port-forward\)\): error forwarding port 15014/)
    assert.match(r[0].hint, /get pods -l app=istiod --context cluster1/)
  })

  test('a cluster without remote secrets has no sync status to read, whatever the probe says', () => {
    const f = withIstiod([{cluster: 'cluster1', outcome: 'error', detail: 'x', url: 'u'}, {cluster: 'cluster2', outcome: 'error', detail: 'x', url: 'u'}])
    for (const c of f.clusters) c.lists.Secret = (c.lists.Secret ?? []).filter((s) => s.metadata.labels?.['istio/multiCluster'] !== 'true')
    assert.deepEqual(results(f).map((c) => [c.cluster, c.status, c.message]), [['cluster1', 'skip', 'cluster cluster1: no remote secrets'], ['cluster2', 'skip', 'cluster cluster2: no remote secrets']])
  })

  test('the istiod pod asked: running and not terminating, ready first, then the newest', () => {
    const pod = (name: string, phase: string, ready: boolean, created: string, deleting = false) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {name, namespace: 'istio-system', creationTimestamp: created, ...(deleting ? {deletionTimestamp: created} : {})},
      status: {phase, conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}]},
    })
    assert.equal(pickIstiodPod([]), undefined)
    assert.equal(pickIstiodPod([pod('a', 'Pending', false, '2026-01-01T00:00:00Z')]), undefined)
    assert.equal(pickIstiodPod([pod('old', 'Running', true, '2026-01-01T00:00:00Z'), pod('new', 'Running', true, '2026-01-02T00:00:00Z')])?.metadata.name, 'new')
    assert.equal(pickIstiodPod([pod('ready', 'Running', true, '2026-01-01T00:00:00Z'), pod('unready', 'Running', false, '2026-01-02T00:00:00Z')])?.metadata.name, 'ready')
    assert.equal(pickIstiodPod([pod('going', 'Running', true, '2026-01-03T00:00:00Z', true), pod('staying', 'Running', false, '2026-01-01T00:00:00Z')])?.metadata.name, 'staying')
  })

  test('--istiod-debug-url parsing', () => {
    assert.deepEqual(parseIstiodDebugUrls(['cluster1=http://127.0.0.1:15014/', 'c2=http://127.0.0.1:9']), {cluster1: 'http://127.0.0.1:15014', c2: 'http://127.0.0.1:9'})
    assert.throws(() => parseIstiodDebugUrls(['cluster1']), /CLUSTER=http/)
    assert.throws(() => parseIstiodDebugUrls(['=http://x']), /CLUSTER=http/)
  })
})

describe("verify: istiod's gateways and endpoint shards (/debug/networkz, /debug/endpointShardz)", () => {
  const shard = (cluster: string, ip: string) => ({[`Kubernetes/${cluster}`]: [{address: ip, port: 8080, servicePortName: 'http', network: `network${cluster.slice(-1)}`, tlsMode: 'istio', healthStatus: 1, cluster}]})
  /** What each istiod holds: its own pods, and the peer's when linked. */
  const shardz = (self: number, peer: number, o: {peerShard?: boolean} = {}) => ({
    'httpbin.bar.svc.cluster.local': {bar: {...shard(`cluster${self}`, `10.244.${self}.10`), ...(o.peerShard === false ? {} : shard(`cluster${peer}`, `10.244.${peer}.10`))}},
    'sleep.foo.svc.cluster.local': {foo: {...shard(`cluster${self}`, `10.244.${self}.11`), ...(o.peerShard === false ? {} : shard(`cluster${peer}`, `10.244.${peer}.11`))}},
    'httpbin.bar.global': {bar: {'External/cluster1': [{address: '127.0.0.12', port: 15443, servicePortName: 'http', network: 'network1', tlsMode: '', healthStatus: 1, cluster: 'cluster1'}]}},
  })
  const probe = (self: number, peer: number, o: {networkz?: Array<{network: string; cluster: string; addr: string; port: number}>; peerShard?: boolean} = {}): IstiodProbe => ({
    cluster: `cluster${self}`, url: 'u', outcome: 'ok', detail: '', clusterz: clusterz(`cluster${self}`, `cluster${peer}`),
    networkz: o.networkz ?? [{network: `network${peer}`, cluster: `cluster${peer}`, addr: `127.0.0.1${peer}`, port: 15443}],
    endpointShardz: shardz(self, peer, o),
  })
  const of = (f: VerifyFacts, id: string) => runChecks(f).checks.filter((c) => c.id === id).map((c) => [c.cluster, c.status, c.message] as const)

  test('healthy: both checks pass on both clusters', () => {
    const f = withIstiod([probe(1, 2), probe(2, 1)])
    assert.deepEqual(of(f, 'links.istiod-gateways').map((r) => r[1]), ['pass', 'pass'])
    assert.deepEqual(of(f, 'links.istiod-endpoints').map((r) => r[1]), ['pass', 'pass'])
    assert.match(of(f, 'links.istiod-endpoints')[0][2], /each of 3 linked or imported service\(s\)/)
  })

  test('the remote gateway Service lost its address: fails naming the cluster and the network', () => {
    const f = withIstiod([probe(1, 2, {networkz: []}), probe(2, 1)])
    const gwSvc = f.clusters[1].lists.Service!.find((s) => s.metadata.name === 'istio-eastwestgateway')!
    gwSvc.status = {loadBalancer: {}}
    const r = of(f, 'links.istiod-gateways')
    assert.deepEqual(r[0].slice(0, 2), ['cluster1', 'fail'])
    assert.match(r[0][2], /cluster cluster1: istiod knows no current gateway for network network2 of cluster cluster2: its east-west gateway Service istio-system\/istio-eastwestgateway has no address \(istiod knows no gateway for network network2 and sends cluster2's pod IPs/)
  })

  test('istiod knows the gateway at an old address: fails with both addresses', () => {
    const f = withIstiod([probe(1, 2, {networkz: [{network: 'network2', cluster: 'cluster2', addr: '127.0.0.99', port: 15443}]}), probe(2, 1)])
    const r = of(f, 'links.istiod-gateways')
    assert.equal(r[0][1], 'fail')
    assert.match(r[0][2], /knows network network2 of cluster cluster2 at 127\.0\.0\.99:15443.*is at 127\.0\.0\.12:15443/)
  })

  test("a linked cluster's shard missing: fails naming the host, the shard and the peer", () => {
    const r = of(withIstiod([probe(1, 2, {peerShard: false}), probe(2, 1)]), 'links.istiod-endpoints')
    assert.deepEqual(r.map((x) => x[1]), ['fail', 'fail', 'pass'])
    assert.match(r[0][2], /cluster cluster1: istiod holds no shard Kubernetes\/cluster2 for httpbin\.bar\.svc\.cluster\.local \(exported\)/)
  })

  test('an import without endpoints in istiod fails', () => {
    const p1 = probe(1, 2)
    delete p1.endpointShardz!['httpbin.bar.global']
    const r = of(withIstiod([p1, probe(2, 1)]), 'links.istiod-endpoints')
    assert.equal(r[0][1], 'fail')
    assert.match(r[0][2], /no endpoint for httpbin\.bar\.global, imported from cluster2/)
  })

  test('istiod not reachable: skipped (links.istiod-sync says why); a failed networkz read fails', () => {
    const r = of(withIstiod([{cluster: 'cluster1', outcome: 'no-pod', detail: 'x'}, {...probe(2, 1), networkz: undefined, networkzError: '/debug/networkz: HTTP 404'}]), 'links.istiod-gateways')
    assert.deepEqual(r.map((x) => x[1]), ['skip', 'fail'])
    assert.match(r[1][2], /HTTP 404/)
  })
})
