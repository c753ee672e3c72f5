// `cluster link` / `cluster unlink`: read both clusters, validate the pair, then write —
// the reader account and token in the discovered cluster (WEST), the remote secret and the
// meshNetworks entry in the discovering cluster (EAST).
import {UsageError, OperationError} from '../errors.ts'
import type {Change} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import {executePlan, ExecutionError} from '../kube/execute.ts'
import {type Outcome, writtenSuffix} from '../kube/journal.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {isDns1123Label} from '../istio/names.ts'
import {type FactsWant, type LinkFacts, readClusterFacts} from './facts.ts'
import {NO_CLUSTER_ID, validateInputs} from './validate.ts'
import {allInOrder} from '../settle.ts'
import type {Reporter} from '../report.ts'
import {quietSteps, type StepRunner} from '../steps.ts'
import {type LinkSummary, planLink} from './link-plan.ts'
import {planUnlink, type UnlinkDirection} from './unlink-plan.ts'
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

  // 1. Read: EAST, and WEST when it is named (without --remote-context, unlink works while WEST is
  // unreachable); each kind once (src/link/facts.ts). The IDs not given are told before any write.
  const lists = new RunLists()
  const want = {tokens: true, kubeGateways: true}
  const [eastFacts, westFacts] = await allInOrder([readClusterFacts(east, ns, want, lists), west ? readClusterFacts(west, ns, want, lists) : undefined])
  const id = o.remoteName ?? requireClusterId(westFacts!, 'pass --remote-name with the cluster ID the link was made for')
  const reverseId = o.bidirectional ? requireClusterId(eastFacts, 'unlink that direction on its own: kubectl mesh cluster unlink --context <WEST> --remote-name <EAST cluster ID>') : undefined
  // The ID of the cluster that relies on the peer's cross-network Gateway: EAST's (WEST's in the mirror image).
  const eastId = westFacts ? reverseId ?? eastFacts.clusterId ?? east.context : undefined
  const directions: UnlinkDirection[] = [{from: eastFacts, id, fromId: eastId, peer: westFacts}]
  if (westFacts && reverseId) directions.push({from: westFacts, id: reverseId, fromId: id, peer: eastFacts})

  // 2. The plan (pure), then the one executor.
  const plan = planUnlink(directions, {istioNamespace: ns, dryRun: o.dryRun, pruneRemote: o.pruneRemote})
  for (const n of plan.notes) o.report.note(n)
  for (const w of plan.warnings) o.report.warn(w)
  try {
    const changes = await executePlan({access: [], writes: plan.writes}, {clientFor: (ctx) => session.client(ctx), dryRun: o.dryRun})
    return {changes: changes.filter((c) => c.action !== 'unchanged'), ids: directions.map((d) => d.id)}
  } catch (error) {
    if (!(error instanceof ExecutionError)) throw error
    if (error.journal.length === 0) throw error.cause
    const part = plan.part[error.index]
    const what = part === -2 ? `nothing was pruned in "${plan.writes[error.index].context}"` : part >= 0 ? `the link of "${directions[part].id}" in "${directions[part].from.context}" was not removed` : 'the serviceScopeConfigs entry was not removed'
    throw unlinkPartialFailure(error.cause, error.journal, what)
  }
}

function requireClusterId(f: LinkFacts, hint: string): string {
  if (f.clusterId && isDns1123Label(f.clusterId)) return f.clusterId
  throw new UsageError(`context "${f.context}": cannot tell the cluster ID (${f.clusterId ? `"${f.clusterId}" is not a DNS-1123 label` : NO_CLUSTER_ID}); nothing was removed`, hint)
}

function unlinkPartialFailure(error: unknown, changes: Outcome[], what: string): OperationError {
  const base = error instanceof ApiError ? toOperationError(error) : (error as Error)
  return new OperationError(`${base.message}${writtenSuffix(changes)}; ${what}`, 'run the same command again when every cluster is reachable: it removes what is left')
}
