// Links: remote secrets in each cluster, their kubeconfigs, and what they can reach and read.
import {MULTICLUSTER_LABEL, REMOTE_SECRET_PREFIX, CLUSTER_ANNOTATION, isDns1123Label, READER_SERVICE_ACCOUNT, readerClusterRole} from '../../istio/names.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, unreadable, warn, skipUnreadable} from '../check.ts'
import {disallowedAuth, hasCredentials, isLoopbackHost, remoteSecrets, type RemoteSecretEntry} from '../../cluster/remote-secrets.ts'
import type {ClusterFacts, Finding} from '../types.ts'
import {tokenInfo} from '../../cluster/remote-secrets.ts'

const DAY_MS = 86_400_000
const EXPIRY_WARN_DAYS = 7
const LONG_LIVED_WARN_DAYS = 90
const day = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

/** The command that replaces a link's token and revokes the old one. */
function rotateHint(ctx: CheckContext, c: ClusterFacts, e: RemoteSecretEntry): string {
  const peer = ctx.peerOf(e)
  return `\`kubectl mesh cluster rotate-credentials --context ${ctxOf(c)} --remote-context ${peer ? ctxOf(peer) : e.key}\``
}

/** links.token-lifetime for one remote-secret entry: kind, issued, expires; revoked from the remote-access probe (401) or a missing anchor/token Secret in the peer. */
function tokenLifetime(ctx: CheckContext, c: ClusterFacts, e: RemoteSecretEntry): Finding {
  const link = `${secretRef(c, e)}`
  const token = typeof e.user?.token === 'string' ? e.user.token : undefined
  if (!token) return skip(c.name, `cluster ${c.name}: ${link}: no bearer token (${e.parseError ? 'kubeconfig does not parse' : 'other credentials'}): lifetime not checked`)
  const info = tokenInfo(token)
  const now = ctx.facts.now
  const peer = ctx.peerOf(e)
  const probe = ctx.probe(c, e)
  // The Secret in the peer whose deletion revokes the token, when the peer's Secrets were read.
  const revoker = info.kind === 'bound' ? (info.boundTo?.kind === 'Secret' ? info.boundTo : undefined) : info.secretName ? {name: info.secretName, uid: undefined} : undefined
  const peerSecrets = peer && peer !== c && !peer.unreachable && peer.source === 'context' ? peer.lists.Secret : undefined
  const revokerObj = revoker && peerSecrets?.find((s) => s.metadata.name === revoker.name && s.metadata.namespace === (info.namespace ?? peer!.istioNamespace))
  const gone = Boolean(revoker && peerSecrets && (!revokerObj || (revoker.uid && revokerObj.metadata.uid !== revoker.uid)))
  const what = info.kind === 'bound'
    ? `bound token${revoker ? ` (anchor Secret ${info.namespace ?? '?'}/${revoker.name} in ${peer?.name ?? e.key})` : ''}, issued ${info.issuedAt ? day(info.issuedAt) : 'at an unknown time'}, expires ${day(info.expiresAt!)}`
    : info.kind === 'long-lived'
      ? `long-lived token (Secret ${info.namespace ?? '?'}/${info.secretName ?? '?'} in ${peer?.name ?? e.key}), issued ${revokerObj?.metadata.creationTimestamp ?? 'at an unknown time'}, never expires`
      : 'token that is not a service-account JWT (lifetime unknown)'
  if (probe?.outcome === 'unauthorized' || gone) {
    const why = probe?.outcome === 'unauthorized' ? `the peer rejects it (401)` : `its ${info.kind === 'bound' ? 'anchor' : 'token'} Secret ${revoker!.name} is gone from ${peer!.name}`
    return fail(c.name, `cluster ${c.name}: link to ${e.key}: the ${what} is revoked or expired: ${why}`, rotateHint(ctx, c, e))
  }
  if (info.kind === 'bound') {
    const left = info.expiresAt!.getTime() - now.getTime()
    if (left <= 0) return fail(c.name, `cluster ${c.name}: link to ${e.key}: the ${what}: expired`, rotateHint(ctx, c, e))
    if (left < EXPIRY_WARN_DAYS * DAY_MS) return warn(c.name, `cluster ${c.name}: link to ${e.key}: the ${what}: expires in ${(left / 3_600_000).toFixed(1)} h (under ${EXPIRY_WARN_DAYS} days)`, rotateHint(ctx, c, e))
    return pass(c.name, `cluster ${c.name}: link to ${e.key}: ${what}`)
  }
  if (info.kind === 'long-lived') {
    const issued = Date.parse(String(revokerObj?.metadata.creationTimestamp ?? ''))
    if (Number.isFinite(issued) && now.getTime() - issued > LONG_LIVED_WARN_DAYS * DAY_MS) {
      return warn(c.name, `cluster ${c.name}: link to ${e.key}: the ${what}: older than ${LONG_LIVED_WARN_DAYS} days`, `${rotateHint(ctx, c, e)} --token-ttl 720h (a bound token that expires)`)
    }
    return pass(c.name, `cluster ${c.name}: link to ${e.key}: ${what}`)
  }
  return pass(c.name, `cluster ${c.name}: link to ${e.key}: ${what}`)
}

const secretRef = (c: ClusterFacts, e: RemoteSecretEntry) => `Secret ${c.istioNamespace}/${e.secret.metadata.name} (key ${e.key})`

/** The command that (re)writes a link, naming the peer's context where one is known. */
function linkHint(ctx: CheckContext, c: ClusterFacts, e: RemoteSecretEntry, extra = ''): string {
  return `\`${ctx.linkCommand(c, ctx.peerOf(e) ?? e.key)}${extra}\``
}

/** Findings per remote-secret entry; a skip when a cluster has none. The passes are one line per cluster, or with `each` one per entry. */
function perEntry(ctx: CheckContext, what: string, fn: (c: ClusterFacts, e: RemoteSecretEntry) => Finding | undefined, each = false): Finding[] {
  const out: Finding[] = []
  for (const c of ctx.reachable) {
    if (!c.lists.Secret) {
      out.push(skipUnreadable(c, 'Secret'))
      continue
    }
    const entries = ctx.secrets(c)
    if (entries.length === 0) {
      out.push(skip(c.name, `cluster ${c.name}: no remote secrets`))
      continue
    }
    const findings = entries.map((e) => fn(c, e)).filter((f): f is Finding => f !== undefined)
    if (each) {
      out.push(...findings)
      continue
    }
    const bad = findings.filter((f) => f.status !== 'pass')
    out.push(...bad)
    if (bad.length === 0) out.push(pass(c.name, `cluster ${c.name}: ${entries.length} remote secret(s): ${what}`))
  }
  return out
}

export const linkChecks: CheckDef[] = [
  {
    id: 'links.secret-label',
    category: 'links',
    title: `Every Secret named ${REMOTE_SECRET_PREFIX}* in the Istio namespace carries ${MULTICLUSTER_LABEL}=true (istiod ignores it otherwise) and holds at least one kubeconfig.`,
    run: (ctx) => ctx.reachable.map((c) => {
      if (!c.lists.Secret) return skipUnreadable(c, 'Secret')
      const named = c.lists.Secret.filter((s) => s.metadata.namespace === c.istioNamespace && s.metadata.name.startsWith(REMOTE_SECRET_PREFIX))
      const unlabelled = named.filter((s) => s.metadata.labels?.[MULTICLUSTER_LABEL] !== 'true')
      if (unlabelled.length > 0) {
        const s = unlabelled[0]
        return fail(c.name, `cluster ${c.name}: Secret ${c.istioNamespace}/${s.metadata.name} lacks the label ${MULTICLUSTER_LABEL}=true, so istiod does not read it`,
          `\`kubectl label secret ${s.metadata.name} -n ${c.istioNamespace} ${MULTICLUSTER_LABEL}=true --overwrite --context ${ctxOf(c)}\``)
      }
      const empty = remoteSecrets(c).find((s) => Object.keys(s.data ?? {}).length === 0)
      if (empty) return fail(c.name, `cluster ${c.name}: remote Secret ${c.istioNamespace}/${empty.metadata.name} holds no kubeconfig`, `delete it (\`kubectl delete secret ${empty.metadata.name} -n ${c.istioNamespace} --context ${ctxOf(c)}\`) and link again with \`kubectl mesh cluster link\``)
      const n = remoteSecrets(c).length
      return n === 0 ? skip(c.name, `cluster ${c.name}: no remote secrets`) : pass(c.name, `cluster ${c.name}: ${n} remote secret(s) labelled ${MULTICLUSTER_LABEL}=true`)
    }),
  },
  {
    id: 'links.secret-key',
    category: 'links',
    title: "Each remote secret's data key is the peer's cluster ID (istiod's CLUSTER_ID there), is a DNS-1123 label, is not the local cluster's ID, and is used only once.",
    run: (ctx) => perEntry(ctx, 'data keys match the peers\' cluster IDs', (c, e) => {
      const unlink = `\`kubectl mesh cluster unlink --context ${ctxOf(c)} --remote-name ${e.key}\``
      if (!isDns1123Label(e.key)) return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: the key "${e.key}" is not a DNS-1123 label`, `${unlink}, then ${linkHint(ctx, c, e)}`)
      const localId = ctx.id(c).clusterId
      if (localId && e.key === localId) return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)} names the local cluster ID ${e.key}; istiod ignores it ("would overwrite the config cluster")`, unlink)
      // A key held twice is one finding for the pair, reported at its first entry.
      const same = ctx.secrets(c).filter((o) => o.key === e.key)
      const dup = same.length > 1 ? same[1] : undefined
      if (dup && same[0] !== e) return undefined
      if (dup) return fail(c.name, `cluster ${c.name}: cluster ID ${e.key} is registered by two remote secrets (${e.secret.metadata.name}, ${dup.secret.metadata.name}); istiod uses only the first`, `delete the stale one: \`kubectl delete secret <name> -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
      const peer = ctx.peerOf(e)
      const peerId = peer ? ctx.id(peer).clusterId : undefined
      if (peer && peerId && peerId !== e.key) {
        return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)} points at the API server of ${peer.name}, whose cluster ID is ${peerId}, not ${e.key}`,
          `${unlink}, then \`${ctx.linkCommand(c, peer)}\``)
      }
      const ann = e.secret.metadata.annotations?.[CLUSTER_ANNOTATION]
      if (ann && ann !== e.key) return warn(c.name, `cluster ${c.name}: ${secretRef(c, e)}: annotation ${CLUSTER_ANNOTATION}=${ann} differs from the data key ${e.key} (istiod uses the key)`, linkHint(ctx, c, e))
      return pass(c.name, '')
    }),
  },
  {
    id: 'links.kubeconfig-auth',
    category: 'links',
    title: "The remote secret's kubeconfig parses and uses only credentials istiod accepts: inline token or certificate data, no exec, no auth-provider other than oidc, no file paths.",
    run: (ctx) => perEntry(ctx, 'kubeconfigs use inline credentials', (c, e) => {
      if (e.parseError) return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)} is not a usable kubeconfig: ${e.parseError}`, linkHint(ctx, c, e))
      const bad = disallowedAuth(e)
      if (bad.length > 0) return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)} uses ${bad.join(', ')}, which istiod rejects`, `${linkHint(ctx, c, e)} (writes a kubeconfig with the reader service account's token)`)
      if (!hasCredentials(e)) return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)} has no credentials (no token, no client certificate)`, linkHint(ctx, c, e))
      if (e.cluster?.['insecure-skip-tls-verify']) return warn(c.name, `cluster ${c.name}: ${secretRef(c, e)} skips TLS verification of the peer's API server`, linkHint(ctx, c, e))
      return pass(c.name, '')
    }),
  },
  {
    id: 'links.server-address',
    category: 'links',
    title: "The remote secret's server is not a loopback address (127.0.0.0/8, localhost, ::1), which istiod inside a pod cannot reach. A warning: a local test bed legitimately uses loopback.",
    run: (ctx) => perEntry(ctx, 'servers are not loopback addresses', (c, e) => {
      if (!e.server) return undefined
      let host: string
      try {
        host = new URL(e.server).hostname
      } catch {
        return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: server "${e.server}" is not a URL`, linkHint(ctx, c, e, ' --server https://<address>'))
      }
      if (isLoopbackHost(host)) {
        return warn(c.name, `cluster ${c.name}: ${secretRef(c, e)}: server ${e.server} is a loopback address; istiod in a pod of ${c.name} cannot reach it (fine only when both API servers run on this host, as in a local test bed)`,
          linkHint(ctx, c, e, ' --server https://<address of the API server reachable from the pods of ' + c.name + '>'))
      }
      return pass(c.name, '')
    }),
  },
  {
    id: 'links.remote-access',
    category: 'links',
    title: "With only the secret's own CA data and token, the peer's API server is reachable, its certificate verifies, and the token is accepted.",
    run: (ctx) => perEntry(ctx, 'peers reachable with their own CA data and token', (c, e) => {
      const p = ctx.probe(c, e)
      if (!p || p.outcome === 'not-probed') return skip(c.name, `cluster ${c.name}: ${secretRef(c, e)} not probed${p?.detail ? `: ${p.detail}` : ''}`)
      switch (p.outcome) {
        case 'unreachable':
          return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: the server ${e.server} does not answer: ${p.detail}`, linkHint(ctx, c, e, ' --server https://<reachable API address>'))
        case 'tls':
          return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: the certificate-authority-data does not verify ${e.server}: ${p.detail}`, linkHint(ctx, c, e, ' (or --tls-server-name NAME when a proxy fronts the API server)'))
        case 'unauthorized':
          return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: the peer rejects the token (401): the service account or its token Secret was deleted or rotated`, `${rotateHint(ctx, c, e)} (a new token, swapped in before anything is revoked), or ${linkHint(ctx, c, e)}; restart istiod in ${c.name} if it keeps the old one (Istio before 1.30.3)`)
        default:
          return pass(c.name, '')
      }
    }),
  },
  {
    id: 'links.token-lifetime',
    category: 'links',
    title: "Each remote secret's token: bound (expires) or long-lived, when it was issued and when it expires; warn within 7 days of expiry or when a long-lived token is older than 90 days; fail when expired or revoked (the peer answers 401, or the anchor / token Secret that revokes it is gone).",
    run: (ctx) => perEntry(ctx, '', (c, e) => tokenLifetime(ctx, c, e), true),
  },
  {
    id: 'links.reader-rbac',
    category: 'links',
    title: `The secret's token may list what istiod watches (namespaces, services, pods, endpointslices, secrets) in the peer; ${READER_SERVICE_ACCOUNT} and its ClusterRole and binding exist there.`,
    run: (ctx) => perEntry(ctx, 'tokens may read what istiod watches', (c, e) => {
      const p = ctx.probe(c, e)
      const peer = ctx.peerOf(e)
      const missing: string[] = []
      if (peer && !peer.unreachable && peer.source === 'context') {
        const sa = peer.lists.ServiceAccount?.find((s) => s.metadata.name === READER_SERVICE_ACCOUNT)
        if (peer.lists.ServiceAccount && !sa) missing.push(`ServiceAccount ${peer.istioNamespace}/${READER_SERVICE_ACCOUNT}`)
        if (peer.readerClusterRole === null) missing.push(`ClusterRole ${peer.readerClusterRoleName ?? readerClusterRole(peer.istioNamespace)}`)
        if (peer.readerClusterRoleBinding === null) missing.push(`ClusterRoleBinding ${peer.readerClusterRoleName ?? readerClusterRole(peer.istioNamespace)}`)
      }
      const denied = p?.outcome === 'forbidden' ? p.denied : []
      if (denied.length > 0 || (missing.length > 0 && p?.outcome !== 'ok')) {
        return fail(c.name, `cluster ${c.name}: ${secretRef(c, e)}: the token may not ${denied.join(', ') || 'read the peer'}${missing.length > 0 ? `; missing in ${peer!.name}: ${missing.join(', ')}` : ''}`,
          `${linkHint(ctx, c, e)} (re-creates the reader account, ClusterRole and binding when missing)`)
      }
      if (!p || p.outcome !== 'ok') return skip(c.name, `cluster ${c.name}: ${secretRef(c, e)}: RBAC not probed (${p?.outcome ?? 'no probe'})`)
      return pass(c.name, '')
    }),
  },
  {
    id: 'links.reverse',
    category: 'links',
    title: 'Every link among the verified clusters exists in both directions: when A holds a remote secret for B, B holds one for A.',
    run: (ctx) => perEntry(ctx, 'links exist in both directions', (c, e) => {
      const peer = ctx.peerOf(e)
      if (!peer) return skip(c.name, `cluster ${c.name}: ${secretRef(c, e)}: peer ${e.key} is not among the verified clusters`, `pass --context for ${e.key} too`)
      if (peer === c || peer.unreachable) return undefined
      // a remote-profile cluster has no istiod: its primary discovers it, nothing discovers back (istio.control-plane checks it)
      if (ctx.id(peer).install.remoteProfile) return pass(c.name, '')
      if (!peer.lists.Secret) return skip(c.name, `cluster ${c.name}: cannot tell whether ${peer.name} links back: ${unreadable(peer, 'Secret')}`)
      const back = ctx.secrets(peer).some((b) => b.key === ctx.clusterIdOf(c) || ctx.peerOf(b) === c)
      if (!back) {
        return fail(c.name, `cluster ${c.name}: ${c.name} discovers ${peer.name} (${secretRef(c, e)}) but ${peer.name} has no remote secret for ${ctx.clusterIdOf(c)}, so ${peer.name}'s workloads cannot reach ${c.name}'s services`,
          `\`${ctx.linkCommand(peer, c)}\``)
      }
      return pass(c.name, '')
    }),
  },
]
