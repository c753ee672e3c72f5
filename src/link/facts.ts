// Reading one cluster's facts for `cluster link`: identity (cluster ID, network, mesh ID), trust
// (root fingerprint), the east-west gateway, the reader account objects and the remote secrets.
// The pure extractors are exported for the unit tests; readClusterFacts does the GETs.
import {readFileSync} from 'node:fs'
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import type {KubeObject} from '../kube/resources.ts'
import {RESOURCES, resourcePath} from '../kube/resources.ts'
import {ANCHOR_FOR_LABEL, CACERTS_SECRET, MULTICLUSTER_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {type EastWestGateway, eastWestGateway} from '../istio/gateway.ts'
import {type ClusterIdSource, installFacts, type NetworkSource} from '../istio/install.ts'
import {readRevisioned} from '../istio/read.ts'
import {allInOrder} from '../settle.ts'
import {trustRoots} from '../cluster/trust.ts'


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
}): Pick<LinkFacts, 'clusterId' | 'clusterIdSource' | 'network' | 'networkSource' | 'meshId' | 'rootFingerprints' | 'rootSource' | 'gateway' | 'ewGateway' | 'clusterDomain' | 'remoteProfile' | 'remotePilotAddress'> {
  const install = installFacts(raw)
  const out: ReturnType<typeof deriveFacts> = {
    remoteProfile: install.remoteProfile, remotePilotAddress: install.remotePilotAddress,
    clusterId: install.clusterId, clusterIdSource: install.clusterIdSource,
    network: install.network, networkSource: install.networkSource, meshId: install.meshId, clusterDomain: install.clusterDomain,
  }
  const trust = trustRoots({istioNamespace: raw.namespace?.metadata.name ?? '', cacerts: raw.cacerts, rootCertConfigMap: raw.rootCertConfigMap})
  if (trust) Object.assign(out, {rootFingerprints: trust.roots.map((r) => r.fingerprint256), rootSource: trust.source})
  out.ewGateway = eastWestGateway(raw.services, out.network)
  out.gateway = out.ewGateway && {service: out.ewGateway.ref, address: out.ewGateway.addresses[0], port: out.ewGateway.port, network: out.ewGateway.network}
  return out
}

/** Every GET `cluster link` needs in one cluster, concurrently. */
export async function readClusterFacts(client: KubeClient, istioNamespace: string, want: {tokens?: boolean} = {}): Promise<LinkFacts> {
  const ns = istioNamespace
  const get = (type: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, namespaced = true) =>
    client.getOptional<KubeObject>(resourcePath(type, namespaced ? ns : undefined, name))
  const list = async (type: (typeof RESOURCES)[keyof typeof RESOURCES], labelSelector?: string) =>
    ((await client.get<{items?: KubeObject[]}>(resourcePath(type, ns), {labelSelector})).items ?? [])
  // In this order the first refusal is named on every run (allInOrder): a context allowed to view
  // (no secrets, no clusterroles) is told about the cacerts Secret.
  const [namespace, cacerts, rootCertConfigMap, {revision: rev, objects, plain}, services, serviceAccount, tokenSecret, remoteSecrets, gateways, anchors, kubeRootCa] = await allInOrder([
    get(RESOURCES.Namespace, ns, false),
    get(RESOURCES.Secret, CACERTS_SECRET),
    get(RESOURCES.ConfigMap, ROOT_CERT_CONFIGMAP),
    // the install's revision-named objects, in one round for a default install (src/istio/read.ts)
    readRevisioned(client, ns, ['injector', 'values', 'meshConfigMap', 'readerClusterRole', 'readerClusterRoleBinding'] as const),
    list(RESOURCES.Service),
    get(RESOURCES.ServiceAccount, READER_SERVICE_ACCOUNT),
    get(RESOURCES.Secret, READER_TOKEN_SECRET),
    list(RESOURCES.Secret, `${MULTICLUSTER_LABEL}=true`),
    // every namespace: a Gateway anywhere applies to the east-west gateway's pods
    client.get<{items?: KubeObject[]}>(resourcePath(RESOURCES.Gateway)).then((l) => (l.items ?? []).map((g) => withType(g, RESOURCES.Gateway)),
      (error) => (error instanceof ApiError && error.status === 404 ? undefined : Promise.reject(error))),
    // what planning a bound token needs (--token-ttl, rotate-credentials): read here, so the planner sends nothing
    want.tokens ? list(RESOURCES.Secret, ANCHOR_FOR_LABEL).then((l) => l.map((s) => withType(s, RESOURCES.Secret))) : undefined,
    want.tokens ? get(RESOURCES.ConfigMap, 'kube-root-ca.crt') : undefined,
  ])
  // A reader ClusterRole/binding with the plain name (one kubectl-mesh made earlier) still counts when the revision has none.
  const {injector, values, meshConfigMap} = objects
  const clusterRole = objects.readerClusterRole ?? plain.readerClusterRole
  const clusterRoleBinding = objects.readerClusterRoleBinding ?? plain.readerClusterRoleBinding
  return {
    context: client.context,
    istioNamespace: ns,
    ...kubeconfigFacts(client),
    namespaceExists: Boolean(namespace),
    ...deriveFacts({namespace, istiod: rev.istiod, injector, values, cacerts, rootCertConfigMap, meshConfigMap, services}),
    namespace: namespace && withType(namespace, RESOURCES.Namespace),
    istiodService: rev.names.istiod,
    revision: rev.names.revision,
    otherRevisions: rev.others,
    meshConfigMapName: rev.names.meshConfigMap,
    meshConfigMap,
    serviceAccount: serviceAccount && withType(serviceAccount, RESOURCES.ServiceAccount),
    clusterRole: clusterRole && withType(clusterRole, RESOURCES.ClusterRole),
    clusterRoleBinding: clusterRoleBinding && withType(clusterRoleBinding, RESOURCES.ClusterRoleBinding),
    tokenSecret: tokenSecret && withType(tokenSecret, RESOURCES.Secret),
    remoteSecrets: remoteSecrets.map((s) => withType(s, RESOURCES.Secret)),
    gateways,
    ...(want.tokens ? {anchors, podCaData: kubeRootCa?.data?.['ca.crt'] ? Buffer.from(kubeRootCa.data['ca.crt'], 'utf8').toString('base64') : undefined} : {}),
  }
}

function withType(obj: KubeObject, type: {apiVersion: string; kind: string}): KubeObject {
  return {...obj, apiVersion: type.apiVersion, kind: type.kind}
}
