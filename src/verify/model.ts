// Pure derivations from the collected facts: identity, gateways, remote secrets, trust roots.
import type {KubeObject} from '../kube/resources.ts'
import {CACERTS_SECRET, CROSS_NETWORK_PORT, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import type {RevisionNames} from '../istio/revision.ts'
import {revisionOf} from '../cluster/snapshot.ts'
import {load} from 'js-yaml'
import {type EastWestGateway, eastWestGateways as rankedGateways, exportedHost, registryServiceGateways, serviceFqdn} from '../istio/gateway.ts'
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
  return rankedGateways(f.lists.Service ?? [], id.network, {nodes: f.lists.Node, kubeGateways: f.lists.KubeGateway})
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
