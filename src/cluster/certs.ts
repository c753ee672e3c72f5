// Reading the trust material of a cluster with node:crypto: the cacerts Secret and the
// istio-ca-root-cert ConfigMap. Pure functions of the PEM text.
import {createHash, createPrivateKey, X509Certificate} from 'node:crypto'
import {SAMPLE_CERT_FINGERPRINTS, SAMPLE_EMAIL, SAMPLE_SPKI_HASHES} from './sample-ca.ts'

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Every certificate of a PEM bundle (X509Certificate alone reads only the first block). */
export function parseBundle(pem: string | undefined): X509Certificate[] {
  if (!pem) return []
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block))
}

/** Lower-case hex DER SHA-256, no colons. */
export function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase()
}

export function spkiHash(cert: X509Certificate): string {
  return createHash('sha256').update(cert.publicKey.export({type: 'spki', format: 'der'})).digest('hex')
}

export function shortFingerprint(fp: string): string {
  return `${fp.slice(0, 16)}…`
}

/** Why a certificate is Istio's public sample material, or undefined. */
export function sampleMatch(cert: X509Certificate): string | undefined {
  const byFp = SAMPLE_CERT_FINGERPRINTS[fingerprint(cert)]
  if (byFp) return byFp
  const bySpki = SAMPLE_SPKI_HASHES[spkiHash(cert)]
  if (bySpki) return bySpki
  if (cert.subject.includes(SAMPLE_EMAIL) || cert.issuer.includes(SAMPLE_EMAIL)) return `a certificate of ${SAMPLE_EMAIL}`
  return undefined
}

/** The data of a cacerts Secret, decoded (base64 → text). */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8')
  return out
}

/** The layouts of a cacerts Secret as istiod detects them (src/cluster/trust.ts). */
export interface CacertsKeys {
  format: 'istio' | 'tls'
  signingCert: string
  signingKey: string
  /** The intermediates file (Istio's layout only). */
  chain?: string
  roots: string
  /** Every key istiod needs in this layout. */
  required: string[]
}

/** The keys of a cacerts Secret's data, by its layout (tls.crt present: the kubernetes.io/tls layout). */
export function cacertsKeys(data: Record<string, unknown> | undefined): CacertsKeys {
  return data && 'tls.crt' in data
    ? {format: 'tls', signingCert: 'tls.crt', signingKey: 'tls.key', roots: 'ca.crt', required: ['tls.crt', 'tls.key', 'ca.crt']}
    : {format: 'istio', signingCert: 'ca-cert.pem', signingKey: 'ca-key.pem', chain: 'cert-chain.pem', roots: 'root-cert.pem', required: ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']}
}

export interface CacertsMaterial {
  format: 'istio' | 'tls'
  signing?: X509Certificate
  chain: X509Certificate[]
  roots: X509Certificate[]
}

export interface CacertsAnalysis {
  problems: string[]
  material?: CacertsMaterial
}


/**
 * The checks istiod makes at start-up (reference §1.3): a complete bundle, parseable PEM, a CA
 * signing certificate whose key matches, and a chain that verifies up to a root in root-cert.pem.
 */
export function analyzeCacerts(data: Record<string, string>): CacertsAnalysis {
  const problems: string[] = []
  const keys = cacertsKeys(data)
  const tls = keys.format === 'tls'
  const missing = keys.required.filter((k) => !data[k]?.trim())
  if (missing.length > 0) {
    problems.push(`incomplete: missing ${missing.join(', ')} (istiod 1.27+ refuses to start: "incomplete signing CA bundle detected")`)
    return {problems}
  }
  const {signingCert: certKey, signingKey: keyKey, roots: rootKey} = keys
  let signing: X509Certificate | undefined
  let roots: X509Certificate[] = []
  let chain: X509Certificate[] = []
  try {
    signing = parseBundle(data[certKey])[0]
    if (!signing) problems.push(`${certKey} holds no PEM certificate`)
  } catch (error) {
    problems.push(`${certKey} is not a valid certificate: ${(error as Error).message}`)
  }
  try {
    roots = parseBundle(data[rootKey])
    if (roots.length === 0) problems.push(`${rootKey} holds no PEM certificate`)
  } catch (error) {
    problems.push(`${rootKey} is not a valid certificate: ${(error as Error).message}`)
  }
  try {
    chain = tls ? [] : parseBundle(data['cert-chain.pem'])
    if (!tls && chain.length === 0) problems.push('cert-chain.pem holds no PEM certificate')
  } catch (error) {
    problems.push(`cert-chain.pem is not a valid certificate bundle: ${(error as Error).message}`)
  }
  if (signing) {
    if (!signing.ca) problems.push(`${certKey} is not a CA certificate ("certificate is not authorized to sign other certificates")`)
    try {
      const key = createPrivateKey(data[keyKey])
      if (!signing.checkPrivateKey(key)) problems.push(`${keyKey} does not match ${certKey} ("the cert does not match the key")`)
    } catch (error) {
      problems.push(`${keyKey} is not a valid private key: ${(error as Error).message.split('\n')[0]}`)
    }
    if (roots.length > 0 && !verifiesTo(signing, chain, roots)) {
      problems.push(`${certKey} does not verify against ${rootKey}${tls ? '' : ' with cert-chain.pem'} ("cannot verify the cert with the provided root chain")`)
    }
  }
  return {problems, material: {format: tls ? 'tls' : 'istio', signing, chain, roots}}
}

/** Walk issuers from cert through the intermediates until a certificate signed by (or equal to) a root. */
export function verifiesTo(cert: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): boolean {
  const rootFps = new Set(roots.map(fingerprint))
  let current = cert
  for (let depth = 0; depth < 10; depth++) {
    if (rootFps.has(fingerprint(current))) return true
    const root = roots.find((r) => issuedBy(current, r))
    if (root) return true
    const next = intermediates.find((c) => fingerprint(c) !== fingerprint(current) && issuedBy(current, c))
    if (!next) return false
    current = next
  }
  return false
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  } catch {
    return false
  }
}

/** The roots of a cacerts Secret (root-cert.pem or ca.crt), unparseable parts ignored. */
export function cacertsRoots(data: Record<string, string>): X509Certificate[] {
  try {
    return parseBundle(data[cacertsKeys(data).roots])
  } catch {
    return []
  }
}

/** The root (of `roots`) that `cert` verifies to through `intermediates`, or undefined. A two-root bundle during a rotation names which of the two issued. */
export function issuingRoot(cert: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): X509Certificate | undefined {
  return roots.find((r) => verifiesTo(cert, intermediates, [r]))
}

/** The signing certificate of a cacerts Secret (ca-cert.pem or tls.crt) and its chain, unparseable parts ignored. */
export function cacertsSigning(data: Record<string, string>): {signing?: X509Certificate; chain: X509Certificate[]} {
  try {
    const keys = cacertsKeys(data)
    return {signing: parseBundle(data[keys.signingCert])[0], chain: keys.chain ? parseBundle(data[keys.chain]) : []}
  } catch {
    return {chain: []}
  }
}
