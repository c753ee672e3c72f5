// `cluster link` / `cluster unlink`: read both clusters, validate the pair, then write —
// the reader account and token in the discovered cluster (WEST), the remote secret and the
// meshNetworks entry in the discovering cluster (EAST).
import {UsageError, OperationError} from '../errors.ts'
import {type Change, deleteObject, editAnnotation, editObject, listObjects} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {editConfigMapYaml} from '../kube/configmap-yaml.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import {executePlan, ExecutionError} from '../kube/execute.ts'
import {type Outcome, writtenSuffix} from '../kube/journal.ts'
import {type KubeObject, RESOURCES, resourcePath, resourceFor} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {CONTROL_PLANE_CLUSTERS_ANNOTATION, CROSS_NETWORK_GATEWAY, EXPOSE_ANNOTATION, ISTIOD_GATEWAY, isDns1123Label, MULTICLUSTER_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, readerClusterRole} from '../istio/names.ts'
import {type FactsWant, type LinkFacts, readClusterFacts} from './facts.ts'
import {readIstioInstall, readRevisioned} from '../istio/read.ts'
import {dropExposure, dropIstiodExposure, isManaged, type MeshNetworks, remoteSecretName, removeRegistry, withoutControlPlane} from './plan.ts'
import {NO_CLUSTER_ID, validateInputs} from './validate.ts'
import {allInOrder} from '../settle.ts'
import type {Reporter} from '../report.ts'
import {quietSteps, type StepRunner} from '../steps.ts'
import {removeScopeEdit, writeScope} from './ambient.ts'
import {readAmbient} from '../istio/ambient-read.ts'
import {listAnchors} from './token.ts'
import {type LinkSummary, planLink} from './link-plan.ts'
import {dropRemoteGateway, remoteGatewayRef} from './remote-gateway.ts'
import {RunLists} from '../cluster/snapshot.ts'

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
  /** apply -f / plan -f: the run's lists (src/cluster/snapshot.ts), shared by every step and verify. */
  lists?: RunLists
}

export type {LinkSummary} from './link-plan.ts'

export interface LinkResult {
  changes: Change[]
  links: LinkSummary[]
  /** Set for -o yaml: the documents to print (nothing was written). */
  docs?: Array<{context: string; object: KubeObject}>
  /** -o yaml only: raise after printing `docs` (the token does not exist yet). */
  error?: UsageError
}

/**
 * Read both clusters (each kind once per run: `o.lists`, the run's lists of apply -f / plan -f, or
 * this command's own), plan the whole link as a value (./link-plan.ts, pure), then print it
 * (-o yaml) or hand it to the one executor (src/kube/execute.ts: access checks, writes, journal).
 */
export async function link(session: Session, o: LinkOptions): Promise<LinkResult> {
  const eastRef = session.resolve(o.context)
  const westRef = session.resolve(o.remoteContext)
  const {gateway} = validateInputs({context: eastRef.context, remoteContext: westRef.context, remoteName: o.remoteName, server: o.server, tlsServerName: o.tlsServerName, network: o.network, gateway: o.gateway})
  const east = session.client(eastRef.context)
  const west = session.client(westRef.context)
  const lists = o.lists ?? new RunLists()

  // 1. Read both clusters (the Gateway API Gateways too: an istio-remote Gateway of a link lives in the discovering side).
  const want = {tokens: o.tokenTtlSeconds !== undefined, kubeGateways: true}
  const [eastFacts, westFacts] = await (o.progress ?? quietSteps)([east, west].map((c) => ({title: `Read cluster "${c.context}"`, run: () => readFacts(c, o.istioNamespace, want, lists)})), {concurrent: true})

  // 2. The plan, purely: the pair validated (exit 2 before any write), every write, the access it needs.
  const plan = planLink(eastFacts, westFacts, {...o, gateway, gatewayFlag: o.gateway})
  for (const n of plan.notes) o.report.note(n)
  for (const w of plan.warnings) o.report.warn(w)

  // 3a. -o yaml: the desired objects, nothing written.
  if (o.output === 'yaml') {
    if (!plan.yamlError) o.report.warn('the printed remote secret holds the reader token of the remote cluster: treat this output as a secret')
    return {changes: [], links: plan.links, docs: plan.docs, error: plan.yamlError}
  }

  // 3b. The executor: every access checked before the first write, then the writes in order.
  let changes: Change[]
  try {
    changes = await executePlan(plan, {clientFor: (ctx) => session.client(ctx), dryRun: o.dryRun, progress: o.progress})
  } catch (error) {
    if (error instanceof ExecutionError) throw linkPartialFailure(error.cause, error.journal, o, plan.id)
    throw error
  }
  if (o.dryRun) o.report.note('dry run: the API servers validated every write; nothing was persisted')
  return {changes, links: plan.links}
}

async function readFacts(client: KubeClient, ns: string, want: FactsWant = {}, lists?: RunLists): Promise<LinkFacts> {
  try {
    return await readClusterFacts(client, ns, want, lists)
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      const op = toOperationError(error)
      throw new OperationError(`${op.message}; nothing was written in either cluster`, op.hint)
    }
    throw error
  }
}

/**
 * The error of a link that failed while writing: what was written, the write that got no answer
 * (it may have been applied), and how to finish or undo it.
 */
export function linkPartialFailure(error: unknown, journal: Outcome[], o: Pick<LinkOptions, 'context' | 'remoteContext' | 'dryRun'>, id: string): Error {
  const written = journal
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
  // --network-config gateway: the istio-remote Gateway that named ID's network (a GET that finds none when the Gateway API is not served)
  const remote = await editObject(client, remoteGatewayRef(ns, id), dropRemoteGateway, {dryRun})
  if (remote) changes.push(remote)
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
