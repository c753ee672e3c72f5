// The one trust-root reader (src/cluster/trust.ts) gives link, ca gen and verify the same answer
// for a cacerts in the kubernetes.io/tls layout (tls.crt/tls.key/ca.crt) and for a root-cert.pem
// holding two roots (mid-rotation). Real certificates: test/fixtures/verify (two roots, an
// intermediate per cluster).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {X509Certificate} from 'node:crypto'
import type {KubeObject} from '../../src/kube/resources.ts'
import {deriveFacts} from '../../src/link/facts.ts'
import {validatePair} from '../../src/link/validate.ts'
import {checkLiveRoot, liveSecretRoots} from '../../src/ca/plan.ts'
import {readCert, splitPemCerts} from '../../src/ca/pki.ts'
import {trustedRoots} from '../../src/verify/model.ts'
import {cacertsKeys, trustRoots} from '../../src/cluster/trust.ts'
import {analyzeCacerts, decodeSecretData} from '../../src/cluster/certs.ts'
import {UsageError} from '../../src/errors.ts'
import {b64, clusterFacts, pem} from './verify-fixtures.ts'

const rootA = pem('root-a-cert.pem')
const rootB = pem('root-b-cert.pem')
const fp = (p: string) => new X509Certificate(p).fingerprint256
const secret = (data: Record<string, string>): KubeObject => ({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'cacerts', namespace: 'istio-system'}, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]))})

/** The three answers for one cluster whose only trust object is this cacerts. */
function answers(cacerts: KubeObject) {
  const link = deriveFacts({cacerts, services: []}).rootFingerprints
  const caGen = liveSecretRoots(cacerts, (p) => splitPemCerts(p).map((c) => readCert(c).fingerprint256))
  const f = clusterFacts(1, [])
  const verifyFacts = {...f, lists: {...f.lists, Secret: [cacerts], ConfigMap: (f.lists.ConfigMap ?? []).filter((c) => c.metadata.name !== 'istio-ca-root-cert')}}
  const verify = trustedRoots(verifyFacts)?.roots.map((r) => r.fingerprint256)
  return {link, caGen, verify}
}

describe('one trust root for link, ca gen and verify (src/cluster/trust.ts)', () => {
  test('cacerts in the tls.crt/tls.key/ca.crt layout: the roots are ca.crt, even beside a stray root-cert.pem', () => {
    const tls = secret({'tls.crt': pem('root-a/cluster1/ca-cert.pem'), 'tls.key': pem('root-a/cluster1/ca-key.pem'), 'ca.crt': rootA, 'root-cert.pem': rootB})
    assert.equal(cacertsKeys(tls.data).format, 'tls')
    assert.deepEqual(analyzeCacerts(decodeSecretData(tls.data)).problems, [])
    const a = answers(tls)
    assert.deepEqual(a, {link: [fp(rootA)], caGen: [fp(rootA)], verify: [fp(rootA)]})
    // ca gen from root A keeps it; from root B it refuses, like link against a B-only cluster
    assert.doesNotThrow(() => checkLiveRoot('c1', 'istio-system', a.caGen, fp(rootA), false))
    assert.throws(() => checkLiveRoot('c1', 'istio-system', a.caGen, fp(rootB), false), UsageError)
  })

  test('root-cert.pem with two roots (mid-rotation): every root counts, in order, for all three', () => {
    const both = secret({'ca-cert.pem': pem('root-a/cluster1/ca-cert.pem'), 'ca-key.pem': pem('root-a/cluster1/ca-key.pem'), 'cert-chain.pem': pem('root-a/cluster1/cert-chain.pem'), 'root-cert.pem': rootA + rootB})
    const a = answers(both)
    assert.deepEqual(a, {link: [fp(rootA), fp(rootB)], caGen: [fp(rootA), fp(rootB)], verify: [fp(rootA), fp(rootB)]})
    // a peer already on B alone shares a root with it: link does not refuse (it compared only the first root before)
    const facts = (context: string, roots: string[]) => ({
      context, istioNamespace: 'istio-system', server: 'https://10.0.0.1:6443', namespaceExists: true, clusterDomain: 'cluster.local', revision: 'default', otherRevisions: [], meshConfigMapName: 'istio', istiodService: 'istiod',
      clusterId: context, network: 'net', meshId: 'mesh1', remoteSecrets: [], rootFingerprints: roots, rootSource: 'cacerts' as const,
    })
    assert.doesNotThrow(() => validatePair(facts('east', a.link!), facts('west', [fp(rootB)]), {}))
    assert.throws(() => validatePair(facts('east', [fp(rootA)]), facts('west', [fp(rootB)]), {}), /different root CAs/)
  })

  test('istio-ca-root-cert, when istiod has published it, comes first: it is the root istiod runs with', () => {
    const cm: KubeObject = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio-ca-root-cert', namespace: 'istio-system'}, data: {'root-cert.pem': rootB}}
    const cacerts = secret({'root-cert.pem': rootA})
    assert.deepEqual(trustRoots({istioNamespace: 'istio-system', cacerts, rootCertConfigMap: cm})?.roots.map((r) => r.fingerprint256), [fp(rootB)])
    assert.equal(deriveFacts({cacerts, rootCertConfigMap: cm, services: []}).rootSource, 'istio-ca-root-cert')
    // an empty or unreadable published copy does not hide cacerts
    assert.equal(trustRoots({istioNamespace: 'istio-system', cacerts, rootCertConfigMap: {...cm, data: {'root-cert.pem': 'garbage'}}})?.source, 'cacerts')
  })
})
