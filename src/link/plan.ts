// Pure planning for `cluster link` / `unlink`: facts in, desired objects and meshNetworks edits
// out. No API calls here.
import {dump} from 'js-yaml'
import type {KubeObject} from '../kube/resources.ts'
import type {Edit} from '../kube/apply.ts'
import {type EastWestGateway, passesEverything, passesIstiod} from '../istio/gateway.ts'
import {
  CLUSTER_ANNOTATION, CONTROL_PLANE_CLUSTERS_ANNOTATION, CROSS_NETWORK_GATEWAY, ISTIOD_GATEWAY, ISTIOD_WEBHOOK_PORT, ISTIOD_WEBHOOK_SERVICE_PORT, ISTIOD_XDS_PORT, EXPOSE_ANNOTATION, EXPOSED_FOR_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MULTICLUSTER_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET,
  REMOTE_SECRET_PREFIX, SERVICE_ACCOUNT_NAME_ANNOTATION, SERVICE_ACCOUNT_TOKEN_TYPE, readerClusterRole, stamp,
} from '../istio/names.ts'
import type {LinkFacts, Gateway} from './facts.ts'

export const isManaged = (obj: KubeObject | undefined): boolean => obj?.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE

/** The rules of Istio's reader ClusterRole (istio-discovery chart, reader-clusterrole.yaml; 1.31 also reads configmaps: istiod watches each remote's `istio` ConfigMap). */
export const READER_RULES = [
  {apiGroups: ['config.istio.io', 'security.istio.io', 'networking.istio.io', 'authentication.istio.io', 'rbac.istio.io', 'telemetry.istio.io', 'extensions.istio.io'], resources: ['*'], verbs: ['get', 'list', 'watch']},
  {apiGroups: [''], resources: ['endpoints', 'pods', 'services', 'nodes', 'replicationcontrollers', 'namespaces', 'secrets', 'configmaps'], verbs: ['get', 'list', 'watch']},
  {apiGroups: ['networking.istio.io'], resources: ['workloadentries'], verbs: ['get', 'watch', 'list']},
  {apiGroups: ['networking.x-k8s.io', 'gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['get', 'watch', 'list']},
  {apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch']},
  {apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch']},
  {apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceexports'], verbs: ['get', 'list', 'watch', 'create', 'delete']},
  {apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceimports'], verbs: ['get', 'list', 'watch']},
  {apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch']},
  {apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create']},
  {apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create']},
]

const READER_LABELS = {app: 'istio-reader', 'app.kubernetes.io/name': 'istio-reader'}

export function readerServiceAccount(ns: string, version: string): KubeObject {
  return {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: READER_SERVICE_ACCOUNT, namespace: ns, ...stamp(version, READER_LABELS)}}
}

export function readerClusterRoleObject(ns: string, version: string): KubeObject {
  return {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: readerClusterRole(ns), ...stamp(version, READER_LABELS)}, rules: READER_RULES}
}

export function readerBinding(ns: string, version: string): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
    metadata: {name: readerClusterRole(ns), ...stamp(version, READER_LABELS)},
    roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: readerClusterRole(ns)},
    subjects: [{kind: 'ServiceAccount', name: READER_SERVICE_ACCOUNT, namespace: ns}],
  }
}

export function readerTokenSecret(ns: string, version: string): KubeObject {
  const s = stamp(version)
  return {
    apiVersion: 'v1', kind: 'Secret', type: SERVICE_ACCOUNT_TOKEN_TYPE,
    metadata: {name: READER_TOKEN_SECRET, namespace: ns, labels: s.labels, annotations: {...s.annotations, [SERVICE_ACCOUNT_NAME_ANNOTATION]: READER_SERVICE_ACCOUNT}},
  }
}

/** A token Secret someone else made that we can reuse: the right type, bound to the reader account. */
export function isUsableTokenSecret(s: KubeObject | undefined): boolean {
  return s?.type === SERVICE_ACCOUNT_TOKEN_TYPE && s.metadata.annotations?.[SERVICE_ACCOUNT_NAME_ANNOTATION] === READER_SERVICE_ACCOUNT
}

export interface ReaderStep {
  /** The object we want. */
  desired: KubeObject
  /** The object as it is (undefined: missing). */
  live?: KubeObject
  /**
   * apply: create it, or update it because kubectl-mesh owns it; keep: it exists and belongs to
   * someone else (an Istio install): reuse it as it is, never stamp or change it.
   */
  mode: 'apply' | 'keep'
}

/**
 * In the discovered cluster: the reader ServiceAccount, ClusterRole and binding when missing
 * (or owned by kubectl-mesh), and the token Secret. Objects an Istio install made are kept.
 */
export function planReader(west: LinkFacts, version: string): ReaderStep[] {
  const ns = west.istioNamespace
  // Kept objects are shown under their own name (a revisioned install's reader ClusterRole is
  // istio-reader-clusterrole-<revision>-<namespace>).
  const step = (desired: KubeObject, live: KubeObject | undefined, usable = true): ReaderStep =>
    live && !isManaged(live) && usable ? {desired: live, live, mode: 'keep'} : {desired, live, mode: 'apply'}
  return [
    step(readerServiceAccount(ns, version), west.serviceAccount),
    step(readerClusterRoleObject(ns, version), west.clusterRole),
    step(readerBinding(ns, version), west.clusterRoleBinding),
    step(readerTokenSecret(ns, version), west.tokenSecret, isUsableTokenSecret(west.tokenSecret)),
  ]
}

export interface RemoteKubeconfigInput {
  id: string
  server: string
  /** base64 PEM of the CA that signs the API server's certificate. */
  caData: string
  token: string
  tlsServerName?: string
}

/** The kubeconfig istiod uses for the remote cluster: inline CA data and the bearer token only. */
export function remoteKubeconfig(i: RemoteKubeconfigInput): string {
  const cluster: Record<string, string> = {'certificate-authority-data': i.caData, server: i.server}
  if (i.tlsServerName) cluster['tls-server-name'] = i.tlsServerName
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{name: i.id, cluster}],
    contexts: [{name: i.id, context: {cluster: i.id, user: i.id}}],
    'current-context': i.id,
    preferences: {},
    users: [{name: i.id, user: {token: i.token}}],
  }, {lineWidth: -1, noRefs: true})
}

export const remoteSecretName = (id: string) => `${REMOTE_SECRET_PREFIX}${id}`

/** Secret istio-remote-secret-<ID> for the discovering cluster's istiod. */
export function remoteSecret(ns: string, id: string, kubeconfig: string, version: string, expose?: 'all' | 'exported'): KubeObject {
  const s = stamp(version, {[MULTICLUSTER_LABEL]: 'true'})
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: {name: remoteSecretName(id), namespace: ns, labels: s.labels, annotations: {...s.annotations, [CLUSTER_ANNOTATION]: id, ...(expose ? {[EXPOSE_ANNOTATION]: expose} : {})}},
    data: {[id]: Buffer.from(kubeconfig, 'utf8').toString('base64')},
  }
}

// ---- meshNetworks -------------------------------------------------------------------------

export interface NetworkEndpoint {fromRegistry?: string; fromCidr?: string; [k: string]: unknown}
export interface NetworkGateway {address?: string; registryServiceName?: string; port?: number; locality?: string; [k: string]: unknown}
export interface Network {endpoints?: NetworkEndpoint[]; gateways?: NetworkGateway[]; [k: string]: unknown}
export interface MeshNetworks {networks?: Record<string, Network | null>; [k: string]: unknown}

/** A meshNetworks document is a mapping (or absent); anything else we refuse to edit. */
export function checkMeshNetworks(doc: unknown): string | undefined {
  if (doc === undefined || doc === null) return undefined
  if (typeof doc !== 'object' || Array.isArray(doc)) return 'it is not a mapping'
  const n = (doc as MeshNetworks).networks
  if (n !== undefined && n !== null && (typeof n !== 'object' || Array.isArray(n))) return '"networks" is not a mapping'
  return undefined
}

/**
 * Add or update the entry of network `network` so that it holds `fromRegistry: id` and the
 * gateway; drop `id` from any other network (the remote moved networks), removing a network that
 * becomes empty. Every other network and key is returned as it was.
 *
 * Gateways: an entry with the same address is kept (its port corrected); when the network's
 * endpoints are only `id`'s, other address gateways are replaced (the gateway moved); when other
 * registries share the network, the gateway is added next to theirs.
 */
export function addNetworkEntry(doc: MeshNetworks | undefined, network: string, id: string, gateway: Gateway): MeshNetworks {
  const out: MeshNetworks = {...(doc ?? {})}
  const networks: Record<string, Network | null> = {...(out.networks ?? {})}
  for (const [name, net] of Object.entries(networks)) {
    if (name === network || !net?.endpoints?.some((e) => e?.fromRegistry === id)) continue
    const endpoints = net.endpoints.filter((e) => e?.fromRegistry !== id)
    if (endpoints.length === 0) delete networks[name]
    else networks[name] = {...net, endpoints}
  }
  const entry: Network = {...(networks[network] ?? {})}
  const endpoints = [...(entry.endpoints ?? [])]
  if (!endpoints.some((e) => e?.fromRegistry === id)) endpoints.push({fromRegistry: id})
  let gateways = [...(entry.gateways ?? [])]
  const same = gateways.findIndex((g) => g?.address === gateway.address)
  if (same >= 0) {
    if (gateways[same].port !== gateway.port) gateways[same] = {...gateways[same], port: gateway.port}
  } else {
    const onlyOurs = endpoints.every((e) => e?.fromRegistry === id)
    if (onlyOurs) gateways = gateways.filter((g) => g?.address === undefined)
    gateways.push({address: gateway.address, port: gateway.port})
  }
  entry.endpoints = endpoints
  entry.gateways = gateways
  networks[network] = entry
  out.networks = networks
  return out
}

/** Remove `fromRegistry: id` from every network; a network left without endpoints is dropped. */
export function removeRegistry(doc: MeshNetworks | undefined, id: string): MeshNetworks | undefined {
  if (!doc?.networks) return doc
  const networks: Record<string, Network | null> = {...doc.networks}
  for (const [name, net] of Object.entries(networks)) {
    if (!net?.endpoints?.some((e) => e?.fromRegistry === id)) continue
    const endpoints = net.endpoints.filter((e) => e?.fromRegistry !== id)
    if (endpoints.length === 0) delete networks[name]
    else networks[name] = {...net, endpoints}
  }
  return {...doc, networks}
}

/** The networks that name `id` in fromRegistry. */
export function networksOf(doc: MeshNetworks | undefined, id: string): string[] {
  return Object.entries(doc?.networks ?? {}).filter(([, n]) => n?.endpoints?.some((e) => e?.fromRegistry === id)).map(([k]) => k)
}

// ---- exposure across networks -------------------------------------------------------------

/** The linking clusters a cross-network Gateway records (annotation kubectl-mesh/exposed-for). */
export function exposedFor(gw: KubeObject | undefined): string[] {
  return (gw?.metadata.annotations?.[EXPOSED_FOR_ANNOTATION] ?? '').split(',').filter(Boolean)
}

/** Istio's cross-network-gateway (samples/multicluster/expose-services.yaml) on WEST's east-west gateway, for these linking clusters. */
export function exposureGateway(o: {ew: EastWestGateway; clusterDomain: string; ids: string[]; version: string}): KubeObject {
  const s = stamp(o.version)
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway',
    metadata: {name: CROSS_NETWORK_GATEWAY, namespace: o.ew.namespace, labels: s.labels, annotations: {...s.annotations, [EXPOSED_FOR_ANNOTATION]: [...new Set(o.ids)].sort().join(',')}},
    spec: {
      selector: {...o.ew.selector},
      servers: [{port: {number: o.ew.port, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: [`*.${o.clusterDomain}`]}],
    },
  }
}

/** The edit that drops `eastId` from our cross-network Gateway, deleting it when no linking cluster is left. */
export function dropExposure(eastId: string): Edit {
  return (live) => {
    if (!live || !isManaged(live) || !exposedFor(live).includes(eastId)) return undefined
    const ids = exposedFor(live).filter((x) => x !== eastId)
    return ids.length === 0 ? null : {...live, metadata: {...live.metadata, annotations: {...live.metadata.annotations, [EXPOSED_FOR_ANNOTATION]: ids.join(',')}}}
  }
}

export interface ExposurePlan {
  /** The edit of WEST's Gateway kubectl-mesh-cross-network (editObject). */
  edit: Edit
  /** What the edit gives for the Gateway as it was read (undefined: no write; null: deleted). */
  planned: KubeObject | null | undefined
  /** Another Gateway that already passes every service through: nothing is written. */
  coveredBy?: KubeObject
  /** Why WEST's services cannot be exposed (no east-west gateway Service to select). */
  problem?: string
}

/**
 * EAST (`eastId`) relies on WEST's gateway passing WEST's services through when `want` (a
 * cross-network link with --expose all): its ID is added to our Gateway, which is created when
 * missing, unless another Gateway already passes everything through. Otherwise its ID is
 * dropped, and the Gateway deleted when no linking cluster is left.
 */
export function planExposure(west: Pick<LinkFacts, 'context' | 'ewGateway' | 'clusterDomain' | 'gateways'>, eastId: string, want: boolean, version: string): ExposurePlan {
  const ours = (west.gateways ?? []).find((g) => g.metadata.name === CROSS_NETWORK_GATEWAY && g.metadata.namespace === west.ewGateway?.namespace)
  const drop = dropExposure(eastId)
  if (!want) return {edit: drop, planned: drop(ours)}
  const ew = west.ewGateway
  if (!ew || Object.keys(ew.selector).length === 0) {
    return {edit: () => undefined, planned: undefined, problem: `context "${west.context}" has no east-west gateway Service with a pod selector, so its services cannot be passed through`}
  }
  const coveredBy = exposedFor(ours).includes(eastId) ? undefined : (west.gateways ?? []).find((g) => g !== ours && passesEverything(g, ew, west.clusterDomain))
  if (coveredBy) return {edit: () => undefined, planned: undefined, coveredBy}
  const add: Edit = (live) => exposureGateway({ew, clusterDomain: west.clusterDomain, ids: [...(isManaged(live) ? exposedFor(live) : []), eastId], version})
  return {edit: add, planned: add(ours)}
}

// ---- primary-remote: the primary's istiod exposed, the remote's control plane named ---------

/** Istio's expose-istiod.yaml Gateway on PRIMARY's east-west gateway (15012 and 15017, TLS PASSTHROUGH), for these remote clusters. */
export function istiodGateway(o: {ew: EastWestGateway; ids: string[]; version: string}): KubeObject {
  const s = stamp(o.version)
  const server = (port: number, name: string) => ({port: {number: port, name, protocol: 'TLS'}, tls: {mode: 'PASSTHROUGH'}, hosts: ['*']})
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway',
    metadata: {name: ISTIOD_GATEWAY, namespace: o.ew.namespace, labels: s.labels, annotations: {...s.annotations, [EXPOSED_FOR_ANNOTATION]: [...new Set(o.ids)].sort().join(',')}},
    spec: {selector: {...o.ew.selector}, servers: [server(ISTIOD_XDS_PORT, 'tls-istiod'), server(ISTIOD_WEBHOOK_PORT, 'tls-istiodwebhook')]},
  }
}

/** Its VirtualService: TLS on 15012 to istiod's 15012, on 15017 to istiod's webhook port 443 (expose-istiod.yaml's istiod-vs). */
export function istiodVirtualService(o: {ew: EastWestGateway; istioNamespace: string; istiodService: string; clusterDomain: string; version: string}): KubeObject {
  const host = `${o.istiodService}.${o.istioNamespace}.svc.${o.clusterDomain}`
  const route = (port: number, to: number) => ({match: [{port, sniHosts: ['*']}], route: [{destination: {host, port: {number: to}}}]})
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
    metadata: {name: ISTIOD_GATEWAY, namespace: o.ew.namespace, ...stamp(o.version)},
    spec: {hosts: ['*'], gateways: [ISTIOD_GATEWAY], tls: [route(ISTIOD_XDS_PORT, ISTIOD_XDS_PORT), route(ISTIOD_WEBHOOK_PORT, ISTIOD_WEBHOOK_SERVICE_PORT)]},
  }
}

export interface IstiodExposurePlan {
  /** The edit of PRIMARY's Gateway kubectl-mesh-istiod. */
  gatewayEdit: Edit
  /** The edit of its VirtualService (applied after the Gateway's; deleted with it). */
  virtualServiceEdit: Edit
  /** What the edits give for the objects as read (undefined: no write; null: deleted). */
  planned: {gateway: KubeObject | null | undefined; virtualService: KubeObject | null | undefined}
  /** Another Gateway already passes istiod's ports through: nothing is written. */
  coveredBy?: KubeObject
  /** Why istiod cannot be exposed (no east-west gateway to select). */
  problem?: string
}

/** The edit that drops `remoteId` from our istiod Gateway (deleted when no remote is left). */
export function dropIstiodExposure(remoteId: string): Edit {
  return dropExposure(remoteId)
}

/**
 * The remote-profile cluster `remoteId` reaches PRIMARY's istiod through PRIMARY's east-west
 * gateway when `want` (its network differs): its ID is added to our Gateway kubectl-mesh-istiod
 * (with its VirtualService), unless another Gateway already passes 15012 and 15017 through.
 * Otherwise its ID is dropped, and both objects deleted when no remote is left.
 */
export function planIstiodExposure(primary: Pick<LinkFacts, 'context' | 'ewGateway' | 'clusterDomain' | 'gateways' | 'istioNamespace' | 'istiodService'> & {virtualService?: KubeObject}, remoteId: string, want: boolean, version: string): IstiodExposurePlan {
  const ew = primary.ewGateway
  const ours = (primary.gateways ?? []).find((g) => g.metadata.name === ISTIOD_GATEWAY && g.metadata.namespace === ew?.namespace)
  const drop = dropIstiodExposure(remoteId)
  if (!want) {
    // the VirtualService goes only with the Gateway (writeIstiodExposure deletes it then)
    const g = drop(ours)
    return {gatewayEdit: drop, virtualServiceEdit: () => undefined, planned: {gateway: g, virtualService: g === null ? null : undefined}}
  }
  if (!ew || Object.keys(ew.selector).length === 0) {
    const none: Edit = () => undefined
    return {gatewayEdit: none, virtualServiceEdit: none, planned: {gateway: undefined, virtualService: undefined}, problem: `context "${primary.context}" has no east-west gateway Service with a pod selector, so its istiod cannot be passed through to a remote network`}
  }
  const coveredBy = exposedFor(ours).includes(remoteId) ? undefined : (primary.gateways ?? []).find((g) => g !== ours && passesIstiod(g, ew))
  if (coveredBy) {
    const none: Edit = () => undefined
    return {gatewayEdit: none, virtualServiceEdit: none, planned: {gateway: undefined, virtualService: undefined}, coveredBy}
  }
  const add: Edit = (live) => istiodGateway({ew, ids: [...(isManaged(live) ? exposedFor(live) : []), remoteId], version})
  const vs = istiodVirtualService({ew, istioNamespace: primary.istioNamespace, istiodService: primary.istiodService, clusterDomain: primary.clusterDomain, version})
  return {gatewayEdit: add, virtualServiceEdit: () => vs, planned: {gateway: add(ours), virtualService: vs}}
}

/** The IDs an Istio namespace's topology.istio.io/controlPlaneClusters names (`*`: every cluster). */
export function controlPlaneClusters(ns: KubeObject | undefined): string[] {
  return (ns?.metadata.annotations?.[CONTROL_PLANE_CLUSTERS_ANNOTATION] ?? '').split(',').map((x) => x.trim()).filter(Boolean)
}

/** The annotation's value with `primaryId` added (undefined: already named, or `*`). */
export function withControlPlane(ns: KubeObject | undefined, primaryId: string): string | undefined {
  const ids = controlPlaneClusters(ns)
  if (ids.includes(primaryId) || ids.includes('*')) return undefined
  return [...ids, primaryId].join(',')
}

/** The annotation's value with `primaryId` removed (null: the annotation goes; undefined: it does not name it). */
export function withoutControlPlane(ns: KubeObject | undefined, primaryId: string): string | null | undefined {
  const ids = controlPlaneClusters(ns)
  if (!ids.includes(primaryId)) return undefined
  const left = ids.filter((x) => x !== primaryId)
  return left.length === 0 ? null : left.join(',')
}
