// `cluster rotate-credentials`: per direction (EAST discovers WEST), issue a new reader token in
// WEST, swap it into EAST's remote secret, wait until EAST's istiod lists WEST as synced again
// (where its /debug/clusterz is readable through a port-forward), and only then revoke the old
// token (delete its anchor, or its token Secret). The old token is never revoked before the new
// one is in place; a failure on the way says which token is live and how to finish.
import {withToken} from '../cluster/remote-secrets.ts'
import {OperationError, UsageError} from '../errors.ts'
import {applyObject, type Change, changeOf} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {ApiError, mayHaveApplied, toOperationError} from '../kube/errors.ts'
import {writtenSuffix} from '../kube/journal.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {REMOTE_SECRET_PREFIX, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, TOKEN_TTL_ANNOTATION} from '../istio/names.ts'
import type {Reporter} from '../report.ts'
import {probeThroughPod} from '../cluster/istiod.ts'
import {allInOrder} from '../settle.ts'
import {type LinkFacts, readClusterFacts} from './facts.ts'
import {
  anchorSecret, expiredAnchors, formatTtl, issueBoundToken, issueLongLivedToken, type IssuedToken, linkTokenSecret, anchorsFor,
  MAX_TTL_SECONDS, MIN_TTL_SECONDS, nextAnchorIndex, parseTokenTtl, remoteSecretToken, type TokenInfo,
} from './token.ts'

export interface RotateOptions {
  context?: string
  remoteContext: string
  bidirectional?: boolean
  /** A bound token with this lifetime; default: what the link has (a bound token's TTL, or long-lived). */
  tokenTtlSeconds?: number
  istioNamespace: string
  version: string
  /** How long to wait for istiod to list the remote cluster as synced with the new token. */
  syncTimeoutMs?: number
  /** When istiod's sync status cannot be read: how long to wait before revoking the old token. */
  unreadableGraceMs?: number
  /** synced must hold this long after the swap when no syncing state was seen (istiod may not have processed the secret yet). */
  settleMs?: number
  report: Reporter
}

export interface TokenRef {
  kind: 'bound' | 'long-lived' | 'unknown'
  /** The Secret in WEST whose deletion revokes it (anchor or token Secret). */
  secret?: string
  issuedAt?: string
  expiresAt?: string
}

export interface Rotation {
  context: string
  remoteContext: string
  clusterId: string
  live: TokenRef
  revoked: TokenRef & {already?: boolean}
  /** synced: istiod listed WEST as synced with the new token after `ms`; not-readable: waited `ms` instead. */
  istiod: {status: 'synced' | 'not-readable'; ms: number; detail?: string}
}

interface Plan {
  east: LinkFacts
  west: LinkFacts
  id: string
  eastId: string
  secret: KubeObject
  current: {token: string; info: TokenInfo}
  /** bound: the new token's TTL; undefined: a long-lived token Secret. */
  ttlSeconds?: number
  anchors: KubeObject[]
}

const SETTLE_MS = 2000
const POLL_MS = 250

export async function rotateCredentials(session: Session, o: RotateOptions): Promise<{changes: Change[]; rotations: Rotation[]}> {
  const eastRef = session.resolve(o.context)
  const westRef = session.resolve(o.remoteContext)
  if (eastRef.context === westRef.context) {
    throw new UsageError(`--context and --remote-context are both "${eastRef.context}"`, 'pass the cluster holding the remote secret as --context and the cluster it reads as --remote-context')
  }
  const east = session.client(eastRef.context)
  const west = session.client(westRef.context)
  const [eastFacts, westFacts] = await allInOrder([readFacts(east, o.istioNamespace), readFacts(west, o.istioNamespace)])
  const pairs: Array<[LinkFacts, LinkFacts]> = [[eastFacts, westFacts]]
  if (o.bidirectional) pairs.push([westFacts, eastFacts])
  // Everything is checked for every direction before the first write.
  const plans: Plan[] = []
  for (const [e, w] of pairs) plans.push(plan(e, w, o))

  const changes: Change[] = []
  const rotations: Rotation[] = []
  for (const p of plans) rotations.push(await rotateOne(session, p, o, changes, rotations))
  return {changes, rotations}
}

async function readFacts(client: KubeClient, ns: string): Promise<LinkFacts> {
  try {
    return await readClusterFacts(client, ns, {tokens: true})
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      throw new UsageError(`context "${client.context}": cannot reach the API server at ${client.server.origin} (${error.message}); nothing was written`,
        `check that the cluster is up (\`kubectl --context ${client.context} cluster-info\`), then run the command again`)
    }
    throw error
  }
}

const linkCmd = (e: LinkFacts, w: LinkFacts) => `kubectl mesh cluster link --context ${e.context} --remote-context ${w.context}`

/** Pure: the rotation of one direction from the facts (read with want.tokens). */
function plan(east: LinkFacts, west: LinkFacts, o: RotateOptions): Plan {
  const E = `context "${east.context}"`
  const id = west.clusterId
  if (!id) throw new UsageError(`context "${west.context}": cannot tell its cluster ID, so the remote secret in ${E} cannot be found; nothing was written`, 'set CLUSTER_ID on its istiod (global.multiCluster.clusterName)')
  const secret = east.remoteSecrets.find((s) => s.metadata.name === `${REMOTE_SECRET_PREFIX}${id}`) ?? east.remoteSecrets.find((s) => s.data && id in s.data)
  if (!secret) throw new UsageError(`${E} has no remote secret for cluster "${id}" (context "${west.context}"): there is no link to rotate; nothing was written`, `link first: ${linkCmd(east, west)}`)
  const current = remoteSecretToken(secret, id)
  if (!current) {
    throw new UsageError(`${E}: Secret ${east.istioNamespace}/${secret.metadata.name} holds no bearer token for "${id}" (a client certificate or a plugin?): rotate-credentials replaces reader tokens only; nothing was written`,
      `make it a token link: ${linkCmd(east, west)}`)
  }
  const eastId = east.clusterId
  if (!eastId) throw new UsageError(`${E}: cannot tell its cluster ID, which names the new token's Secret in "${west.context}"; nothing was written`, 'set CLUSTER_ID on its istiod (global.multiCluster.clusterName)')
  if (!west.serviceAccount) throw new UsageError(`context "${west.context}": ServiceAccount ${west.istioNamespace}/${READER_SERVICE_ACCOUNT} does not exist, so no token can be issued for it; nothing was written`, `re-create it: ${linkCmd(east, west)}`)
  const anchors = anchorsFor(west, eastId)
  let ttlSeconds = o.tokenTtlSeconds
  if (ttlSeconds === undefined && current.info.kind === 'bound') {
    // The lifetime the link was made with: its anchor's annotation, else the token's own.
    const asked = anchors.find((a) => a.metadata.name === current.info.boundTo?.name)?.metadata.annotations?.[TOKEN_TTL_ANNOTATION]
    ttlSeconds = asked ? parseTokenTtl(asked) : Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, current.info.lifetimeSeconds ?? 86_400))
  }
  return {east, west, id, eastId, secret, current, ttlSeconds, anchors}
}

/** The Secret whose deletion revokes a token, as its claims name it. */
function revokerOf(info: TokenInfo): string | undefined {
  if (info.kind === 'bound') return info.boundTo?.kind === 'Secret' ? info.boundTo.name : undefined
  return info.secretName
}

function refOf(info: TokenInfo, secret?: string): TokenRef {
  return {kind: info.kind, secret, issuedAt: info.issuedAt?.toISOString(), expiresAt: info.expiresAt?.toISOString()}
}

async function rotateOne(session: Session, p: Plan, o: RotateOptions, changes: Change[], done: Rotation[]): Promise<Rotation> {
  const eastClient = session.client(p.east.context)
  const westClient = session.client(p.west.context)
  const ns = p.west.istioNamespace
  const oldSecret = revokerOf(p.current.info)
  const oldRef = refOf(p.current.info, oldSecret)
  const before = `${done.length > 0 ? `${done.map((r) => `${r.context} → ${r.clusterId} was rotated`).join(', ')}; ` : ''}${p.east.context} → ${p.id}: `
  const oldDesc = oldSecret ? `the old token (Secret ${ns}/${oldSecret} in "${p.west.context}")` : 'the old token'
  const deleteOld = oldSecret ? `kubectl --context ${p.west.context} -n ${ns} delete secret ${oldSecret}` : undefined
  const stage = (error: unknown, what: string, hint: string) => {
    const base = error instanceof ApiError ? toOperationError(error) : error as Error
    return new OperationError(`${before}${base.message}; ${what}${writtenSuffix(changes)}`, hint)
  }

  // 1. The new token.
  let issued: IssuedToken
  let newDesc = 'the new token'
  const n = nextAnchorIndex(p.anchors, p.eastId)
  try {
    if (p.ttlSeconds !== undefined) {
      const anchor = anchorSecret(ns, p.eastId, n, p.ttlSeconds, new Date(), o.version)
      newDesc = `the new token (bound to Secret ${ns}/${anchor.metadata.name}, ${formatTtl(p.ttlSeconds)})`
      issued = await issueBoundToken(westClient, anchor, p.ttlSeconds, {record: (c) => changes.push(c), report: o.report})
    } else {
      const secret = linkTokenSecret(ns, p.eastId, n, o.version)
      newDesc = `the new token (Secret ${ns}/${secret.metadata.name}, long-lived)`
      issued = await issueLongLivedToken(westClient, secret, {record: (c) => changes.push(c)})
    }
  } catch (error) {
    const made = changes.filter((c) => c.context === p.west.context && c.action === 'created').at(-1)
    throw stage(error, `${oldDesc} is still live in ${p.east.context}'s remote secret and was not revoked`,
      `run the same command again${made ? `, and delete the unused Secret: kubectl --context ${p.west.context} -n ${ns} delete secret ${made.name}` : ''}`)
  }

  // 2. Swap it into EAST's remote secret: only the token of the kubeconfig changes.
  const desired = swapToken(p.secret, p.id, issued.token)
  try {
    changes.push(await applyObject(eastClient, desired))
  } catch (error) {
    const maybe = mayHaveApplied(error)
    throw stage(error, maybe ? `the remote secret may hold either token now; ${oldDesc} was not revoked, so both work` : `${oldDesc} is still live in ${p.east.context}'s remote secret and was not revoked`,
      `run the same command again; then delete the unused new Secret: kubectl --context ${p.west.context} -n ${ns} delete secret ${issued.revoker.name}`)
  }

  // 3. Wait for istiod to list WEST as synced with it.
  let sync: Rotation['istiod']
  try {
    sync = await waitForSync(eastClient, p.east.istioNamespace, p.id, o)
  } catch (error) {
    throw stage(error, `${newDesc} is live in ${p.east.context}'s remote secret; ${oldDesc} was NOT revoked and still works`,
      `check istiod in ${p.east.context} (\`kubectl -n ${p.east.istioNamespace} logs deploy/istiod --context ${p.east.context} | grep ${p.id}\`); once it lists ${p.id} as synced, finish: ${deleteOld ?? 'nothing to revoke'}`)
  }

  // 4. Revoke the old token; prune anchors of tokens that have expired anyway.
  let already = false
  if (oldSecret && oldSecret !== issued.revoker.name) {
    if (oldSecret === READER_TOKEN_SECRET) {
      o.report.warn(`context "${p.west.context}": Secret ${ns}/${READER_TOKEN_SECRET} is the long-lived token every cluster linked to "${p.west.context}" without --token-ttl shares; links other than ${p.east.context}'s stop working until rotated or linked again`)
    }
    try {
      const c = await deleteRevoker(westClient, ns, oldSecret, o.report, p.current.info.kind === 'bound' ? p.current.info.boundTo?.uid : undefined)
      if (c) changes.push(c)
      else already = true
    } catch (error) {
      throw stage(error, `${newDesc} is live in ${p.east.context}'s remote secret and istiod uses it; ${oldDesc} was NOT revoked`, `finish: ${deleteOld}`)
    }
  } else if (!oldSecret) {
    o.report.warn(`${p.east.context} → ${p.id}: the old token names no Secret that revokes it (${p.current.info.kind} token); it stays valid${p.current.info.expiresAt ? ` until ${p.current.info.expiresAt.toISOString()}` : ''}`)
  }
  for (const a of expiredAnchors(p.anchors, new Date(), [oldSecret ?? ''])) {
    const c = await deleteRevoker(westClient, ns, a.metadata.name, o.report, a.metadata.uid).catch(() => undefined)
    if (c) changes.push(c)
  }
  const live: TokenRef = {kind: p.ttlSeconds !== undefined ? 'bound' : 'long-lived', secret: issued.revoker.name, issuedAt: new Date().toISOString(), expiresAt: issued.expiresAt?.toISOString()}
  const r: Rotation = {context: p.east.context, remoteContext: p.west.context, clusterId: p.id, live, revoked: {...oldRef, ...(already ? {already} : {})}, istiod: sync}
  o.report.note(`${p.east.context} → ${p.id}: ${oldSecret ? `revoked the ${oldRef.kind} token of Secret ${ns}/${oldSecret} in "${p.west.context}"${oldRef.issuedAt ? ` (issued ${oldRef.issuedAt})` : ''}${already ? ' (it was already gone)' : ''}` : 'no old token to revoke'}; live: ${live.kind} token of Secret ${ns}/${issued.revoker.name}${live.expiresAt ? `, expires ${live.expiresAt}` : ''}; ${sync.status === 'synced' ? `istiod listed ${p.id} as synced after ${(sync.ms / 1000).toFixed(1)} s` : `istiod's sync status not readable (${sync.detail}): waited ${(sync.ms / 1000).toFixed(1)} s`}`)
  return r
}

/** The remote secret with the token of its kubeconfig for `id` replaced; nothing else changes. */
export function swapToken(secret: KubeObject, id: string, token: string): KubeObject {
  const kubeconfig = withToken(Buffer.from(secret.data[id], 'base64').toString('utf8'), token)
  const data = {...secret.data, [id]: Buffer.from(kubeconfig, 'utf8').toString('base64')}
  return {apiVersion: 'v1', kind: 'Secret', metadata: {name: secret.metadata.name, namespace: secret.metadata.namespace}, data}
}

/** Delete a Secret (only the one with this uid, when known). undefined: it was already gone. */
async function deleteRevoker(client: KubeClient, ns: string, name: string, report: Reporter, uid?: string): Promise<Change | undefined> {
  try {
    await client.request({method: 'DELETE', path: resourcePath(RESOURCES.Secret, ns, name), body: uid ? {apiVersion: 'v1', kind: 'DeleteOptions', preconditions: {uid}} : undefined})
    return changeOf(client.context, {kind: 'Secret', metadata: {name, namespace: ns}}, 'deleted')
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined
    if (error instanceof ApiError && error.status === 409) {
      report.warn(`context "${client.context}": Secret ${ns}/${name} is another object than the one the old token is bound to (uid changed): left in place; the old token is revoked already`)
      return undefined
    }
    throw error
  }
}

/**
 * Until EAST's istiod lists `id` as synced with the new kubeconfig: /debug/clusterz through a
 * port-forward to its pod. clusterz does not say which kubeconfig a cluster runs with, so
 * "synced" counts once istiod has been seen re-syncing (the new cluster starts as syncing), or
 * when it has stayed synced for SETTLE_MS after the swap (istiod had long processed the update).
 */
async function waitForSync(east: KubeClient, ns: string, id: string, o: RotateOptions): Promise<Rotation['istiod']> {
  const t0 = Date.now()
  const deadline = t0 + (o.syncTimeoutMs ?? 120_000)
  const settle = o.settleMs ?? SETTLE_MS
  let resynced = false
  let last = ''
  for (;;) {
    const p = await probeThroughPod({name: east.context, istioNamespace: ns}, east, 5000)
    if (p.outcome === 'no-pod' || p.outcome === 'forbidden' || p.outcome === 'not-asked') {
      const grace = o.unreadableGraceMs ?? 10_000
      o.report.note(`context "${east.context}": istiod's sync status is not readable (${p.detail}); waiting ${(grace / 1000).toFixed(0)} s before revoking the old token`)
      await new Promise((r) => setTimeout(r, grace))
      return {status: 'not-readable', ms: Date.now() - t0, detail: p.detail}
    }
    if (p.outcome === 'ok') {
      const entry = p.clusterz?.find((e) => e.id === id)
      last = entry ? entry.syncStatus : 'not listed'
      if (entry?.syncStatus === 'synced' && (resynced || Date.now() - t0 >= settle)) return {status: 'synced', ms: Date.now() - t0}
      if (entry?.syncStatus !== 'synced') resynced = true
    } else {
      last = p.detail
    }
    if (Date.now() > deadline) {
      throw new OperationError(`context "${east.context}": istiod did not list cluster ${id} as synced within ${Math.round((deadline - t0) / 1000)} s after the token swap (last: ${last})`)
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}
