// `kubectl mesh plan` / `kubectl mesh apply`: a checked Mesh file run through the step commands'
// own services (ca gen, cluster link, service export, service import; for --prune: service
// unimport, service unexport, cluster unlink) in dependency order, then verify. plan is the same
// run as a server-side dry run (dryRun=All: the API servers validate every write, nothing persists).
import {OperationError, UsageError} from '../errors.ts'
import {type Change, listObjects} from '../kube/apply.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {exposureGateway} from '../link/plan.ts'
import type {Session} from '../kube/session.ts'
import {CLUSTER_ANNOTATION, CROSS_NETWORK_GATEWAY, EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MULTICLUSTER_LABEL, REMOTE_SECRET_PREFIX} from '../istio/names.ts'
import {type IstioInstall, type KnownInstalls, readIstioInstall} from '../istio/read.ts'
import type {Reporter} from '../report.ts'
import {allInOrder} from '../settle.ts'
import {quietSteps, type StepRunner} from '../steps.ts'
import type {VerifyReport} from '../verify/runner.ts'
import {RunLists} from '../cluster/snapshot.ts'
import {listedInstallSources} from '../cluster/listed.ts'
import {declaredByCluster, describeStep, desiredSteps, directedLinks, type MeshStep} from './desired.ts'
import type {Mesh} from './file.ts'
import {mergeChanges, summarize, type ChangeSummary} from './changes.ts'

export interface MeshRunOptions {
  mesh: Mesh
  /** The file, for hints (`kubectl mesh apply -f FILE`). */
  file: string
  /** plan, apply --dry-run: every write is a server-side dry run. */
  dryRun: boolean
  prune: boolean
  /** Run verify over the declared clusters at the end (apply). */
  verify: boolean
  version: string
  progress?: StepRunner
}

export interface MeshCluster {context: string; clusterId: string}

/**
 * Every declared context resolved (an unknown one is exit 2 before any request), then every
 * cluster read once, concurrently, from the run's lists: reachable, Istio installed, its cluster ID and mesh ConfigMap.
 */
type DeclaredCluster = MeshCluster & {meshConfigMap: string; install: IstioInstall}

async function readDeclared(session: Session, m: Mesh, progress: StepRunner, report: Reporter): Promise<{clusters: DeclaredCluster[]; read: StepReads}> {
  for (const c of m.clusters) session.resolve(c.context)
  // The run's lists: each kind the installs, the steps (and, when the run wrote nothing, verify)
  // read is listed once per cluster, listed again only after this run wrote an object of that kind
  // there (a dry run persists nothing, so never).
  const lists = new RunLists()
  // through the run's lists (src/cluster/listed.ts): the kinds read here are the ones the steps and verify list
  const installs = await progress(m.clusters.map((c) => ({
    title: `Read cluster "${c.context}"`,
    run: () => {
      const client = session.client(c.context)
      return readIstioInstall(client, m.istioNamespace, {}, {}, listedInstallSources(client, m.istioNamespace, lists))
    },
  })), {concurrent: true}).catch((error) => {
    throw nothingWritten(error)
  })
  const unknownIds = m.clusters.filter((c, i) => !c.remoteName && !installs[i].facts.clusterId).map((c) => `"${c.context}"`)
  if (unknownIds.length > 0) report.warn(`cannot tell the cluster ID of ${unknownIds.join(', ')} (no istiod CLUSTER_ID, no injector clusterName): set remoteName in spec.clusters`)
  const clusters = m.clusters.map((c, i) => ({context: c.context, clusterId: c.remoteName ?? installs[i].facts.clusterId ?? c.context, meshConfigMap: installs[i].names.meshConfigMap, install: installs[i]}))
  // Each step's service gets the installs read here instead of reading them again, and the run's lists.
  return {clusters, read: {installs: new Map(clusters.map((c) => [c.context, c.install])), lists}}
}

/** What the steps read from instead of the cluster: the installs of the declared clusters and the run's lists. */
interface StepReads {installs: KnownInstalls; lists: RunLists}

export interface MeshRunResult {
  /** One line per object, merged over the steps (an object two steps touch appears once), grouped by cluster. */
  changes: Change[]
  summary: ChangeSummary
  clusters: MeshCluster[]
  warnings: string[]
  notes: string[]
  verify?: VerifyReport
}

/** Collects the services' warnings and notes, each once (n links repeat the same ones). */
function collector(): Reporter & {warnings: string[]; notes: string[]} {
  const warnings: string[] = []
  const notes: string[] = []
  return {
    warnings, notes,
    warn: (m) => { if (!warnings.includes(m)) warnings.push(m) },
    note: (m) => { if (!notes.includes(m)) notes.push(m) },
  }
}

/** A step that is planned and then run: the operation and how it is described in errors. */
interface Operation {
  title: string
  run: () => Promise<Change[]>
}

export async function runMesh(session: Session, o: MeshRunOptions): Promise<MeshRunResult> {
  const m = o.mesh
  const ns = m.istioNamespace
  const report = collector()
  const progress = o.progress ?? quietSteps
  // 1. Read every declared cluster once, concurrently: reachable, Istio installed, its cluster ID.
  const {clusters, read} = await readDeclared(session, m, progress, report)
  const {installs, lists} = read
  const idOf = new Map(clusters.map((c) => [c.context, c.clusterId]))

  // 2. The declared operations, in dependency order, through the step commands' services.
  const changes: Change[] = []
  const ops: Operation[] = desiredSteps(m).map((s) => ({title: describeStep(s), run: () => runStep(session, s, o, report, read, plannedGateways(s, clusters, changes, o))}))
  // 3. --prune: what kubectl-mesh made in the declared clusters that the file no longer declares.
  if (o.prune) ops.push(...await planPrune(session, o, idOf, report, installs))

  for (const op of ops) {
    try {
      const made = await op.run()
      changes.push(...made)
      if (!o.dryRun) for (const c of made) if (c.action !== 'unchanged') lists.wrote(c.context, c.kind, c.namespace, c.name)
    } catch (error) {
      throw partialFailure(error, op.title, changes, o)
    }
  }
  const merged = mergeChanges(changes, ['local', ...m.clusters.map((c) => c.context)])
  if (o.dryRun) report.note('dry run: the API servers validated every write; nothing was persisted')

  // 4. verify over the declared clusters.
  let verifyReport: VerifyReport | undefined
  if (o.verify && !o.dryRun) {
    const {verify} = await import('../verify/service.ts')
    // The steps' lists when the run wrote nothing (a repeat apply), else verify lists afresh.
    const wrote = changes.some((c) => c.action !== 'unchanged' && c.context !== 'local')
    verifyReport = await verify(session, {contexts: m.clusters.map((c) => c.context), istioNamespace: ns, progress: o.progress, lists: wrote ? undefined : lists})
  }
  return {changes: merged, summary: summarize(merged), clusters: clusters.map(({context, clusterId}) => ({context, clusterId})), warnings: report.warnings, notes: report.notes, verify: verifyReport}
}

/**
 * A dry run does not persist the cross-network Gateway a link makes in the exporting cluster, which
 * passes every host through: the export that follows is shown as the real run does it (no host of
 * its own), by counting that Gateway as there.
 */
function plannedGateways(s: MeshStep, clusters: DeclaredCluster[], before: Change[], o: MeshRunOptions): KubeObject[] {
  if (!o.dryRun || s.kind !== 'export') return []
  const install = clusters.find((c) => c.context === s.context)?.install
  const made = before.some((c) => c.context === s.context && c.kind === 'Gateway' && c.name === CROSS_NETWORK_GATEWAY && c.action !== 'deleted' && c.action !== 'unchanged')
  if (!made || !install?.gateway) return []
  return [exposureGateway({ew: install.gateway, clusterDomain: install.facts.clusterDomain, ids: ['planned'], version: o.version})]
}

/** One declared operation through its step command's service; its changes. */
async function runStep(session: Session, s: MeshStep, o: MeshRunOptions, report: Reporter, read: StepReads, plannedGateways: KubeObject[] = []): Promise<Change[]> {
  const m = o.mesh
  const common = {istioNamespace: m.istioNamespace, dryRun: o.dryRun, version: o.version, progress: o.progress}
  switch (s.kind) {
    case 'cacerts': {
      const {caGen} = await import('../ca/service.ts')
      const r = await caGen({
        clusters: [s.caName], dir: m.caDir!, keySize: 4096, rootDays: 3650, days: 3650, org: 'Istio', force: false,
        context: s.context, install: true, output: 'text', ...common,
      }, {session: () => session, progress: o.progress, lists: read.lists})
      for (const w of r.warnings) report.warn(w)
      for (const n of r.notes) report.note(n)
      // The CA files each run finds in place are not news; the ones it writes are.
      return r.changes.filter((c) => !(c.kind === 'File' && c.action === 'unchanged'))
    }
    case 'link': {
      const {link} = await import('../link/service.ts')
      // the run's lists: both clusters' facts from one list of each kind per cluster (src/link/facts.ts)
      const r = await link(session, {context: s.context, remoteContext: s.remoteContext, bidirectional: s.bidirectional, ...s.overrides, ...s.options, expose: m.expose, output: 'text', report, lists: read.lists, ...common})
      return r.changes
    }
    case 'export': {
      const {exportService} = await import('../exposure/export.ts')
      const r = await exportService(session, {name: s.service, namespace: s.namespace, context: s.context, mcs: false, plannedGateways, ...common}, {plan: false, ...read})
      if (r.coveredBy) report.note(`context "${s.context}": Service ${s.namespace}/${s.service} is already reachable: Gateway ${r.coveredBy} passes ${r.host} through; no host added`)
      return r.changes
    }
    case 'import':
    case 'imports': {
      const {importServices} = await import('../exposure/import.ts')
      const r = await importServices(session, {
        ...(s.kind === 'import' ? {name: s.service} : {names: s.services}), allExported: false, namespace: s.namespace, context: s.context, fromContext: s.fromContext, host: s.kind === 'import' ? s.host : undefined,
        viaEgress: s.viaEgress, address: 'auto', createNamespace: false, assumeExported: o.dryRun, ...common,
      }, {plan: false, ...read})
      for (const w of r.warnings) report.warn(w)
      for (const n of r.notes) report.note(n)
      return r.changes
    }
  }
}

/**
 * --prune: in each declared cluster, what kubectl-mesh made (its labels) that the file does not
 * declare, undone by the step commands' own undo services, consumers first: imports, exports, links.
 */
async function planPrune(session: Session, o: MeshRunOptions, idOf: Map<string, string>, report: Reporter, installs: KnownInstalls): Promise<Operation[]> {
  const m = o.mesh
  const ns = m.istioNamespace
  const declared = declaredByCluster(m)
  const contextOfId = new Map([...idOf].map(([ctx, id]) => [id, ctx]))
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`
  const found = await allInOrder(m.clusters.map(async (c) => {
    const client = session.client(c.context)
    const [secrets, exported, entries] = await allInOrder([
      listObjects(client, RESOURCES.Secret, {namespace: ns, labelSelector: `${managed},${MULTICLUSTER_LABEL}=true`}),
      listObjects(client, RESOURCES.Service, {labelSelector: `${EXPORTED_LABEL}=true`}),
      listObjects(client, RESOURCES.ServiceEntry, {labelSelector: `${managed},${IMPORTED_FROM_LABEL},${IMPORTED_SERVICE_LABEL}`}),
    ])
    return {context: c.context, secrets, exported, entries}
  })).catch((error) => {
    throw nothingWritten(error)
  })
  const imports: Operation[] = []
  const exports: Operation[] = []
  const links: Operation[] = []
  const common = {istioNamespace: ns, dryRun: o.dryRun}
  for (const f of found) {
    const d = declared.get(f.context)!
    const importKeys = new Set([...d.imports].map((k) => {
      const [from, namespace, service] = k.split('/')
      return `${idOf.get(from)}/${namespace}/${service}`
    }))
    const seenImports = new Set<string>()
    for (const se of f.entries) {
      const fromId = se.metadata.labels![IMPORTED_FROM_LABEL]
      const service = se.metadata.labels![IMPORTED_SERVICE_LABEL]
      const key = `${fromId}/${se.metadata.namespace}/${service}`
      if (importKeys.has(key) || seenImports.has(key)) continue
      seenImports.add(key)
      imports.push({
        title: `prune the import of ${se.metadata.namespace}/${service} from ${fromId} in "${f.context}"`,
        run: async () => {
          const {unimportService} = await import('../exposure/import.ts')
          const r = await unimportService(session, {name: service, namespace: se.metadata.namespace!, context: f.context, fromName: fromId, ...common})
          for (const n of r.notes) report.note(n)
          return r.changes
        },
      })
    }
    // A dry run does not persist an unexport's edit of the exports Gateway: the next unexport in
    // the cluster removes the hosts the earlier ones did too, so the last one shows the delete.
    const removedHosts: string[] = []
    for (const svc of f.exported) {
      const key = `${svc.metadata.namespace}/${svc.metadata.name}`
      if (d.exports.has(key)) continue
      exports.push({
        title: `prune the export of ${key} from "${f.context}"`,
        run: async () => {
          const {unexportService} = await import('../exposure/export.ts')
          const r = await unexportService(session, {name: svc.metadata.name, namespace: svc.metadata.namespace!, context: f.context, version: o.version, ...(o.dryRun ? {removedHosts: [...removedHosts]} : {}), ...common}, {plan: false, installs})
          removedHosts.push(r.host)
          return r.changes
        },
      })
    }
    const linkIds = new Set([...d.linksTo].map((ctx) => idOf.get(ctx)))
    for (const s of f.secrets) {
      const id = s.metadata.annotations?.[CLUSTER_ANNOTATION] ?? s.metadata.name.slice(REMOTE_SECRET_PREFIX.length)
      if (!s.metadata.name.startsWith(REMOTE_SECRET_PREFIX) || linkIds.has(id)) continue
      const remoteContext = contextOfId.get(id)
      links.push({
        title: `prune the link of "${f.context}" to ${id}`,
        run: async () => {
          const {unlink} = await import('../link/service.ts')
          return (await unlink(session, {context: f.context, remoteName: id, remoteContext, report, ...common})).changes
        },
      })
    }
  }
  return [...imports, ...exports, ...links]
}

/** A read failed before any write. */
function nothingWritten(error: unknown): Error {
  if (error instanceof ApiError) {
    const op = toOperationError(error)
    return new OperationError(`${op.message}; nothing was written`, op.hint)
  }
  return error as Error
}

/** An operation failed: what the run applied before it, and that running apply again converges. */
export function partialFailure(error: unknown, title: string, before: Change[], o: Pick<MeshRunOptions, 'dryRun' | 'file' | 'prune'>): Error {
  const base = error instanceof ApiError ? toOperationError(error) : error instanceof UsageError || error instanceof OperationError ? error : new OperationError((error as Error).message)
  const written = before.filter((c) => c.action !== 'unchanged')
  const again = `kubectl mesh apply -f ${o.file}${o.prune ? ' --prune' : ''}`
  if (o.dryRun) return new (base instanceof UsageError ? UsageError : OperationError)(`${title}: ${base.message}; nothing was written (dry run)`, base.hint)
  if (written.length === 0) {
    if (base instanceof UsageError) return new UsageError(`${title}: ${base.message}`, base.hint)
    return new OperationError(`${title}: ${base.message}`, `${base.hint ? `${base.hint}; then ` : ''}run \`${again}\` again`)
  }
  const list = written.map((c) => `${c.context} ${c.kind}/${c.namespace ? `${c.namespace}/` : ''}${c.name} ${c.action}`)
  return new OperationError(`${title}: ${base.message}; applied before it: ${list.join(', ')}`,
    `${base.hint ? `${base.hint}; then ` : 'fix the cause, then '}run \`${again}\` again: it converges (it writes only what is missing)`)
}

export interface OutputDirOptions {
  mesh: Mesh
  file: string
  dir: string
  version: string
  progress?: StepRunner
}

export interface OutputDirResult {
  files: Array<{context: string; kind: string; namespace: string; name: string; path: string}>
  /** What could not be written, and why (a reader token that does not exist yet, CA material not made yet). */
  missing: string[]
  clusters: MeshCluster[]
  warnings: string[]
  notes: string[]
}

/**
 * --output-dir: each declared operation's desired objects as the step commands print them
 * (-o yaml), merged per object, one file each under DIR/<context>/. Reads the clusters; writes none.
 */
export async function writeMeshFiles(session: Session, o: OutputDirOptions): Promise<OutputDirResult> {
  const {mkdirSync, writeFileSync} = await import('node:fs')
  const {join} = await import('node:path')
  const {fileNameOf, fileTextOf, mergeDocs} = await import('./output-dir.ts')
  const m = o.mesh
  const ns = m.istioNamespace
  const report = collector()
  const progress = o.progress ?? quietSteps
  // Nothing is written here: the installs, exports and imports are read from one list of each kind per cluster.
  const {clusters, read} = await readDeclared(session, m, progress, report)
  const docs: Array<{context: string; object: import('../kube/resources.ts').KubeObject}> = []
  const missing: string[] = []
  const common = {istioNamespace: ns, dryRun: false, version: o.version, progress: o.progress}
  for (const s of desiredSteps(m)) {
    try {
      switch (s.kind) {
        case 'cacerts': {
          const {caGen} = await import('../ca/service.ts')
          const r = await caGen({clusters: [s.caName], dir: m.caDir!, keySize: 4096, rootDays: 3650, days: 3650, org: 'Istio', force: false, context: s.context, install: true, output: 'yaml', ...common},
            {session: () => session, progress: o.progress})
          docs.push(...r.yamlDocs ?? [])
          break
        }
        case 'link': {
          const {link} = await import('../link/service.ts')
          const r = await link(session, {context: s.context, remoteContext: s.remoteContext, bidirectional: s.bidirectional, ...s.overrides, ...s.options, expose: m.expose, output: 'yaml', report, lists: read.lists, ...common})
          docs.push(...r.docs ?? [])
          if (r.error) missing.push(`${describeStep(s)}: ${r.error.message}`)
          break
        }
        case 'export': {
          const {exportService} = await import('../exposure/export.ts')
          const r = await exportService(session, {name: s.service, namespace: s.namespace, context: s.context, mcs: false, ...common}, {plan: true, ...read})
          docs.push(...(r.plan ?? []).map((object) => ({context: r.context, object})))
          break
        }
        case 'import':
        case 'imports': {
          const {importServices} = await import('../exposure/import.ts')
          const r = await importServices(session, {
            ...(s.kind === 'import' ? {name: s.service, host: s.host} : {names: s.services}), allExported: false, namespace: s.namespace, context: s.context, fromContext: s.fromContext,
            viaEgress: s.viaEgress, address: 'auto', createNamespace: false, assumeExported: true, ...common,
          }, {plan: true, ...read})
          for (const w of r.warnings) report.warn(w)
          for (const n of r.notes) report.note(n)
          docs.push(...r.plan ?? [])
          break
        }
      }
    } catch (error) {
      // CA material that does not exist yet: say so, write the rest.
      if (s.kind === 'cacerts' && error instanceof UsageError) {
        missing.push(`${describeStep(s)}: ${error.message}`)
        continue
      }
      throw error instanceof ApiError ? toOperationError(error) : error
    }
  }
  // `cluster link -o yaml` prints the meshNetworks ConfigMap only when the link changes it: a
  // cluster whose links are all in place gets the live document (the file must hold the whole state).
  const discovering = new Set(directedLinks(m).map((l) => l.from))
  for (const [i, c] of m.clusters.entries()) {
    const cmName = clusters[i].meshConfigMap
    if (!discovering.has(c.context) || docs.some((d) => d.context === c.context && d.object.kind === 'ConfigMap' && d.object.metadata.name === cmName)) continue
    const live = await session.client(c.context).getOptional<import('../kube/resources.ts').KubeObject>(resourcePath(RESOURCES.ConfigMap, ns, cmName))
    if (live?.data?.meshNetworks !== undefined) docs.push({context: c.context, object: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: cmName, namespace: ns}, data: {meshNetworks: live.data.meshNetworks}}})
  }
  const files: OutputDirResult['files'] = []
  const order = new Map(m.clusters.map((c, i) => [c.context, i]))
  const merged = mergeDocs(docs).sort((a, b) => order.get(a.context)! - order.get(b.context)! || fileNameOf(a.object).localeCompare(fileNameOf(b.object)))
  for (const d of merged) {
    const folder = join(o.dir, d.context)
    mkdirSync(folder, {recursive: true, mode: 0o700})
    const path = join(folder, fileNameOf(d.object))
    writeFileSync(path, fileTextOf(d.object), {mode: d.object.kind === 'Secret' ? 0o600 : 0o644})
    files.push({context: d.context, kind: d.object.kind, namespace: d.object.metadata.namespace ?? '', name: d.object.metadata.name, path})
  }
  if (files.some((f) => f.kind === 'Secret')) report.warn(`the files of the Secrets under ${o.dir} hold private keys (cacerts) and reader tokens (remote secrets): encrypt them (e.g. SOPS, Sealed Secrets) before they go into version control`)
  // (link -o yaml's warning about printing a token: here the token goes to a file, named in the warning above.)
  return {files, missing, clusters: clusters.map(({context, clusterId}) => ({context, clusterId})), warnings: report.warnings.filter((w) => !w.startsWith('the printed remote secret holds')), notes: report.notes}
}
