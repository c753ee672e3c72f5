// The verify check links.istiod-sync (src/verify/checks/istiod.ts) on fixture facts, and the
// --istiod-debug-url parser.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks} from '../../src/verify/runner.ts'
import {parseIstiodDebugUrls} from '../../src/verify/istiod.ts'
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

  test('no debug URL: skipped with the port-forward recipe', () => {
    const r = results(healthyMesh())
    assert.deepEqual(r.map((c) => c.status), ['skip', 'skip'])
    assert.match(r[0].hint, /port-forward deploy\/istiod 15014/)
    assert.match(r[0].hint, /--istiod-debug-url cluster1=http:\/\/127\.0\.0\.1:15014/)
  })

  test('--istiod-debug-url parsing', () => {
    assert.deepEqual(parseIstiodDebugUrls(['cluster1=http://127.0.0.1:15014/', 'c2=http://127.0.0.1:9']), {cluster1: 'http://127.0.0.1:15014', c2: 'http://127.0.0.1:9'})
    assert.throws(() => parseIstiodDebugUrls(['cluster1']), /CLUSTER=http/)
    assert.throws(() => parseIstiodDebugUrls(['=http://x']), /CLUSTER=http/)
  })
})
