// verify during a root rotation: trust.rotation on each stage pair, and the trust checks reading a
// two-root root-cert.pem. Certificates are made here with src/ca/pki.ts (old root A, new root B a
// day younger, one intermediate per cluster from each).
import {before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {buildCaCert, generateRsaKeyPair, INTERMEDIATE_CN, ROOT_CN} from '../../src/ca/pki.ts'
import {type Stage, stageFiles} from '../../src/ca/rotate-plan.ts'
import {runChecks, type VerifyReport} from '../../src/verify/runner.ts'
import type {VerifyFacts} from '../../src/verify/types.ts'
import {b64, find, healthyMesh, NOW} from './verify-fixtures.ts'

interface Ca {cert: string; key: string}
let A: Ca
let B: Ca
const ints: Record<string, Ca> = {}

async function root(daysAgo: number): Promise<Ca> {
  const k = await generateRsaKeyPair(2048)
  const nb = new Date(NOW.getTime() - daysAgo * 86_400_000)
  return {cert: buildCaCert({subject: [['O', 'Istio'], ['CN', ROOT_CN]], publicKeyPem: k.publicKeyPem, selfSignKeyPem: k.privateKeyPem, notBefore: nb, notAfter: new Date(nb.getTime() + 3650 * 86_400_000)}), key: k.privateKeyPem}
}
async function intermediate(issuer: Ca, cluster: string): Promise<Ca> {
  const k = await generateRsaKeyPair(2048)
  return {cert: buildCaCert({subject: [['O', 'Istio'], ['CN', INTERMEDIATE_CN], ['L', cluster]], publicKeyPem: k.publicKeyPem, issuer: {certPem: issuer.cert, keyPem: issuer.key}, notBefore: new Date(NOW.getTime() - 86_400_000), notAfter: new Date(NOW.getTime() + 3000 * 86_400_000), pathLen: 0}), key: k.privateKeyPem}
}

before(async () => {
  A = await root(20)
  B = await root(2)
  for (const c of ['cluster1', 'cluster2']) {
    ints[`A/${c}`] = await intermediate(A, c)
    ints[`B/${c}`] = await intermediate(B, c)
  }
})

/** The mesh with each cluster's cacerts at a stage, and istiod having published that stage's roots. */
function meshAt(s1: Stage, s2: Stage, published?: [string?, string?]): VerifyFacts {
  const f = healthyMesh()
  ;([['cluster1', s1], ['cluster2', s2]] as const).forEach(([name, stage], i) => {
    const int = ints[`${stage >= 2 ? 'B' : 'A'}/${name}`]
    const files = stageFiles(stage, {caCertPem: int.cert, caKeyPem: int.key, oldRootPem: A.cert, newRootPem: B.cert})
    find(f.clusters[i], 'Secret', 'cacerts').data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)]))
    const cms = f.clusters[i].lists.ConfigMap!.filter((c) => c.metadata.name !== 'istio-ca-root-cert')
    cms.push({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio-ca-root-cert', namespace: 'istio-system'}, data: {'root-cert.pem': published?.[i] ?? files['root-cert.pem']}})
    f.clusters[i].lists.ConfigMap = cms
  })
  return f
}

const only = (r: VerifyReport, id: string, cluster: string) => r.checks.find((c) => c.id === id && c.cluster === cluster)!
const failures = (r: VerifyReport) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.cluster}`)

describe('trust.rotation', () => {
  const green: Array<[string, Stage, Stage]> = [
    ['before (A only)', 0, 0],
    ['phase 1 half done', 1, 0],
    ['phase 1 (trust both)', 1, 1],
    ['phase 2 half done', 2, 1],
    ['phase 2 (issue from new)', 2, 2],
    ['phase 3 half done', 3, 2],
    ['phase 3 (new only)', 3, 3],
  ]
  for (const [name, s1, s2] of green) {
    test(`${name}: no trust failure`, () => {
      const r = runChecks(meshAt(s1, s2))
      assert.deepEqual(failures(r), [])
      assert.equal(only(r, 'trust.rotation', 'cluster1').status, 'pass')
    })
  }
  test('a cluster dropped A before its peer issues from B: fails, naming both and phase 2', () => {
    const r = runChecks(meshAt(3, 1))
    const f = only(r, 'trust.rotation', 'cluster1')
    assert.equal(f.status, 'fail')
    assert.match(f.message, /cluster cluster1 trusts only root [0-9a-f]{16}…, but cluster cluster2 issues from root [0-9a-f]{16}…, which cluster1 does not trust/)
    assert.match(f.hint, /put root .* back into cluster1's Secret istio-system\/cacerts root-cert\.pem, then finish phase 2 \("issue from new"\).*--abort/)
    assert.equal(only(r, 'trust.rotation', 'cluster2').status, 'pass')
    assert.deepEqual(failures(r), ['trust.rotation cluster1'])
  })
  test('a peer issues from B before this cluster trusts B: fails with phase 1 to finish', () => {
    const r = runChecks(meshAt(0, 2))
    const f = only(r, 'trust.rotation', 'cluster1')
    assert.equal(f.status, 'fail')
    assert.match(f.message, /cluster cluster1 trusts only root .*, but cluster cluster2 issues from root/)
    assert.match(f.hint, /finish phase 1 \("trust both"\) on cluster1/)
  })
  test('istiod not yet reloaded: the published roots count too', () => {
    // cluster1's Secret already trusts both, but its istiod still publishes A only; cluster2 issues from B.
    const r = runChecks(meshAt(1, 2, [A.cert]))
    assert.equal(only(r, 'trust.rotation', 'cluster1').status, 'fail')
    assert.equal(only(r, 'trust.root-in-use', 'cluster1').status, 'warn')
    assert.match(only(r, 'trust.root-in-use', 'cluster1').message, /does not hold root [0-9a-f]{16}… of Secret cacerts yet/)
  })
})

describe('the trust checks read a two-root root-cert.pem', () => {
  test('trust.cacerts names the issuing root and the two roots', () => {
    const r = runChecks(meshAt(2, 2))
    assert.match(only(r, 'trust.cacerts', 'cluster1').message, /root-cert\.pem holds 2 roots/)
    assert.equal(only(r, 'trust.shared-root', 'cluster1').status, 'pass')
    assert.match(only(r, 'trust.shared-root', 'cluster1').message, /trusts 2 roots/)
    assert.equal(only(r, 'trust.root-in-use', 'cluster1').status, 'pass')
    assert.match(only(r, 'trust.root-in-use', 'cluster1').message, /publishes the cacerts roots/)
  })
})
