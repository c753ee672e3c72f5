// Pure decisions of `ca gen`: option checks, what to do with the root and each intermediate given
// what is on disk, validity clamping, and the `cacerts` Secret. No I/O here; table-tested.
import {UsageError} from '../errors.ts'
import {CACERTS_SECRET, isDns1123Label, stamp} from '../istio/names.ts'
import type {KubeObject} from '../kube/resources.ts'
import {cacertsRootPem} from '../cluster/trust.ts'

export const KEY_SIZES = [2048, 3072, 4096] as const
export const DAY_MS = 86_400_000

export interface CaGenOptions {
  clusters: string[]
  dir: string
  rootCertFile?: string
  rootKeyFile?: string
  keySize: number
  rootDays: number
  days: number
  org: string
  force: boolean
  /** Install the intermediate as Secret cacerts in this context (one --cluster only). */
  context?: string
  /** True when --context was given (the context may be resolved later). */
  install: boolean
  istioNamespace: string
  output: 'text' | 'yaml' | 'json'
  dryRun: boolean
  version: string
}

/** Checks that need nothing but the flags. Throws UsageError (exit 2) before anything is read or written. */
export function validateOptions(o: CaGenOptions): void {
  if (o.clusters.length === 0) throw new UsageError('no --cluster given', 'name at least one cluster: kubectl mesh ca gen --cluster east --cluster west')
  for (const c of o.clusters) {
    if (!isDns1123Label(c)) {
      throw new UsageError(`cluster name "${c}" is not a DNS-1123 label`, 'use lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters (e.g. east-1)')
    }
  }
  const dup = o.clusters.find((c, i) => o.clusters.indexOf(c) !== i)
  if (dup) throw new UsageError(`cluster "${dup}" is named twice`, 'give each --cluster once')
  if (o.install && o.clusters.length > 1) {
    throw new UsageError(`--context installs one cluster's CA, but ${o.clusters.length} clusters were named (${o.clusters.join(', ')})`,
      `run once per cluster: ${o.clusters.map((c) => `kubectl mesh ca gen --cluster ${c} --context <${c}-context>`).join('; ')}`)
  }
  if (!(KEY_SIZES as readonly number[]).includes(o.keySize)) {
    throw new UsageError(`key size ${o.keySize} is not supported`, `use --key-size ${KEY_SIZES.join(', ')} (4096 is what Istio's tools/certs uses)`)
  }
  for (const [flag, value] of [['--days', o.days], ['--root-days', o.rootDays]] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag} must be a positive number of days, got ${value}`, `pass e.g. ${flag} 3650`)
    // X.509 dates end at 9999-12-31 (GeneralizedTime); beyond, the date cannot even be encoded.
    const max = Math.floor((Date.UTC(9999, 11, 31) - Date.now()) / 86_400_000)
    if (value > max) throw new UsageError(`${flag} ${value} is too large: a certificate cannot end after 9999-12-31 (at most ${max} days from now)`, `pass e.g. ${flag} 3650`)
  }
  if (Boolean(o.rootCertFile) !== Boolean(o.rootKeyFile)) {
    throw new UsageError(o.rootCertFile ? '--root-cert was given without --root-key' : '--root-key was given without --root-cert', 'bring your own root with both: --root-cert FILE --root-key FILE')
  }
  if (o.org.trim() === '') throw new UsageError('--org must not be empty', 'pass e.g. --org Istio')
}

/** What the command may tell about a certificate without holding the parsed object. */
export interface CertInfo {
  fingerprint256: string
  isCA: boolean
  notBefore: Date
  notAfter: Date
  subject: string
}

/** A root brought in or found on disk must be a CA, match its key and be valid now. */
export function checkRoot(root: CertInfo, keyMatches: boolean | undefined, now: Date, where: string): void {
  if (!root.isCA) throw new UsageError(`${where} is not a CA certificate (basicConstraints CA:true is missing)`, 'bring a root CA certificate, e.g. one made by `kubectl mesh ca gen` or Istio\'s tools/certs')
  if (root.notAfter.getTime() <= now.getTime()) {
    throw new UsageError(`${where} expired on ${root.notAfter.toISOString()}`, 'a mesh cannot be issued from an expired root; bring a valid root with --root-cert/--root-key, or use a new --dir for a new root (every cluster then needs the new CA)')
  }
  if (root.notBefore.getTime() > now.getTime() + 5 * 60_000) {
    throw new UsageError(`${where} is not valid before ${root.notBefore.toISOString()}`, 'check the clock of this machine, or bring a root that is already valid')
  }
  if (keyMatches === false) throw new UsageError(`the root key does not match ${where}`, 'pass the private key that belongs to the root certificate')
}

export interface Validity {
  notBefore: Date
  notAfter: Date
  /** How much the clamp to the root's notAfter cut off, in ms (0 = none). */
  clampedMs: number
}

/** An intermediate never outlives its root: clamp to the root's notAfter. */
export function intermediateValidity(now: Date, days: number, rootNotAfter: Date): Validity {
  const wanted = now.getTime() + days * DAY_MS
  const notAfter = Math.min(wanted, rootNotAfter.getTime())
  return {notBefore: now, notAfter: new Date(notAfter), clampedMs: wanted - notAfter}
}

/** Warn only when the clamp costs more than a day (so defaults made in one run never warn). */
export function clampWarning(cluster: string, v: Validity, days: number): string | undefined {
  if (v.clampedMs <= DAY_MS) return undefined
  const kept = Math.floor((v.notAfter.getTime() - v.notBefore.getTime()) / DAY_MS)
  return `intermediate CA of cluster "${cluster}" would outlive the root: issued for ${kept} days (until ${v.notAfter.toISOString()}, the root's expiry) instead of --days ${days}`
}

/** What is on disk for one cluster's intermediate. */
export interface IntermediateOnDisk {
  certPresent: boolean
  keyPresent: boolean
  /** Set when both parse. */
  cert?: CertInfo
  keyMatches?: boolean
  signedByRoot?: boolean
}

export type IntermediateAction = 'create' | 'reissue' | 'reuse'

/** Reuse a sound intermediate; --force re-issues; anything else needs --force to be replaced. */
export function planIntermediate(cluster: string, disk: IntermediateOnDisk, force: boolean, now: Date, dir: string): IntermediateAction {
  if (!disk.certPresent && !disk.keyPresent) return 'create'
  if (force) return 'reissue'
  const where = `${dir}/${cluster}`
  const hint = `pass --force to re-issue the intermediate of "${cluster}" from the root (rotation), or move ${where} away`
  if (!disk.certPresent || !disk.keyPresent) throw new UsageError(`${where} holds ${disk.certPresent ? 'ca-cert.pem but no ca-key.pem' : 'ca-key.pem but no ca-cert.pem'}`, hint)
  if (disk.keyMatches === false) throw new UsageError(`${where}/ca-key.pem does not match ${where}/ca-cert.pem`, hint)
  if (disk.signedByRoot === false) throw new UsageError(`${where}/ca-cert.pem was not issued by the root in ${dir}`, hint)
  if (disk.cert && disk.cert.notAfter.getTime() <= now.getTime()) throw new UsageError(`${where}/ca-cert.pem expired on ${disk.cert.notAfter.toISOString()}`, hint)
  return 'reuse'
}

export interface ClusterMaterial {
  caCertPem: string
  caKeyPem: string
  rootCertPem: string
}

/** cert-chain.pem: the intermediate, then the root (tools/certs order). */
export function certChain(m: Pick<ClusterMaterial, 'caCertPem' | 'rootCertPem'>): string {
  return `${ensureNl(m.caCertPem)}${ensureNl(m.rootCertPem)}`
}

export function ensureNl(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`
}

/** The four files of a cluster folder, in the tools/certs layout. */
export function clusterFiles(m: ClusterMaterial): Record<'ca-cert.pem' | 'ca-key.pem' | 'cert-chain.pem' | 'root-cert.pem', string> {
  return {
    'ca-cert.pem': ensureNl(m.caCertPem),
    'ca-key.pem': ensureNl(m.caKeyPem),
    'cert-chain.pem': certChain(m),
    'root-cert.pem': ensureNl(m.rootCertPem),
  }
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

/** Secret `cacerts` (Opaque) in the Istio namespace, as `kubectl create secret generic cacerts --from-file=…` makes it. */
export function cacertsSecret(m: ClusterMaterial, namespace: string, version: string): KubeObject {
  const files = clusterFiles(m)
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: CACERTS_SECRET, namespace, ...stamp(version)},
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)])),
  }
}

/**
 * The roots (SHA-256 fingerprints) an existing `cacerts` trusts, to compare with ours before
 * replacing it. `fingerprintsOf` turns a PEM bundle into fingerprints (injected: this module is pure).
 */
export function liveSecretRoots(live: KubeObject | undefined, fingerprintsOf: (pem: string) => string[]): string[] | undefined {
  if (!live) return undefined
  const pem = cacertsRootPem(live)
  return pem ? fingerprintsOf(pem) : []
}

/** Refuse (exit 2) to replace a cacerts that trusts another root, unless --force. */
export function checkLiveRoot(context: string, namespace: string, liveRoots: string[] | undefined, ourRoot: string, force: boolean): void {
  if (liveRoots === undefined || force) return
  if (liveRoots.includes(ourRoot)) return
  const theirs = liveRoots.length > 0 ? `root ${liveRoots[0]}` : 'no readable root-cert.pem'
  throw new UsageError(`context "${context}": Secret ${namespace}/${CACERTS_SECRET} holds another root (${theirs}; ours is ${ourRoot})`,
    'replacing it splits the mesh\'s trust: every cluster must share one root. Use the --dir (or --root-cert/--root-key) of the root already installed, or pass --force to replace it and then re-install every other cluster from this root')
}
