// Reading one cluster's facts for `cluster link`: identity (cluster ID, network, mesh ID), trust
// (root fingerprint), the east-west gateway, the reader account objects and the remote secrets.
// The pure extractors are exported for the unit tests; readClusterFacts does the reads (the run's lists).
import {readFileSync} from 'node:fs'
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import type {KubeObject} from '../kube/resources.ts'
import {RESOURCES} from '../kube/resources.ts'
import {ANCHOR_FOR_LABEL, CACERTS_SECRET, DATAPLANE_MODE_LABEL, MULTICLUSTER_LABEL, NETWORK_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, readerClusterRole, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {type EastWestGateway, eastWestGateway, type GatewayInputs, type GatewayShape, needsKubeGateways, needsNodes} from '../istio/gateway.ts'
import {type ClusterIdSource, installFacts, installValues, type NetworkSource, parsedKey} from '../istio/install.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, revisionNames} from '../istio/revision.ts'
import {ambientFacts, ambientGateways} from '../istio/ambient.ts'
import type {AmbientRead} from '../istio/ambient-read.ts'
import {allInOrder} from '../settle.ts'
import {trustRoots} from '../cluster/trust.ts'
import {RunLists} from '../cluster/snapshot.ts'


export interface Gateway {
  address: string
  port: number
}

export interface GatewayInfo {
  /** namespace/name of the Service */
  service: string
  address?: string
  port: number
  /** the network label on the Service, if any */
  network?: string
  /** How istiod learns its address (src/istio/gateway.ts) and every address × port it uses (NodePort: each node's ExternalIP × the nodePort). */
  shape?: GatewayShape
  targets?: Gateway[]
  /** Why istiod ignores it, in istiod's words. */
  skipped?: string
}

export interface LinkFacts {
  context: string
  istioNamespace: string
  /** The API server address and CA of the context, as the kubeconfig has them. */
  server: string
  tlsServerName?: string
  caData?: string
  namespaceExists: boolean
  clusterId?: string
  clusterIdSource?: ClusterIdSource
  network?: string
  networkSource?: NetworkSource
  meshId?: string
  /** The roots the cluster trusts (src/cluster/trust.ts: istio-ca-root-cert, else cacerts; every certificate of the bundle), SHA-256 AA:BB:… */
  rootFingerprints?: string[]
  rootSource?: 'cacerts' | 'istio-ca-root-cert'
  gateway?: GatewayInfo
  /** The east-west gateway as the read model has it (src/istio/gateway.ts). */
  ewGateway?: EastWestGateway
  /** The cluster DNS domain (src/istio/install.ts). */
  clusterDomain: string
  /** Every Service of the cluster and its Nodes when read (a peer's meshNetworks registryServiceName gateway is one of them). */
  services?: KubeObject[]
  nodes?: KubeObject[]
  /** Every Gateway (networking.istio.io) of the cluster; undefined when Istio's CRDs are not served. */
  gateways?: KubeObject[]
  /** The Istio revision whose objects are read and written (src/istio/revision.ts), and the others that run here. */
  revision: string
  otherRevisions: string[]
  /** The name of that revision's mesh ConfigMap (`istio`, or `istio-<revision>`): meshNetworks lives there. */
  meshConfigMapName: string
  /** That ConfigMap. */
  meshConfigMap?: KubeObject
  /** Reader account objects, as they are now (undefined: missing). */
  serviceAccount?: KubeObject
  clusterRole?: KubeObject
  clusterRoleBinding?: KubeObject
  tokenSecret?: KubeObject
  /** Secrets labelled istio/multiCluster=true in the Istio namespace. */
  remoteSecrets: KubeObject[]
  /** Every Secret of the Istio namespace (unlink deletes istio-remote-secret-<ID> whoever made it). */
  secrets?: KubeObject[]
  /** Istio's `remote` profile: no istiod here, its control plane runs in a primary (src/istio/install.ts). */
  remoteProfile?: boolean
  /** A remote-profile install's global.remotePilotAddress. */
  remotePilotAddress?: string
  /** The name of the revision's istiod Service (`istiod[-rev]`): what a primary's istiod exposure routes to. */
  istiodService: string
  /** With want.tokens: the anchor Secrets of bound link tokens (label kubectl-mesh/anchor-for) in the Istio namespace. */
  anchors?: KubeObject[]
  /** With want.tokens: the API server's CA as pods see it (ConfigMap kube-root-ca.crt in the Istio namespace), base64. */
  podCaData?: string
  /** The Istio namespace as read (its annotations: topology.istio.io/controlPlaneClusters). */
  namespace?: KubeObject
  /** With want.kubeGateways: every Gateway API Gateway (undefined: the kind is not served here). */
  kubeGateways?: KubeObject[]
  /** The ambient data plane as src/istio/ambient.ts reads it (from the same lists; readClusterFacts always sets it). */
  ambient?: AmbientRead
}

/** The facts that need no API call: what the kubeconfig says about the context's server. */
export function kubeconfigFacts(client: KubeClient): Pick<LinkFacts, 'server' | 'tlsServerName' | 'caData'> {
  const c = client.ref.cluster
  let caData = c['certificate-authority-data']
  if (!caData && c['certificate-authority']) {
    try {
      caData = readFileSync(c['certificate-authority']).toString('base64')
    } catch {
      caData = undefined
    }
  }
  return {server: c.server, tlsServerName: c['tls-server-name'], caData}
}

/** Derive identity and trust from the raw objects (pure): identity from the read model (src/istio/install.ts). */
export function deriveFacts(raw: {
  namespace?: KubeObject
  istiod?: KubeObject
  injector?: KubeObject
  values?: KubeObject
  cacerts?: KubeObject
  rootCertConfigMap?: KubeObject
  meshConfigMap?: KubeObject
  services: KubeObject[]
  gatewayInputs?: GatewayInputs
}): Pick<LinkFacts, 'clusterId' | 'clusterIdSource' | 'network' | 'networkSource' | 'meshId' | 'rootFingerprints' | 'rootSource' | 'gateway' | 'ewGateway' | 'clusterDomain' | 'remoteProfile' | 'remotePilotAddress'> {
  const install = installFacts(raw)
  const out: ReturnType<typeof deriveFacts> = {
    remoteProfile: install.remoteProfile, remotePilotAddress: install.remotePilotAddress,
    clusterId: install.clusterId, clusterIdSource: install.clusterIdSource,
    network: install.network, networkSource: install.networkSource, meshId: install.meshId, clusterDomain: install.clusterDomain,
  }
  const trust = trustRoots({istioNamespace: raw.namespace?.metadata.name ?? '', cacerts: raw.cacerts, rootCertConfigMap: raw.rootCertConfigMap})
  if (trust) Object.assign(out, {rootFingerprints: trust.roots.map((r) => r.fingerprint256), rootSource: trust.source})
  out.ewGateway = eastWestGateway(raw.services, out.network, raw.gatewayInputs)
  const ew = out.ewGateway
  out.gateway = ew && {service: ew.ref, address: ew.targets[0]?.address, port: ew.targets[0]?.port ?? ew.port, network: ew.network, shape: ew.shape,
    targets: ew.targets.map((t) => ({address: t.address, port: t.port})), skipped: ew.skipped}
  return out
}

/** What readClusterFacts reads beyond identity, gateways, reader objects and remote secrets. */
export interface FactsWant {
  /** The token anchors and the pods' API server CA (--token-ttl, rotate-credentials). */
  tokens?: boolean
  /** The Gateway API Gateways of the cluster (an istio-remote Gateway link writes there; the kind served or not). */
  kubeGateways?: boolean
}

const orUndefined = (p: Promise<KubeObject[]>): Promise<KubeObject[] | undefined> =>
  p.catch((error) => (error instanceof ApiError && [403, 404].includes(error.status) ? undefined : Promise.reject(error)))

/**
 * One cluster as `cluster link` needs it, through the run's lists (src/cluster/snapshot.ts
 * RunLists): each kind listed once per run (Namespaces, the Istio namespace's Secrets, ConfigMaps,
 * Deployments, ServiceAccounts and DaemonSets, every Service and Gateway, the ClusterRoles and
 * bindings; Nodes and Gateway API Gateways only when needed), shared with the other steps of an
 * `apply -f` and with its verify. A standalone link passes a fresh RunLists.
 */
export async function readClusterFacts(client: KubeClient, istioNamespace: string, want: FactsWant = {}, lists: RunLists = new RunLists()): Promise<LinkFacts> {
  const ns = istioNamespace
  const inNs = (kind: 'Secret' | 'ConfigMap' | 'Deployment' | 'ServiceAccount' | 'DaemonSet') => lists.list(client, kind, ns)
  // In this order the first refusal is named on every run (allInOrder): a context allowed to view
  // (no secrets, no clusterroles) is told about the Secrets.
  const [namespaces, secrets, configMaps, deployments, allServices, serviceAccounts, gatewayList, daemonSets] = await allInOrder([
    lists.list(client, 'Namespace'),
    inNs('Secret'),
    inNs('ConfigMap'),
    inNs('Deployment'),
    lists.list(client, 'Service'),
    inNs('ServiceAccount'),
    // every namespace: a Gateway anywhere applies to the east-west gateway's pods
    lists.list(client, 'Gateway').catch((error) => (error instanceof ApiError && error.status === 404 ? undefined : Promise.reject(error))),
    inNs('DaemonSet').catch((error) => (error instanceof ApiError && error.status === 404 ? [] : Promise.reject(error))),
  ])
  const named = (list: KubeObject[], name: string) => list.find((o) => o.metadata.name === name)
  const namespace = namespaces.find((n) => n.metadata.name === ns)
  const rev = chooseRevision(deployments.filter((d) => `app=${d.metadata.labels?.app}` === ISTIOD_APP_SELECTOR), ns)
  const names = rev.names
  const injector = named(configMaps, names.injectorConfigMap)
  const values = named(configMaps, names.valuesConfigMap)
  const meshConfigMap = named(configMaps, names.meshConfigMap)
  // A reader ClusterRole/binding with the plain name (one kubectl-mesh made earlier) still counts when the revision has none.
  const reader = async (kind: 'ClusterRole' | 'ClusterRoleBinding') =>
    await lists.find(client, kind, undefined, names.readerClusterRole) ?? await lists.find(client, kind, undefined, readerClusterRole(ns))
  const [clusterRole, clusterRoleBinding] = await allInOrder([reader('ClusterRole'), reader('ClusterRoleBinding')])
  const services = allServices.filter((s) => s.metadata.namespace === ns)
  const networkLabel = namespace?.metadata.labels?.[NETWORK_LABEL]
  // the ambient data plane (src/istio/ambient.ts): its facts need no more; its Gateways only for an ambient cluster
  const ambientNamespaces = namespaces.filter((n) => n.metadata.labels?.[DATAPLANE_MODE_LABEL] === 'ambient')
  const ambFacts = ambientFacts({istiod: rev.istiod, values: installValues({injector}), daemonSets, namespaces: ambientNamespaces})
  const kubeGateways = ambFacts.kind === 'ambient' || want.kubeGateways || needsKubeGateways(services, networkLabel) ? await orUndefined(lists.list(client, 'KubeGateway')) : undefined
  const nodes = needsNodes(services) ? await orUndefined(lists.list(client, 'Node')) : undefined
  const kubeRootCa = want.tokens ? named(configMaps, 'kube-root-ca.crt') : undefined
  const deployed = rev.istiod ? names : revisionNames(DEFAULT_REVISION, ns)
  const ambientMesh = named(configMaps, deployed.meshConfigMap)
  const ambientNetwork = networkLabel || installValues({injector: named(configMaps, deployed.injectorConfigMap)})?.global?.network || undefined
  const nsGateways = (kubeGateways ?? []).filter((g) => g.metadata.namespace === ns)
  const ambient: AmbientRead = {
    context: client.context, istioNamespace: ns, facts: ambFacts, istiod: rev.istiod,
    meshConfigMapName: deployed.meshConfigMap, meshConfigMap: ambientMesh, mesh: parsedKey(ambientMesh, 'mesh'), network: ambientNetwork,
    gateways: ambientGateways(nsGateways, ambientNetwork), kubeGateways: nsGateways,
  }
  const typed = (o: KubeObject | undefined, type: {apiVersion: string; kind: string}) => o && withType(o, type)
  return {
    context: client.context,
    istioNamespace: ns,
    ...kubeconfigFacts(client),
    namespaceExists: Boolean(namespace),
    ...deriveFacts({namespace, istiod: rev.istiod, injector, values, cacerts: named(secrets, CACERTS_SECRET), rootCertConfigMap: named(configMaps, ROOT_CERT_CONFIGMAP), meshConfigMap, services,
      gatewayInputs: {nodes, kubeGateways}}),
    services: allServices,
    nodes,
    namespace: typed(namespace, RESOURCES.Namespace),
    istiodService: names.istiod,
    revision: names.revision,
    otherRevisions: rev.others,
    meshConfigMapName: names.meshConfigMap,
    meshConfigMap,
    serviceAccount: typed(named(serviceAccounts, READER_SERVICE_ACCOUNT), RESOURCES.ServiceAccount),
    clusterRole: typed(clusterRole, RESOURCES.ClusterRole),
    clusterRoleBinding: typed(clusterRoleBinding, RESOURCES.ClusterRoleBinding),
    tokenSecret: typed(named(secrets, READER_TOKEN_SECRET), RESOURCES.Secret),
    remoteSecrets: secrets.filter((s) => s.metadata.labels?.[MULTICLUSTER_LABEL] === 'true').map((s) => withType(s, RESOURCES.Secret)),
    secrets,
    gateways: gatewayList?.map((g) => withType(g, RESOURCES.Gateway)),
    kubeGateways: want.kubeGateways ? kubeGateways?.map((g) => withType(g, RESOURCES.KubeGateway)) : undefined,
    ambient,
    ...(want.tokens ? {anchors: secrets.filter((s) => s.metadata.labels?.[ANCHOR_FOR_LABEL] !== undefined).map((s) => withType(s, RESOURCES.Secret)),
      podCaData: kubeRootCa?.data?.['ca.crt'] ? Buffer.from(kubeRootCa.data['ca.crt'], 'utf8').toString('base64') : undefined} : {}),
  }
}

function withType(obj: KubeObject, type: {apiVersion: string; kind: string}): KubeObject {
  return {...obj, apiVersion: type.apiVersion, kind: type.kind}
}
