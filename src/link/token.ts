// Link credentials with a lifetime (DESIGN.md "cluster link", Credentials): --token-ttl parsing,
// reading a service-account token's claims (the token itself is never printed), and bound
// TokenRequest tokens anchored to a Secret in the discovered cluster (WEST): deleting the anchor
// revokes the token.
//
// Audience: none is requested, so the API server issues the token for its own API audiences
// (--api-audiences, default: the issuer), which is what istiod's client-go presents it to: Istio's
// remote-cluster client (pkg/kube/multicluster) sets no audience of its own.
import {OperationError, UsageError} from '../errors.ts'
import type {Change} from '../kube/apply.ts'
import {changeOf, deleteObject} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {
  ANCHOR_FOR_LABEL, anchorSecretName, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, SERVICE_ACCOUNT_NAME_ANNOTATION, SERVICE_ACCOUNT_TOKEN_TYPE,
  stamp, TOKEN_EXPIRES_ANNOTATION, TOKEN_TTL_ANNOTATION,
} from '../istio/names.ts'
import {parseKubeconfig, tokenInfo, type TokenInfo} from '../cluster/remote-secrets.ts'

export {decodeJwtClaims, tokenInfo, type TokenClaims, type TokenInfo} from '../cluster/remote-secrets.ts'
import type {Reporter} from '../report.ts'
import type {LinkFacts} from './facts.ts'

export const MIN_TTL_SECONDS = 600
export const MAX_TTL_SECONDS = 8760 * 3600
const TTL_HINT = 'use a duration from 10m to 8760h (one year), e.g. --token-ttl 24h, 90m or 720h'

/** A Go-style duration ("24h", "1h30m", "90m", "600s"; also "30d") in seconds, 10m … 8760h. */
export function parseTokenTtl(input: string, flag = '--token-ttl'): number {
  const text = input.trim()
  const re = /(\d+(?:\.\d+)?)(d|h|m|s)/gy
  let seconds = 0
  let matched = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    seconds += Number(m[1]) * {d: 86_400, h: 3600, m: 60, s: 1}[m[2] as 'd' | 'h' | 'm' | 's']
    matched = re.lastIndex
  }
  if (text === '' || matched !== text.length) throw new UsageError(`invalid ${flag} "${input}": not a duration`, TTL_HINT)
  seconds = Math.round(seconds)
  if (seconds < MIN_TTL_SECONDS || seconds > MAX_TTL_SECONDS) {
    throw new UsageError(`invalid ${flag} "${input}": must be from 10m to 8760h (${seconds < MIN_TTL_SECONDS ? 'the API server issues no token shorter than 10 minutes' : 'at most one year'})`, TTL_HINT)
  }
  return seconds
}

/** "1h", "24h", "90m", "1h30m" for a number of seconds. */
export function formatTtl(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`
}

/** The token in EAST's remote secret for `id`, decoded. */
export function remoteSecretToken(secret: KubeObject | undefined, id: string): {token: string; info: TokenInfo} | undefined {
  const b64 = secret?.data?.[id]
  if (!b64) return undefined
  const token = parseKubeconfig(Buffer.from(b64, 'base64').toString('utf8')).token
  return token ? {token, info: tokenInfo(token)} : undefined
}

// ---- anchors -----------------------------------------------------------------------------

/** The anchor index of a name `istio-reader-<EAST ID>-anchor-<n>` (or token Secret `…-token-<n>`). */
function indexOf(name: string, eastId: string): number {
  const m = new RegExp(`^istio-reader-${eastId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(?:anchor|token)-(\\d+)$`).exec(name)
  return m ? Number(m[1]) : 0
}

/** The next free index among the anchors (and per-link token Secrets) of EAST. */
export function nextAnchorIndex(existing: KubeObject[], eastId: string): number {
  return Math.max(0, ...existing.map((s) => indexOf(s.metadata.name, eastId))) + 1
}

/** The anchor Secret (no data) a bound token for EAST is bound to. */
export function anchorSecret(ns: string, eastId: string, n: number, ttlSeconds: number, now: Date, version: string): KubeObject {
  const s = stamp(version, {[ANCHOR_FOR_LABEL]: eastId})
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: {
      name: anchorSecretName(eastId, n), namespace: ns, labels: s.labels,
      annotations: {...s.annotations, [TOKEN_TTL_ANNOTATION]: formatTtl(ttlSeconds), [TOKEN_EXPIRES_ANNOTATION]: new Date(now.getTime() + ttlSeconds * 1000).toISOString()},
    },
  }
}

/** A per-link long-lived token Secret (rotation of a legacy link without --token-ttl). */
export function linkTokenSecret(ns: string, eastId: string, n: number, version: string): KubeObject {
  const s = stamp(version, {[ANCHOR_FOR_LABEL]: eastId})
  return {
    apiVersion: 'v1', kind: 'Secret', type: SERVICE_ACCOUNT_TOKEN_TYPE,
    metadata: {name: `istio-reader-${eastId}-token-${n}`, namespace: ns, labels: s.labels, annotations: {...s.annotations, [SERVICE_ACCOUNT_NAME_ANNOTATION]: READER_SERVICE_ACCOUNT}},
  }
}

/** Anchors whose token has expired (by the expiry recorded when it was issued): safe to delete. */
export function expiredAnchors(anchors: KubeObject[], now: Date, keep: string[] = []): KubeObject[] {
  return anchors.filter((a) => {
    if (a.type === SERVICE_ACCOUNT_TOKEN_TYPE || keep.includes(a.metadata.name)) return false
    const exp = Date.parse(a.metadata.annotations?.[TOKEN_EXPIRES_ANNOTATION] ?? '')
    return Number.isFinite(exp) && exp < now.getTime()
  })
}

// ---- issuing -----------------------------------------------------------------------------

export interface IssuedToken {
  token: string
  expiresAt?: Date
  /** The anchor (bound) or token Secret (long-lived) that revokes it when deleted. */
  revoker: {name: string; uid?: string}
}

/** Create the anchor, then a TokenRequest bound to it. `record` gets the anchor's change as soon as it is written. */
export async function issueBoundToken(west: KubeClient, anchor: KubeObject, ttlSeconds: number, o: {dryRun?: boolean; record: (c: Change) => void; report: Reporter}): Promise<IssuedToken> {
  const ns = anchor.metadata.namespace!
  const created = await west.request<KubeObject>({method: 'POST', path: resourcePath(RESOURCES.Secret, ns), body: anchor, query: o.dryRun ? {dryRun: 'All'} : undefined})
  o.record(changeOf(west.context, anchor, 'created'))
  if (o.dryRun) return {token: DRY_RUN_TOKEN, revoker: {name: anchor.metadata.name}}
  const uid = created?.metadata?.uid
  const tr = await west.request<{status?: {token?: string; expirationTimestamp?: string}}>({
    method: 'POST', path: `${resourcePath(RESOURCES.ServiceAccount, ns, READER_SERVICE_ACCOUNT)}/token`,
    body: {apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {expirationSeconds: ttlSeconds, boundObjectRef: {apiVersion: 'v1', kind: 'Secret', name: anchor.metadata.name, uid}}},
  })
  const token = tr?.status?.token
  if (!token) throw new OperationError(`context "${west.context}": the TokenRequest for ServiceAccount ${ns}/${READER_SERVICE_ACCOUNT} returned no token`, 'retry; if it persists, look at the API server\'s log')
  const info = tokenInfo(token)
  if (info.lifetimeSeconds !== undefined && info.lifetimeSeconds < ttlSeconds - 60) {
    o.report.warn(`context "${west.context}": the API server issued the token for ${formatTtl(info.lifetimeSeconds)}, not ${formatTtl(ttlSeconds)} (its --service-account-max-token-expiration caps it)`)
  }
  return {token, expiresAt: info.expiresAt, revoker: {name: anchor.metadata.name, uid}}
}

/** Create a long-lived token Secret and wait for the token controller to fill it in. */
export async function issueLongLivedToken(west: KubeClient, secret: KubeObject, o: {record: (c: Change) => void; timeoutMs?: number}): Promise<IssuedToken & {caData?: string}> {
  const ns = secret.metadata.namespace!
  await west.request({method: 'POST', path: resourcePath(RESOURCES.Secret, ns), body: secret})
  o.record(changeOf(west.context, secret, 'created'))
  const deadline = Date.now() + (o.timeoutMs ?? 30_000)
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const s = await west.getOptional<KubeObject>(resourcePath(RESOURCES.Secret, ns, secret.metadata.name))
    if (s?.data?.token && s.data['ca.crt']) return {token: Buffer.from(s.data.token, 'base64').toString('utf8'), caData: s.data['ca.crt'], revoker: {name: secret.metadata.name, uid: s.metadata.uid}}
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, delay))
  }
  throw new OperationError(`context "${west.context}": Secret ${ns}/${secret.metadata.name} got no token within ${Math.round((o.timeoutMs ?? 30_000) / 1000)}s`,
    `is kube-controller-manager running with its token controller? Check: kubectl --context ${west.context} -n ${ns} get secret ${secret.metadata.name}`)
}

export const DRY_RUN_TOKEN = 'dry-run-token-not-issued'

/** The CA of WEST's API server as its pods see it (ConfigMap kube-root-ca.crt), base64; else the context's. */
export function westCaData(facts: LinkFacts): string | undefined {
  return facts.podCaData ?? facts.caData
}

/** The anchors of EAST's tokens among WEST's (read with want.tokens, src/link/facts.ts). */
export function anchorsFor(west: LinkFacts, eastId: string): KubeObject[] {
  if (!west.anchors) throw new Error(`internal: the facts of context "${west.context}" were read without its token anchors`)
  return west.anchors.filter((s) => s.metadata.labels?.[ANCHOR_FOR_LABEL] === eastId)
}

// ---- the hooks `cluster link --token-ttl` uses (src/link/service.ts) -----------------------

/** One direction's bound-token plan: reuse the token in EAST's remote secret, or issue a new one. */
export interface BoundTokenPlan {
  ttlSeconds: number
  eastId: string
  westNamespace: string
  caData?: string
  /** The token in EAST's remote secret, when it is bound to a live anchor of ours with that TTL and has more than half its life left. */
  reuse?: {token: string; info: TokenInfo}
  /** Otherwise the anchor to create. */
  anchor?: KubeObject
  /** Anchors of expired tokens, deleted when a new token is issued. */
  expired: KubeObject[]
  /** Why a new token is issued (a note). */
  reason?: string
}

/** A live token is reused while more than half its lifetime is left, and was asked with the same TTL. */
export function chooseBoundToken(i: {secret?: KubeObject; id: string; anchors: KubeObject[]; ttlSeconds: number; now: Date}): {reuse?: {token: string; info: TokenInfo}; reason: string} {
  const current = remoteSecretToken(i.secret, i.id)
  if (!current) return {reason: i.secret ? 'the remote secret holds no token' : 'no remote secret yet'}
  const {info} = current
  if (info.kind !== 'bound') return {reason: `the remote secret holds a ${info.kind} token`}
  const anchor = info.boundTo?.kind === 'Secret' ? i.anchors.find((a) => a.metadata.name === info.boundTo!.name && (!info.boundTo!.uid || a.metadata.uid === info.boundTo!.uid)) : undefined
  if (!anchor) return {reason: 'its token is not bound to an anchor of kubectl-mesh that still exists'}
  const asked = anchor.metadata.annotations?.[TOKEN_TTL_ANNOTATION]
  if (asked !== formatTtl(i.ttlSeconds)) return {reason: `its token was issued for ${asked ?? 'another lifetime'}, not ${formatTtl(i.ttlSeconds)}`}
  const life = info.lifetimeSeconds ?? i.ttlSeconds
  const left = (info.expiresAt!.getTime() - i.now.getTime()) / 1000
  if (left <= life / 2) return {reason: `its token has ${left <= 0 ? 'expired' : `only ${formatTtl(Math.max(0, Math.round(left)))} of ${formatTtl(life)} left`}`}
  return {reuse: current, reason: ''}
}

/** Reads (anchors, CA) and plans one direction; throws UsageError before anything is written. */
/** Pure: from the facts read with want.tokens (the anchors and WEST's CA are in them). */
export function planBoundToken(d: {east: LinkFacts; west: LinkFacts; id: string}, ttlSeconds: number, version: string, now = new Date()): BoundTokenPlan {
  const eastId = d.east.clusterId
  if (!eastId) {
    throw new UsageError(`context "${d.east.context}": cannot tell its cluster ID, which names the token's anchor Secret in "${d.west.context}"; nothing was written`,
      'set CLUSTER_ID on istiod (or global.multiCluster.clusterName), or link without --token-ttl')
  }
  const ns = d.west.istioNamespace
  const [anchors, caData] = [anchorsFor(d.west, eastId), westCaData(d.west)]
  const secret = d.east.remoteSecrets.find((s) => s.metadata.name === `istio-remote-secret-${d.id}`)
  const choice = chooseBoundToken({secret, id: d.id, anchors, ttlSeconds, now})
  const plan: BoundTokenPlan = {ttlSeconds, eastId, westNamespace: ns, caData, expired: [], reason: choice.reason}
  if (choice.reuse) {
    plan.reuse = choice.reuse
    return plan
  }
  plan.anchor = anchorSecret(ns, eastId, nextAnchorIndex(anchors, eastId), ttlSeconds, now, version)
  plan.expired = expiredAnchors(anchors, now)
  return plan
}

/** The reader steps without the long-lived token Secret (a bound token replaces it). */
export function withoutTokenSecret<T extends {desired: KubeObject}>(steps: T[]): T[] {
  return steps.filter((s) => !(s.desired.kind === 'Secret' && s.desired.metadata.name === READER_TOKEN_SECRET))
}

/** Issue (or reuse) the token of one direction; returns it with the CA for the remote kubeconfig. */
export async function boundTokenFor(westClient: KubeClient, plan: BoundTokenPlan, o: {dryRun?: boolean; changes: Change[]; report: Reporter}): Promise<{token: string; caData?: string}> {
  if (plan.reuse) return {token: plan.reuse.token, caData: plan.caData}
  for (const a of plan.expired) {
    const c = await deleteObject(westClient, a, {dryRun: o.dryRun})
    if (c) o.changes.push(c)
  }
  const issued = await issueBoundToken(westClient, plan.anchor!, plan.ttlSeconds, {dryRun: o.dryRun, record: (c) => o.changes.push(c), report: o.report})
  if (o.dryRun) o.report.note(`dry run: context "${westClient.context}": no TokenRequest was sent; the remote secret is validated with a placeholder token`)
  else o.report.note(`context "${westClient.context}": a token for ${plan.eastId} bound to Secret ${plan.westNamespace}/${issued.revoker.name}, expires ${issued.expiresAt?.toISOString() ?? '?'} (${plan.reason})${plan.reason === 'no remote secret yet' ? '' : '; the previous token stays valid until it expires, or use `kubectl mesh cluster rotate-credentials`, which revokes it'}`)
  return {token: issued.token, caData: plan.caData}
}

/** -o yaml with a token still to be issued: exit 2 with the two-step recipe. */
export function boundYamlError(contexts: string[], command: string): UsageError {
  return new UsageError(`a bound token for context ${contexts.map((c) => `"${c}"`).join(', ')} exists only once the API server issues it (TokenRequest bound to a new anchor Secret), so the remote secret cannot be printed yet; nothing was written`,
    `two steps: (1) run \`${command}\` without -o yaml to issue the token and write the link, (2) run it again with -o yaml: while the token has more than half its life left it is printed as it is`)
}
