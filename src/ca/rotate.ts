// `ca rotate`: read DIR and every named cluster (cacerts, istiod's Deployments, mesh config, the
// istio-ca-root-cert ConfigMaps istiod publishes, and the serving certificate each istiod pod
// presents on port 15012), let the planner (rotate-plan.ts) pick the step, then write: files first
// (so an interrupted run finds the material), then the Secrets, then the file moves of phase 3.
import {istiodEnv, istiodVersion, parsedKey} from '../istio/install.ts'
import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync, chmodSync} from 'node:fs'
import {connect} from 'node:tls'
import {join} from 'node:path'
import {X509Certificate} from 'node:crypto'
import {OperationError, UsageError} from '../errors.ts'
import {CACERTS_SECRET, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {cacertsKeys, cacertsRootPem} from '../cluster/trust.ts'
import {ISTIOD_APP_SELECTOR} from '../istio/revision.ts'
import {readRevisioned} from '../istio/read.ts'
import {applyObject, type Change} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import {openPortForward} from '../kube/portforward.ts'
import {RESOURCES, resourcePath, type KubeObject} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {buildCaCert, type CertFacts, generateRsaKeyPair, INTERMEDIATE_CN, INTERMEDIATE_SAN_DNS, keyMatchesCert, readCert, readPrivateKey, ROOT_CN, signedBy, splitPemCerts} from './pki.ts'
import {DAY_MS, intermediateValidity} from './plan.ts'
import {type ClusterRotateFacts, type DirFacts, planRotation, type RotateOptions, type RotatePlan, type Stage, STAGE_NAMES, stageFiles, stageSecret, validateRotateOptions, type Wait} from './rotate-plan.ts'
import {checkDirWritable} from './service.ts'

export const ISTIOD_XDS_TLS_PORT = 15012
const LOCAL = 'local'
/** Namespaces istiod's namespace controller never writes istio-ca-root-cert to (inject.IgnoredNamespaces less kube-system): a copy there is not istiod's. */
const ISTIOD_IGNORED_NAMESPACES = new Set(['kube-public', 'kube-node-lease', 'local-path-storage'])
const ROTATION_FILE = 'rotation.json'

export interface RotateResult {
  step: RotatePlan['step']
  summary: string
  changes: Change[]
  waits: Wait[]
  notes: string[]
  /** The stage of each context after this run. */
  stages: Record<string, {stage: Stage; meaning: string}>
  yamlDocs?: Array<{context: string; object: KubeObject}>
}

export interface RotateDeps {
  session: () => Session
  now?: () => Date
}

interface Folder {
  name: string
  cert: CertFacts
  keyPem?: string
}

interface DirRead {
  facts: DirFacts
  root: CertFacts
  next?: CertFacts
  nextKeyPem?: string
  folders: Folder[]
  nextFolders: Folder[]
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw new UsageError(`cannot read ${path}: ${code ?? (error as Error).message}`, 'check the path and its permissions')
  }
}

function certAt(path: string): CertFacts | undefined {
  const text = readOptional(path)
  if (text === undefined) return undefined
  try {
    return readCert(text)
  } catch (error) {
    throw new UsageError(`${path} is ${(error as Error).message}`, `restore ${path}`)
  }
}

const RESERVED = /^(next|retired-.*|aborted-.*)$/

function readFolders(base: string): Folder[] {
  let names: string[]
  try {
    names = readdirSync(base).filter((n) => !RESERVED.test(n) && statSync(join(base, n)).isDirectory())
  } catch {
    return []
  }
  return names.sort().flatMap((name) => {
    const cert = certAt(join(base, name, 'ca-cert.pem'))
    if (!cert) return []
    return [{name, cert, keyPem: readOptional(join(base, name, 'ca-key.pem'))}]
  })
}

function readDir(dir: string): DirRead {
  const root = certAt(join(dir, 'root-cert.pem'))
  if (!root) throw new UsageError(`${join(dir, 'root-cert.pem')}: no such file`, 'pass the --dir that `kubectl mesh ca gen` made for this mesh (it holds root-cert.pem and one folder per cluster)')
  const next = certAt(join(dir, 'next', 'root-cert.pem'))
  const nextKeyPem = readOptional(join(dir, 'next', 'root-key.pem'))
  if (next && nextKeyPem !== undefined && !keyMatchesCert(next, readPrivateKey(nextKeyPem))) {
    throw new UsageError(`${join(dir, 'next', 'root-key.pem')} does not match ${join(dir, 'next', 'root-cert.pem')}`, `restore the new root's key, or abort the rotation and move ${join(dir, 'next')} away`)
  }
  let finished: DirFacts['finished']
  const state = readOptional(join(dir, ROTATION_FILE))
  if (state) {
    try {
      finished = JSON.parse(state)
    } catch {
      throw new UsageError(`${join(dir, ROTATION_FILE)} is not JSON`, `restore it, or move it away to start a new rotation`)
    }
  }
  return {
    facts: {dir, root: root.fingerprint256, next: next?.fingerprint256, nextKey: nextKeyPem !== undefined, finished},
    root, next, nextKeyPem,
    folders: readFolders(dir),
    nextFolders: next ? readFolders(join(dir, 'next')) : [],
  }
}

const decode = (data: Record<string, string> | undefined, key: string) => (data?.[key] ? Buffer.from(data[key], 'base64').toString('utf8') : undefined)

function fingerprints(pem: string | undefined): string[] {
  return splitPemCerts(pem ?? '').flatMap((p) => {
    try {
      return [readCert(p).fingerprint256]
    } catch {
      return []
    }
  })
}

function cacertsFacts(secret: KubeObject | undefined, d: DirRead): ClusterRotateFacts['cacerts'] {
  if (!secret) return null
  const data = secret.data as Record<string, string> | undefined
  const problems: string[] = []
  const keys = cacertsKeys(data)
  const certPem = decode(data, keys.signingCert)
  const keyPem = decode(data, keys.signingKey)
  const rootPem = cacertsRootPem(secret)
  const missing = keys.required.filter((k) => !data?.[k])
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`)
  let signing: CertFacts | undefined
  try {
    if (certPem) signing = readCert(certPem)
  } catch (error) {
    problems.push(`${keys.signingCert} is ${(error as Error).message}`)
  }
  if (signing && keyPem) {
    try {
      if (!keyMatchesCert(signing, readPrivateKey(keyPem))) problems.push('the key does not match the signing certificate')
    } catch (error) {
      problems.push(`the key is ${(error as Error).message}`)
    }
  }
  const roots = fingerprints(rootPem)
  let issuedBy: string | undefined
  if (signing) {
    for (const r of [d.root, d.next]) if (r && signedBy(signing, r)) issuedBy = r.fingerprint256
    // the signing certificate must verify against the Secret's own roots (istiod checks it)
    const own = splitPemCerts(rootPem ?? '').flatMap((p) => { try { return [readCert(p)] } catch { return [] } })
    if (own.length > 0 && !own.some((r) => signedBy(signing!, r))) problems.push('the signing certificate does not verify against root-cert.pem')
  }
  return {roots, signing: signing?.fingerprint256, issuedBy, problems}
}

/** The leaf certificate istiod presents on its XDS/CA TLS port, read through a port-forward. */
async function servingCert(client: KubeClient, ns: string, pod: string, timeoutMs: number): Promise<X509Certificate> {
  const stream = await openPortForward(client, ns, pod, ISTIOD_XDS_TLS_PORT, timeoutMs)
  return new Promise((resolve, reject) => {
    const tls = connect({socket: stream as any, servername: `istiod.${ns}.svc`, rejectUnauthorized: false, ALPNProtocols: ['h2']})
    const timer = setTimeout(() => done(new Error(stream.errorText.trim() || `no TLS handshake within ${timeoutMs} ms`)), timeoutMs)
    const done = (error?: Error, cert?: X509Certificate) => {
      clearTimeout(timer)
      tls.destroy()
      stream.destroy()
      if (error) reject(error)
      else resolve(cert!)
    }
    tls.once('secureConnect', () => {
      const cert = tls.getPeerX509Certificate()
      if (cert) done(undefined, cert)
      else done(new Error('istiod presented no certificate'))
    })
    tls.once('error', (e) => done(new Error(stream.errorText.trim() || e.message)))
  })
}

async function readCluster(client: KubeClient, o: RotateOptions, d: DirRead, timeoutMs: number): Promise<ClusterRotateFacts> {
  const ns = o.istioNamespace
  const [secret, {revision, istiods, objects: {meshConfigMap: meshCm}}, rootCms, pods] = await Promise.all([
    client.getOptional<KubeObject>(resourcePath(RESOURCES.Secret, ns, CACERTS_SECRET)),
    readRevisioned(client, ns, ['meshConfigMap'] as const),
    client.get<{items?: KubeObject[]}>(resourcePath(RESOURCES.ConfigMap), {fieldSelector: `metadata.name=${ROOT_CERT_CONFIGMAP}`}),
    client.get<{items?: KubeObject[]}>(resourcePath(RESOURCES.Pod, ns), {labelSelector: ISTIOD_APP_SELECTOR}),
  ])
  const names = revision.names
  // the mesh config parsed as the read model parses it (src/istio/install.ts): unreadable → unset
  const v = parsedKey(meshCm, 'mesh')?.defaultConfig?.proxyMetadata?.PROXY_CONFIG_XDS_AGENT
  const proxyConfigXdsAgent = v === undefined ? undefined : String(v)
  const cacerts = cacertsFacts(secret, d)
  const signingFp = cacerts?.signing
  const folder = signingFp === undefined ? undefined
    : d.folders.find((f) => f.cert.fingerprint256 === signingFp) ? {name: d.folders.find((f) => f.cert.fingerprint256 === signingFp)!.name, in: 'dir' as const}
      : d.nextFolders.find((f) => f.cert.fingerprint256 === signingFp) ? {name: d.nextFolders.find((f) => f.cert.fingerprint256 === signingFp)!.name, in: 'next' as const} : undefined
  // Intermediates istiod may be signing with: this cluster's in DIR and DIR/next, and the live one.
  const candidates: CertFacts[] = [...d.folders, ...d.nextFolders].map((f) => f.cert)
  const liveCert = decode(secret?.data, cacertsKeys(secret?.data).signingCert)
  if (liveCert) try { candidates.push(readCert(liveCert)) } catch { /* reported as a problem */ }
  const running = (pods.items ?? []).filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)
  const signers = await Promise.all(running.map(async (p) => {
    try {
      const leaf = await servingCert(client, ns, p.metadata.name, timeoutMs)
      const issuer = candidates.find((c) => leaf.checkIssued(c.x509) && leaf.verify(c.x509.publicKey))
      return issuer ? {pod: p.metadata.name, issuer: issuer.fingerprint256} : {pod: p.metadata.name, error: `issued by "${leaf.issuer.replaceAll('\n', ', ')}", none of the intermediates in ${o.dir}`}
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) return {pod: p.metadata.name, error: `cannot port-forward to pod ${ns}/${p.metadata.name} (forbidden)`}
      return {pod: p.metadata.name, error: (error as Error).message.replace(/^context "[^"]*": /, '')}
    }
  }))
  return {
    context: client.context,
    istioNamespace: ns,
    cacerts,
    folder,
    istiods: istiods.map((x) => ({name: x.metadata.name, env: istiodEnv(x), version: istiodVersion(x)?.text})),
    proxyConfigXdsAgent,
    meshConfigMap: names.meshConfigMap,
    published: (rootCms.items ?? []).filter((cm) => !ISTIOD_IGNORED_NAMESPACES.has(cm.metadata.namespace ?? '')).map((cm) => ({namespace: cm.metadata.namespace ?? '', roots: fingerprints(cm.data?.['root-cert.pem'])})),
    signers,
  }
}

// ---------------------------------------------------------------------------------------------
// Files

function mkdirPrivate(path: string): void {
  if (!existsSync(path)) mkdirSync(path, {mode: 0o700})
  chmodSync(path, 0o700)
}

function writeFile(path: string, content: string, secret: boolean): void {
  writeFileSync(path, content, {mode: secret ? 0o600 : 0o644})
  chmodSync(path, secret ? 0o600 : 0o644)
}

const fileChange = (path: string, action: Change['action']): Change => ({context: LOCAL, kind: 'File', namespace: '', name: path, action})

function uniqueDir(base: string, prefix: string, now: Date): string {
  const day = now.toISOString().slice(0, 10)
  let path = join(base, `${prefix}-${day}`)
  for (let i = 2; existsSync(path); i++) path = join(base, `${prefix}-${day}-${i}`)
  return path
}

/** Files of a directory tree, relative, sorted. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(rel, e.name)) : [join(rel, e.name)])).sort()
}

/**
 * Phase 3's files: the old root (and every folder issued from it) into DIR/retired-<date>/, then
 * DIR/next/* into DIR, DIR/next removed, DIR/rotation.json written. Each step can be resumed.
 */
function finalizeFiles(d: DirRead, now: Date, dryRun: boolean): Change[] {
  const dir = d.facts.dir
  const next = join(dir, 'next')
  const changes: Change[] = []
  const movedOld = !existsSync(join(dir, 'root-cert.pem'))
  const retired = uniqueDir(dir, 'retired', now)
  const oldEntries = movedOld ? [] : ['root-cert.pem', 'root-key.pem', ...d.folders.map((f) => f.name)].filter((n) => existsSync(join(dir, n)))
  const oldFiles = oldEntries.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)).map((f) => join(n, f)) : [n]))
  const nextFiles = existsSync(next) ? filesUnder(next) : []
  for (const f of oldFiles) changes.push(fileChange(join(retired, f), 'created'))
  for (const f of nextFiles) changes.push(fileChange(join(dir, f), oldFiles.includes(f) ? 'configured' : 'created'))
  for (const f of oldFiles.filter((x) => !nextFiles.includes(x))) changes.push(fileChange(join(dir, f), 'deleted'))
  for (const f of nextFiles) changes.push(fileChange(join(next, f), 'deleted'))
  changes.push(fileChange(join(dir, ROTATION_FILE), existsSync(join(dir, ROTATION_FILE)) ? 'configured' : 'created'))
  if (dryRun) return changes
  if (oldEntries.length > 0) {
    mkdirPrivate(retired)
    for (const n of oldEntries) renameSync(join(dir, n), join(retired, n))
  }
  if (existsSync(next)) {
    for (const n of readdirSync(next)) {
      if (existsSync(join(dir, n))) throw new OperationError(`cannot move ${join(next, n)} to ${join(dir, n)}: it exists`, `move ${join(dir, n)} into a retired-<date> folder and run the same command again`)
      renameSync(join(next, n), join(dir, n))
    }
    rmdirSync(next)
  }
  const to = d.next?.fingerprint256 ?? d.root.fingerprint256
  writeFile(join(dir, ROTATION_FILE), `${JSON.stringify({from: d.root.fingerprint256 === to ? undefined : d.root.fingerprint256, to, at: now.toISOString()}, null, 2)}\n`, false)
  return changes
}

// ---------------------------------------------------------------------------------------------

function stageMaterial(d: DirRead, folder: string, stage: Stage): {caCertPem: string; caKeyPem: string; oldRootPem: string; newRootPem?: string} {
  const from = stage >= 2 ? d.nextFolders : d.folders
  const f = from.find((x) => x.name === folder)
  const where = join(d.facts.dir, stage >= 2 ? 'next' : '', folder)
  if (!f || f.keyPem === undefined) throw new UsageError(`${where} has no ca-cert.pem and ca-key.pem`, `restore ${where} (ca rotate needs it to write stage "${STAGE_NAMES[stage]}")`)
  return {caCertPem: f.cert.pem, caKeyPem: f.keyPem, oldRootPem: d.root.pem, newRootPem: d.next?.pem}
}

function keyBits(cert: CertFacts): number {
  return cert.x509.publicKey.asymmetricKeyDetails?.modulusLength ?? 4096
}

function orgOf(cert: CertFacts): string {
  return /(?:^|\n)O=([^\n]+)/.exec(cert.subject)?.[1] ?? 'Istio'
}

export async function caRotate(o: RotateOptions, deps: RotateDeps): Promise<RotateResult> {
  validateRotateOptions(o)
  const now = deps.now?.() ?? new Date()
  now.setMilliseconds(0)
  const session = deps.session()
  const clients = o.contexts.map((c) => session.client(c))
  if (!o.dryRun && o.output !== 'yaml') checkDirWritable(o.dir)
  const d = readDir(o.dir)
  const clusters = await Promise.all(clients.map((c) => readCluster(c, o, d, session.timeoutMs)))
  const plan = planRotation({o, dir: d.facts, clusters})
  const stagesAfter = (p: RotatePlan) => {
    const s = {...p.stages}
    if (p.waits.length === 0) for (const t of p.targets) s[t.context] = t.stage
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, {stage: v, meaning: STAGE_NAMES[v]}]))
  }
  const result: RotateResult = {step: plan.step, summary: plan.summary, changes: [], waits: plan.waits, notes: [], stages: stagesAfter(plan)}
  if (plan.waits.length > 0) return {...result, stages: Object.fromEntries(Object.entries(plan.stages).map(([k, v]) => [k, {stage: v, meaning: STAGE_NAMES[v]}]))}

  if (o.output === 'yaml') {
    if (plan.newRoot || plan.issue.length > 0) {
      throw new UsageError(`-o yaml writes nothing, and this step makes ${plan.newRoot ? 'the new root' : `new intermediates (${plan.issue.join(', ')})`}, which do not exist yet`,
        `run the step without -o yaml (or with --dry-run to see its change lines): kubectl mesh ca rotate --dir ${o.dir} ${o.contexts.map((c) => `--context ${c}`).join(' ')}`)
    }
    const yamlDocs = plan.targets.map((t) => ({context: t.context, object: stageSecret(t.stage, stageMaterial(d, t.folder, t.stage), o.istioNamespace, o.version)}))
    return {...result, yamlDocs}
  }

  const changes: Change[] = []
  // 1. Files: the new root, then new intermediates (before any Secret refers to them).
  if (plan.newRoot) {
    const next = join(o.dir, 'next')
    let rootCert = d.next
    let rootKey = d.nextKeyPem
    if (!rootCert) {
      const keys = await generateRsaKeyPair(keyBits(d.root))
      const pem = buildCaCert({subject: [['O', orgOf(d.root)], ['CN', ROOT_CN]], publicKeyPem: keys.publicKeyPem, selfSignKeyPem: keys.privateKeyPem, notBefore: now, notAfter: new Date(now.getTime() + 3650 * DAY_MS)})
      rootCert = readCert(pem)
      rootKey = keys.privateKeyPem
      changes.push(fileChange(join(next, 'root-cert.pem'), 'created'), fileChange(join(next, 'root-key.pem'), 'created'))
      if (!o.dryRun) {
        mkdirPrivate(next)
        writeFile(join(next, 'root-key.pem'), rootKey, true)
        writeFile(join(next, 'root-cert.pem'), rootCert.pem, false)
      }
    }
    d.next = rootCert
    d.nextKeyPem = rootKey
  }
  for (const name of plan.issue) {
    const old = d.folders.find((f) => f.name === name)!
    if (!d.next || d.nextKeyPem === undefined) throw new UsageError(`${join(o.dir, 'next', 'root-key.pem')} is missing: the new root's key is needed to issue the new intermediate of "${name}"`, `restore it, or abort the rotation: kubectl mesh ca rotate --abort --dir ${o.dir} ${o.contexts.map((c) => `--context ${c}`).join(' ')}`)
    const keys = await generateRsaKeyPair(keyBits(old.cert))
    const validity = intermediateValidity(now, 3650, d.next.notAfter)
    const pem = buildCaCert({
      subject: [['O', orgOf(old.cert)], ['CN', INTERMEDIATE_CN], ['L', name]], publicKeyPem: keys.publicKeyPem,
      issuer: {certPem: d.next.pem, keyPem: d.nextKeyPem}, notBefore: validity.notBefore, notAfter: validity.notAfter, pathLen: 0, dnsNames: [INTERMEDIATE_SAN_DNS],
    })
    const cert = readCert(pem)
    const folder = join(o.dir, 'next', name)
    const files = stageFiles(3, {caCertPem: pem, caKeyPem: keys.privateKeyPem, oldRootPem: d.root.pem, newRootPem: d.next.pem})
    for (const f of Object.keys(files)) changes.push(fileChange(join(folder, f), 'created'))
    if (!o.dryRun) {
      mkdirPrivate(folder)
      for (const [f, content] of Object.entries(files)) writeFile(join(folder, f), content, f === 'ca-key.pem')
    }
    d.nextFolders = [...d.nextFolders.filter((f) => f.name !== name), {name, cert, keyPem: keys.privateKeyPem}]
  }

  // 2. The Secrets, one per cluster whose stage changes.
  const written: string[] = []
  for (const t of plan.targets) {
    const client = clients.find((c) => c.context === t.context)!
    const secret = stageSecret(t.stage, stageMaterial(d, t.folder, t.stage), o.istioNamespace, o.version)
    try {
      const change = await applyObject(client, secret, {dryRun: o.dryRun})
      changes.push(change)
      if (change.action !== 'unchanged') written.push(t.context)
    } catch (error) {
      if (!(error instanceof ApiError)) throw error
      const op = toOperationError(error)
      const done = written.length > 0 ? `Secret ${o.istioNamespace}/${CACERTS_SECRET} was written in ${written.join(', ')}` : 'no Secret was written'
      throw new OperationError(`${op.message} (${done}; the files in ${o.dir} are kept)`, `${op.hint ?? 'fix the cause'}; then run the same command again: it resumes this phase without repeating what holds`)
    }
  }

  // 3. Phase 3 done everywhere: retire the old root. Abort done everywhere: set DIR/next aside.
  if (plan.finalize) changes.push(...finalizeFiles(d, now, o.dryRun))
  if (plan.discardNext && existsSync(join(o.dir, 'next'))) {
    const aside = uniqueDir(o.dir, 'aborted', now)
    for (const f of filesUnder(join(o.dir, 'next'))) changes.push(fileChange(join(o.dir, 'next', f), 'deleted'), fileChange(join(aside, f), 'created'))
    if (!o.dryRun) renameSync(join(o.dir, 'next'), aside)
    result.notes.push(`the new root and its intermediates were set aside in ${aside} (0700); delete it when no longer needed`)
  }
  result.notes.push(...plan.notes)
  if (written.length > 0 && !o.dryRun) {
    const next = plan.step === 'phase3' || plan.step === 'finalize' || plan.step === 'abort-to-0' ? undefined : 'run the same command again to go on: it waits until every istiod has taken this step'
    if (next) result.notes.push(next)
  }
  return {...result, changes}
}
