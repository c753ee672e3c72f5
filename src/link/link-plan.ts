// The whole plan of `cluster link` as a value (STYLE.md §16), from the two clusters' facts
// (src/link/facts.ts, read once per run) and the options: the checks of the pair, every write in
// order (reader objects and tokens in WEST, exposure Gateways, the primary-remote annotation and
// istiod exposure, the remote secret, the meshNetworks edit or the istio-remote Gateway, the
// ambient istio-east-west Gateway and serviceScopeConfigs entries), the access they need, what
// -o yaml prints, the summary, warnings and notes. No API request here: src/kube/execute.ts
// performs the writes; the token steps it runs are described here and run there.
import {OperationError, UsageError} from '../errors.ts'
import {type Change, type Edit, isUpToDate, ownedFieldsEqual} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {dumpYaml, parseYamlKey} from '../kube/configmap-yaml.ts'
import {type AccessCheck, accessFor, type PlannedOp, type PlanValues} from '../kube/execute.ts'
import {type KubeObject, RESOURCES} from '../kube/resources.ts'
import {objectRef} from '../istio/gateway.ts'
import {HBONE_PORT} from '../istio/ambient.ts'
import {CONTROL_PLANE_CLUSTERS_ANNOTATION, CROSS_NETWORK_GATEWAY, ISTIOD_GATEWAY, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET} from '../istio/names.ts'
import type {Reporter} from '../report.ts'
import type {LinkFacts, Gateway} from './facts.ts'
import {
  addNetworkEntry, checkMeshNetworks, type ExposurePlan, type IstiodExposurePlan, isManaged, type MeshNetworks, planExposure, planIstiodExposure, planReader, type ReaderStep,
  remoteKubeconfig, remoteSecret, remoteSecretName, removeRegistry, withControlPlane,
} from './plan.ts'
import {isLoopbackServer, type ResolvedLink, validatePair, validatePrimaryRemote} from './validate.ts'
import type {AmbientRead} from '../istio/ambient-read.ts'
import {addScopeEdit, ambientGatewayOf, type AmbientLinkPlan, planAmbientLink, sameScopeEqual} from './ambient.ts'
import {type BoundTokenPlan, boundTokenFor, boundYamlError, DRY_RUN_TOKEN, formatTtl, planBoundToken, withoutTokenSecret} from './token.ts'
import {dropRemoteGateway, remoteGatewayEdit, remoteGatewayRef} from './remote-gateway.ts'

/** The options the plan depends on (cluster link's flags, parsed). */
export interface LinkPlanOptions {
  istioNamespace: string
  remoteName?: string
  server?: string
  tlsServerName?: string
  network?: string
  /** --gateway, parsed (src/link/validate.ts validateInputs). */
  gateway?: Gateway
  /** --gateway as given, for the two-step recipe of -o yaml. */
  gatewayFlag?: string
  bidirectional?: boolean
  force?: boolean
  expose?: 'all' | 'exported'
  networkConfig?: 'meshnetworks' | 'gateway'
  dryRun?: boolean
  version: string
  tokenTimeoutMs?: number
  tokenTtlSeconds?: number
  remoteProfile?: boolean
  createGateway?: boolean
  /** Where the token steps' notes go when they run. */
  report: Reporter
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

export interface Direction {
  link: ResolvedLink
  server: string
  tlsServerName?: string
  serverFromFlag: boolean
  exposure: ExposurePlan
  bound?: BoundTokenPlan
  /** Primary-remote: EAST's istiod exposure and the annotation value WEST's Istio namespace gets (undefined: already named). */
  primaryRemote?: {istiod: IstiodExposurePlan; annotation?: string; primaryId: string}
  /** The meshNetworks edit in EAST's mesh ConfigMap. */
  mesh: MeshEdit
  /** --network-config gateway where EAST's istiod cannot discover WEST's gateway: the istio-remote Gateway in EAST (src/link/remote-gateway.ts). */
  remoteGateway: {edit: Edit; planned: KubeObject | null | undefined; live?: KubeObject | null}
}

export interface MeshEdit {
  /** The ConfigMap exists with a meshNetworks key (or will get one). */
  present: boolean
  changed: boolean
  edit: (doc: MeshNetworks | undefined) => MeshNetworks | undefined
  after?: MeshNetworks
}

export interface LinkPlan {
  /** WEST's cluster ID of the first direction (the hint of a partial failure). */
  id: string
  links: LinkSummary[]
  /** In the order they are to be printed: notes first, then warnings. */
  notes: string[]
  warnings: string[]
  directions: Direction[]
  ambient: AmbientLinkPlan
  /** The writes in order and the access checks before them (src/kube/execute.ts). */
  writes: PlannedOp[]
  access: AccessCheck[]
  /** -o yaml: the desired objects; `yamlError` when a token does not exist yet. */
  docs: Array<{context: string; object: KubeObject}>
  yamlError?: UsageError
}

const tokenKey = (d: Direction | LinkFacts) => ('link' in d ? `bound:${d.link.east.context}:${d.link.west.context}` : `token:${d.context}`)

/**
 * The plan of one link (and its mirror image with --bidirectional): pure; throws UsageError
 * (exit 2) for a pair that cannot work, OperationError for a meshNetworks document it must not edit.
 */
export function planLink(east: LinkFacts, west: LinkFacts, o: LinkPlanOptions, now = new Date()): LinkPlan {
  const notes: string[] = []
  const warnings: string[] = []
  // The data planes: an ambient pair needs istiod's multi-network flag and WEST's istio-east-west Gateway.
  const [ea, wa] = [ambientOf(east), ambientOf(west)]
  const amb = planAmbientLink(ea, wa, {createGateway: o.createGateway, crossNetwork: (e, w) => (o.network ?? w.network) !== e.network, version: o.version})
  const ambBack = amb.ambient && o.bidirectional ? planAmbientLink(wa, ea, {createGateway: o.createGateway, crossNetwork: (e, w) => (o.network ?? e.network) !== w.network, version: o.version}) : undefined
  notes.push(...amb.notes)
  warnings.push(...amb.warnings)
  const ambientGateway = (p: AmbientLinkPlan | undefined) => (p ? ambientGatewayOf(p) ?? (p.createGateway ? {address: '(pending: istiod makes its Service)', port: HBONE_PORT} : undefined) : undefined)

  // The pair (and the mirror image with --bidirectional), checked before any write.
  const expose = o.expose ?? 'all'
  // Exposure: EAST relies on WEST's gateway passing WEST's services through (recorded by EAST's ID).
  // An ambient pair crosses networks through the istio-east-west Gateway: no Gateway of its own.
  const exposure = (l: ResolvedLink) => planExposure(l.west, l.east.clusterId ?? l.east.context, l.crossNetwork && expose === 'all' && !amb.ambient, o.version)
  const remoteProfile = validatePrimaryRemote(east, west, {remoteProfile: o.remoteProfile, bidirectional: o.bidirectional})
  const resolved: Array<{link: ResolvedLink; server: string; tlsServerName?: string; serverFromFlag: boolean}> = []
  const forward = validatePair(east, west, {remoteName: o.remoteName, network: o.network, gateway: o.gateway ?? (amb.ambient ? ambientGateway(amb) : undefined), force: o.force, networkConfig: o.networkConfig})
  warnings.push(...forward.warnings)
  resolved.push({link: forward.link, server: o.server ?? west.server, tlsServerName: o.tlsServerName ?? west.tlsServerName, serverFromFlag: o.server !== undefined})
  if (o.bidirectional) {
    // WEST's --network also holds when WEST is the discovering side.
    const back = validatePair(o.network ? {...west, network: o.network} : west, east, {force: o.force, networkConfig: o.networkConfig, gateway: amb.ambient ? ambientGateway(ambBack) : undefined})
    warnings.push(...back.warnings.filter((w) => !warnings.includes(w)))
    resolved.push({link: back.link, server: east.server, tlsServerName: east.tlsServerName, serverFromFlag: false})
  }
  const directions: Direction[] = resolved.map((r) => ({
    ...r, exposure: exposure(r.link),
    // meshNetworks must be editable: EAST's document is checked now, not after the first write.
    // An ambient pair: no meshNetworks entry (ztunnels find other networks' gateways from the istio-east-west Gateways).
    mesh: amb.ambient ? {present: false, changed: false, edit: (doc: MeshNetworks | undefined) => doc} : planMeshNetworks(r.link),
    remoteGateway: planRemoteGateway(r.link, o.version),
    // --token-ttl: the token in EAST's secret is reused or a new bound one is planned.
    bound: o.tokenTtlSeconds === undefined ? undefined : planBoundToken(r.link, o.tokenTtlSeconds, o.version, now),
  }))
  if (remoteProfile) {
    // PRIMARY's istiod through its east-west gateway when WEST's proxies reach it from another network
    const l = forward.link
    const primaryId = east.clusterId!
    const p = planIstiodExposure(east, l.id, l.crossNetwork, o.version)
    directions[0].primaryRemote = {istiod: p, annotation: withControlPlane(west.namespace, primaryId), primaryId}
    if (p.problem) warnings.push(`${p.problem}: "${west.context}" cannot reach its control plane from network "${l.westNetwork}"; install Istio's samples/multicluster/expose-istiod.yaml in "${east.context}"`)
    if (p.coveredBy) notes.push(`context "${east.context}": Gateway ${objectRef(p.coveredBy)} already passes istiod (15012, 15017) through the east-west gateway; no Gateway added`)
    if (west.remotePilotAddress && l.crossNetwork && east.gateway?.address && west.remotePilotAddress !== east.gateway.address) {
      warnings.push(`context "${west.context}": its remote profile points istiod at ${west.remotePilotAddress} (values.global.remotePilotAddress), not at "${east.context}"'s east-west gateway ${east.gateway.address}: reinstall it with remotePilotAddress=${east.gateway.address}`)
    }
  }
  for (const d of directions) {
    if (d.exposure.problem) warnings.push(`${d.exposure.problem}: "${d.link.east.context}" reaches only what is passed through there already; install Istio's samples/multicluster/expose-services.yaml in "${d.link.west.context}", or link with --expose exported`)
    if (d.exposure.coveredBy) notes.push(`context "${d.link.west.context}": Gateway ${objectRef(d.exposure.coveredBy)} already passes every service through the east-west gateway; no Gateway added`)
    // the shape found and the addresses istiod uses (src/istio/gateway.ts)
    const g = d.link.west.gateway
    if (d.link.crossNetwork && d.link.remoteGateway) {
      notes.push(`context "${d.link.east.context}": its istiod cannot discover "${d.link.west.context}"'s east-west gateway (${d.link.remoteGateway}); Gateway ${d.link.east.istioNamespace}/${remoteGatewayRef(d.link.east.istioNamespace, d.link.id).metadata.name} (class istio-remote) names network ${d.link.westNetwork} at ${(d.link.gateways ?? []).map((x) => `${x.address}:${x.port}`).join(', ')}`)
    } else if (d.link.crossNetwork && g && d.link.gatewayShape && d.link.gatewayShape !== 'flag') {
      notes.push(`context "${d.link.west.context}": east-west gateway ${g.service} (${d.link.gatewayShape}); istiod uses ${(d.link.gateways ?? []).map((x) => `${x.address}:${x.port}`).join(', ')} (${d.link.registryServiceName ? `named by "${d.link.east.context}"'s meshNetworks registryServiceName ${d.link.registryServiceName}` : d.link.networkConfig === 'gateway' ? `discovered by "${d.link.east.context}"'s istiod from its network label` : `written into "${d.link.east.context}"'s meshNetworks`})`)
    }
  }
  for (const d of directions) {
    if (isLoopbackServer(d.server)) {
      warnings.push(`the remote secret for "${d.link.id}" in context "${d.link.east.context}" points at ${d.server}, a loopback address that istiod in a pod cannot reach${d.serverFromFlag ? '' : d.link.west === east ? `; to fix it, link that direction on its own: kubectl mesh cluster link --context ${d.link.east.context} --remote-context ${d.link.west.context} --server <reachable address>` : '; pass --server with an address reachable from the pods'}`)
    }
  }
  for (const d of directions) {
    const e = d.link.east
    if (d.link.crossNetwork && d.link.networkConfig === 'meshnetworks' && e.otherRevisions.length > 0) {
      warnings.push(`context "${e.context}" runs istiod revisions ${[e.revision, ...e.otherRevisions].join(', ')}: meshNetworks is edited in ConfigMap ${e.istioNamespace}/${e.meshConfigMapName} (revision ${e.revision}) only; the other revisions' istiods do not learn network ${d.link.westNetwork} from it`)
    }
  }
  // The reader objects, once per cluster that is discovered.
  const readerPlans = new Map<LinkFacts, ReaderStep[]>()
  for (const d of directions) readerPlans.set(d.link.west, o.tokenTtlSeconds === undefined ? planReader(d.link.west, o.version) : withoutTokenSecret(planReader(d.link.west, o.version)))

  const links: LinkSummary[] = directions.map((d) => ({
    context: d.link.east.context, remoteContext: d.link.west.context, clusterId: d.link.id, network: d.link.westNetwork,
    crossNetwork: d.link.crossNetwork, gateway: d.link.gateway && `${d.link.gateway.address}:${d.link.gateway.port}`,
    ...(d.link.crossNetwork ? {expose, exposedBy: d.exposure.coveredBy ? objectRef(d.exposure.coveredBy) : d.exposure.planned ? objectRef(d.exposure.planned) : undefined} : {}),
    ...(d.primaryRemote ? {remoteProfile: true, ...(d.link.crossNetwork ? {istiodExposedBy: istiodExposedBy(d.primaryRemote.istiod, d.link.east)} : {})} : {}),
    ...(amb.ambient ? {meshKind: 'ambient' as const} : {}),
  }))
  const yaml = yamlDocs(o, directions, readerPlans, amb, ambBack)
  return {
    id: directions[0].link.id, links, notes, warnings, directions, ambient: amb,
    writes: writesOf(o, directions, readerPlans, amb, ambBack),
    access: accessOf(o, directions, readerPlans, amb, ambBack),
    docs: yaml.docs, yamlError: yaml.error,
  }
}

/** The ambient read of a cluster (facts built without one: a sidecar cluster). */
function ambientOf(f: LinkFacts): AmbientRead {
  return f.ambient ?? {context: f.context, istioNamespace: f.istioNamespace, meshConfigMapName: f.meshConfigMapName, meshConfigMap: f.meshConfigMap, network: f.network, gateways: [], kubeGateways: [],
    facts: {kind: 'sidecar', ambientProfile: false, multiNetwork: false, ambientNamespaces: [], evidence: 'no ambient read'}}
}

/** The Gateway that passes PRIMARY's istiod through (namespace/name), planned or found. */
function istiodExposedBy(p: IstiodExposurePlan, east: LinkFacts): string | undefined {
  if (p.coveredBy) return objectRef(p.coveredBy)
  const gw = p.planned.gateway ?? east.gateways?.find((g) => g.metadata.name === ISTIOD_GATEWAY && g.metadata.namespace === east.ewGateway?.namespace)
  return gw ? objectRef(gw) : undefined
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
  // WEST's gateway named by an entry's registryServiceName: that entry already wires WEST's network (kept as it is, either wiring)
  const edit = l.crossNetwork && l.registryServiceName ? (doc: MeshNetworks | undefined) => doc
    : l.crossNetwork && l.networkConfig === 'meshnetworks'
    ? (doc: MeshNetworks | undefined) => addNetworkEntry(doc, l.westNetwork!, l.id, l.gateways ?? l.gateway!)
    : (doc: MeshNetworks | undefined) => removeRegistry(doc, l.id)
  const after = cm ? edit(structuredClone(before as MeshNetworks | undefined)) : undefined
  const changed = Boolean(cm) && JSON.stringify(after ?? null) !== JSON.stringify(before ?? null)
  return {present: Boolean(cm) && (l.crossNetwork && l.networkConfig === 'meshnetworks' || changed), changed, edit, after}
}

/** The istio-remote Gateway of this link in EAST: written when the link needs it, else ours dropped (a link that changed its wiring). */
function planRemoteGateway(l: ResolvedLink, version: string): Direction['remoteGateway'] {
  const ref = remoteGatewayRef(l.east.istioNamespace, l.id)
  const live = l.east.kubeGateways === undefined ? undefined : l.east.kubeGateways.find((g) => g.metadata.name === ref.metadata.name && g.metadata.namespace === ref.metadata.namespace) ?? null
  const edit: Edit = l.crossNetwork && l.remoteGateway ? remoteGatewayEdit({namespace: l.east.istioNamespace, id: l.id, network: l.westNetwork!, gateways: l.gateways ?? [l.gateway!], version}) : dropRemoteGateway
  return {edit, planned: live === undefined && !l.remoteGateway ? undefined : edit(live ?? undefined), live}
}

/** The remote secret for one direction, with a given token and the CA that came with it (else WEST's context's): the one builder of it; undefined without a CA. */
export function secretFor(d: Direction, t: {token: string; caData?: string}, o: Pick<LinkPlanOptions, 'version' | 'expose'>): KubeObject | undefined {
  const caData = t.caData ?? d.link.west.caData
  if (!caData) return undefined
  return remoteSecret(d.link.east.istioNamespace, d.link.id, remoteKubeconfig({id: d.link.id, server: d.server, caData, token: t.token, tlsServerName: d.tlsServerName}), o.version,
    d.link.crossNetwork ? o.expose ?? 'all' : undefined, d.link.crossNetwork ? d.link.networkConfig : undefined)
}

/** The remote secret as it would be written now, when the reader token already exists. */
function desiredRemoteSecret(d: Direction, o: Pick<LinkPlanOptions, 'version' | 'expose'>): KubeObject | undefined {
  const t = d.link.west.tokenSecret?.data
  const token = d.bound ? d.bound.reuse?.token : t?.token && Buffer.from(t.token, 'base64').toString('utf8')
  return token ? secretFor(d, {token, caData: d.bound ? d.bound.caData : t?.['ca.crt']}, o) : undefined
}

const listed = (list: KubeObject[] | undefined, obj: {metadata: {name: string; namespace?: string}}): KubeObject | null | undefined =>
  list === undefined ? undefined : list.find((g) => g.metadata.name === obj.metadata.name && g.metadata.namespace === obj.metadata.namespace) ?? null

/** The writes, in order: WEST's reader objects and token, exposure, primary-remote, then per direction the token, secret and network wiring; ambient last. */
function writesOf(o: LinkPlanOptions, directions: Direction[], readerPlans: Map<LinkFacts, ReaderStep[]>, amb: AmbientLinkPlan, ambBack?: AmbientLinkPlan): PlannedOp[] {
  const writes: PlannedOp[] = []
  for (const [facts, steps] of readerPlans) {
    for (const step of steps) {
      // an object someone else made is kept as it is (desired = live: unchanged, no request)
      writes.push({op: 'apply', context: facts.context, object: step.desired, live: step.live})
    }
    if (o.tokenTtlSeconds === undefined) {
      writes.push({op: 'step', context: facts.context, title: `Wait for the reader token in "${facts.context}"`, run: async (client, v) => {
        v.set(tokenKey(facts), await waitForToken(client, facts, o))
        return []
      }})
    }
  }
  // WEST's services passed through its gateway before EAST's istiod learns about them.
  for (const d of directions) {
    const w = d.link.west
    const ref = {...RESOURCES.Gateway, metadata: {name: CROSS_NETWORK_GATEWAY, namespace: w.ewGateway?.namespace ?? w.istioNamespace}}
    writes.push(d.exposure.coveredBy ? {op: 'unchanged', context: w.context, ref: d.exposure.coveredBy} : {op: 'edit', context: w.context, ref, edit: d.exposure.edit, read: listed(w.gateways, ref)})
  }
  // Primary-remote: WEST names its control plane, PRIMARY's istiod is passed through to WEST's network.
  for (const d of directions) {
    if (!d.primaryRemote) continue
    const {primaryId, istiod} = d.primaryRemote
    const w = d.link.west
    writes.push({op: 'annotate', context: w.context, ref: {...RESOURCES.Namespace, metadata: {name: w.istioNamespace}}, key: CONTROL_PLANE_CLUSTERS_ANNOTATION, edit: (live) => withControlPlane(live, primaryId)})
    const e = d.link.east
    const namespace = e.ewGateway?.namespace ?? e.istioNamespace
    if (istiod.coveredBy) {
      writes.push({op: 'unchanged', context: e.context, ref: istiod.coveredBy})
      continue
    }
    const gref = {...RESOURCES.Gateway, metadata: {name: ISTIOD_GATEWAY, namespace}}
    const vref = {...RESOURCES.VirtualService, metadata: {name: ISTIOD_GATEWAY, namespace}}
    writes.push({op: 'edit', context: e.context, ref: gref, edit: istiod.gatewayEdit, read: listed(e.gateways, gref)})
    // the VirtualService follows the Gateway: made with it, kept while it stays, deleted with it
    writes.push({op: 'edit', context: e.context, ref: vref, edit: istiod.planned.gateway === null ? (live) => (live && isManaged(live) ? null : undefined) : istiod.virtualServiceEdit})
  }
  for (const d of directions) {
    const e = d.link.east
    const w = d.link.west
    const name = remoteSecretName(d.link.id)
    const secretRef = {apiVersion: 'v1', kind: 'Secret', metadata: {name, namespace: e.istioNamespace}}
    if (d.bound) {
      const bound = d.bound
      writes.push({op: 'step', context: w.context, title: `Issue a token for ${bound.eastId} in "${w.context}"`, ref: bound.anchor, run: async (client, v) => {
        const changes: Change[] = []
        v.set(tokenKey(d), await boundTokenFor(client, bound, {dryRun: o.dryRun, changes, report: o.report}))
        return changes
      }})
    }
    writes.push({op: 'apply', context: e.context, ref: secretRef, live: e.remoteSecrets.find((s) => s.metadata.name === name) ?? undefined, object: (v: PlanValues) => {
      const t = v.get(d.bound ? tokenKey(d) : tokenKey(w)) as {token: string; caData?: string}
      const desired = secretFor(d, t, o)
      if (!desired) {
        throw new OperationError(`context "${w.context}": no CA certificate for the remote kubeconfig (token Secret has no ca.crt, the kubeconfig context has no certificate-authority)`,
          'check that kube-controller-manager runs with --root-ca-file')
      }
      return desired
    }})
    const cmRef = {kind: 'ConfigMap', metadata: {name: e.meshConfigMapName, namespace: e.istioNamespace}}
    if (d.mesh.changed) writes.push({op: 'yaml', context: e.context, namespace: e.istioNamespace, name: e.meshConfigMapName, key: 'meshNetworks', edit: d.mesh.edit})
    else if (d.mesh.present) writes.push({op: 'unchanged', context: e.context, ref: cmRef})
    if (d.remoteGateway.planned !== undefined || d.remoteGateway.live === undefined && d.link.remoteGateway) {
      // the API server defaults fields of a Gateway API Gateway (listeners' allowedRoutes): up to date when it holds ours
      writes.push({op: 'edit', context: e.context, ref: remoteGatewayRef(e.istioNamespace, d.link.id), edit: d.remoteGateway.edit, read: d.remoteGateway.live, upToDate: isUpToDate})
    }
  }
  // Ambient: WEST's (and with --bidirectional EAST's) istio-east-west Gateway, then kubectl-mesh's
  // serviceScopeConfigs entry in both clusters' mesh config.
  if (amb.ambient) {
    for (const p of [amb, ambBack]) {
      if (!p?.createGateway) continue
      const gw = p.createGateway
      writes.push({op: 'apply', context: p.west.context, object: gw, live: listed(p.west.kubeGateways, gw) ?? undefined})
    }
    for (const r of [amb.east, amb.west]) {
      const ref = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: r.meshConfigMapName, namespace: r.istioNamespace}}
      writes.push({op: 'edit', context: r.context, ref, edit: addScopeEdit, upToDate: sameScopeEqual, read: r.meshConfigMap ?? null})
    }
  }
  return writes
}

/** SelfSubjectAccessReviews for the writes the plan needs (none when everything is up to date). */
function accessOf(o: LinkPlanOptions, directions: Direction[], readerPlans: Map<LinkFacts, ReaderStep[]>, amb: AmbientLinkPlan, ambBack?: AmbientLinkPlan): AccessCheck[] {
  const checks: AccessCheck[] = []
  const add = (facts: {context: string}, obj: KubeObject | {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, exists: boolean, patch = false) => checks.push(accessFor(facts.context, obj, exists, patch))
  for (const [facts, steps] of readerPlans) {
    for (const s of steps) if (s.mode === 'apply' && !(s.live && isUpToDate(s.live, s.desired))) add(facts, s.desired, Boolean(s.live))
  }
  for (const d of directions) {
    const name = remoteSecretName(d.link.id)
    const live = d.link.east.remoteSecrets.find((s) => s.metadata.name === name)
    // The secret's content depends on the token: when the token exists, it is known now.
    const desired = desiredRemoteSecret(d, o)
    if (!live || !desired || !isUpToDate(live, desired)) add(d.link.east, {apiVersion: 'v1', kind: 'Secret', metadata: {name, namespace: d.link.east.istioNamespace}}, Boolean(live))
    if (d.mesh.changed) add(d.link.east, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}}, true)
    const gw = d.exposure.planned
    const liveGw = gw && d.link.west.gateways?.find((g) => g.metadata.name === gw.metadata.name && g.metadata.namespace === gw.metadata.namespace)
    if (gw && !(liveGw && ownedFieldsEqual(liveGw, gw))) add(d.link.west, gw, Boolean(liveGw))
    const rgw = d.remoteGateway.planned
    if (rgw && !(d.remoteGateway.live && isUpToDate(d.remoteGateway.live, rgw))) add(d.link.east, rgw, Boolean(d.remoteGateway.live))
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
    // a bound token: create the anchor Secret and the TokenRequest (and delete expired anchors)
    if (d.bound?.anchor) {
      const ns = d.bound.westNamespace
      const why = ', which a bound token needs'
      checks.push({context: d.link.west.context, verb: 'create', group: '', resource: 'secrets', namespace: ns, why},
        {context: d.link.west.context, verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', name: READER_SERVICE_ACCOUNT, namespace: ns, why},
        ...(d.bound.expired.length > 0 ? [{context: d.link.west.context, verb: 'delete', group: '', resource: 'secrets', namespace: ns, why}] : []))
    }
  }
  if (amb.ambient) {
    for (const p of [amb, ambBack]) if (p?.createGateway && !listed(p.west.kubeGateways, p.createGateway)) add(p.west, p.createGateway, false)
    for (const r of [amb.east, amb.west]) {
      if (r.meshConfigMap && addScopeEdit(r.meshConfigMap) !== r.meshConfigMap) add(r, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: r.meshConfigMapName, namespace: r.istioNamespace}}, true)
    }
  }
  return checks
}

/** -o yaml: the desired objects, nothing written; the two-step recipe when a token does not exist yet. */
function yamlDocs(o: LinkPlanOptions, directions: Direction[], readerPlans: Map<LinkFacts, ReaderStep[]>, amb: AmbientLinkPlan, ambBack?: AmbientLinkPlan): {docs: Array<{context: string; object: KubeObject}>; error?: UsageError} {
  const docs: Array<{context: string; object: KubeObject}> = []
  for (const [facts, steps] of readerPlans) {
    for (const s of steps) if (s.mode === 'apply') docs.push({context: facts.context, object: s.desired})
  }
  const first = directions[0].link
  const unissued = directions.filter((d) => d.bound && !d.bound.reuse).map((d) => d.link.west.context)
  if (unissued.length > 0) return {docs: [], error: boundYamlError(unissued, `kubectl mesh cluster link --context ${first.east.context} --remote-context ${first.west.context}${o.bidirectional ? ' --bidirectional' : ''} --token-ttl ${formatTtl(o.tokenTtlSeconds!)}`)}
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
  for (const d of directions) {
    const secret = desiredRemoteSecret(d, o)
    if (!secret) {
      missing.push(d.link.west.context)
      continue
    }
    docs.push({context: d.link.east.context, object: secret})
    if (d.mesh.changed) {
      docs.push({context: d.link.east.context, object: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: d.link.east.meshConfigMapName, namespace: d.link.east.istioNamespace}, data: {meshNetworks: d.mesh.after === undefined ? '' : dumpYaml(d.mesh.after)}}})
    }
    if (d.remoteGateway.planned) docs.push({context: d.link.east.context, object: d.remoteGateway.planned})
  }
  // ambient: the istio-east-west Gateway (--create-gateway) and kubectl-mesh's serviceScopeConfigs entry, where it changes the mesh config
  for (const p of [amb, ambBack]) if (amb.ambient && p?.createGateway) docs.push({context: p.west.context, object: p.createGateway})
  if (amb.ambient) {
    for (const r of [amb.east, amb.west]) {
      const after = r.meshConfigMap && addScopeEdit(r.meshConfigMap)
      if (!after || after === r.meshConfigMap) continue
      docs.push({context: r.context, object: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: r.meshConfigMapName, namespace: r.istioNamespace, annotations: after.metadata.annotations}, data: {mesh: after.data?.mesh}}})
    }
  }
  if (missing.length > 0) {
    const ctx = [...new Set(missing)]
    const args = ['cluster', 'link', '--context', first.east.context, '--remote-context', first.west.context]
    if (o.remoteName) args.push('--remote-name', o.remoteName)
    if (o.server) args.push('--server', o.server)
    if (o.tlsServerName) args.push('--tls-server-name', o.tlsServerName)
    if (o.network) args.push('--network', o.network)
    if (o.gatewayFlag) args.push('--gateway', o.gatewayFlag)
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

/** Poll the token Secret until the token controller has filled in data.token and data.ca.crt. */
async function waitForToken(client: KubeClient, facts: LinkFacts, o: Pick<LinkPlanOptions, 'tokenTimeoutMs' | 'dryRun' | 'report'>): Promise<{token: string; caData?: string}> {
  const path = `/api/v1/namespaces/${facts.istioNamespace}/secrets/${READER_TOKEN_SECRET}`
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
