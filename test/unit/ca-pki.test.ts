// The certificate builder, checked with Node's X509 parser and with openssl (independent of forge).
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {X509Certificate, createPrivateKey} from 'node:crypto'
import {buildCaCert, generateRsaKeyPair, keyMatchesCert, readCert, readPrivateKey, signedBy, splitPemCerts, type KeyPair} from '../../src/ca/pki.ts'

const DAY = 86_400_000
const openssl = (args: string[]) => execFileSync('openssl', args, {encoding: 'utf8'})

describe('ca pki', () => {
  let rootKeys: KeyPair
  let interKeys: KeyPair
  let rootPem: string
  let interPem: string
  const now = new Date(Math.floor(Date.now() / 1000) * 1000)
  const dir = mkdtempSync(join(tmpdir(), 'ca-pki-'))

  after(() => rmSync(dir, {recursive: true, force: true}))

  before(async () => {
    ;[rootKeys, interKeys] = await Promise.all([generateRsaKeyPair(2048), generateRsaKeyPair(2048)])
    rootPem = buildCaCert({subject: [['O', 'Istio'], ['CN', 'Root CA']], publicKeyPem: rootKeys.publicKeyPem, selfSignKeyPem: rootKeys.privateKeyPem, notBefore: now, notAfter: new Date(now.getTime() + 3650 * DAY)})
    interPem = buildCaCert({
      subject: [['O', 'Istio'], ['CN', 'Intermediate CA'], ['L', 'east']],
      publicKeyPem: interKeys.publicKeyPem,
      issuer: {certPem: rootPem, keyPem: rootKeys.privateKeyPem},
      notBefore: now,
      notAfter: new Date(now.getTime() + 100 * DAY),
      pathLen: 0,
      dnsNames: ['istiod.istio-system.svc'],
    })
    writeFileSync(join(dir, 'root.pem'), rootPem)
    writeFileSync(join(dir, 'inter.pem'), interPem)
  })

  test('keys are RSA PKCS#8 of the requested size', () => {
    assert.match(rootKeys.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/)
    const k = createPrivateKey(rootKeys.privateKeyPem)
    assert.equal(k.asymmetricKeyType, 'rsa')
    assert.equal(k.asymmetricKeyDetails?.modulusLength, 2048)
  })

  test('root: self-signed CA, subject O=Istio CN=Root CA, SHA-256, validity', () => {
    const x = new X509Certificate(rootPem)
    assert.equal(x.ca, true)
    assert.equal(x.subject, 'O=Istio\nCN=Root CA')
    assert.equal(x.issuer, x.subject)
    assert.ok(x.verify(x.publicKey))
    assert.equal(new Date(x.validFrom).getTime(), now.getTime())
    assert.equal(new Date(x.validTo).getTime(), now.getTime() + 3650 * DAY)
    const text = openssl(['x509', '-in', join(dir, 'root.pem'), '-noout', '-text'])
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/)
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/)
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/)
    assert.match(text, /X509v3 Subject Key Identifier/)
    assert.doesNotMatch(text, /Subject Alternative Name/)
  })

  test('intermediate: CA pathlen:0, L=<cluster>, SAN istiod, issued by the root, verifies with openssl', () => {
    const x = new X509Certificate(interPem)
    assert.equal(x.subject, 'O=Istio\nCN=Intermediate CA\nL=east')
    assert.equal(x.issuer, 'O=Istio\nCN=Root CA')
    assert.equal(x.subjectAltName, 'DNS:istiod.istio-system.svc')
    const text = openssl(['x509', '-in', join(dir, 'inter.pem'), '-noout', '-text'])
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/)
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/)
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/)
    const rootSki = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(openssl(['x509', '-in', join(dir, 'root.pem'), '-noout', '-text']))![1]
    assert.match(text, new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${rootSki}`))
    assert.match(openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'inter.pem')]), /inter\.pem: OK/)
  })

  test('issuer name bytes equal the root subject bytes (Go chains on raw names)', () => {
    const r = openssl(['x509', '-in', join(dir, 'root.pem'), '-noout', '-subject', '-nameopt', 'RFC2253'])
    const i = openssl(['x509', '-in', join(dir, 'inter.pem'), '-noout', '-issuer', '-nameopt', 'RFC2253'])
    assert.equal(r.replace('subject=', ''), i.replace('issuer=', ''))
    assert.equal(openssl(['x509', '-in', join(dir, 'root.pem'), '-noout', '-subject_hash']), openssl(['x509', '-in', join(dir, 'inter.pem'), '-noout', '-issuer_hash']))
  })

  test('serials are random and positive', () => {
    const a = new X509Certificate(rootPem).serialNumber
    const b = new X509Certificate(interPem).serialNumber
    assert.notEqual(a, b)
    assert.equal(a.length, 32)
    assert.ok(Number.parseInt(a[0], 16) < 8)
  })

  test('readers: facts, key match, signature, PEM bundles, non-PEM', () => {
    const root = readCert(rootPem)
    const inter = readCert(`${interPem}${rootPem}`)
    assert.equal(inter.subject, 'O=Istio\nCN=Intermediate CA\nL=east')
    assert.equal(splitPemCerts(`${interPem}${rootPem}`).length, 2)
    assert.equal(keyMatchesCert(root, readPrivateKey(rootKeys.privateKeyPem)), true)
    assert.equal(keyMatchesCert(root, readPrivateKey(interKeys.privateKeyPem)), false)
    assert.equal(signedBy(inter, root), true)
    assert.equal(signedBy(root, inter), false)
    assert.throws(() => readCert('hello'), /not a PEM certificate/)
    assert.throws(() => readCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /not a valid PEM certificate/)
    assert.throws(() => readPrivateKey(rootPem), /not a PEM private key/)
  })
})
