// Pure decisions of `ca gen`: option checks, root checks, intermediate reuse, clamping, the Secret.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {UsageError} from '../../src/errors.ts'
import {type CaGenOptions, type CertInfo, cacertsSecret, certChain, checkLiveRoot, checkRoot, clampWarning, DAY_MS, intermediateValidity, liveSecretRoots, planIntermediate, validateOptions} from '../../src/ca/plan.ts'

const base: CaGenOptions = {
  clusters: ['east'], dir: 'd', keySize: 4096, rootDays: 3650, days: 3650, org: 'Istio', force: false,
  install: false, istioNamespace: 'istio-system', output: 'text', dryRun: false, version: '0.1.0',
}
const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message) && Boolean(e.hint))

describe('validateOptions', () => {
  test('accepts the defaults', () => validateOptions(base))
  const bad: Array<[string, Partial<CaGenOptions>, RegExp]> = [
    ['no cluster', {clusters: []}, /no --cluster/],
    ['upper case', {clusters: ['East']}, /"East" is not a DNS-1123 label/],
    ['dot', {clusters: ['a.b']}, /not a DNS-1123 label/],
    ['too long', {clusters: ['a'.repeat(64)]}, /not a DNS-1123 label/],
    ['leading dash', {clusters: ['-a']}, /not a DNS-1123 label/],
    ['duplicate', {clusters: ['a', 'a']}, /named twice/],
    ['--context with two clusters', {clusters: ['a', 'b'], install: true, context: 'x'}, /--context installs one cluster's CA/],
    ['key size 1024', {keySize: 1024}, /key size 1024 is not supported/],
    ['key size 8192', {keySize: 8192}, /key size 8192/],
    ['zero days', {days: 0}, /--days must be a positive/],
    ['negative days', {days: -1}, /--days must be a positive/],
    ['negative root days', {rootDays: -5}, /--root-days must be a positive/],
    ['root cert without key', {rootCertFile: 'c.pem'}, /--root-cert was given without --root-key/],
    ['root key without cert', {rootKeyFile: 'k.pem'}, /--root-key was given without --root-cert/],
  ]
  for (const [name, patch, re] of bad) test(`refuses ${name}`, () => usage(() => validateOptions({...base, ...patch}), re))
  for (const k of [2048, 3072, 4096]) test(`accepts key size ${k}`, () => validateOptions({...base, keySize: k}))
  test('--context with one cluster is fine', () => validateOptions({...base, install: true, context: 'east'}))
})

const now = new Date('2030-01-01T00:00:00Z')
const cert = (p: Partial<CertInfo> = {}): CertInfo => ({fingerprint256: 'AA', isCA: true, notBefore: new Date('2029-01-01T00:00:00Z'), notAfter: new Date('2039-01-01T00:00:00Z'), subject: 'O=Istio\nCN=Root CA', ...p})

describe('checkRoot', () => {
  test('a valid CA with its key passes', () => checkRoot(cert(), true, now, 'r.pem'))
  test('not a CA', () => usage(() => checkRoot(cert({isCA: false}), true, now, 'r.pem'), /r\.pem is not a CA/))
  test('expired', () => usage(() => checkRoot(cert({notAfter: new Date('2029-12-31T00:00:00Z')}), true, now, 'r.pem'), /r\.pem expired on 2029-12-31/))
  test('key mismatch', () => usage(() => checkRoot(cert(), false, now, 'r.pem'), /root key does not match r\.pem/))
  test('not yet valid', () => usage(() => checkRoot(cert({notBefore: new Date('2030-02-01T00:00:00Z')}), true, now, 'r.pem'), /not valid before/))
  test('unknown key (none on disk) is not a mismatch', () => checkRoot(cert(), undefined, now, 'r.pem'))
})

describe('intermediate validity', () => {
  test('inside the root: not clamped', () => {
    const v = intermediateValidity(now, 365, new Date('2039-01-01T00:00:00Z'))
    assert.equal(v.notAfter.getTime(), now.getTime() + 365 * DAY_MS)
    assert.equal(v.clampedMs, 0)
    assert.equal(clampWarning('east', v, 365), undefined)
  })
  test('same days as a root made in the same run: equal, no warning', () => {
    const rootEnd = new Date(now.getTime() + 3650 * DAY_MS)
    const v = intermediateValidity(now, 3650, rootEnd)
    assert.equal(v.notAfter.getTime(), rootEnd.getTime())
    assert.equal(clampWarning('east', v, 3650), undefined)
  })
  test('clamped by less than a day: silent', () => {
    const v = intermediateValidity(now, 10, new Date(now.getTime() + 10 * DAY_MS - 3_600_000))
    assert.equal(v.clampedMs, 3_600_000)
    assert.equal(clampWarning('east', v, 10), undefined)
  })
  test('clamped by more than a day: clamped to the root and warned', () => {
    const rootEnd = new Date(now.getTime() + 100 * DAY_MS)
    const v = intermediateValidity(now, 3650, rootEnd)
    assert.equal(v.notAfter.getTime(), rootEnd.getTime())
    assert.match(clampWarning('east', v, 3650)!, /"east" would outlive the root: issued for 100 days .* instead of --days 3650/)
  })
})

describe('planIntermediate', () => {
  const sound = {certPresent: true, keyPresent: true, cert: cert(), keyMatches: true, signedByRoot: true}
  test('nothing on disk: create', () => assert.equal(planIntermediate('east', {certPresent: false, keyPresent: false}, false, now, 'd'), 'create'))
  test('sound pair: reuse', () => assert.equal(planIntermediate('east', sound, false, now, 'd'), 'reuse'))
  test('--force: reissue', () => assert.equal(planIntermediate('east', sound, true, now, 'd'), 'reissue'))
  test('--force on a broken pair: reissue', () => assert.equal(planIntermediate('east', {certPresent: true, keyPresent: false}, true, now, 'd'), 'reissue'))
  test('missing key', () => usage(() => planIntermediate('east', {certPresent: true, keyPresent: false}, false, now, 'd'), /d\/east holds ca-cert\.pem but no ca-key\.pem/))
  test('key mismatch', () => usage(() => planIntermediate('east', {...sound, keyMatches: false}, false, now, 'd'), /ca-key\.pem does not match/))
  test('other root', () => usage(() => planIntermediate('east', {...sound, signedByRoot: false}, false, now, 'd'), /not issued by the root in d/))
  test('expired', () => usage(() => planIntermediate('east', {...sound, cert: cert({notAfter: new Date('2029-06-01T00:00:00Z')})}, false, now, 'd'), /expired on/))
})

describe('cacerts Secret', () => {
  const m = {caCertPem: 'CA\n', caKeyPem: 'KEY\n', rootCertPem: 'ROOT'}
  test('chain = intermediate then root', () => assert.equal(certChain(m), 'CA\nROOT\n'))
  test('Opaque, four keys, stamped, in the Istio namespace', () => {
    const s = cacertsSecret(m, 'istio-system', '1.2.3')
    assert.equal(s.type, 'Opaque')
    assert.deepEqual(s.metadata.namespace, 'istio-system')
    assert.equal(s.metadata.name, 'cacerts')
    assert.equal(s.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(s.metadata.annotations!['kubectl-mesh/version'], '1.2.3')
    const decoded = Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
    assert.deepEqual(decoded, {'ca-cert.pem': 'CA\n', 'ca-key.pem': 'KEY\n', 'cert-chain.pem': 'CA\nROOT\n', 'root-cert.pem': 'ROOT\n'})
  })
  test('live roots: none, Istio format, TLS format', () => {
    const fp = (pem: string) => pem.split(',')
    assert.equal(liveSecretRoots(undefined, fp), undefined)
    const live = (data: Record<string, string>) => ({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'cacerts'}, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))})
    assert.deepEqual(liveSecretRoots(live({'root-cert.pem': 'A,B'}), fp), ['A', 'B'])
    // the kubernetes.io/tls layout: istiod reads ca.crt when tls.crt is there (src/cluster/trust.ts), whatever else the Secret holds
    assert.deepEqual(liveSecretRoots(live({'tls.crt': 'X', 'tls.key': 'K', 'ca.crt': 'C'}), fp), ['C'])
    assert.deepEqual(liveSecretRoots(live({'tls.crt': 'X', 'ca.crt': 'C', 'root-cert.pem': 'A'}), fp), ['C'])
    assert.deepEqual(liveSecretRoots(live({}), fp), [])
  })
  test('another root is refused unless --force; ours or none passes', () => {
    checkLiveRoot('c1', 'istio-system', undefined, 'A', false)
    checkLiveRoot('c1', 'istio-system', ['B', 'A'], 'A', false)
    checkLiveRoot('c1', 'istio-system', ['B'], 'A', true)
    usage(() => checkLiveRoot('c1', 'istio-system', ['B'], 'A', false), /context "c1": Secret istio-system\/cacerts holds another root \(root B; ours is A\)/)
  })
})
