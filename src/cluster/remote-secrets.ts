// Remote secrets (label istio/multiCluster=true in the Istio namespace) and the one parser of the
// kubeconfigs they hold: key (the cluster ID), server, CA, how the user authenticates, its token
// and what that token is (bound or long-lived, from its claims). verify, explain, link and
// rotate-credentials all read remote secrets through here. Pure functions.
import {isIP} from 'node:net'
import {dump, load} from 'js-yaml'
import type {KubeconfigDoc, KubeCluster, KubeUser} from '../kube/kubeconfig.ts'
import type {KubeObject} from '../kube/resources.ts'
import {MULTICLUSTER_LABEL} from '../istio/names.ts'

/** Where remote secrets are found: the listed Secrets of a cluster (a snapshot) and its Istio namespace. */
export interface SecretSource {
  lists: {Secret?: KubeObject[]}
  istioNamespace: string
}

/** One kubeconfig, read the way istiod reads a remote secret's: its current context (else the first), that context's cluster and user (else the first ones). */
export interface ParsedKubeconfig {
  doc?: KubeconfigDoc
  parseError?: string
  server?: string
  cluster?: KubeCluster
  user?: KubeUser
  /** The index in doc.users of the user read (what a token swap replaces). */
  userIndex?: number
  /** certificate-authority-data, base64 as written. */
  caData?: string
  /** How the user authenticates. */
  authKind?: AuthKind
  /** users[].user.token, when the user has one. */
  token?: string
  /** What the token is (its claims, not verified): bound or long-lived, issued when, bound to what. */
  tokenInfo?: TokenInfo
}

export type AuthKind = 'token' | 'client-certificate' | 'basic' | 'exec' | 'auth-provider' | 'token-file' | 'none'

/** One data key of a remote secret: the cluster ID it names and its kubeconfig, parsed. */
export interface RemoteSecretEntry extends ParsedKubeconfig {
  secret: KubeObject
  key: string
}

function authKindOf(u: KubeUser): AuthKind {
  if (u.token) return 'token'
  if (u['client-certificate-data'] || u['client-certificate']) return 'client-certificate'
  if (u.exec) return 'exec'
  if (u['auth-provider']) return 'auth-provider'
  if (u.tokenFile) return 'token-file'
  if (u.username && u.password) return 'basic'
  return 'none'
}

/** The one kubeconfig parser: for remote secrets (verify, explain), the token of a link (link, rotate-credentials) and its swap. */
export function parseKubeconfig(text: string): ParsedKubeconfig {
  try {
    const doc = load(text) as KubeconfigDoc
    if (!doc || typeof doc !== 'object') throw new Error('not a kubeconfig')
    const ctxName = doc['current-context'] ?? doc.contexts?.[0]?.name
    const ctx = doc.contexts?.find((c) => c?.name === ctxName)?.context ?? doc.contexts?.[0]?.context
    const cluster = doc.clusters?.find((c) => c?.name === ctx?.cluster)?.cluster ?? doc.clusters?.[0]?.cluster
    let userIndex = doc.users?.findIndex((u) => u?.name === ctx?.user) ?? -1
    if (userIndex < 0 && doc.users?.length) userIndex = 0
    const user = userIndex >= 0 ? doc.users![userIndex].user ?? {} : {}
    if (!cluster?.server) return {doc, parseError: 'no cluster server in the kubeconfig', user, userIndex: userIndex >= 0 ? userIndex : undefined, ...tokenOf(user)}
    return {doc, cluster, user, server: cluster.server, userIndex: userIndex >= 0 ? userIndex : undefined, caData: cluster['certificate-authority-data'], authKind: authKindOf(user), ...tokenOf(user)}
  } catch (error) {
    return {parseError: (error as Error).message.split('\n')[0]}
  }
}

function tokenOf(user: KubeUser): Pick<ParsedKubeconfig, 'token' | 'tokenInfo'> {
  return typeof user.token === 'string' && user.token ? {token: user.token, tokenInfo: tokenInfo(user.token)} : {}
}

/** A kubeconfig with its user's token replaced (the user parseKubeconfig reads); nothing else changes. */
export function withToken(text: string, token: string): string {
  const p = parseKubeconfig(text)
  if (!p.doc || p.userIndex === undefined) throw new Error(p.parseError ?? 'no user in the kubeconfig')
  const doc = p.doc
  doc.users![p.userIndex] = {...doc.users![p.userIndex], user: {...doc.users![p.userIndex].user, token}}
  return dump(doc, {lineWidth: -1, noRefs: true})
}

/** The istio-system Secrets istiod reads as remote secrets (label istio/multiCluster=true). */
export function remoteSecrets(f: SecretSource): KubeObject[] {
  return (f.lists.Secret ?? []).filter((s) => s.metadata.namespace === f.istioNamespace && s.metadata.labels?.[MULTICLUSTER_LABEL] === 'true')
}

/** One entry per data key of each remote secret, with its kubeconfig parsed. */
export function remoteSecretEntries(f: SecretSource): RemoteSecretEntry[] {
  return remoteSecrets(f).flatMap((secret) => Object.entries<string>(secret.data ?? {}).map(([key, value]) => {
    const parsed = parseKubeconfig(Buffer.from(value, 'base64').toString('utf8'))
    // an entry without a server is a parse error (verify names it); its doc is not used
    return parsed.parseError ? {secret, key, parseError: parsed.parseError} : {secret, key, ...parsed}
  }))
}

/** Reasons istiod would reject this kubeconfig (sanitizeKubeConfig, reference §2.4). */
export function disallowedAuth(entry: RemoteSecretEntry): string[] {
  const out: string[] = []
  const u = entry.user ?? {}
  if (u.exec) out.push('users[].user.exec (an exec credential plugin)')
  const ap = u['auth-provider'] as {name?: string} | undefined
  if (ap && ap.name !== 'oidc') out.push(`users[].user.auth-provider "${ap.name ?? '?'}"`)
  if (u.tokenFile) out.push('users[].user.tokenFile (a file path)')
  if (u['client-certificate']) out.push('users[].user.client-certificate (a file path)')
  if (u['client-key']) out.push('users[].user.client-key (a file path)')
  if (entry.cluster?.['certificate-authority']) out.push('clusters[].cluster.certificate-authority (a file path)')
  return out
}

export function hasCredentials(entry: RemoteSecretEntry): boolean {
  const u = entry.user ?? {}
  return Boolean(u.token || u['client-certificate-data'] || u['auth-provider'] || u.exec || u.tokenFile || u['client-certificate'] || (u.username && u.password))
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/** Server URLs compared by origin and path. */
export function sameServer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false
  try {
    const ua = new URL(a)
    const ub = new URL(b)
    return ua.protocol === ub.protocol && ua.hostname === ub.hostname && (ua.port || '443') === (ub.port || '443') && ua.pathname.replace(/\/$/, '') === ub.pathname.replace(/\/$/, '')
  } catch {
    return false
  }
}


export interface TokenClaims {
  iss?: string
  sub?: string
  iat?: number
  exp?: number
  nbf?: number
  'kubernetes.io'?: {
    namespace?: string
    serviceaccount?: {name?: string; uid?: string}
    secret?: {name?: string; uid?: string}
    pod?: {name?: string; uid?: string}
    node?: {name?: string; uid?: string}
  }
  'kubernetes.io/serviceaccount/namespace'?: string
  'kubernetes.io/serviceaccount/secret.name'?: string
  'kubernetes.io/serviceaccount/service-account.name'?: string
}

/** The claims of a JWT (not verified: only for telling its kind and age), or undefined. */
export function decodeJwtClaims(token: string | undefined): TokenClaims | undefined {
  const parts = token?.split('.')
  if (!parts || parts.length !== 3) return undefined
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : undefined
  } catch {
    return undefined
  }
}

export interface TokenInfo {
  /** bound: a TokenRequest token with an expiry; long-lived: a token Secret's token; unknown: not a service-account JWT. */
  kind: 'bound' | 'long-lived' | 'unknown'
  issuedAt?: Date
  expiresAt?: Date
  /** exp - iat */
  lifetimeSeconds?: number
  /** bound: the object deleting which revokes the token */
  boundTo?: {kind: 'Secret' | 'Pod' | 'Node'; name: string; uid?: string}
  /** long-lived: the token Secret */
  secretName?: string
  namespace?: string
  serviceAccount?: string
}

export function tokenInfo(token: string | undefined): TokenInfo {
  const c = decodeJwtClaims(token)
  if (!c) return {kind: 'unknown'}
  const k8s = c['kubernetes.io']
  if (typeof c.exp === 'number') {
    const info: TokenInfo = {kind: 'bound', expiresAt: new Date(c.exp * 1000), namespace: k8s?.namespace, serviceAccount: k8s?.serviceaccount?.name}
    if (typeof c.iat === 'number') {
      info.issuedAt = new Date(c.iat * 1000)
      info.lifetimeSeconds = c.exp - c.iat
    }
    for (const kind of ['secret', 'pod', 'node'] as const) {
      const ref = k8s?.[kind]
      if (ref?.name) info.boundTo = {kind: kind === 'secret' ? 'Secret' : kind === 'pod' ? 'Pod' : 'Node', name: ref.name, uid: ref.uid}
    }
    return info
  }
  const secretName = c['kubernetes.io/serviceaccount/secret.name']
  if (c.iss === 'kubernetes/serviceaccount' || secretName) {
    return {kind: 'long-lived', secretName, namespace: c['kubernetes.io/serviceaccount/namespace'], serviceAccount: c['kubernetes.io/serviceaccount/service-account.name']}
  }
  return {kind: 'unknown'}
}

/** The bearer token of a remote secret's kubeconfig (its current context's user), or undefined. */
