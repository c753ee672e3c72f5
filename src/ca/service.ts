// `ca gen`: read what is on disk (and in the cluster with --context), validate everything, then
// generate what is missing (key pairs concurrently), write the files, and install `cacerts`.
import {accessSync, chmodSync, constants, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {OperationError, UsageError} from '../errors.ts'
import {CACERTS_SECRET} from '../istio/names.ts'
import {istiodEnv, istiodVersion, reloadsCacerts} from '../istio/install.ts'
import {readCaInstallFacts} from '../cluster/ca-install.ts'
import type {RunLists} from '../cluster/snapshot.ts'
import {type Action, type Change, editObject, isUpToDate} from '../kube/apply.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {runStep, type StepRunner} from '../steps.ts'
import {buildCaCert, type CertFacts, generateRsaKeyPair, INTERMEDIATE_CN, INTERMEDIATE_SAN_DNS, keyMatchesCert, readCert, readPrivateKey, ROOT_CN, signedBy, splitPemCerts} from './pki.ts'
import {type CaGenOptions, cacertsSecret, checkLiveRoot, checkRoot, clampWarning, clusterFiles, DAY_MS, type IntermediateAction, type IntermediateOnDisk, intermediateValidity, liveSecretRoots, planIntermediate, validateOptions} from './plan.ts'

export type RootAction = 'create' | 'reuse' | 'import'

export interface ClusterResult {
  name: string
  action: IntermediateAction
  fingerprint: string
  notAfter: string
  dir: string
}

export interface CaGenResult {
  changes: Change[]
  root: {action: RootAction; fingerprint: string; notAfter: string}
  clusters: ClusterResult[]
  /** -o yaml: the Secrets to print, nothing was written. */
  yamlDocs?: Array<{context: string; object: KubeObject}>
  warnings: string[]
  notes: string[]
  istiodRestartRequired?: boolean
}

export interface CaGenDeps {
  /** The kube session; only called when --context is given (and not for -o yaml). */
  session: () => Session
  /** The clock (tests). */
  now?: () => Date
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** apply -f: the run's lists (src/cluster/snapshot.ts), read instead of GETs of its own (src/cluster/ca-install.ts). */
  lists?: RunLists
}

const LOCAL = 'local'

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new UsageError(`cannot read ${path}: ${code ?? (error as Error).message}`, 'check the path and its permissions')
  }
}

function readRequired(path: string, flag: string): string {
  const text = readOptional(path)
  if (text === undefined) throw new UsageError(`${flag} ${path}: no such file`, `pass the path of an existing PEM file to ${flag}`)
  return text
}

function parseCert(text: string, where: string, hint: string): CertFacts {
  try {
    return readCert(text)
  } catch (error) {
    throw new UsageError(`${where} is ${(error as Error).message}`, hint)
  }
}

function parseKey(text: string, where: string, hint: string) {
  try {
    return readPrivateKey(text)
  } catch (error) {
    throw new UsageError(`${where} is ${(error as Error).message}`, hint)
  }
}

/** `--dir` must be a directory we can create or write. */
export function checkDirWritable(dir: string): void {
  let p = resolve(dir)
  for (;;) {
    let isDir: boolean
    try {
      isDir = statSync(p).isDirectory()
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p) {
        p = dirname(p)
        continue
      }
      throw new UsageError(`--dir ${dir} cannot be written: ${code ?? (error as Error).message} at ${p}`, 'pass a --dir in a writable location')
    }
    if (!isDir) throw new UsageError(`--dir ${dir} cannot be written: ${p} is not a directory`, 'pass a --dir that is (or can be created as) a directory')
    try {
      accessSync(p, constants.W_OK | constants.X_OK)
    } catch {
      throw new UsageError(`--dir ${dir} cannot be written: no write permission on ${p}`, 'pass a --dir in a writable location, or fix its permissions')
    }
    return
  }
}

interface RootState {
  action: RootAction
  cert?: CertFacts
  keyPem?: string
  /** Where the key comes from, for messages. */
  keyFrom?: string
}

function loadRoot(o: CaGenOptions, now: Date): RootState {
  const dirCertPath = join(o.dir, 'root-cert.pem')
  const dirKeyPath = join(o.dir, 'root-key.pem')
  const dirCertText = readOptional(dirCertPath)
  const dirKeyText = readOptional(dirKeyPath)
  const dirCert = dirCertText === undefined ? undefined : parseCert(dirCertText, dirCertPath, `restore the root certificate in ${dirCertPath}, or use another --dir`)

  if (o.rootCertFile && o.rootKeyFile) {
    const cert = parseCert(readRequired(o.rootCertFile, '--root-cert'), `--root-cert ${o.rootCertFile}`, 'pass a PEM certificate ("-----BEGIN CERTIFICATE-----")')
    const keyPem = readRequired(o.rootKeyFile, '--root-key')
    const key = parseKey(keyPem, `--root-key ${o.rootKeyFile}`, 'pass the root\'s PEM private key ("-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----")')
    checkRoot(cert, keyMatchesCert(cert, key), now, `--root-cert ${o.rootCertFile}`)
    if (dirCert && dirCert.fingerprint256 !== cert.fingerprint256) {
      throw new UsageError(`${dirCertPath} holds another root (${dirCert.fingerprint256}) than --root-cert ${o.rootCertFile} (${cert.fingerprint256})`,
        'a root is never replaced in place: use a new --dir for this root, or drop --root-cert/--root-key to keep the one in the folder')
    }
    return {action: dirCert ? 'reuse' : 'import', cert, keyPem, keyFrom: o.rootKeyFile}
  }
  if (dirCert) {
    let matches: boolean | undefined
    if (dirKeyText !== undefined) {
      const key = parseKey(dirKeyText, dirKeyPath, `restore the root key in ${dirKeyPath}`)
      matches = keyMatchesCert(dirCert, key)
    }
    checkRoot(dirCert, matches, now, dirCertPath)
    return {action: 'reuse', cert: dirCert, keyPem: dirKeyText, keyFrom: dirKeyText === undefined ? undefined : dirKeyPath}
  }
  if (dirKeyText !== undefined) {
    throw new UsageError(`${dirKeyPath} exists without ${dirCertPath}`, `restore root-cert.pem next to it, or move ${dirKeyPath} away; a root is never regenerated over an existing key`)
  }
  return {action: 'create'}
}

interface ClusterState {
  name: string
  dir: string
  action: IntermediateAction
  cert?: CertFacts
  keyPem?: string
}

function loadCluster(o: CaGenOptions, name: string, root: RootState, now: Date): ClusterState {
  const dir = join(o.dir, name)
  const certPath = join(dir, 'ca-cert.pem')
  const keyPath = join(dir, 'ca-key.pem')
  const certText = readOptional(certPath)
  const keyText = readOptional(keyPath)
  const disk: IntermediateOnDisk = {certPresent: certText !== undefined, keyPresent: keyText !== undefined}
  let cert: CertFacts | undefined
  if (!o.force && certText !== undefined && keyText !== undefined) {
    const hint = `restore it, or pass --force to re-issue the intermediate of "${name}"`
    cert = parseCert(certText, certPath, hint)
    const key = parseKey(keyText, keyPath, hint)
    disk.cert = cert
    disk.keyMatches = keyMatchesCert(cert, key)
    disk.signedByRoot = root.cert ? signedBy(cert, root.cert) : false
  }
  const action = planIntermediate(name, disk, o.force, now, o.dir)
  return action === 'reuse' ? {name, dir, action, cert, keyPem: keyText} : {name, dir, action}
}

interface FileWrite {
  path: string
  content: string
  secret: boolean
}

function fileChange(path: string, content: string): Action {
  const current = readOptional(path)
  if (current === undefined) return 'created'
  return current === content ? 'unchanged' : 'configured'
}

/**
 * `mkdir -p`, new folders 0700. Not mkdirSync's `recursive` option: Node loops forever when a
 * parent that exists answers ENOENT (e.g. `--dir /proc/x`).
 */
function mkdirp(dir: string): void {
  try {
    mkdirSync(dir, {mode: 0o700})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return
    if (code !== 'ENOENT' || dirname(dir) === dir) throw error
    mkdirp(dirname(dir))
    mkdirSync(dir, {mode: 0o700})
  }
}

function writeFiles(files: FileWrite[]): void {
  for (const f of files) {
    mkdirp(dirname(f.path))
    writeFileSync(f.path, f.content, {mode: f.secret ? 0o600 : 0o644})
    chmodSync(f.path, f.secret ? 0o600 : 0o644)
  }
}

function fingerprintsOf(pem: string): string[] {
  return splitPemCerts(pem).flatMap((p) => {
    try {
      return [readCert(p).fingerprint256]
    } catch {
      return []
    }
  })
}

export async function caGen(o: CaGenOptions, deps: CaGenDeps): Promise<CaGenResult> {
  validateOptions(o)
  const now = deps.now?.() ?? new Date()
  now.setMilliseconds(0)
  const yaml = o.output === 'yaml'
  if (!yaml) checkDirWritable(o.dir)

  // 1. Read and validate everything on disk.
  const root = loadRoot(o, now)
  const clusters = o.clusters.map((c) => loadCluster(o, c, root, now))
  const signing = root.action === 'create' || clusters.some((c) => c.action !== 'reuse')
  if (signing && root.action !== 'create' && root.keyPem === undefined) {
    throw new UsageError(`${join(o.dir, 'root-key.pem')} is missing: the root key is needed to issue ${clusters.filter((c) => c.action !== 'reuse').map((c) => `"${c.name}"`).join(', ')}`,
      `bring the root's key: --root-cert ${join(o.dir, 'root-cert.pem')} --root-key <root key file>`)
  }

  // -o yaml prints what is on disk and writes nothing: material that does not exist yet cannot be printed.
  if (yaml) {
    if (signing) {
      const missing = root.action === 'create' ? 'the root CA' : `the intermediate CA of ${clusters.filter((c) => c.action !== 'reuse').map((c) => `"${c.name}"`).join(', ')}`
      throw new UsageError(`-o yaml writes nothing, and ${missing} ${o.force ? 'would be re-issued' : `does not exist yet in ${o.dir}`}`,
        `make it first, then print: kubectl mesh ca gen ${o.clusters.map((c) => `--cluster ${c}`).join(' ')} --dir ${o.dir}${o.force ? ' --force' : ''}; then repeat with -o yaml (without --force)`)
    }
    const yamlDocs = clusters.map((c) => ({
      context: o.context ?? c.name,
      object: cacertsSecret({caCertPem: c.cert!.pem, caKeyPem: c.keyPem!, rootCertPem: root.cert!.pem}, o.istioNamespace, o.version),
    }))
    return {changes: [], root: rootSummary(root.action, root.cert!), clusters: clusters.map((c) => clusterSummary(c, c.cert!)), yamlDocs, warnings: [], notes: []}
  }

  // 2. With --context: read the cluster and refuse another root before anything is written.
  let client: ReturnType<Session['client']> | undefined
  /** The live cacerts as read (undefined: absent): the write below starts from it instead of reading it again. */
  let live: KubeObject | undefined
  let istiodDeployments: string[] = []
  /** Every istiod here takes a changed cacerts by itself (src/istio/install.ts reloadsCacerts). */
  let istiodsReload = false
  if (o.install) {
    client = deps.session().client(o.context)
    const facts = await readCaInstallFacts(client, o.istioNamespace, deps.lists)
    if (!facts.namespace) {
      throw new UsageError(`context "${client.context}": namespace ${o.istioNamespace} does not exist`,
        `create it first (\`kubectl --context ${client.context} create namespace ${o.istioNamespace}\`), or pass --istio-namespace`)
    }
    live = facts.cacerts
    const ourRoot = root.cert?.fingerprint256 ?? '(new root)'
    checkLiveRoot(client.context, o.istioNamespace, liveSecretRoots(live, fingerprintsOf), ourRoot, o.force)
    // Every istiod revision running here (label app=istiod) reads cacerts at startup.
    istiodDeployments = facts.istiods.map((d) => `deployment/${d.metadata.name}`).sort()
    istiodsReload = facts.istiods.length > 0 && facts.istiods.every((d) => reloadsCacerts({env: istiodEnv(d), version: istiodVersion(d)}) === true)
  }

  // 3. Generate what is missing: every key pair at once (native, on the thread pool), then sign.
  const warnings: string[] = []
  const toIssue = clusters.filter((c) => c.action !== 'reuse')
  const pairs = toIssue.length + (root.action === 'create' ? 1 : 0)
  const [rootKeys, ...clusterKeys] = pairs === 0 ? [undefined] : await runStep(deps.progress, `Generate ${pairs} RSA-${o.keySize} key pair${pairs > 1 ? 's' : ''}`, () => Promise.all([
    root.action === 'create' ? generateRsaKeyPair(o.keySize) : Promise.resolve(undefined),
    ...toIssue.map(() => generateRsaKeyPair(o.keySize)),
  ]))
  if (rootKeys) {
    const pem = buildCaCert({
      subject: [['O', o.org], ['CN', ROOT_CN]],
      publicKeyPem: rootKeys.publicKeyPem,
      selfSignKeyPem: rootKeys.privateKeyPem,
      notBefore: now,
      notAfter: new Date(now.getTime() + o.rootDays * DAY_MS),
    })
    root.cert = readCert(pem)
    root.keyPem = rootKeys.privateKeyPem
  }
  const rootCert = root.cert!
  toIssue.forEach((c, i) => {
    const keys = clusterKeys[i]!
    const validity = intermediateValidity(now, o.days, rootCert.notAfter)
    const w = clampWarning(c.name, validity, o.days)
    if (w) warnings.push(w)
    const pem = buildCaCert({
      subject: [['O', o.org], ['CN', INTERMEDIATE_CN], ['L', c.name]],
      publicKeyPem: keys.publicKeyPem,
      issuer: {certPem: rootCert.pem, keyPem: root.keyPem!},
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      pathLen: 0,
      dnsNames: [INTERMEDIATE_SAN_DNS],
    })
    c.cert = readCert(pem)
    c.keyPem = keys.privateKeyPem
  })

  // 4. Files (the tools/certs layout): only what differs is written.
  const files: FileWrite[] = []
  if (root.action === 'create' || root.keyFrom === join(o.dir, 'root-key.pem')) files.push({path: join(o.dir, 'root-key.pem'), content: root.keyPem!, secret: true})
  files.push({path: join(o.dir, 'root-cert.pem'), content: rootCert.pem, secret: false})
  for (const c of clusters) {
    for (const [name, content] of Object.entries(clusterFiles({caCertPem: c.cert!.pem, caKeyPem: c.keyPem!, rootCertPem: rootCert.pem}))) {
      files.push({path: join(c.dir, name), content, secret: name === 'ca-key.pem'})
    }
  }
  const changes: Change[] = []
  const toWrite: FileWrite[] = []
  for (const f of files) {
    const action = fileChange(f.path, f.content)
    changes.push({context: LOCAL, kind: 'File', namespace: '', name: f.path, action})
    if (action !== 'unchanged') toWrite.push(f)
  }
  if (!o.dryRun) {
    try {
      writeFiles(toWrite)
    } catch (error) {
      throw new OperationError(`cannot write the CA files in ${o.dir}: ${(error as Error).message}`, 'fix the folder\'s permissions and run the same command again; files already written are reused')
    }
  }

  // 5. The Secret.
  let istiodRestartRequired: boolean | undefined
  const notes: string[] = []
  if (client) {
    const c = clusters[0]
    const secret = cacertsSecret({caCertPem: c.cert!.pem, caKeyPem: c.keyPem!, rootCertPem: rootCert.pem}, o.istioNamespace, o.version)
    let change: Change
    try {
      change = (await editObject(client, secret, () => secret, {dryRun: o.dryRun}, isUpToDate, live ?? null))!
    } catch (error) {
      if (!(error instanceof ApiError)) throw error
      const op = toOperationError(error)
      const written = o.dryRun || toWrite.length === 0 ? 'no file was changed' : `the CA files in ${o.dir} were written`
      throw new OperationError(`${op.message} (${written}; Secret ${o.istioNamespace}/${CACERTS_SECRET} was not)`, `${op.hint ?? 'fix the cause'}; then run the same command again: it reuses the files`)
    }
    changes.push(change)
    // An istiod that runs without cacerts (self-signed) takes a plugged-in CA only at startup;
    // one already on cacerts reloads a changed one by itself from Istio 1.18.
    if (change.action === 'configured' && istiodsReload) {
      notes.push(`istiod in context "${client.context}" reloads cacerts by itself (Istio ≥ 1.18, a watcher on the mounted Secret, which the kubelet refreshes within about a minute); workloads get certificates from the new intermediate as they renew them (24 h by default), or at once when restarted`)
    } else if (change.action !== 'unchanged' && istiodDeployments.length > 0) {
      istiodRestartRequired = true
      notes.push(`istiod in context "${client.context}" ${change.action === 'created' ? 'runs without cacerts (a self-signed CA) and takes a plugged-in CA only at startup' : 'loads a new CA only at startup (Istio < 1.18, or a version it cannot tell)'}: ${o.dryRun ? 'after a real run, ' : ''}restart it with \`kubectl --context ${client.context} -n ${o.istioNamespace} rollout restart ${istiodDeployments.join(' ')}\`, then restart workloads to get certificates from the new CA`)
    }
  }

  return {
    changes,
    root: rootSummary(root.action, rootCert),
    clusters: clusters.map((c) => clusterSummary(c, c.cert!)),
    warnings,
    notes,
    ...(istiodRestartRequired === undefined ? {} : {istiodRestartRequired}),
  }
}

function rootSummary(action: RootAction, cert: CertFacts): CaGenResult['root'] {
  return {action, fingerprint: cert.fingerprint256, notAfter: cert.notAfter.toISOString()}
}

function clusterSummary(c: ClusterState, cert: CertFacts): ClusterResult {
  return {name: c.name, action: c.action, fingerprint: cert.fingerprint256, notAfter: cert.notAfter.toISOString(), dir: c.dir}
}
