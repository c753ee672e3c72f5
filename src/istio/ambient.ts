// Ambient meshes (ztunnel, no sidecars) over several networks, as istiod runs them with
// AMBIENT_ENABLE_MULTI_NETWORK=true (Istio 1.29+; pinned 1.31 at eed52ebb66ad). Pure rules, each
// citing the istiod code it mirrors (paths inside the istio.io/istio module):
//
// - which data plane a cluster runs: the ztunnel DaemonSet, istiod's PILOT_ENABLE_AMBIENT, the
//   ambient profile's values, namespaces labelled istio.io/dataplane-mode=ambient;
// - the east-west gateway of an ambient mesh: a Gateway API Gateway of class istio-east-west with
//   the network label and an HBONE listener on 15008 with TLS mode Terminate; remote istiods use
//   the addresses in its status (pilot/pkg/serviceregistry/ambient/networks.go
//   remoteK8sGatewayToNetworkGateways);
// - which Services cross clusters: the mesh config's serviceScopeConfigs, judged by EACH istiod
//   with its OWN mesh config, for its own and for remote clusters' Services
//   (pilot/pkg/serviceregistry/ambient/services.go serviceServiceBuilder: a remote Service that is
//   not GLOBAL by the local mesh config is dropped; matchServiceScope: the first entry whose
//   namespace and service selectors both match decides, empty selectors match everything; default
//   LOCAL). The exporting cluster's own istiod must judge it GLOBAL too: its east-west gateway
//   serves only its network's GLOBAL services (ambientindex.go AllLocalNetworkGlobalServices).
import type {KubeObject} from '../kube/resources.ts'
import {istiodEnv} from './install.ts'
import {
  AMBIENT_ENV, AMBIENT_EASTWEST_GATEWAY, DATAPLANE_MODE_LABEL, EASTWEST_GATEWAY_CLASS, GLOBAL_SERVICE_LABEL, GLOBAL_SERVICE_VALUE, HBONE_PORT, MULTI_NETWORK_ENV,
  NETWORK_LABEL, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL,
} from './names.ts'

// Names and labels: src/istio/names.ts ("ambient"). Re-exported for src/link/ and src/verify/check.ts,
// which import them from here.
export {
  AMBIENT_EASTWEST_GATEWAY, GATEWAY_MANAGED_LABEL, HBONE_PORT, SERVICE_SCOPE_OWNED_ANNOTATION, WAYPOINT_MANAGED_VALUE,
} from './names.ts'

export type MeshKind = 'ambient' | 'sidecar' | 'none'

export interface AmbientInputs {
  istiod?: KubeObject | null
  /** The install's Helm values (src/istio/install.ts installValues). */
  values?: any
  /** DaemonSets of the Istio namespace. */
  daemonSets?: KubeObject[]
  /** Every Namespace (or those labelled for ambient). */
  namespaces?: KubeObject[]
}

export interface AmbientFacts {
  kind: MeshKind
  /** The ztunnel DaemonSet (namespace/name) when there is one. */
  ztunnel?: string
  /** istiod's PILOT_ENABLE_AMBIENT, or the values' profile ambient. */
  ambientProfile: boolean
  /** istiod's AMBIENT_ENABLE_MULTI_NETWORK is true. */
  multiNetwork: boolean
  /** Namespaces labelled istio.io/dataplane-mode=ambient, sorted. */
  ambientNamespaces: string[]
  /** Why the kind was decided so (one line). */
  evidence: string
}

const truthy = (v: unknown) => v === true || v === 'true' || v === 'True' || v === '1'

/** The data plane a cluster runs, from its objects (pure). */
export function ambientFacts(i: AmbientInputs): AmbientFacts {
  const env = istiodEnv(i.istiod)
  const zt = (i.daemonSets ?? []).find((d) => d.metadata.name === 'ztunnel' || d.spec?.template?.metadata?.labels?.app === 'ztunnel')
  const ambientProfile = truthy(env[AMBIENT_ENV]) || i.values?.profile === 'ambient' || truthy(i.values?.pilot?.env?.[AMBIENT_ENV])
  const multiNetwork = truthy(env[MULTI_NETWORK_ENV]) || (!i.istiod && truthy(i.values?.pilot?.env?.[MULTI_NETWORK_ENV]))
  const ambientNamespaces = (i.namespaces ?? []).filter((n) => n.metadata.labels?.[DATAPLANE_MODE_LABEL] === 'ambient').map((n) => n.metadata.name).sort()
  const why: string[] = []
  if (zt) why.push(`DaemonSet ${zt.metadata.namespace}/${zt.metadata.name}`)
  if (ambientProfile) why.push('ambient profile')
  if (ambientNamespaces.length > 0) why.push(`${ambientNamespaces.length} namespace${ambientNamespaces.length === 1 ? '' : 's'} labelled ${DATAPLANE_MODE_LABEL}=ambient`)
  const ambient = Boolean(zt) || ambientProfile
  return {
    kind: ambient ? 'ambient' : i.istiod || i.values ? 'sidecar' : 'none',
    ...(zt ? {ztunnel: `${zt.metadata.namespace}/${zt.metadata.name}`} : {}),
    ambientProfile, multiNetwork, ambientNamespaces,
    evidence: ambient ? why.join(', ') : i.istiod || i.values ? 'no ztunnel, no ambient profile' : 'no istiod',
  }
}

/** One line naming the mesh kind, as every command says it. */
export function meshKindLine(context: string, f: AmbientFacts): string {
  if (f.kind === 'ambient') return `context "${context}": ambient mesh (${f.evidence}); multi-network ${f.multiNetwork ? 'on' : 'off'} (istiod ${MULTI_NETWORK_ENV})`
  if (f.kind === 'sidecar') return `context "${context}": sidecar mesh (${f.evidence})`
  return `context "${context}": no Istio control plane found`
}

/** The exact fix when istiod's multi-network flag is off. */
export function multiNetworkFix(context: string, istioNamespace: string, istiodName = 'istiod'): string {
  return `kubectl --context ${context} -n ${istioNamespace} set env deployment/${istiodName} ${MULTI_NETWORK_ENV}=true (or install with --set values.pilot.env.${MULTI_NETWORK_ENV}=true)`
}

// ---- the east-west Gateway -------------------------------------------------------------------

export interface AmbientGateway {
  gateway: KubeObject
  ref: string
  network?: string
  /** status.addresses (IPAddress or Hostname): what remote istiods use. */
  addresses: string[]
  /** An HBONE listener with TLS mode Terminate (networks.go: only those count). */
  hbone: boolean
  /** That listener's port (15008 as Istio renders it). */
  hbonePort?: number
  /** Condition Programmed is True. */
  programmed: boolean
  /** Condition Programmed's reason and message when it is not True (e.g. AddressNotAssigned). */
  notProgrammed?: {reason: string; message: string}
}

/** An istio-east-west Gateway as remote istiods read it (networks.go remoteK8sGatewayToNetworkGateways). */
export function describeAmbientGateway(gw: KubeObject): AmbientGateway {
  const listeners: any[] = gw.spec?.listeners ?? []
  const l = listeners.find((x) => x?.protocol === 'HBONE' && x?.tls?.mode === 'Terminate')
  const addresses = ((gw.status?.addresses ?? []) as Array<{type?: string; value?: string}>)
    .filter((a) => (a.type === 'IPAddress' || a.type === 'Hostname') && a.value).map((a) => String(a.value))
  const conds: Array<{type: string; status: string; reason?: string; message?: string}> = gw.status?.conditions ?? []
  const p = conds.find((c) => c.type === 'Programmed')
  return {
    gateway: gw, ref: `${gw.metadata.namespace}/${gw.metadata.name}`, network: gw.metadata.labels?.[NETWORK_LABEL] || undefined,
    addresses: [...new Set(addresses)], hbone: Boolean(l), ...(l ? {hbonePort: Number(l.port)} : {}),
    programmed: p?.status === 'True',
    ...(p && p.status !== 'True' ? {notProgrammed: {reason: p.reason ?? '', message: p.message ?? ''}} : {}),
  }
}

/**
 * The addresses in the Gateway's status that only work inside its own cluster: its Service's
 * ClusterIPs and in-cluster host name. istiod reports them when the Service has no external
 * address (pilot/pkg/config/kube/gateway/conversion.go reportGatewayStatus: no external address →
 * the internal IPs, and the host name unless the LoadBalancer address is pending), and remote
 * istiods send ztunnels to them all the same (networks.go remoteK8sGatewayToNetworkGateways).
 * The deployment controller names the Service after the Gateway (class istio-east-west: no suffix).
 */
export function inClusterAddresses(g: AmbientGateway, services: KubeObject[], clusterDomain: string): {inCluster: string[]; service?: KubeObject} {
  const {name, namespace} = g.gateway.metadata
  const service = services.find((s) => s.metadata.name === name && s.metadata.namespace === namespace)
  const own = new Set<string>([`${name}.${namespace}.svc.${clusterDomain}`, ...(service?.spec?.clusterIPs ?? []), ...(service?.spec?.clusterIP ? [service.spec.clusterIP] : [])])
  return {inCluster: g.addresses.filter((a) => own.has(a)), ...(service ? {service} : {})}
}

/** The istio-east-west Gateways among Gateway API Gateways, on `network` first, then with addresses, then by name. */
export function ambientGateways(kubeGateways: KubeObject[], network?: string): AmbientGateway[] {
  const score = (g: AmbientGateway) => (network && g.network === network ? 4 : 0) + (g.addresses.length > 0 ? 2 : 0) + (g.hbone ? 1 : 0)
  return kubeGateways.filter((g) => g.spec?.gatewayClassName === EASTWEST_GATEWAY_CLASS).map(describeAmbientGateway)
    .sort((a, b) => score(b) - score(a) || a.ref.localeCompare(b.ref))
}

/** The east-west Gateway as `samples/multicluster/gen-eastwest-gateway.sh --ambient --network NETWORK` prints it. */
export function ambientEastWestGateway(network: string, istioNamespace: string, stampLabels: Record<string, string> = {}, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
    metadata: {name: AMBIENT_EASTWEST_GATEWAY, namespace: istioNamespace, labels: {...stampLabels, [NETWORK_LABEL]: network}, ...(Object.keys(annotations).length > 0 ? {annotations} : {})},
    spec: {
      gatewayClassName: EASTWEST_GATEWAY_CLASS,
      listeners: [{name: 'mesh', port: HBONE_PORT, protocol: 'HBONE', tls: {mode: 'Terminate', options: {'gateway.istio.io/tls-terminate-mode': 'ISTIO_MUTUAL'}}}],
    },
  }
}

/**
 * A gateway Service that listens on HBONE 15008 but not on the sidecar's mTLS port (15443 or its
 * gatewayPort label): istiod hands it to sidecars of other networks as their network gateway
 * although it cannot take their 15443 traffic (istio/istio#57878).
 */
export function ambientOnlyService(svc: KubeObject, mtlsPort: number): boolean {
  const ports: Array<{port: number}> = svc.spec?.ports ?? []
  return ports.some((p) => p.port === HBONE_PORT) && !ports.some((p) => p.port === mtlsPort)
}

// ---- serviceScopeConfigs --------------------------------------------------------------------

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: Array<{key: string; operator: string; values?: string[]}>
}

export interface ServiceScopeConfig {
  namespaceSelector?: LabelSelector
  servicesSelector?: LabelSelector
  scope?: string
}

/** kubectl-mesh's entry: GLOBAL for Services labelled istio.io/global=true, in any namespace. */
export function globalScopeEntry(): ServiceScopeConfig {
  return {servicesSelector: {matchExpressions: [{key: GLOBAL_SERVICE_LABEL, operator: 'In', values: [GLOBAL_SERVICE_VALUE]}]}, scope: 'GLOBAL'}
}

const canon = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x))

/** Is this entry kubectl-mesh's (equal to globalScopeEntry)? */
export function isGlobalScopeEntry(e: unknown): boolean {
  return canon(e) === canon(globalScopeEntry())
}

/** The mesh config with kubectl-mesh's entry appended when missing (every other entry kept, in order). */
export function withGlobalScope(mesh: any): any {
  const out = mesh && typeof mesh === 'object' ? {...mesh} : {}
  const list: unknown[] = Array.isArray(out.serviceScopeConfigs) ? [...out.serviceScopeConfigs] : []
  if (!list.some(isGlobalScopeEntry)) list.push(globalScopeEntry())
  out.serviceScopeConfigs = list
  return out
}

/** The mesh config without kubectl-mesh's entry (the key dropped when nothing else is left). */
export function withoutGlobalScope(mesh: any): any {
  if (!mesh || typeof mesh !== 'object' || !Array.isArray(mesh.serviceScopeConfigs)) return mesh
  const list = mesh.serviceScopeConfigs.filter((e: unknown) => !isGlobalScopeEntry(e))
  const out = {...mesh}
  if (list.length > 0) out.serviceScopeConfigs = list
  else delete out.serviceScopeConfigs
  return out
}

/** A Kubernetes label selector against labels (LabelSelectorAsSelector; an empty selector matches everything, as istiod treats Nothing). */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key)
    const vals = e.values ?? []
    switch (e.operator) {
      case 'In': if (!has || !vals.includes(labels[e.key])) return false; break
      case 'NotIn': if (has && vals.includes(labels[e.key])) return false; break
      case 'Exists': if (!has) return false; break
      case 'DoesNotExist': if (has) return false; break
      default: return false
    }
  }
  return true
}

/** GLOBAL or LOCAL, as matchServiceScope decides for a Service with these labels in a namespace with these labels. */
export function serviceScope(mesh: any, namespaceLabels: Record<string, string>, serviceLabels: Record<string, string>): 'GLOBAL' | 'LOCAL' {
  const list: ServiceScopeConfig[] = Array.isArray(mesh?.serviceScopeConfigs) ? mesh.serviceScopeConfigs : []
  for (const c of list) {
    if (selectorMatches(c.namespaceSelector, namespaceLabels) && selectorMatches(c.servicesSelector, serviceLabels) && c.scope === 'GLOBAL') return 'GLOBAL'
  }
  return 'LOCAL'
}

/** The waypoint a Service uses (its own istio.io/use-waypoint label, else its namespace's), as namespace/name; undefined: none or `none`. */
export function waypointOf(svc: KubeObject, namespace: KubeObject | undefined): {namespace: string; name: string} | undefined {
  const own = svc.metadata.labels?.[USE_WAYPOINT_LABEL]
  const name = own ?? namespace?.metadata.labels?.[USE_WAYPOINT_LABEL]
  if (!name || name === 'none') return undefined
  const ns = (own ? svc.metadata.labels?.[USE_WAYPOINT_NAMESPACE_LABEL] : namespace?.metadata.labels?.[USE_WAYPOINT_NAMESPACE_LABEL]) ?? svc.metadata.namespace ?? ''
  return {namespace: ns, name}
}
