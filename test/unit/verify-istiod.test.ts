// The verify check links.istiod-sync (src/verify/checks/istiod.ts) on fixture facts, and the
// --istiod-debug-url parser.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks} from '../../src/verify/runner.ts'
import {parseIstiodDebugUrls, pickIstiodPod} from '../../src/verify/istiod.ts'
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
