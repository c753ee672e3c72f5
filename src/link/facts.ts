// Reading one cluster's facts for `cluster link`: identity (cluster ID, network, mesh ID), trust
// (root fingerprint), the east-west gateway, the reader account objects and the remote secrets.
// The pure extractors are exported for the unit tests; readClusterFacts does the GETs.
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import type {KubeObject} from '../kube/resources.ts'
import {RESOURCES, resourcePath} from '../kube/resources.ts'
import {CACERTS_SECRET, MULTICLUSTER_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {type EastWestGateway, eastWestGateway, type GatewayInputs, type GatewayShape} from '../istio/gateway.ts'
import {readGatewayInputs} from '../istio/read.ts'
import {type ClusterIdSource, installFacts, type NetworkSource} from '../istio/install.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, revisionNames} from '../istio/revision.ts'
import {allInOrder} from '../settle.ts'


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

export interface ClusterFacts {
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
  rootFingerprint?: string
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
  /** The Istio namespace as read (its annotations: topology.istio.io/controlPlaneClusters). */
  namespace?: KubeObject
}

/** The first certificate of a PEM bundle, as an upper-case SHA-256 fingerprint (AA:BB:…). */
export function pemFingerprint(pem: string | undefined): string | undefined {
  if (!pem || !pem.includes('BEGIN CERTIFICATE')) return undefined
  try {
    return new X509Certificate(pem).fingerprint256
  } catch {
    return undefined
  }
}

/** The facts that need no API call: what the kubeconfig says about the context's server. */
export function kubeconfigFacts(client: KubeClient): Pick<ClusterFacts, 'server' | 'tlsServerName' | 'caData'> {
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
}): Pick<ClusterFacts, 'clusterId' | 'clusterIdSource' | 'network' | 'networkSource' | 'meshId' | 'rootFingerprint' | 'rootSource' | 'gateway' | 'ewGateway' | 'clusterDomain' | 'remoteProfile' | 'remotePilotAddress'> {
  const install = installFacts(raw)
  const out: ReturnType<typeof deriveFacts> = {
    remoteProfile: install.remoteProfile, remotePilotAddress: install.remotePilotAddress,
    clusterId: install.clusterId, clusterIdSource: install.clusterIdSource,
    network: install.network, networkSource: install.networkSource, meshId: install.meshId, clusterDomain: install.clusterDomain,
  }
  const cacertsRoot = raw.cacerts?.data?.['root-cert.pem'] ? Buffer.from(raw.cacerts.data['root-cert.pem'], 'base64').toString('utf8') : undefined
  const fpCacerts = pemFingerprint(cacertsRoot)
  const fpConfigMap = pemFingerprint(raw.rootCertConfigMap?.data?.['root-cert.pem'])
  if (fpCacerts) Object.assign(out, {rootFingerprint: fpCacerts, rootSource: 'cacerts'})
  else if (fpConfigMap) Object.assign(out, {rootFingerprint: fpConfigMap, rootSource: 'istio-ca-root-cert'})
  out.ewGateway = eastWestGateway(raw.services, out.network, raw.gatewayInputs)
  const ew = out.ewGateway
  out.gateway = ew && {service: ew.ref, address: ew.targets[0]?.address, port: ew.targets[0]?.port ?? ew.port, network: ew.network, shape: ew.shape,
    targets: ew.targets.map((t) => ({address: t.address, port: t.port})), skipped: ew.skipped}
  return out
}

/** Every GET `cluster link` needs in one cluster, concurrently. */
export async function readClusterFacts(client: KubeClient, istioNamespace: string): Promise<ClusterFacts> {
  const ns = istioNamespace
  const get = (type: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, namespaced = true) =>
    client.getOptional<KubeObject>(resourcePath(type, namespaced ? ns : undefined, name))
  const list = async (type: (typeof RESOURCES)[keyof typeof RESOURCES], labelSelector?: string) =>
    ((await client.get<{items?: KubeObject[]}>(resourcePath(type, ns), {labelSelector})).items ?? [])
  const plain = revisionNames(DEFAULT_REVISION, ns)
  const [namespace, istiods, plainInjector, plainValues, cacerts, rootCertConfigMap, plainMeshConfigMap, services, serviceAccount, plainClusterRole, plainClusterRoleBinding, tokenSecret, remoteSecrets, gateways] = await allInOrder([
    get(RESOURCES.Namespace, ns, false),
    list(RESOURCES.Deployment, ISTIOD_APP_SELECTOR),
    get(RESOURCES.ConfigMap, plain.injectorConfigMap),
    get(RESOURCES.ConfigMap, plain.valuesConfigMap),
    get(RESOURCES.Secret, CACERTS_SECRET),
    get(RESOURCES.ConfigMap, ROOT_CERT_CONFIGMAP),
    get(RESOURCES.ConfigMap, plain.meshConfigMap),
    list(RESOURCES.Service),
    get(RESOURCES.ServiceAccount, READER_SERVICE_ACCOUNT),
    get(RESOURCES.ClusterRole, plain.readerClusterRole, false),
    get(RESOURCES.ClusterRoleBinding, plain.readerClusterRole, false),
    get(RESOURCES.Secret, READER_TOKEN_SECRET),
    list(RESOURCES.Secret, `${MULTICLUSTER_LABEL}=true`),
    // every namespace: a Gateway anywhere applies to the east-west gateway's pods
    client.get<{items?: KubeObject[]}>(resourcePath(RESOURCES.Gateway)).then((l) => (l.items ?? []).map((g) => withType(g, RESOURCES.Gateway)),
      (error) => (error instanceof ApiError && error.status === 404 ? undefined : Promise.reject(error))),
  ])
  // A revisioned install (no default-revision istiod): its own ConfigMaps and reader RBAC, read
  // in a second round. A reader ClusterRole/binding with the plain name (one kubectl-mesh made
  // earlier) still counts when the revision has none.
  const rev = chooseRevision(istiods, ns)
  let [injector, values, meshConfigMap, clusterRole, clusterRoleBinding] = [plainInjector, plainValues, plainMeshConfigMap, plainClusterRole, plainClusterRoleBinding]
  if (rev.names.revision !== DEFAULT_REVISION) {
    [injector, values, meshConfigMap, clusterRole, clusterRoleBinding] = await allInOrder([
      get(RESOURCES.ConfigMap, rev.names.injectorConfigMap),
      get(RESOURCES.ConfigMap, rev.names.valuesConfigMap),
      get(RESOURCES.ConfigMap, rev.names.meshConfigMap),
      get(RESOURCES.ClusterRole, rev.names.readerClusterRole, false),
      get(RESOURCES.ClusterRoleBinding, rev.names.readerClusterRole, false),
    ])
    clusterRole ??= plainClusterRole
    clusterRoleBinding ??= plainClusterRoleBinding
  }
  return {
    context: client.context,
    istioNamespace: ns,
    ...kubeconfigFacts(client),
    namespaceExists: Boolean(namespace),
    ...deriveFacts({namespace, istiod: rev.istiod, injector, values, cacerts, rootCertConfigMap, meshConfigMap, services, gatewayInputs: await readGatewayInputs(client, services)}),
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
  }
}

function withType(obj: KubeObject, type: {apiVersion: string; kind: string}): KubeObject {
  return {...obj, apiVersion: type.apiVersion, kind: type.kind}
}
