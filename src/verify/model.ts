// Pure derivations from the collected facts: identity, gateways, remote secrets, trust roots.
import type {KubeObject} from '../kube/resources.ts'
import {CACERTS_SECRET, CROSS_NETWORK_PORT, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import type {RevisionNames} from '../istio/revision.ts'
import {revisionOf} from '../cluster/snapshot.ts'
import {load} from 'js-yaml'
import {type EastWestGateway, eastWestGateways as rankedGateways, exportedHost, needsKubeGateways, registryServiceGateways, remoteGatewayDeclarations, serviceFqdn} from '../istio/gateway.ts'
import {installFacts, type InstallFacts} from '../istio/install.ts'
import {trustRoots, type TrustRoots} from '../cluster/trust.ts'
import type {ClusterFacts, ListedKind} from './types.ts'

function findIn(f: ClusterFacts, kind: ListedKind, namespace: string, name: string): KubeObject | null | undefined {
  const list = f.lists[kind]
  if (!list) return undefined
  return list.find((o) => o.metadata.name === name && (o.metadata.namespace ?? '') === namespace) ?? null
}

/** undefined: not readable; null: absent. */
export const istioNamespace = (f: ClusterFacts) => findIn(f, 'Namespace', '', f.istioNamespace)
export const cacertsSecret = (f: ClusterFacts) => findIn(f, 'Secret', f.istioNamespace, CACERTS_SECRET)
export const rootCertConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, ROOT_CERT_CONFIGMAP)
/** The names of the Istio revision verify reads (src/istio/revision.ts): from the istiod Deployments listed. */
export const istioNames = (f: ClusterFacts): RevisionNames => revisionOf(f)
export const meshConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, istioNames(f).meshConfigMap)
export const injectorConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, istioNames(f).injectorConfigMap)
export const istiodDeployment = (f: ClusterFacts) => findIn(f, 'Deployment', f.istioNamespace, istioNames(f).istiod)
/** The install's values ConfigMap (`values[-rev]`): what a remote-profile install has instead of an injector. */
export const valuesConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, istioNames(f).valuesConfigMap)

export interface Identity {
  clusterId?: string
  /** Where clusterId came from. */
  idSource?: string
  envClusterId?: string
  injectorClusterId?: string
  nsNetwork?: string
  injectorNetwork?: string
  network?: string
  meshId?: string
  istioVersion?: string
  /** The cluster DNS domain (verify --cluster-domain, else the install's, else cluster.local). */
  clusterDomain: string
  /** The read model's facts (src/istio/install.ts). */
  install: InstallFacts
  /** Whether the facts needed were readable at all. */
  istiodReadable: boolean
  injectorReadable: boolean
}

const ID_SOURCES = {istiod: 'istiod CLUSTER_ID', injector: 'injector values global.multiCluster.clusterName', values: 'values global.multiCluster.clusterName'} as const

/** The cluster's identity from the read model (src/istio/install.ts); CheckContext computes it once per cluster. */
export function identity(f: ClusterFacts, overrides: {clusterDomain?: string} = {}): Identity {
  const dep = istiodDeployment(f)
  const inj = injectorConfigMap(f)
  const install = installFacts({namespace: istioNamespace(f), istiod: dep, injector: inj, values: valuesConfigMap(f), meshConfigMap: meshConfigMap(f)}, overrides)
  let clusterId = install.clusterId
  let idSource: string | undefined = install.clusterIdSource && ID_SOURCES[install.clusterIdSource]
  if (!clusterId && f.source === 'remote-secret') {
    clusterId = f.name
    idSource = 'remote secret data key'
  }
  return {
    clusterId, idSource, envClusterId: install.istiodClusterId, injectorClusterId: install.valuesClusterId,
    nsNetwork: install.namespaceNetwork, injectorNetwork: install.valuesNetwork, network: install.network,
    meshId: install.meshId, istioVersion: install.version?.text, clusterDomain: install.clusterDomain, install,
    istiodReadable: dep !== undefined,
    injectorReadable: inj !== undefined,
  }
}

/** The east-west gateway candidates, ranked as every command ranks them (src/istio/gateway.ts); the first is the one link and import use. */
export function eastWestGateways(f: ClusterFacts, id: Identity): EastWestGateway[] {
  // Gateway API Gateways count as this cluster's gateway only where no Service is one istiod discovers
  // (the read lists them on every networked cluster for its istio-remote Gateways: remoteGateways)
  const services = f.lists.Service ?? []
  return rankedGateways(services, id.network, {nodes: f.lists.Node, kubeGateways: needsKubeGateways(services, id.network) ? f.lists.KubeGateway : undefined})
}

/**
 * The `istio-remote` Gateways of a cluster (src/istio/gateway.ts remoteGatewayDeclarations): the peer
 * networks' gateways its own istiod takes by address (network.go handleGatewayResource, config cluster
 * only). undefined: Gateway API Gateways not read.
 */
export function remoteGateways(f: ClusterFacts): EastWestGateway[] | undefined {
  return f.lists.KubeGateway ? remoteGatewayDeclarations(f.lists.KubeGateway) : undefined
}

/** What EAST's istio-remote Gateways mean for one cross-network link EAST → WEST (pure; links.istiod-gateways reports it). */
export type RemoteWiring =
  /** No istio-remote Gateway names WEST's network, and the link does not rely on one. */
  | {kind: 'none'}
  /** Gateways name WEST's network at WEST's gateway's current addresses (or WEST's gateway is unknown). */
  | {kind: 'ok'; gateways: EastWestGateway[]}
  /** A Gateway names an address WEST's gateway no longer has. */
  | {kind: 'moved'; gateway: EastWestGateway; stale: Array<{address: string; port: number}>}
  /** The link was made with --network-config gateway, EAST's istiod cannot discover WEST's gateway by its label, and no istio-remote Gateway names WEST's network. */
  | {kind: 'missing'}

/**
 * The state of the istio-remote wiring of a link (pure). `declarations`: EAST's istio-remote Gateways;
 * `network`: WEST's network; `current`: the (address, port) pairs of WEST's east-west gateway as istiod
 * would use them (hostnames resolved), empty when unknown; `needsNone`: the link needs no declaration
 * (EAST's istiod discovers WEST's gateway by its network label or a meshNetworks registryServiceName
 * entry, or WEST has no gateway for one to name); `wiring`: the link's --network-config.
 */
export function remoteWiring(o: {declarations: EastWestGateway[]; network: string; current: Array<{address: string; port: number}>; needsNone: boolean; wiring?: string; dns?: Record<string, string[]>}): RemoteWiring {
  const mine = o.declarations.filter((g) => g.network === o.network)
  if (mine.length === 0) return o.wiring === 'gateway' && !o.needsNone ? {kind: 'missing'} : {kind: 'none'}
  if (o.current.length > 0) {
    for (const g of mine) {
      const targets = g.targets.flatMap((t) => (t.hostname ? (o.dns?.[t.address] ?? []).map((address) => ({address, port: t.port})) : [{address: t.address, port: t.port}]))
      const stale = targets.filter((t) => !o.current.some((c) => c.address === t.address && c.port === t.port))
      if (stale.length > 0 || targets.length === 0) return {kind: 'moved', gateway: g, stale: stale.length > 0 ? stale : g.targets.map((t) => ({address: t.address, port: t.port}))}
    }
  }
  return {kind: 'ok', gateways: mine}
}

/** The cluster's meshNetworks (ConfigMap istio key meshNetworks), parsed; undefined: none, unreadable or not YAML (networks.mesh-networks says which). */
export function meshNetworksOf(f: ClusterFacts): unknown {
  const raw = meshConfigMap(f)?.data?.meshNetworks
  if (!raw) return undefined
  try {
    return load(raw)
  } catch {
    return undefined
  }
}

/** An istiod that may name a cluster's Services in its meshNetworks: its cluster's facts and istiod's domain suffix. */
export interface Discoverer {
  facts: ClusterFacts
  clusterDomain: string
}

/**
 * The Services of cluster `f` (registry `registry`, its cluster ID) that any discovering istiod's
 * meshNetworks names as a gateway by `registryServiceName`, resolved by the one reader
 * (src/istio/gateway.ts registryServiceGateways). Network-labelled Services are left out: istiod
 * takes them as label gateways (eastWestGateways has them). One per Service, the first naming wins.
 */
export function registryNamedGateways(f: ClusterFacts, registry: string, discoverers: Discoverer[]): EastWestGateway[] {
  const services = f.lists.Service ?? []
  const out: EastWestGateway[] = []
  for (const d of discoverers) {
    for (const r of registryServiceGateways(meshNetworksOf(d.facts), registry, services, d.clusterDomain, f.lists.Node ?? [])) {
      if (r.gateway?.registryServiceName && !out.some((g) => g.ref === r.gateway!.ref)) out.push(r.gateway)
    }
  }
  return out
}

/**
 * The candidates with the registryServiceName gateways merged in: the label-discovered ones first (as
 * ranked), then the named ones, which replace the same Service's unlabelled candidate, then the
 * other candidates. No named gateway: the candidates unchanged.
 */
export function withRegistryGateways(candidates: EastWestGateway[], named: EastWestGateway[]): EastWestGateway[] {
  if (named.length === 0) return candidates
  const rest = candidates.filter((g) => !named.some((n) => n.ref === g.ref && n.kind === g.kind))
  return [...rest.filter((g) => g.discovered), ...named, ...rest.filter((g) => !g.discovered)]
}

/**
 * With no east-west gateway found: a Service of the Istio namespace listening on the cross-network
 * port 15443 that nothing names (neither the network label nor a meshNetworks registryServiceName),
 * the Service a hint can tell the user to label. undefined: none.
 */
export function unnamedGatewayService(f: ClusterFacts): KubeObject | undefined {
  return (f.lists.Service ?? []).find((s) => s.metadata.namespace === f.istioNamespace && (s.spec?.ports ?? []).some((p: {port: number}) => p.port === CROSS_NETWORK_PORT))
}

/** The host an exported Service is passed through as: what export recorded, else its FQDN in the cluster's domain. */
export function exportedFqdn(svc: KubeObject, id: Identity): string {
  return exportedHost(svc, id.clusterDomain)
}

/** A Service's FQDN in the cluster's domain. */
export const fqdnIn = (id: Identity, name: string, ns: string) => serviceFqdn(name, ns, id.clusterDomain)

/** The roots the cluster trusts, by the one precedence of src/cluster/trust.ts. undefined: unknown. */
export function trustedRoots(f: ClusterFacts): TrustRoots | undefined {
  return trustRoots({istioNamespace: f.istioNamespace, cacerts: cacertsSecret(f), rootCertConfigMap: rootCertConfigMap(f)})
}
