// Collecting the facts: per cluster, every kind listed once (concurrently, each request under the
// session's timeout), then each remote secret probed with its own credentials. Read-only: only
// GET requests are sent.
import {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import {Kubeconfig} from '../kube/kubeconfig.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {readSnapshot, RunLists, type SnapshotTarget as Target} from '../cluster/snapshot.ts'
import {gatewayHostnames} from '../istio/gateway.ts'
import {resolveHostnames} from '../istio/gateway-dns.ts'
import {disallowedAuth, hasCredentials, remoteSecretEntries, type RemoteSecretEntry, sameServer} from '../cluster/remote-secrets.ts'
import type {ClusterFacts, SecretProbe, VerifyFacts} from './types.ts'
import {eastWestGateways, identity, registryNamedGateways, remoteGateways} from './model.ts'
import {quietSteps, runStep, type StepRunner} from '../steps.ts'

export interface CollectOptions {
  /** The --context values; empty: the current context plus every cluster its remote secrets name. */
  contexts: string[]
  istioNamespace: string
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** The lists of this run (verify --wait: a ListCache, src/verify/list-cache.ts, following them between rounds; apply -f: its steps' lists, when nothing was written since). */
  lists?: RunLists
}

/** A client that talks with a remote secret's own kubeconfig, or why none can be made without running its plugins or reading files. */
export function secretClient(entry: RemoteSecretEntry, label: string, timeoutMs: number): {client?: KubeClient; reason?: string} {
  if (entry.parseError || !entry.doc) return {reason: `the kubeconfig does not parse: ${entry.parseError}`}
  const bad = disallowedAuth(entry)
  if (bad.length > 0) return {reason: `its kubeconfig uses ${bad.join(', ')} (not run)`}
  if (!hasCredentials(entry)) return {reason: 'its kubeconfig has no credentials'}
  try {
    const ref = Kubeconfig.fromDocument(entry.doc, label).resolve(entry.doc['current-context'] ?? entry.doc.contexts?.[0]?.name)
    return {client: new KubeClient({...ref, context: label}, {timeoutMs})}
  } catch (error) {
    return {reason: (error as Error).message}
  }
}

const TLS_CODE = /CERT|SELF_SIGNED|TLS|SSL|EPROTO|UNABLE_TO_VERIFY|ALTNAME/i

/** What a probe found of one set of credentials (the secret's own kubeconfig) against its API server. */
type ProbeOutcome = Pick<SecretProbe, 'outcome' | 'detail' | 'denied'>

/**
 * Remote secrets whose kubeconfigs hold the same credentials for the same API server (a cluster
 * linked from several others: one reader token in each of their secrets) are probed once per run;
 * each secret gets the answer under its own name. The key is the resolved kubeconfig (cluster and
 * user stanzas: server, CA, TLS name, proxy, credentials) and the namespace the reads are in.
 */
export class SecretProbes {
  private readonly byCredentials = new Map<string, Promise<ProbeOutcome>>()
  private readonly timeoutMs: number
  /** Where the clients made go, to be closed at the end of the run. */
  private readonly clients: KubeClient[]
  constructor(timeoutMs: number, clients: KubeClient[]) {
    this.timeoutMs = timeoutMs
    this.clients = clients
  }

  /** Read the peer with the secret's own CA data and token: reachability, TLS, token, then the reads istiod needs. */
  async probe(cluster: ClusterFacts, entry: RemoteSecretEntry): Promise<SecretProbe> {
    const base = {cluster: cluster.name, secret: entry.secret.metadata.name, key: entry.key}
    const {client, reason} = secretClient(entry, `${cluster.name}:secret/${entry.secret.metadata.name}/${entry.key}`, this.timeoutMs)
    if (!client) return {...base, outcome: 'not-probed', detail: reason ?? '', denied: []}
    const key = JSON.stringify([client.ref.cluster, client.ref.user, cluster.istioNamespace])
    let found = this.byCredentials.get(key)
    if (!found) {
      this.clients.push(client)
      found = probeReads(client, cluster.istioNamespace)
      this.byCredentials.set(key, found)
    } else {
      client.close()
    }
    const {outcome, detail, denied} = await found
    return {...base, outcome, detail, denied: [...denied]}
  }
}

async function probeReads(client: KubeClient, istioNamespace: string): Promise<ProbeOutcome> {
  const base = {denied: [] as string[]}
  const reads: Array<[string, string]> = [
    ['list namespaces', resourcePath(RESOURCES.Namespace)],
    ['list services', resourcePath(RESOURCES.Service)],
    ['list pods', resourcePath(RESOURCES.Pod)],
    ['list endpointslices', resourcePath(RESOURCES.EndpointSlice)],
    [`list secrets in ${istioNamespace}`, resourcePath(RESOURCES.Secret, istioNamespace)],
    // Istio 1.31 watches each remote's `istio` ConfigMap; without this read the remote never syncs
    [`list configmaps in ${istioNamespace}`, resourcePath(RESOURCES.ConfigMap, istioNamespace)],
  ]
  const attempt = async ([what, path]: [string, string]) => {
    try {
      await client.get(path, {limit: '1'})
      return undefined
    } catch (error) {
      return {what, error}
    }
  }
  const first = await attempt(reads[0])
  if (first) {
    const e = first.error
    if (e instanceof ApiError && e.status === 0) return {...base, outcome: TLS_CODE.test(e.reason) || TLS_CODE.test(e.message) ? 'tls' : 'unreachable', detail: e.message}
    if (e instanceof ApiError && e.status === 401) return {...base, outcome: 'unauthorized', detail: e.message}
  }
  const rest = await Promise.all(reads.slice(1).map(attempt))
  // A token revoked while the API server still held it in its token cache: the first read passes,
  // a later one gets 401. That is a rejected token, not an unreachable server.
  const rejected = rest.find((x) => x && x.error instanceof ApiError && (x.error as ApiError).status === 401)
  if (rejected) return {...base, outcome: 'unauthorized', detail: (rejected.error as Error).message}
  const denied = [first, ...rest].filter((x) => x && x.error instanceof ApiError && (x.error as ApiError).status === 403).map((x) => x!.what)
  if (denied.length > 0) return {...base, outcome: 'forbidden', detail: '', denied}
  const other = [first, ...rest].find((x) => x !== undefined)
  if (other) return {...base, outcome: 'unreachable', detail: (other.error as Error).message}
  return {...base, outcome: 'ok', detail: ''}
}

/** Collect the facts of every cluster to verify, then probe every remote secret. */
export async function collectFacts(session: Session, opts: CollectOptions): Promise<{facts: VerifyFacts; lists: RunLists; clientOf: (c: ClusterFacts) => KubeClient | undefined; close: () => void}> {
  const extraClients: KubeClient[] = []
  const explicit = opts.contexts.length > 0
  const names = explicit ? [...new Set(opts.contexts)] : [session.resolve().context]
  const targets: Target[] = names.map((n) => ({name: n, context: n, source: 'context', client: session.client(n)}))
  const lists = opts.lists ?? new RunLists()
  const extraTargets: Target[] = []
  const readAll = (ts: Target[]) => (opts.progress ?? quietSteps)(ts.map((t) => ({title: `Read cluster "${t.name}"`, run: () => readSnapshot(t, opts.istioNamespace, undefined, lists)})), {concurrent: true})
  const clusters = await readAll(targets)

  if (!explicit && clusters[0] && !clusters[0].unreachable) {
    // The clusters the current context's remote secrets name: through a context when one exists
    // (same name as the cluster ID, or the same API server), else through the secret itself.
    const home = clusters[0]
    const more: Target[] = []
    for (const e of remoteSecretEntries(home)) {
      const known = [...targets, ...more].some((t) => t.name === e.key || (t.client && sameServer(t.client.ref.cluster.server, e.server)))
      if (known) continue
      const kc = session.kubeconfig
      const byServer = kc.merged.contexts.find((c) => sameServer(kc.merged.clusters.find((k) => k.name === c.context?.cluster)?.cluster?.server, e.server))?.name
      const ctxName = kc.has(e.key) ? e.key : byServer
      if (ctxName && !targets.some((t) => t.context === ctxName) && !more.some((t) => t.context === ctxName)) {
        more.push({name: ctxName, context: ctxName, source: 'context', client: session.client(ctxName)})
        continue
      }
      if (ctxName) continue
      const via = `${home.name}/${home.istioNamespace}/${e.secret.metadata.name}`
      const {client, reason} = secretClient(e, `${e.key} (via ${via})`, session.timeoutMs)
      if (client) extraClients.push(client)
      more.push({name: e.key, source: 'remote-secret', via, client, noClient: reason ? `cannot read it through remote secret ${via}: ${reason}` : undefined})
    }
    extraTargets.push(...more)
    clusters.push(...await readAll(more))
  }

  const entries = clusters.filter((c) => !c.unreachable).flatMap((c) => remoteSecretEntries(c).map((e) => [c, e] as const))
  const prober = new SecretProbes(session.timeoutMs, extraClients)
  const probes = await runStep(opts.progress, `Probe ${entries.length} remote secret${entries.length === 1 ? '' : 's'} with their own credentials`, () =>
    Promise.all(entries.map(([c, e]) => prober.probe(c, e))))
  const clientByName = new Map<string, KubeClient>()
  for (const t of [...targets, ...extraTargets]) if (t.client) clientByName.set(t.name, t.client)
  // Gateway hostnames, resolved as istiod resolves them (model/network.go resolveHostnameGateways)
  // (and those of the Services a meshNetworks names by registryServiceName)
  const up = clusters.filter((c) => !c.unreachable)
  const ids = new Map(up.map((c) => [c, identity(c)]))
  const discoverers = up.map((d) => ({facts: d, clusterDomain: ids.get(d)!.clusterDomain}))
  const hostnames = gatewayHostnames(up.flatMap((c) => [...eastWestGateways(c, ids.get(c)!), ...(remoteGateways(c) ?? []),
    ...registryNamedGateways(c, ids.get(c)!.clusterId ?? c.name, discoverers)]))
  const dns = hostnames.length > 0 ? await resolveHostnames(hostnames) : undefined
  return {
    facts: {clusters, probes, now: new Date(), ...(dns ? {dns} : {})},
    lists,
    clientOf: (c) => clientByName.get(c.name),
    close: () => {
      for (const c of extraClients) c.close()
    },
  }
}

/**
 * Every EndpointSlice of a cluster (one list through the run's lists), for links.istiod-stale:
 * the slices, or why they could not be read.
 */
export async function readServiceSlices(client: KubeClient, lists: RunLists): Promise<{slices?: KubeObject[]; error?: string}> {
  try {
    return {slices: await lists.list(client, 'EndpointSlice')}
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 401)) return {error: error.status === 403 ? 'forbidden' : 'unauthorized'}
    return {error: (error as Error).message}
  }
}
