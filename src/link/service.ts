// `cluster link` / `cluster unlink`: read both clusters, validate the pair, then write —
// the reader account and token in the discovered cluster (WEST), the remote secret and the
// meshNetworks entry in the discovering cluster (EAST).
import {UsageError, OperationError} from '../errors.ts'
import {applyObject, type Change, changeOf, deleteObject, isUpToDate} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {dumpYaml, editConfigMapYaml, parseYamlKey} from '../kube/configmap-yaml.ts'
import {ApiError, mayHaveApplied, toOperationError} from '../kube/errors.ts'
import {type ObjectRef, writtenSuffix} from '../kube/journal.ts'
import {type KubeObject, RESOURCES, resourcePath, resourceFor} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {isDns1123Label, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, readerClusterRole} from '../istio/names.ts'
import {type LinkFacts, readClusterFacts} from './facts.ts'
import {CONTROL_PLANE_CLUSTERS_ANNOTATION, CROSS_NETWORK_GATEWAY, EXPOSE_ANNOTATION, ISTIOD_GATEWAY} from '../istio/names.ts'
import {readIstioInstall, readRevisioned} from '../istio/read.ts'
import {objectRef} from '../istio/gateway.ts'
import {editAnnotation, type Edit, editObject, ownedFieldsEqual} from '../kube/apply.ts'
import {
  addNetworkEntry, checkMeshNetworks, dropExposure, dropIstiodExposure, type ExposurePlan, type IstiodExposurePlan, isManaged, planExposure, planIstiodExposure, withControlPlane, withoutControlPlane, type MeshNetworks, planReader, type ReaderStep, remoteKubeconfig,
  remoteSecret, remoteSecretName, removeRegistry,
} from './plan.ts'
import {isLoopbackServer, NO_CLUSTER_ID, type ResolvedLink, validateInputs, validatePair, validatePrimaryRemote} from './validate.ts'
import {allInOrder} from '../settle.ts'
import type {Reporter} from '../report.ts'
import {quietSteps, runStep, type StepRunner} from '../steps.ts'
import {addScopeEdit, ambientGatewayOf, planAmbientLink, removeScopeEdit, writeGateway, writeScope} from './ambient.ts'
import {readAmbient} from '../istio/ambient-read.ts'
import {listObjects} from '../kube/apply.ts'
import {MULTICLUSTER_LABEL} from '../istio/names.ts'
import {HBONE_PORT} from '../istio/ambient.ts'
import {boundTokenFor, boundYamlError, type BoundTokenPlan, checkBoundTokenAccess, formatTtl, listAnchors, planBoundToken, withoutTokenSecret} from './token.ts'

export interface LinkOptions {
  context?: string
  remoteContext: string
  istioNamespace: string
  remoteName?: string
  server?: string
  tlsServerName?: string
  network?: string
  gateway?: string
  bidirectional?: boolean
  force?: boolean
  /** Across networks: `all` passes WEST's services through its east-west gateway (Gateway kubectl-mesh-cross-network); `exported` only what `service export` shares. */
  expose?: 'all' | 'exported'
  /** Across networks: how EAST's istiod learns WEST's gateway (cluster link --network-config). */
  networkConfig?: 'meshnetworks' | 'gateway'
  output: 'text' | 'yaml' | 'json'
  dryRun?: boolean
  version: string
  /** How long to wait for the token controller to fill in the token Secret. */
  tokenTimeoutMs?: number
  report: Reporter
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** --token-ttl in seconds: a bound TokenRequest token instead of the long-lived token Secret (src/link/token.ts). */
  tokenTtlSeconds?: number
  /** --remote-profile: treat WEST as a remote-profile cluster (primary-remote) even when its install does not say so. */
  remoteProfile?: boolean
  /** --create-gateway: in an ambient mesh, write WEST's istio-east-west Gateway when it has none (src/link/ambient.ts). */
  createGateway?: boolean
}

export interface LinkSummary {
  context: string
  remoteContext: string
  clusterId: string
  network?: string
  crossNetwork: boolean
  gateway?: string
  /** Across networks: what crosses (cluster link --expose). */
  expose?: 'all' | 'exported'
  /** The Gateway that passes WEST's services through (namespace/name), when one does. */
  exposedBy?: string
  /** Primary-remote: WEST runs Istio's remote profile; its control plane is EAST's istiod. */
  remoteProfile?: boolean
  /** Primary-remote across networks: the Gateway that passes EAST's istiod through its east-west gateway. */
  istiodExposedBy?: string
  /** The data plane of both clusters, when both run ambient (src/link/ambient.ts). */
  meshKind?: 'ambient'
}

export interface LinkResult {
  changes: Change[]
  links: LinkSummary[]
  /** Set for -o yaml: the documents to print (nothing was written). */
  docs?: Array<{context: string; object: KubeObject}>
  /** -o yaml only: raise after printing `docs` (the token does not exist yet). */
  error?: UsageError
}

type Direction = {
  link: ResolvedLink; server: string; tlsServerName?: string; serverFromFlag: boolean; exposure: ExposurePlan; bound?: BoundTokenPlan
  /** Primary-remote: EAST's istiod exposure and the annotation value WEST's Istio namespace gets (undefined: already named). */
  primaryRemote?: {istiod: IstiodExposurePlan; annotation?: string; primaryId: string}
}

const DRY_RUN_TOKEN = 'dry-run-token-not-issued'

export async function link(session: Session, o: LinkOptions): Promise<LinkResult> {
  const eastRef = session.resolve(o.context)
  const westRef = session.resolve(o.remoteContext)
  const {gateway} = validateInputs({context: eastRef.context, remoteContext: westRef.context, remoteName: o.remoteName, server: o.server, tlsServerName: o.tlsServerName, network: o.network, gateway: o.gateway})
  const east = session.client(eastRef.context)
  const west = session.client(westRef.context)

  // 1. Read both clusters.
  const [eastFacts, westFacts] = await (o.progress ?? quietSteps)([east, west].map((c) => ({title: `Read cluster "${c.context}"`, run: () => readFacts(c, o.istioNamespace, {tokens: o.tokenTtlSeconds !== undefined})})), {concurrent: true})

  // 1b. The data planes: an ambient pair needs istiod's multi-network flag and WEST's istio-east-west Gateway.
  const crossNetwork = (e: {network?: string}, w: {network?: string}) => (o.network ?? w.network) !== e.network
  const amb = await runStep(o.progress, 'Read the data planes', () => planAmbientLink(east, west, o.istioNamespace, {createGateway: o.createGateway, crossNetwork, version: o.version}))
  const ambBack = amb.ambient && o.bidirectional ? await planAmbientLink(west, east, o.istioNamespace, {createGateway: o.createGateway, crossNetwork: (e, w) => (o.network ?? e.network) !== w.network, version: o.version}) : undefined
  for (const n of amb.notes) o.report.note(n)
  const ambientGateway = (p: typeof amb | undefined) => (p ? ambientGatewayOf(p) ?? (p.createGateway ? {address: '(pending: istiod makes its Service)', port: HBONE_PORT} : undefined) : undefined)

  // 2. Validate the pair (and the mirror image with --bidirectional) before any write.
  const directions: Direction[] = []
  const warnings: string[] = [...amb.warnings]
  const expose = o.expose ?? 'all'
  // Exposure: EAST relies on WEST's gateway passing WEST's services through (recorded by EAST's ID).
  // An ambient pair crosses networks through the istio-east-west Gateway: no Gateway of its own.
  const exposure = (l: ResolvedLink) => planExposure(l.west, l.east.clusterId ?? l.east.context, l.crossNetwork && expose === 'all' && !amb.ambient, o.version)
  const remoteProfile = validatePrimaryRemote(eastFacts, westFacts, {remoteProfile: o.remoteProfile, bidirectional: o.bidirectional})
  const forward = validatePair(eastFacts, westFacts, {remoteName: o.remoteName, network: o.network, gateway: gateway ?? (amb.ambient ? ambientGateway(amb) : undefined), force: o.force, networkConfig: o.networkConfig})
  warnings.push(...forward.warnings)
  directions.push({link: forward.link, server: o.server ?? westFacts.server, tlsServerName: o.tlsServerName ?? westFacts.tlsServerName, serverFromFlag: o.server !== undefined, exposure: exposure(forward.link)})
  if (remoteProfile) {
    // PRIMARY's istiod through its east-west gateway when WEST's proxies reach it from another network
    const l = forward.link
    const primaryId = eastFacts.clusterId!
    directions[0].primaryRemote = {istiod: planIstiodExposure(eastFacts, l.id, l.crossNetwork, o.version), annotation: withControlPlane(westFacts.namespace, primaryId), primaryId}
    const p = directions[0].primaryRemote.istiod
    if (p.problem) warnings.push(`${p.problem}: "${westFacts.context}" cannot reach its control plane from network "${l.westNetwork}"; install Istio's samples/multicluster/expose-istiod.yaml in "${eastFacts.context}"`)
    if (p.coveredBy) o.report.note(`context "${eastFacts.context}": Gateway ${objectRef(p.coveredBy)} already passes istiod (15012, 15017) through the east-west gateway; no Gateway added`)
    if (westFacts.remotePilotAddress && l.crossNetwork && eastFacts.gateway?.address && westFacts.remotePilotAddress !== eastFacts.gateway.address) {
      warnings.push(`context "${westFacts.context}": its remote profile points istiod at ${westFacts.remotePilotAddress} (values.global.remotePilotAddress), not at "${eastFacts.context}"'s east-west gateway ${eastFacts.gateway.address}: reinstall it with remotePilotAddress=${eastFacts.gateway.address}`)
    }
  }
  if (o.bidirectional) {
    // WEST's --network also holds when WEST is the discovering side.
    const back = validatePair(o.network ? {...westFacts, network: o.network} : westFacts, eastFacts, {force: o.force, networkConfig: o.networkConfig, gateway: amb.ambient ? ambientGateway(ambBack) : undefined})
    warnings.push(...back.warnings.filter((w) => !warnings.includes(w)))
    directions.push({link: back.link, server: eastFacts.server, tlsServerName: eastFacts.tlsServerName, serverFromFlag: false, exposure: exposure(back.link)})
  }
  for (const d of directions) {
    if (d.exposure.problem) warnings.push(`${d.exposure.problem}: "${d.link.east.context}" reaches only what is passed through there already; install Istio's samples/multicluster/expose-services.yaml in "${d.link.west.context}", or link with --expose exported`)
    if (d.exposure.coveredBy) o.report.note(`context "${d.link.west.context}": Gateway ${objectRef(d.exposure.coveredBy)} already passes every service through the east-west gateway; no Gateway added`)
    // the shape found and the addresses istiod uses (src/istio/gateway.ts)
    const g = d.link.west.gateway
    if (d.link.crossNetwork && g && d.link.gatewayShape && d.link.gatewayShape !== 'flag') {
      o.report.note(`context "${d.link.west.context}": east-west gateway ${g.service} (${d.link.gatewayShape}); istiod uses ${(d.link.gateways ?? []).map((x) => `${x.address}:${x.port}`).join(', ')} (${d.link.networkConfig === 'gateway' ? `discovered by "${d.link.east.context}"'s istiod from its network label` : `written into "${d.link.east.context}"'s meshNetworks`})`)
    }
  }
  for (const d of directions) {
    if (isLoopbackServer(d.server)) {
      warnings.push(`the remote secret for "${d.link.id}" in context "${d.link.east.context}" points at ${d.server}, a loopback address that istiod in a pod cannot reach${d.serverFromFlag ? '' : d.link.west === eastFacts ? `; to fix it, link that direction on its own: kubectl mesh cluster link --context ${d.link.east.context} --remote-context ${d.link.west.context} --server <reachable address>` : '; pass --server with an address reachable from the pods'}`)
    }
  }
  // meshNetworks must be editable: check EAST's document now, not after the first write.
  // An ambient pair: no meshNetworks entry (ztunnels find other networks' gateways from the istio-east-west Gateways).
  const meshEdits = directions.map((d) => (amb.ambient ? {present: false, changed: false, edit: (doc: MeshNetworks | undefined) => doc} : planMeshNetworks(d.link)))
  for (const d of directions) {
    const e = d.link.east
    if (d.link.crossNetwork && e.otherRevisions.length > 0) {
      warnings.push(`context "${e.context}" runs istiod revisions ${[e.revision, ...e.otherRevisions].join(', ')}: meshNetworks is edited in ConfigMap ${e.istioNamespace}/${e.meshConfigMapName} (revision ${e.revision}) only; the other revisions' istiods do not learn network ${d.link.westNetwork} from it`)
    }
  }

  // --token-ttl: per direction, the token in EAST's secret is reused or a new bound one is planned.
  if (o.tokenTtlSeconds !== undefined) {
    for (const d of directions) d.bound = planBoundToken(d.link, o.tokenTtlSeconds, o.version)
  }
  // The reader objects, once per cluster that is discovered.
  const readerPlans = new Map<LinkFacts, ReaderStep[]>()
  for (const d of directions) readerPlans.set(d.link.west, o.tokenTtlSeconds === undefined ? planReader(d.link.west, o.version) : withoutTokenSecret(planReader(d.link.west, o.version)))

  for (const w of warnings) o.report.warn(w)
  const links: LinkSummary[] = directions.map((d) => ({
    context: d.link.east.context, remoteContext: d.link.west.context, clusterId: d.link.id, network: d.link.westNetwork,
    crossNetwork: d.link.crossNetwork, gateway: d.link.gateway && `${d.link.gateway.address}:${d.link.gateway.port}`,
    ...(d.link.crossNetwork ? {expose, exposedBy: d.exposure.coveredBy ? objectRef(d.exposure.coveredBy) : d.exposure.planned ? objectRef(d.exposure.planned) : undefined} : {}),
    ...(d.primaryRemote ? {remoteProfile: true, ...(d.link.crossNetwork ? {istiodExposedBy: istiodExposedBy(d.primaryRemote.istiod, d.link.east)} : {})} : {}),
    ...(amb.ambient ? {meshKind: 'ambient' as const} : {}),
  }))

  // 3a. -o yaml: the desired objects, nothing written.
  if (o.output === 'yaml') {
    const yaml = yamlDocs(o, directions, readerPlans, meshEdits)
    if (!yaml.error) o.report.warn('the printed remote secret holds the reader token of the remote cluster: treat this output as a secret')
    return {changes: [], links, docs: yaml.docs, error: yaml.error}
  }

  // 3b. Permission check of every write that is needed, in both clusters, before the first one.
  await runStep(o.progress, 'Check write permissions', () => checkAccess(o, (ctx) => session.client(ctx), directions, readerPlans, meshEdits))
  for (const d of directions) if (d.bound) await checkBoundTokenAccess(session.client(d.link.west.context), d.bound)

  // 4. Write: reader account and token in each discovered cluster, then the secrets and meshNetworks.
  const changes: Change[] = []
  // The write on the wire: named in the error when it gets no answer (it may have been applied).
  let inFlight: ObjectRef | undefined
  const sendingOptional = async (context: string, obj: Pick<KubeObject, 'kind' | 'metadata'>, write: () => Promise<Change | undefined>): Promise<Change | undefined> => {
    inFlight = {context, kind: obj.kind ?? '', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name}
    const change = await runStep(o.progress, `Write ${inFlight.kind} ${obj.metadata.name} in "${context}"`, write)
    inFlight = undefined
    return change
  }
  const sending = (context: string, obj: Pick<KubeObject, 'kind' | 'metadata'>, write: () => Promise<Change>): Promise<Change> => sendingOptional(context, obj, write) as Promise<Change>
  try {
    const tokens = new Map<LinkFacts, {token: string; caData?: string}>()
    for (const [facts, steps] of readerPlans) {
      const client = session.client(facts.context)
      for (const step of steps) changes.push(await sending(client.context, step.desired, () => applyReaderStep(client, step, o.dryRun)))
      if (o.tokenTtlSeconds === undefined) tokens.set(facts, await runStep(o.progress, `Wait for the reader token in "${client.context}"`, () => waitForToken(client, facts, o)))
    }
    // WEST's services passed through its gateway before EAST's istiod learns about them.
    for (const d of directions) {
      const client = session.client(d.link.west.context)
      const ref = {...RESOURCES.Gateway, metadata: {name: CROSS_NETWORK_GATEWAY, namespace: d.link.west.ewGateway?.namespace ?? d.link.west.istioNamespace}}
      const change = d.exposure.coveredBy ? changeOf(client.context, d.exposure.coveredBy, 'unchanged') : await sendingOptional(client.context, ref, () => editObject(client, ref, d.exposure.edit, {dryRun: o.dryRun}))
      if (change && !changes.some((c) => c.context === change.context && c.kind === change.kind && c.namespace === change.namespace && c.name === change.name)) changes.push(change)
    }
    // Primary-remote: WEST names its control plane, PRIMARY's istiod is passed through to WEST's network.
    for (const d of directions) {
      if (!d.primaryRemote) continue
      const westClient = session.client(d.link.west.context)
      const nsRef = {...RESOURCES.Namespace, metadata: {name: d.link.west.istioNamespace}}
      const primaryId = d.primaryRemote.primaryId
      const annotated = await sendingOptional(westClient.context, nsRef, () => editAnnotation(westClient, nsRef, CONTROL_PLANE_CLUSTERS_ANNOTATION, (live) => withControlPlane(live, primaryId), {dryRun: o.dryRun}))
      if (annotated) changes.push(annotated)
      changes.push(...await writeIstiodExposure(session.client(d.link.east.context), d.link.east.ewGateway?.namespace ?? d.link.east.istioNamespace, d.primaryRemote.istiod, sendingOptional, o.dryRun))
    }
    for (const [i, d] of directions.entries()) {
      const client = session.client(d.link.east.context)
      const t = d.bound ? await boundTokenFor(session.client(d.link.west.context), d.bound, {dryRun: o.dryRun, changes, report: o.report}) : tokens.get(d.link.west)!
      const desired = secretFor(d, t, o)
      if (!desired) {
        throw new OperationError(`context "${d.link.west.context}": no CA certificate for the remote kubeconfig (token Secret has no ca.crt, the kubeconfig context has no certificate-authority)`,
          'check that kube-controller-manager runs with --root-ca-file')
      }
      const live = d.link.east.remoteSecrets.find((s) => s.metadata.name === desired.metadata.name)
      changes.push(live && isUpToDate(live, desired) ? changeOf(client.context, desired, 'unchanged') : await sending(client.context, desired, () => applyObject(client, desired, {dryRun: o.dryRun})))
      const m = meshEdits[i]
      if (m.changed) {
        const meshConfigMap = {kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}}
        changes.push(await sending(client.context, meshConfigMap, () => editConfigMapYaml<MeshNetworks>(client, {namespace: d.link.east.istioNamespace, name: d.link.east.meshConfigMapName, key: 'meshNetworks', edit: m.edit}, {dryRun: o.dryRun})))
      } else if (m.present) {
        changes.push(changeOf(client.context, {kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}}, 'unchanged'))
      }
    }
    // Ambient: WEST's (and with --bidirectional EAST's) istio-east-west Gateway, then kubectl-mesh's
    // serviceScopeConfigs entry in both clusters' mesh config.
    if (amb.ambient) {
      for (const [p, c] of [[amb, west], [ambBack, east]] as const) {
        if (p?.createGateway) changes.push(await sending(c.context, p.createGateway, () => writeGateway(c, p.createGateway!, o.dryRun)))
      }
      for (const [r, c] of [[amb.east, east], [amb.west, west]] as const) {
        const ref = {kind: 'ConfigMap', metadata: {name: r.meshConfigMapName, namespace: r.istioNamespace}}
        const change = await sending(c.context, ref, () => writeScope(c, r, addScopeEdit, o.dryRun))
        if (!changes.some((x) => x.context === change.context && x.kind === change.kind && x.namespace === change.namespace && x.name === change.name && change.action === 'unchanged')) changes.push(change)
      }
    }
  } catch (error) {
    throw linkPartialFailure(error, changes, inFlight, o, directions[0].link.id)
  }
  if (o.dryRun) o.report.note('dry run: the API servers validated every write; nothing was persisted')
  return {changes, links}
}

/** The Gateway that passes PRIMARY's istiod through (namespace/name), planned or found. */
function istiodExposedBy(p: IstiodExposurePlan, east: LinkFacts): string | undefined {
  if (p.coveredBy) return objectRef(p.coveredBy)
  const gw = p.planned.gateway ?? east.gateways?.find((g) => g.metadata.name === ISTIOD_GATEWAY && g.metadata.namespace === east.ewGateway?.namespace)
  return gw ? objectRef(gw) : undefined
}

type Sender = (context: string, obj: Pick<KubeObject, 'kind' | 'metadata'>, write: () => Promise<Change | undefined>) => Promise<Change | undefined>

/** PRIMARY's Gateway kubectl-mesh-istiod, then its VirtualService (deleted with the Gateway). */
async function writeIstiodExposure(primary: KubeClient, namespace: string, p: IstiodExposurePlan, send: Sender, dryRun?: boolean): Promise<Change[]> {
  if (p.coveredBy) return [changeOf(primary.context, p.coveredBy, 'unchanged')]
  const out: Change[] = []
  const gref = {...RESOURCES.Gateway, metadata: {name: ISTIOD_GATEWAY, namespace}}
  const vref = {...RESOURCES.VirtualService, metadata: {name: ISTIOD_GATEWAY, namespace}}
  const g = await send(primary.context, gref, () => editObject(primary, gref, p.gatewayEdit, {dryRun}))
  if (g) out.push(g)
  // the VirtualService follows the Gateway: made with it, kept while it stays, deleted with it
  const vsEdit: Edit = g?.action === 'deleted' ? (live) => (live && isManaged(live) ? null : undefined) : p.virtualServiceEdit
  const v = await send(primary.context, vref, () => editObject(primary, vref, vsEdit, {dryRun}))
  if (v) out.push(v)
  return out
}

/** The remote secret for one direction, with a given token and the CA that came with it (else WEST's context's): the one builder of it; undefined without a CA. */
function secretFor(d: Direction, t: {token: string; caData?: string}, o: Pick<LinkOptions, 'version' | 'expose'>): KubeObject | undefined {
  const caData = t.caData ?? d.link.west.caData
  const token = t.token
  if (!caData) return undefined
  return remoteSecret(d.link.east.istioNamespace, d.link.id, remoteKubeconfig({id: d.link.id, server: d.server, caData, token, tlsServerName: d.tlsServerName}), o.version,
    d.link.crossNetwork ? o.expose ?? 'all' : undefined, d.link.crossNetwork ? d.link.networkConfig : undefined)
}

async function readFacts(client: KubeClient, ns: string, want: {tokens?: boolean} = {}): Promise<LinkFacts> {
  try {
    return await readClusterFacts(client, ns, want)
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      const op = toOperationError(error)
      throw new OperationError(`${op.message}; nothing was written in either cluster`, op.hint)
    }
    throw error
  }
}

interface MeshEdit {
  /** The ConfigMap exists with a meshNetworks key (or will get one). */
  present: boolean
  changed: boolean
  edit: (doc: MeshNetworks | undefined) => MeshNetworks | undefined
  after?: MeshNetworks
}

function planMeshNetworks(l: ResolvedLink): MeshEdit {
  const cm = l.east.meshConfigMap
  const where = `context "${l.east.context}": ConfigMap ${l.east.istioNamespace}/${l.east.meshConfigMapName} key meshNetworks`
  let before: unknown
  try {
    before = parseYamlKey(cm, 'meshNetworks')
  } catch (error) {
    throw new OperationError(`${where} is not valid YAML (${(error as Error).message.split('\n')[0]}); nothing was written`,
      `fix it: kubectl --context ${l.east.context} -n ${l.east.istioNamespace} edit configmap ${l.east.meshConfigMapName}`)
  }
  const bad = checkMeshNetworks(before)
  if (bad) throw new OperationError(`${where}: ${bad}; nothing was written`, `fix it: kubectl --context ${l.east.context} -n ${l.east.istioNamespace} edit configmap ${l.east.meshConfigMapName}`)
  // Same network: leave meshNetworks alone, except that an entry naming this ID under another
  // network (from an earlier cross-network link) is removed.
  // --network-config gateway: nothing of this link in meshNetworks (an entry of an earlier meshnetworks link is removed)
  const edit = l.crossNetwork && l.networkConfig === 'meshnetworks'
    ? (doc: MeshNetworks | undefined) => addNetworkEntry(doc, l.westNetwork!, l.id, l.gateways ?? l.gateway!)
    : (doc: MeshNetworks | undefined) => removeRegistry(doc, l.id)
  const after = cm ? edit(structuredClone(before as MeshNetworks | undefined)) : undefined
  const changed = Boolean(cm) && JSON.stringify(after ?? null) !== JSON.stringify(before ?? null)
  return {present: Boolean(cm) && (l.crossNetwork && l.networkConfig === 'meshnetworks' || changed), changed, edit, after}
}

async function applyReaderStep(client: KubeClient, step: ReaderStep, dryRun?: boolean): Promise<Change> {
  if (step.mode === 'keep') return changeOf(client.context, step.desired, 'unchanged')
  if (step.live && isUpToDate(step.live, step.desired)) return changeOf(client.context, step.desired, 'unchanged')
  return applyObject(client, step.desired, {dryRun})
}

/** Poll the token Secret until the token controller has filled in data.token and data.ca.crt. */
async function waitForToken(client: KubeClient, facts: LinkFacts, o: LinkOptions): Promise<{token: string; caData?: string}> {
  const path = resourcePath(RESOURCES.Secret, facts.istioNamespace, READER_TOKEN_SECRET)
  const read = (s: KubeObject | undefined) => (s?.data?.token ? {token: Buffer.from(s.data.token, 'base64').toString('utf8'), caData: s.data['ca.crt'] as string | undefined} : undefined)
  const ready = (s: KubeObject | undefined) => Boolean(s?.data?.token && s.data['ca.crt'])
  if (ready(facts.tokenSecret)) return read(facts.tokenSecret)!
  const deadline = Date.now() + (o.tokenTimeoutMs ?? 30_000)
  let s: KubeObject | undefined
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    s = await client.getOptional<KubeObject>(path)
    if (ready(s)) return read(s)!
    if (o.dryRun && !s) {
      o.report.note(`dry run: context "${client.context}" has no reader token yet; the remote secret is validated with a placeholder token`)
      return {token: DRY_RUN_TOKEN, caData: facts.caData}
    }
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, delay))
  }
  throw new OperationError(`context "${client.context}": Secret ${facts.istioNamespace}/${READER_TOKEN_SECRET} got no token (data.token and data.ca.crt) within ${Math.round((o.tokenTimeoutMs ?? 30_000) / 1000)}s`,
    `is kube-controller-manager running with its token controller (--service-account-private-key-file, --root-ca-file)? Check: kubectl --context ${client.context} -n ${facts.istioNamespace} get secret ${READER_TOKEN_SECRET} -o yaml`)
}

interface Access {context: string; verb: 'create' | 'update' | 'patch'; group: string; resource: string; namespace?: string; name?: string}

/** SelfSubjectAccessReviews for the writes the plan needs (none when everything is up to date). */
async function checkAccess(o: LinkOptions, clientFor: (context: string) => KubeClient, directions: Direction[], readerPlans: Map<LinkFacts, ReaderStep[]>, meshEdits: MeshEdit[]): Promise<void> {
  const wanted: Array<{client: KubeClient; access: Access}> = []
  const add = (facts: LinkFacts, obj: KubeObject, exists: boolean, patch = false) => {
    const type = resourceFor(obj)
    const group = type.apiVersion.includes('/') ? type.apiVersion.split('/')[0] : ''
    wanted.push({client: clientFor(facts.context), access: {context: facts.context, verb: patch ? 'patch' : exists ? 'update' : 'create', group, resource: type.plural, namespace: type.namespaced ? obj.metadata.namespace : undefined, name: exists ? obj.metadata.name : undefined}})
  }
  for (const [facts, steps] of readerPlans) {
    for (const s of steps) if (s.mode === 'apply' && !(s.live && isUpToDate(s.live, s.desired))) add(facts, s.desired, Boolean(s.live))
  }
  for (const [i, d] of directions.entries()) {
    const name = remoteSecretName(d.link.id)
    const live = d.link.east.remoteSecrets.find((s) => s.metadata.name === name)
    // The secret's content depends on the token: when the token exists, it is known now.
    const desired = desiredRemoteSecret(d, o)
    if (!live || !desired || !isUpToDate(live, desired)) add(d.link.east, {apiVersion: 'v1', kind: 'Secret', metadata: {name, namespace: d.link.east.istioNamespace}}, Boolean(live))
    if (meshEdits[i].changed) add(d.link.east, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}}, true)
    const gw = d.exposure.planned
    const liveGw = gw && d.link.west.gateways?.find((g) => g.metadata.name === gw.metadata.name && g.metadata.namespace === gw.metadata.namespace)
    if (gw && !(liveGw && ownedFieldsEqual(liveGw, gw))) add(d.link.west, gw, Boolean(liveGw))
    if (d.primaryRemote) {
      // the annotation is a merge patch of the namespace (editAnnotation)
      if (d.primaryRemote.annotation !== undefined) add(d.link.west, {apiVersion: 'v1', kind: 'Namespace', metadata: {name: d.link.west.istioNamespace}}, true, true)
      const igw = d.primaryRemote.istiod.planned.gateway
      const liveIgw = igw && d.link.east.gateways?.find((g) => g.metadata.name === igw.metadata.name && g.metadata.namespace === igw.metadata.namespace)
      if (igw && !(liveIgw && ownedFieldsEqual(liveIgw, igw))) {
        add(d.link.east, igw, Boolean(liveIgw))
        add(d.link.east, d.primaryRemote.istiod.planned.virtualService ?? {...RESOURCES.VirtualService, metadata: igw.metadata}, Boolean(liveIgw))
      }
    }
  }
  if (wanted.length === 0) return
  const results = await Promise.all(wanted.map(async ({client, access}) => {
    const review = await client.request<{status?: {allowed?: boolean}}>({
      method: 'POST', path: resourcePath(RESOURCES.SelfSubjectAccessReview),
      body: {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {resourceAttributes: {verb: access.verb, group: access.group, resource: access.resource, namespace: access.namespace, name: access.name}}},
    })
    return review?.status?.allowed === true
  }))
  const denied = wanted.find((_, i) => !results[i])
  if (denied) {
    const a = denied.access
    const what = `${a.verb} ${a.resource}${a.name ? ` ${a.namespace ? `${a.namespace}/` : ''}${a.name}` : a.namespace ? ` in namespace ${a.namespace}` : ''}`
    throw new OperationError(`context "${a.context}": forbidden to ${what}; nothing was written in either cluster`,
      `use a context allowed to ${a.verb} ${a.resource}, or grant it; check with \`kubectl --context ${a.context} auth can-i ${a.verb} ${a.resource}${a.namespace ? ` -n ${a.namespace}` : ''}\``)
  }
}

/** The remote secret as it would be written now, when the reader token already exists. */
function desiredRemoteSecret(d: Direction, o: Pick<LinkOptions, 'version' | 'expose'>): KubeObject | undefined {
  const t = d.link.west.tokenSecret?.data
  const token = d.bound ? d.bound.reuse?.token : t?.token && Buffer.from(t.token, 'base64').toString('utf8')
  return token ? secretFor(d, {token, caData: d.bound ? d.bound.caData : t?.['ca.crt']}, o) : undefined
}

function yamlDocs(o: LinkOptions, directions: Direction[], readerPlans: Map<LinkFacts, ReaderStep[]>, meshEdits: MeshEdit[]): {docs: Array<{context: string; object: KubeObject}>; error?: UsageError} {
  const docs: Array<{context: string; object: KubeObject}> = []
  for (const [facts, steps] of readerPlans) {
    for (const s of steps) if (s.mode === 'apply') docs.push({context: facts.context, object: s.desired})
  }
  const unissued = directions.filter((d) => d.bound && !d.bound.reuse).map((d) => d.link.west.context)
  if (unissued.length > 0) return {docs: [], error: boundYamlError(unissued, `kubectl mesh cluster link --context ${directions[0].link.east.context} --remote-context ${directions[0].link.west.context}${o.bidirectional ? ' --bidirectional' : ''} --token-ttl ${formatTtl(o.tokenTtlSeconds!)}`)}
  for (const d of directions) if (d.exposure.planned) docs.push({context: d.link.west.context, object: d.exposure.planned})
  for (const d of directions) {
    if (!d.primaryRemote) continue
    const {istiod, annotation} = d.primaryRemote
    const value = annotation ?? d.link.west.namespace?.metadata.annotations?.[CONTROL_PLANE_CLUSTERS_ANNOTATION] ?? d.primaryRemote.primaryId
    docs.push({context: d.link.west.context, object: {apiVersion: 'v1', kind: 'Namespace', metadata: {name: d.link.west.istioNamespace, annotations: {[CONTROL_PLANE_CLUSTERS_ANNOTATION]: value}}}})
    if (istiod.planned.gateway) docs.push({context: d.link.east.context, object: istiod.planned.gateway})
    if (istiod.planned.virtualService) docs.push({context: d.link.east.context, object: istiod.planned.virtualService})
  }
  const missing: string[] = []
  for (const [i, d] of directions.entries()) {
    const secret = desiredRemoteSecret(d, o)
    if (!secret) {
      missing.push(d.link.west.context)
      continue
    }
    docs.push({context: d.link.east.context, object: secret})
    const m = meshEdits[i]
    if (m.changed) {
      docs.push({context: d.link.east.context, object: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}, data: {meshNetworks: m.after === undefined ? '' : dumpYaml(m.after)}}})
    }
  }
  if (missing.length > 0) {
    const ctx = [...new Set(missing)]
    const args = ['cluster', 'link', '--context', directions[0].link.east.context, '--remote-context', directions[0].link.west.context]
    if (o.remoteName) args.push('--remote-name', o.remoteName)
    if (o.server) args.push('--server', o.server)
    if (o.tlsServerName) args.push('--tls-server-name', o.tlsServerName)
    if (o.network) args.push('--network', o.network)
    if (o.gateway) args.push('--gateway', o.gateway)
    if (o.bidirectional) args.push('--bidirectional')
    if (o.force) args.push('--force')
    if (o.istioNamespace !== 'istio-system') args.push('--istio-namespace', o.istioNamespace)
    const cmd = `kubectl mesh ${args.join(' ')} -o yaml`
    const printed = docs.filter((d) => ctx.includes(d.context))
    const apply = ctx.map((c) => `kubectl mesh … -o yaml | kubectl --context ${c} apply -f -`).join('; ')
    return {
      docs: printed,
      error: new UsageError(
        `the reader token in context ${ctx.map((c) => `"${c}"`).join(', ')} does not exist until its Secret ${o.istioNamespace}/${READER_TOKEN_SECRET} is created, so the remote secret cannot be printed yet; only the reader objects were printed and nothing was written`,
        `two steps: (1) create the reader objects printed above (${apply}), (2) run \`${cmd}\` again to print the remote secret with the token`,
      ),
    }
  }
  return {docs}
}

/**
 * The error of a link that failed while writing: what was written, the write that got no answer
 * (it may have been applied), and how to finish or undo it.
 */
export function linkPartialFailure(error: unknown, changes: Change[], inFlight: ObjectRef | undefined, o: Pick<LinkOptions, 'context' | 'remoteContext' | 'dryRun'>, id: string): Error {
  const written: ObjectRef[] = changes.filter((c) => c.action !== 'unchanged')
  if (inFlight && mayHaveApplied(error)) written.push(inFlight)
  const base = error instanceof ApiError ? toOperationError(error) : error instanceof OperationError || error instanceof UsageError ? error : new OperationError((error as Error).message)
  if (written.length === 0 || o.dryRun) return base
  return new OperationError(`${base.message}${writtenSuffix(written)}`,
    `run the same command again to finish the link, or undo it: kubectl mesh cluster unlink --context ${o.context ?? '<EAST>'} --remote-name ${id} --remote-context ${o.remoteContext} --prune-remote`)
}

// ---- unlink -------------------------------------------------------------------------------

export interface UnlinkOptions {
  context?: string
  /** The cluster ID to unlink; defaults to WEST's cluster ID when remoteContext is given. */
  remoteName?: string
  remoteContext?: string
  pruneRemote?: boolean
  /** Also remove the mirror image: EAST's link in WEST (and, with pruneRemote, the reader in EAST). */
  bidirectional?: boolean
  istioNamespace: string
  dryRun?: boolean
  report: Reporter
}

const NO_ID_HINT = 'pass --remote-name with the cluster ID the link was made for (the data key of the istio-remote-secret-<ID> Secret)'

export async function unlink(session: Session, o: UnlinkOptions): Promise<{changes: Change[]; ids: string[]}> {
  if (o.remoteName !== undefined && !isDns1123Label(o.remoteName)) throw new UsageError(`--remote-name "${o.remoteName}" is not a DNS-1123 label`, NO_ID_HINT)
  if (o.pruneRemote && !o.remoteContext) throw new UsageError('--prune-remote needs --remote-context', 'name the remote cluster\'s context, whose reader token and account should be removed')
  if (o.bidirectional && !o.remoteContext) throw new UsageError('--bidirectional needs --remote-context', 'name the remote cluster\'s context, whose link to this cluster should be removed too')
  if (!o.remoteName && !o.remoteContext) throw new UsageError('pass --remote-name or --remote-context', NO_ID_HINT)
  const eastRef = session.resolve(o.context)
  const westRef = o.remoteContext ? session.resolve(o.remoteContext) : undefined
  if (westRef && westRef.context === eastRef.context) {
    throw new UsageError(`--context and --remote-context are both "${eastRef.context}"`, 'pass the remote cluster\'s context as --remote-context')
  }
  const east = session.client(eastRef.context)
  const west = westRef && session.client(westRef.context)
  const ns = o.istioNamespace

  // The cluster IDs that were not given are read before the first write: WEST's (the default
  // --remote-name) and, with --bidirectional, EAST's (the ID WEST's link to EAST was made for).
  let id = o.remoteName
  let reverseId: string | undefined
  if (west && (!id || o.bidirectional)) {
    const [eastFacts, westFacts] = await allInOrder([o.bidirectional ? readFacts(east, ns) : undefined, id ? undefined : readFacts(west, ns)])
    id ??= requireClusterId(westFacts!, 'pass --remote-name with the cluster ID the link was made for')
    if (eastFacts) reverseId = requireClusterId(eastFacts, 'unlink that direction on its own: kubectl mesh cluster unlink --context <WEST> --remote-name <EAST cluster ID>')
  }
  // The ID of the cluster that relies on the peer's cross-network Gateway: EAST's (WEST's in the mirror image).
  const eastId = west ? reverseId ?? (await readIstioInstall(east, ns)).facts.clusterId ?? east.context : undefined
  const directions: Array<{from: KubeClient; id: string; fromId?: string; peer?: KubeClient}> = [{from: east, id: id!, fromId: eastId, peer: west}]
  if (west && reverseId) directions.push({from: west, id: reverseId, fromId: id, peer: east})

  const ids = directions.map((d) => d.id)
  const changes: Change[] = []
  for (const [i, d] of directions.entries()) {
    try {
      const removed = await removeLink(d.from, d.id, ns, o.dryRun)
      changes.push(...removed.changes)
      // primary-remote: this cluster no longer passes its istiod through for d.id (once no remote relies on it)
      const istiodDropped = await dropIstiodExposureIn(d.from, d.id, ns, o.dryRun)
      changes.push(...istiodDropped)
      if (d.peer && d.fromId) {
        const nsRef = {...RESOURCES.Namespace, metadata: {name: ns}}
        const fromId = d.fromId
        const c = await editAnnotation(d.peer, nsRef, CONTROL_PLANE_CLUSTERS_ANNOTATION, (live) => withoutControlPlane(live, fromId), {dryRun: o.dryRun})
        if (c && c.action !== 'unchanged') changes.push(c)
      } else if (istiodDropped.length > 0) {
        o.report.note(`context "${d.id}" (a remote-profile cluster) may still name "${d.from.context}" in its namespace annotation ${CONTROL_PLANE_CLUSTERS_ANNOTATION}: run unlink with --remote-context for ${d.id} to drop it`)
      }
      if (d.peer && d.fromId) {
        const dropped = await dropPeerExposure(d.peer, d.fromId, ns, o.dryRun)
        if (dropped) changes.push(dropped)
        changes.push(...await revokeLinkTokens(d.peer, d.fromId, ns, o.dryRun))
      } else if (removed.exposed) {
        o.report.note(`context "${d.from.context}" relied on ${d.id}'s Gateway ${CROSS_NETWORK_GATEWAY} (it passes ${d.id}'s services through its east-west gateway); it may still list this cluster: run unlink with --remote-context for ${d.id} to drop it`)
      }
    } catch (error) {
      if (i === 0) throw error
      throw unlinkPartialFailure(error, changes, `the link of "${d.id}" in "${d.from.context}" was not removed`)
    }
  }
  // Ambient: kubectl-mesh's serviceScopeConfigs entry goes from a cluster once no link needs it
  // (no remote secret left in it, and none in the peer naming it); only when kubectl-mesh added it.
  if (!o.dryRun) {
    const holds = async (c: KubeClient) => (await listObjects(c, RESOURCES.Secret, {namespace: ns, labelSelector: `${MULTICLUSTER_LABEL}=true`})).length > 0
    const pair = [east, ...(west ? [west] : [])]
    const busy = await Promise.all(pair.map(holds))
    for (const c of pair) {
      if (busy.some(Boolean)) continue
      const r = await readAmbient(c, ns)
      if (r.facts.kind !== 'ambient' || !r.meshConfigMap) continue
      const change = await writeScope(c, r, removeScopeEdit)
      if (change.action !== 'unchanged') changes.push(change)
    }
  }
  if (!o.pruneRemote) return {changes, ids}
  // What link created in each peer: the token Secret, and the account and RBAC if kubectl-mesh made them.
  for (const d of directions) {
    try {
      changes.push(...await pruneReader(d.peer!, ns, o.report, o.dryRun))
    } catch (error) {
      throw unlinkPartialFailure(error, changes, `nothing was pruned in "${d.peer!.context}"`)
    }
  }
  return {changes, ids}
}

function requireClusterId(f: LinkFacts, hint: string): string {
  if (f.clusterId && isDns1123Label(f.clusterId)) return f.clusterId
  throw new UsageError(`context "${f.context}": cannot tell the cluster ID (${f.clusterId ? `"${f.clusterId}" is not a DNS-1123 label` : NO_CLUSTER_ID}); nothing was removed`, hint)
}

/** In the peer: drop `relyingId` from its cross-network Gateway (deleted when no linking cluster is left). */
async function dropPeerExposure(peer: KubeClient, relyingId: string, ns: string, dryRun?: boolean): Promise<Change | undefined> {
  const install = await readIstioInstall(peer, ns)
  const ref = {...RESOURCES.Gateway, metadata: {name: CROSS_NETWORK_GATEWAY, namespace: install.gateway?.namespace ?? ns}}
  return editObject(peer, ref, dropExposure(relyingId), {dryRun})
}

/**
 * In the peer: the credentials made for this link alone (`--token-ttl` anchors and the per-link
 * token Secrets of rotate-credentials, labelled kubectl-mesh/token-for=<ID>): deleting them
 * revokes their tokens, which no remote secret carries any more. The shared reader token stays
 * (--prune-remote removes it).
 */
async function revokeLinkTokens(peer: KubeClient, relyingId: string, ns: string, dryRun?: boolean): Promise<Change[]> {
  const changes: Change[] = []
  for (const s of (await listAnchors(peer, ns, relyingId)).filter(isManaged)) {
    const c = await deleteObject(peer, {apiVersion: 'v1', kind: 'Secret', metadata: {name: s.metadata.name, namespace: ns}}, {dryRun})
    if (c) changes.push(c)
  }
  return changes
}

/** In a primary: drop `remoteId` from its Gateway kubectl-mesh-istiod; Gateway and VirtualService go when no remote is left. */
async function dropIstiodExposureIn(primary: KubeClient, remoteId: string, ns: string, dryRun?: boolean): Promise<Change[]> {
  const install = await readIstioInstall(primary, ns, {}, {meshConfig: false})
  const namespace = install.gateway?.namespace ?? ns
  const gref = {...RESOURCES.Gateway, metadata: {name: ISTIOD_GATEWAY, namespace}}
  const g = await editObject(primary, gref, dropIstiodExposure(remoteId), {dryRun})
  if (!g || g.action !== 'deleted') return g && g.action !== 'unchanged' ? [g] : []
  const vref = {...RESOURCES.VirtualService, metadata: {name: ISTIOD_GATEWAY, namespace}}
  const v = await editObject(primary, vref, (live) => (live && isManaged(live) ? null : undefined), {dryRun})
  return v ? [g, v] : [g]
}

/** In one cluster: delete the remote secret of ID and remove ID from meshNetworks. `exposed`: the link relied on the peer's cross-network Gateway. */
async function removeLink(client: KubeClient, id: string, ns: string, dryRun?: boolean): Promise<{changes: Change[]; exposed: boolean}> {
  const changes: Change[] = []
  const secret = {apiVersion: 'v1', kind: 'Secret', metadata: {name: remoteSecretName(id), namespace: ns}}
  // Read first, so that a repeated unlink sends no write at all. meshNetworks lives in the mesh
  // ConfigMap of the revision link chose (src/istio/revision.ts): `istio` unless only a revisioned istiod runs.
  const [live, {revision: {names}, objects: {meshConfigMap: cm}}] = await allInOrder([
    client.getOptional<KubeObject>(resourcePath(RESOURCES.Secret, ns, secret.metadata.name)),
    readRevisioned(client, ns, ['meshConfigMap'] as const),
  ])
  const deleted = live && await deleteObject(client, secret, {dryRun})
  if (deleted) changes.push(deleted)
  if (cm) {
    const c = await editConfigMapYaml<MeshNetworks>(client, {namespace: ns, name: names.meshConfigMap, key: 'meshNetworks', edit: (d) => removeRegistry(d, id)}, {dryRun})
    if (c.action !== 'unchanged') changes.push(c)
  }
  return {changes, exposed: live?.metadata.annotations?.[EXPOSE_ANNOTATION] === 'all'}
}

/** In the remote cluster: the reader token Secret, and the account and RBAC, each only if kubectl-mesh created it. */
async function pruneReader(client: KubeClient, ns: string, report: Reporter, dryRun?: boolean): Promise<Change[]> {
  const objs: Array<{apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}> = [
    {apiVersion: 'v1', kind: 'Secret', metadata: {name: READER_TOKEN_SECRET, namespace: ns}},
    {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {name: readerClusterRole(ns)}},
    {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: readerClusterRole(ns)}},
    {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: READER_SERVICE_ACCOUNT, namespace: ns}},
  ]
  const live = await Promise.all(objs.map((x) => client.getOptional<KubeObject>(resourcePath(resourceFor(x), x.metadata.namespace, x.metadata.name))))
  const changes: Change[] = []
  const kept: string[] = []
  for (const [i, x] of objs.entries()) {
    if (!live[i]) continue
    if (!isManaged(live[i])) {
      kept.push(`${x.kind}/${x.metadata.name}`)
      continue
    }
    const c = await deleteObject(client, x, {dryRun})
    if (c) changes.push(c)
  }
  if (changes.some((c) => c.kind === 'Secret')) {
    report.warn(`context "${client.context}": the reader token is shared by every cluster linked to "${client.context}" with kubectl-mesh; their links stop working until they are linked again`)
  }
  if (kept.length > 0) report.note(`context "${client.context}": left ${kept.join(', ')} in place: kubectl-mesh did not create them`)
  return changes
}

function unlinkPartialFailure(error: unknown, changes: Change[], what: string): OperationError {
  const base = error instanceof ApiError ? toOperationError(error) : (error as Error)
  return new OperationError(`${base.message}${writtenSuffix(changes)}; ${what}`, 'run the same command again when every cluster is reachable: it removes what is left')
}
