// The cluster layer's snapshot: one read of a cluster, every kind the command asks for listed
// once, kept as an immutable value the checks and planners derive from (src/verify/model.ts
// derives identity, gateways, remote secrets and trust roots from it). Read-only: GET only.
import {KubeClient} from '../kube/client.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {EGRESS_GATEWAY_ANNOTATION, IMPORT_VIA_EGRESS, IMPORT_VIA_LABEL, NETWORK_CONFIG_ANNOTATION, NETWORK_LABEL, readerClusterRole} from '../istio/names.ts'
import {chooseRevision, ISTIOD_APP_SELECTOR, type RevisionNames} from '../istio/revision.ts'
import {needsKubeGateways, needsNodes} from '../istio/gateway.ts'

/** The object kinds collected once per cluster. */
export const LISTED_KINDS = ['Namespace', 'Secret', 'ConfigMap', 'Service', 'Deployment', 'ServiceAccount', 'Gateway', 'ServiceEntry', 'DestinationRule'] as const
/** Listed too, but only when the cluster has an import through an egress gateway (service import --via-egress): its routes are checked then. */
export const EGRESS_LISTED_KINDS = ['VirtualService'] as const
/** Listed only when the east-west gateway needs them (src/istio/gateway.ts needsNodes, needsKubeGateways): the Nodes of a NodePort gateway, Gateway API Gateways. */
export const GATEWAY_LISTED_KINDS = ['Node', 'KubeGateway'] as const
export type ListedKind = (typeof LISTED_KINDS)[number] | (typeof EGRESS_LISTED_KINDS)[number] | (typeof GATEWAY_LISTED_KINDS)[number]

/** Why a kind could not be listed: forbidden, not served (CRD missing), or another error. */
export interface ListFailure {
  reason: 'forbidden' | 'unauthorized' | 'notfound' | 'error'
  message: string
}

/** Everything read from one cluster, in one round of list requests: the one snapshot type of a cluster. */
export interface ClusterSnapshot {
  /** How the cluster is named in the report: the context, or the cluster ID from a remote secret. */
  name: string
  context?: string
  /** 'context': read with the user's kubeconfig; 'remote-secret': read with a remote secret's own credentials. */
  source: 'context' | 'remote-secret'
  /** For source 'remote-secret': "<cluster>/<namespace>/<secret>". */
  via?: string
  /** The API server URL used. */
  server: string
  istioNamespace: string
  /** Set when the API server could not be reached at all (every read failed without an HTTP answer). */
  unreachable?: {message: string; hint: string}
  /** The listed objects by kind; a kind is absent when its list failed (see failures). */
  lists: Partial<Record<ListedKind, KubeObject[]>>
  failures: Partial<Record<ListedKind | 'ClusterRole' | 'ClusterRoleBinding', ListFailure>>
  /** The reader ClusterRole's name for the Istio revision in use. */
  readerClusterRoleName?: string
  /** The reader ClusterRole and binding (null: not found; undefined: not readable). */
  readerClusterRole?: KubeObject | null
  readerClusterRoleBinding?: KubeObject | null
  /** A remote-profile install only: the EndpointSlices of the Istio namespace (where its istiod Service points). */
  endpointSlices?: KubeObject[]
  /** The DaemonSets and Gateway API Gateways of the Istio namespace (ambient: ztunnel, istio-east-west, src/istio/ambient.ts); empty when not served. */
  ambientObjects?: {daemonSets: KubeObject[]; kubeGateways: KubeObject[]}
  /** Imports through an egress gateway only: the Pods each such gateway Service (namespace/name) selects; undefined for one whose Pods could not be listed. */
  egressPods?: Record<string, KubeObject[] | undefined>
}


/**
 * The lists of one run, memoized by context, kind and namespace: a kind is listed at most once per
 * run however many snapshots (or steps) ask for it. A failed list is remembered as failed too.
 * A run that writes says so (wrote): a whole list of that context and kind is then taken again
 * when next asked for, and an object it wrote is not answered from a list taken before the write.
 */
export class RunLists {
  private readonly lists = new Map<string, Promise<KubeObject[]>>()
  /** Objects written since their kind was listed, by context and kind: "namespace/name". */
  private readonly written = new Map<string, Set<string>>()
  /** How many list requests were sent (each context+kind+namespace once, again after a write). */
  sent = 0

  list(client: KubeClient, kind: keyof typeof RESOURCES, namespace?: string): Promise<KubeObject[]> {
    if (this.written.get(kindKey(client.context, kind))?.size) this.forget(client.context, kind)
    const key = `${kindKey(client.context, kind)}\u0000${namespace ?? ''}`
    let found = this.lists.get(key)
    if (!found) {
      found = listObjects(client, RESOURCES[kind], namespace ? {namespace} : {})
      this.lists.set(key, found)
      this.sent++
    }
    return found
  }

  /**
   * The objects of one namespace, from the run's one cluster-wide list of their kind (so a kind
   * some step lists cluster-wide and another in one namespace is listed once); from a list of that
   * namespace alone when this identity may not list the kind cluster-wide.
   */
  async inNamespace(client: KubeClient, kind: keyof typeof RESOURCES, namespace: string): Promise<KubeObject[]> {
    try {
      return (await this.list(client, kind)).filter((o) => o.metadata.namespace === namespace)
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) return this.list(client, kind, namespace)
      throw error
    }
  }

  /** Has this run listed the kind cluster-wide in that context (and not written one of its objects since)? */
  has(context: string, kind: keyof typeof RESOURCES): boolean {
    return this.lists.has(`${kindKey(context, kind)}\u0000`) && !this.written.get(kindKey(context, kind))?.size
  }

  /** One object (undefined: absent), from the cluster-wide list of its kind; listed again when this run wrote it since. */
  async find(client: KubeClient, kind: keyof typeof RESOURCES, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    if (this.written.get(kindKey(client.context, kind))?.has(`${namespace ?? ''}/${name}`)) this.forget(client.context, kind)
    const all = await this.lists.get(`${kindKey(client.context, kind)}\u0000`) ?? await this.list(client, kind)
    return all.find((o) => o.metadata.name === name && (o.metadata.namespace ?? '') === (namespace ?? ''))
  }

  /** This run wrote (created, changed or deleted) that object: lists of its kind taken before are stale. */
  wrote(context: string, kind: string, namespace: string | undefined, name: string): void {
    const key = kindKey(context, kind)
    const names = this.written.get(key) ?? new Set<string>()
    names.add(`${namespace ?? ''}/${name}`)
    this.written.set(key, names)
  }

  private forget(context: string, kind: string): void {
    const prefix = `${kindKey(context, kind)}\u0000`
    for (const key of [...this.lists.keys()]) if (key.startsWith(prefix)) this.lists.delete(key)
    this.written.delete(kindKey(context, kind))
  }
}

const kindKey = (context: string, kind: string) => `${context}\u0000${kind}`

/** A snapshot is a value: once read, neither it nor its lists change (a check or planner derives, never edits). */
function frozen(s: ClusterSnapshot): ClusterSnapshot {
  Object.freeze(s.lists)
  Object.freeze(s.failures)
  if (s.egressPods) Object.freeze(s.egressPods)
  for (const list of Object.values(s.lists)) Object.freeze(list)
  return Object.freeze(s)
}

/** The names of the Istio revision in use (src/istio/revision.ts), from the istiod Deployments listed. */
export const revisionOf = (f: Pick<ClusterSnapshot, 'lists' | 'istioNamespace'>): RevisionNames =>
  chooseRevision((f.lists.Deployment ?? []).filter((d) => `app=${d.metadata.labels?.app}` === ISTIOD_APP_SELECTOR), f.istioNamespace).names

/** Does the listed istiod of the revision in use run Istio's ambient profile (PILOT_ENABLE_AMBIENT=true)? */
async function ambientIstiod(f: ClusterSnapshot, deployments: Promise<void> | undefined): Promise<boolean> {
  await deployments
  const d = (f.lists.Deployment ?? []).find((x) => x.metadata.name === revisionOf(f).istiod)
  const c = (d?.spec?.template?.spec?.containers ?? []).find((x: {name: string}) => x.name === 'discovery') ?? d?.spec?.template?.spec?.containers?.[0]
  return (c?.env ?? []).some((e: {name: string; value?: string}) => e.name === 'PILOT_ENABLE_AMBIENT' && e.value === 'true')
}

/** Kinds listed only in the Istio namespace; the others are listed cluster-wide. */
const IN_ISTIO_NAMESPACE = new Set<ListedKind>(['Secret', 'ConfigMap', 'Deployment', 'ServiceAccount'])

export interface SnapshotTarget {
  name: string
  context?: string
  source: 'context' | 'remote-secret'
  via?: string
  client?: KubeClient
  /** Why no client could be made (e.g. a kubeconfig istiod would reject). */
  noClient?: string
}

function classify(error: unknown): ListFailure {
  if (error instanceof ApiError) {
    if (error.status === 403) return {reason: 'forbidden', message: error.message}
    if (error.status === 401) return {reason: 'unauthorized', message: error.message}
    if (error.status === 404) return {reason: 'notfound', message: error.message}
    return {reason: 'error', message: error.message}
  }
  return {reason: 'error', message: (error as Error).message}
}

const isNetwork = (e: unknown) => e instanceof ApiError && e.status === 0

/**
 * One read of one cluster into its snapshot: Namespaces first (an API server that does not answer
 * stops there), then the other kinds asked for, concurrently, each listed once; the reader
 * ClusterRole and binding of the revision in use; for a remote-profile install, the EndpointSlices
 * of the Istio namespace. Read-only (GET only).
 */
export async function readSnapshot(target: SnapshotTarget, istioNamespace: string, want: readonly ListedKind[] = LISTED_KINDS, run: RunLists = new RunLists()): Promise<ClusterSnapshot> {
  const facts: ClusterSnapshot = {
    name: target.name, context: target.context, source: target.source, via: target.via,
    server: target.client?.ref.cluster.server ?? '', istioNamespace, lists: {}, failures: {},
  }
  const client = target.client
  if (!client) {
    facts.unreachable = {message: target.noClient ?? 'no credentials', hint: 'add a context for this cluster to your kubeconfig and pass --context for it'}
    return frozen(facts)
  }
  // Namespaces first: when the API server does not answer, stop there instead of N timeouts.
  try {
    facts.lists.Namespace = await run.list(client, 'Namespace')
  } catch (error) {
    if (isNetwork(error)) {
      const op = toOperationError(error as ApiError)
      facts.unreachable = {message: op.message.replace(/^context "[^"]*": /, ''), hint: op.hint ?? ''}
      return frozen(facts)
    }
    facts.failures.Namespace = classify(error)
  }
  const kinds = want.filter((k) => k !== 'Namespace')
  const listed = new Map(kinds.map((kind) => [kind, (async () => {
    try {
      facts.lists[kind] = await run.list(client, kind, IN_ISTIO_NAMESPACE.has(kind) ? istioNamespace : undefined)
    } catch (error) {
      facts.failures[kind] = classify(error)
    }
  })()]))
  // The reader ClusterRole and binding of the Istio revision in use (src/istio/revision.ts), known
  // once the Deployments are listed; for a revisioned install, the plain name counts too.
  const reader = async (type: typeof RESOURCES.ClusterRole | typeof RESOURCES.ClusterRoleBinding, key: 'ClusterRole' | 'ClusterRoleBinding') => {
    await listed.get('Deployment')
    const names = [...new Set([revisionOf(facts).readerClusterRole, readerClusterRole(istioNamespace)])]
    try {
      // from the run's list when a step of this run has listed the kind (apply -f: link), else one GET a name
      const listed = run.has(client.context, key)
      for (const name of names) {
        const found = listed ? await run.find(client, key, undefined, name) : await client.getOptional<KubeObject>(resourcePath(type, undefined, name))
        if (found) return found
      }
      return null
    } catch (error) {
      facts.failures[key] = classify(error)
      return undefined
    }
  }
  const [role, binding] = await Promise.all([reader(RESOURCES.ClusterRole, 'ClusterRole'), reader(RESOURCES.ClusterRoleBinding, 'ClusterRoleBinding'), ...listed.values()])
  facts.readerClusterRoleName = revisionOf(facts).readerClusterRole
  // Istio's remote profile (no istiod, no injector, a values ConfigMap): where its istiod Service points
  const names = revisionOf(facts)
  const has = (kind: 'Deployment' | 'ConfigMap', name: string) => (facts.lists[kind] ?? []).some((o) => o.metadata.name === name)
  if (facts.lists.Deployment && facts.lists.ConfigMap && !has('Deployment', names.istiod) && !has('ConfigMap', names.injectorConfigMap) && has('ConfigMap', names.valuesConfigMap)) {
    try {
      facts.endpointSlices = await run.list(client, 'EndpointSlice', istioNamespace)
    } catch { /* istio.control-plane says it cannot tell */ }
  }
  // The full read (every kind, as verify reads) also reads what the ambient rules need
  // (src/istio/ambient.ts): the DaemonSets and Gateway API Gateways of the Istio namespace; a kind
  // not served reads as none
  // (only for an istiod of Istio's ambient profile, PILOT_ENABLE_AMBIENT=true: a sidecar mesh costs no request more)
  if (want === LISTED_KINDS && await ambientIstiod(facts, listed.get('Deployment'))) {
    const orNone = (p: Promise<KubeObject[]>) => p.catch(() => [] as KubeObject[])
    const [daemonSets, kubeGateways] = await Promise.all([orNone(run.list(client, 'DaemonSet', istioNamespace)), orNone(run.inNamespace(client, 'KubeGateway', istioNamespace))])
    facts.ambientObjects = {daemonSets, kubeGateways}
  }
  await readEgress(client, facts, run)
  await readGatewayInputs(client, facts, run, want === LISTED_KINDS)
  if (role !== undefined) facts.readerClusterRole = role as KubeObject | null
  if (binding !== undefined) facts.readerClusterRoleBinding = binding as KubeObject | null
  return frozen(facts)
}


/**
 * What the east-west gateway's addresses need beyond the Services, as istiod reads them
 * (src/istio/gateway.ts): the Nodes when a Service is a NodePort gateway, the Gateway API Gateways
 * when no Service is a gateway istiod discovers. No request for a LoadBalancer gateway.
 */
async function readGatewayInputs(client: KubeClient, facts: ClusterSnapshot, run: RunLists, full = false): Promise<void> {
  const services = facts.lists.Service
  if (!services) return
  const network = (facts.lists.Namespace ?? []).find((n) => n.metadata.name === facts.istioNamespace)?.metadata.labels?.[NETWORK_LABEL]
  // the full read (verify) of a cluster on a network holding a link made with --network-config gateway
  // also lists the Gateway API Gateways once: its istio-remote Gateways declare peer networks'
  // gateways to its istiod (network.go handleGatewayResource); a cluster that does not serve the
  // Gateway API (404) has none. Other clusters cost no request more.
  const gatewayWired = (facts.lists.Secret ?? []).some((s) => s.metadata.annotations?.[NETWORK_CONFIG_ANNOTATION] === 'gateway')
  const remoteDecls = full && Boolean(network) && gatewayWired
  const want: Array<'Node' | 'KubeGateway'> = [...(needsNodes(services) ? ['Node' as const] : []), ...(remoteDecls || needsKubeGateways(services, network) ? ['KubeGateway' as const] : [])]
  await Promise.all(want.map(async (kind) => {
    try {
      facts.lists[kind] = await run.list(client, kind)
    } catch (error) {
      if (kind === 'KubeGateway' && error instanceof ApiError && error.status === 404) facts.lists[kind] = []
      else facts.failures[kind] = classify(error)
    }
  }))
}

/**
 * Imports through an egress gateway (ServiceEntries labelled kubectl-mesh/via=egress, when
 * ServiceEntries were asked for): every VirtualService, and the Pods of each egress gateway Service
 * they name (one list per gateway, by its selector). Nothing is read for a cluster without one.
 */
async function readEgress(client: KubeClient, facts: ClusterSnapshot, run: RunLists): Promise<void> {
  const refs = [...new Set((facts.lists.ServiceEntry ?? []).filter((se) => se.metadata.labels?.[IMPORT_VIA_LABEL] === IMPORT_VIA_EGRESS)
    .map((se) => se.metadata.annotations?.[EGRESS_GATEWAY_ANNOTATION]).filter((r): r is string => Boolean(r)))]
  if (refs.length === 0) return
  const pods: Record<string, KubeObject[] | undefined> = {}
  const routes = (async () => {
    try {
      facts.lists.VirtualService = await run.list(client, 'VirtualService')
    } catch (error) {
      facts.failures.VirtualService = classify(error)
    }
  })()
  await Promise.all([routes, ...refs.map(async (ref) => {
    const [ns, name] = ref.split('/')
    const svc = (facts.lists.Service ?? []).find((s) => s.metadata.namespace === ns && s.metadata.name === name)
    const selector = Object.entries<string>(svc?.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
    if (!svc || !selector) return
    try {
      pods[ref] = await listObjects(client, RESOURCES.Pod, {namespace: ns, labelSelector: selector})
    } catch {
      pods[ref] = undefined
    }
  })])
  facts.egressPods = pods
}
