// The certificate builder: RSA key pairs from Node's native crypto (generated concurrently on the
// libuv thread pool), certificates laid out with node-forge exactly as Istio's tools/certs makes
// them with openssl (reference §1.1), signed natively (RSA PKCS#1 v1.5, SHA-256).
// The only module that imports node-forge.
import {createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, privateEncrypt, randomBytes, X509Certificate} from 'node:crypto'
import {promisify} from 'node:util'
import forge from 'node-forge'

const generateKeyPairAsync = promisify(generateKeyPair)

export const INTERMEDIATE_SAN_DNS = 'istiod.istio-system.svc'
export const ROOT_CN = 'Root CA'
export const INTERMEDIATE_CN = 'Intermediate CA'

export interface KeyPair {
  /** PKCS#8 PEM ("PRIVATE KEY"), as `openssl genrsa` of OpenSSL 3 writes it. */
  privateKeyPem: string
  /** SPKI PEM ("PUBLIC KEY"). */
  publicKeyPem: string
}

/** One RSA key pair, generated off the main thread. */
export async function generateRsaKeyPair(bits: number): Promise<KeyPair> {
  const {privateKey, publicKey} = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: {type: 'pkcs8', format: 'pem'},
    publicKeyEncoding: {type: 'spki', format: 'pem'},
  })
  return {privateKeyPem: privateKey, publicKeyPem: publicKey}
}

export interface CertSpec {
  /** Subject attributes in order, e.g. [['O','Istio'],['CN','Root CA']]. */
  subject: Array<[string, string]>
  publicKeyPem: string
  notBefore: Date
  notAfter: Date
  /** The CA that signs: its certificate (PEM) and private key (PEM). Omitted for a self-signed root. */
  issuer?: {certPem: string; keyPem: string}
  /** Private key of the subject, for a self-signed certificate. */
  selfSignKeyPem?: string
  /** basicConstraints pathlen; undefined = no path length constraint. */
  pathLen?: number
  /** DNS subjectAltNames. */
  dnsNames?: string[]
  /** Serial number as hex; random 16 bytes when omitted. */
  serialHex?: string
}

const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex')

/** A forge "key" whose sign() is Node's native RSA PKCS#1 v1.5 over forge's SHA-256 digest. */
function nativeSigner(key: KeyObject): {sign(md: forge.md.MessageDigest): string} {
  return {
    sign(md) {
      const digest = Buffer.from(md.digest().getBytes(), 'binary')
      const sig = privateEncrypt(key, Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]))
      return sig.toString('binary')
    },
  }
}

/** A positive, non-zero random serial of 16 bytes. */
export function randomSerialHex(): string {
  const b = randomBytes(16)
  b[0] = (b[0] & 0x7f) | 0x01
  return b.toString('hex')
}

function subjectKeyId(publicKeyPem: string): string {
  // "hash" method of RFC 5280 §4.2.1.2 (1), as openssl does: SHA-1 of the subjectPublicKey bits.
  const spki = createPublicKey(publicKeyPem).export({type: 'pkcs1', format: 'der'})
  return createHash('sha1').update(spki).digest('hex')
}

/** Build and sign one CA certificate (v3, SHA-256 with RSA). Returns PEM. */
export function buildCaCert(spec: CertSpec): string {
  const cert = forge.pki.createCertificate()
  cert.serialNumber = spec.serialHex ?? randomSerialHex()
  cert.validity.notBefore = spec.notBefore
  cert.validity.notAfter = spec.notAfter
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicKeyPem)
  const attrs = spec.subject.map(([shortName, value]) => ({shortName, value, valueTagClass: forge.asn1.Type.UTF8 as number}))
  cert.setSubject(attrs)
  const ski = subjectKeyId(spec.publicKeyPem)
  let signingKey: KeyObject
  let issuerSki: string | undefined
  if (spec.issuer) {
    // Issuer = the CA's subject, attribute by attribute with its original string types, so the
    // encoded issuer name matches the CA's subject byte for byte (Go chains on raw bytes).
    const issuerCert = forge.pki.certificateFromPem(spec.issuer.certPem)
    cert.setIssuer(issuerCert.subject.attributes)
    signingKey = createPrivateKey(spec.issuer.keyPem)
    const ext = issuerCert.getExtension('subjectKeyIdentifier') as {subjectKeyIdentifier?: string} | null
    issuerSki = ext?.subjectKeyIdentifier ?? subjectKeyId(forge.pki.publicKeyToPem(issuerCert.publicKey))
  } else {
    if (!spec.selfSignKeyPem) throw new Error('buildCaCert: a self-signed certificate needs selfSignKeyPem')
    cert.setIssuer(attrs)
    signingKey = createPrivateKey(spec.selfSignKeyPem)
  }
  const extensions: any[] = [
    {name: 'subjectKeyIdentifier', subjectKeyIdentifier: ski},
    {name: 'basicConstraints', critical: true, cA: true, ...(spec.pathLen === undefined ? {} : {pathLenConstraint: spec.pathLen})},
    {name: 'keyUsage', critical: true, digitalSignature: true, nonRepudiation: true, keyEncipherment: true, keyCertSign: true},
  ]
  if (spec.dnsNames?.length) extensions.push({name: 'subjectAltName', altNames: spec.dnsNames.map((value) => ({type: 2, value}))})
  if (issuerSki) extensions.push({name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(issuerSki)})
  cert.setExtensions(extensions)
  cert.sign(nativeSigner(signingKey) as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create())
  return forge.pki.certificateToPem(cert).replaceAll('\r\n', '\n')
}

// ---------------------------------------------------------------------------------------------
// Reading PEM material (Node's X509Certificate; forge is only used to build).

export interface CertFacts {
  pem: string
  subject: string
  issuer: string
  /** DER SHA-256, colon-separated upper-case hex (Node's fingerprint256, like openssl -fingerprint). */
  fingerprint256: string
  isCA: boolean
  notBefore: Date
  notAfter: Date
  x509: X509Certificate
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** The certificates in a PEM bundle, in order. */
export function splitPemCerts(text: string): string[] {
  return [...text.matchAll(PEM_CERT)].map((m) => `${m[0].trim()}\n`)
}

/** Parse the first certificate of a PEM text; throws an Error with a short reason when it is not one. */
export function readCert(text: string): CertFacts {
  const [pem] = splitPemCerts(text)
  if (!pem) throw new Error('not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)')
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(pem)
  } catch (error) {
    throw new Error(`not a valid PEM certificate: ${(error as Error).message}`)
  }
  return {
    pem,
    subject: x509.subject,
    issuer: x509.issuer,
    fingerprint256: x509.fingerprint256,
    isCA: x509.ca,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    x509,
  }
}

/** Parse a PEM private key (PKCS#1 or PKCS#8, RSA); throws with a short reason. */
export function readPrivateKey(text: string): KeyObject {
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) throw new Error('not a PEM private key (no "-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----" block)')
  let key: KeyObject
  try {
    key = createPrivateKey(text)
  } catch (error) {
    throw new Error(`not a valid PEM private key: ${(error as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key; kubectl-mesh signs with RSA keys only`)
  return key
}

/** The private key belongs to the certificate. */
export function keyMatchesCert(cert: CertFacts, key: KeyObject): boolean {
  return cert.x509.checkPrivateKey(key)
}

/** `child` carries a valid signature by `issuer`'s key. */
export function signedBy(child: CertFacts, issuer: CertFacts): boolean {
  return child.x509.checkIssued(issuer.x509) && child.x509.verify(issuer.x509.publicKey)
}
