// Reading one cluster's facts for `cluster link`: identity (cluster ID, network, mesh ID), trust
// (root fingerprint), the east-west gateway, the reader account objects and the remote secrets.
// The pure extractors are exported for the unit tests; readClusterFacts does the GETs.
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import type {KubeClient} from '../kube/client.ts'
import type {KubeObject} from '../kube/resources.ts'
import {RESOURCES, resourcePath} from '../kube/resources.ts'
import {
  CACERTS_SECRET, CROSS_NETWORK_PORT, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, GATEWAY_PORT_LABEL,
  MULTICLUSTER_LABEL, NETWORK_LABEL, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, ROOT_CERT_CONFIGMAP,
} from '../istio/names.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, revisionNames} from '../istio/revision.ts'
import {allInOrder} from '../settle.ts'

export type Source = 'istiod' | 'injector' | 'namespace' | 'flag' | 'cacerts' | 'istio-ca-root-cert'

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

export interface ClusterFacts {
  context: string
  istioNamespace: string
  /** The API server address and CA of the context, as the kubeconfig has them. */
  server: string
  tlsServerName?: string
  caData?: string
  namespaceExists: boolean
  clusterId?: string
  clusterIdSource?: Source
  network?: string
  networkSource?: Source
  meshId?: string
  rootFingerprint?: string
  rootSource?: Source
  gateway?: GatewayInfo
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
}

type Env = {name: string; value?: string}

/** CLUSTER_ID from the istiod Deployment's containers. */
export function clusterIdFromIstiod(deploy: KubeObject | undefined): string | undefined {
  const containers: Array<{env?: Env[]}> = deploy?.spec?.template?.spec?.containers ?? []
  for (const c of containers) {
    const v = c.env?.find((e) => e.name === 'CLUSTER_ID')?.value
    if (v) return v
  }
  return undefined
}

/** The injector ConfigMap's `values` (JSON), or undefined when absent or unparsable. */
export function injectorValues(cm: KubeObject | undefined): any {
  const text = cm?.data?.values
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
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

/**
 * The east-west gateway among the Services of the Istio namespace: labelled
 * istio=eastwestgateway or topology.istio.io/network, the one on this cluster's network first.
 * Address from status.loadBalancer.ingress (ip, else hostname), else spec.externalIPs.
 */
export function findGateway(services: KubeObject[], network?: string): GatewayInfo | undefined {
  const candidates = services.filter((s) => s.metadata.labels?.[EASTWEST_GATEWAY_LABEL] === EASTWEST_GATEWAY_LABEL_VALUE || s.metadata.labels?.[NETWORK_LABEL])
  const score = (s: KubeObject) =>
    (network && s.metadata.labels?.[NETWORK_LABEL] === network ? 4 : 0) +
    (s.metadata.labels?.[NETWORK_LABEL] ? 2 : 0) +
    (addressOf(s) ? 1 : 0)
  const best = [...candidates].sort((a, b) => score(b) - score(a) || a.metadata.name.localeCompare(b.metadata.name))[0]
  if (!best) return undefined
  const portLabel = Number(best.metadata.labels?.[GATEWAY_PORT_LABEL])
  return {
    service: `${best.metadata.namespace}/${best.metadata.name}`,
    address: addressOf(best),
    port: Number.isInteger(portLabel) && portLabel > 0 ? portLabel : CROSS_NETWORK_PORT,
    network: best.metadata.labels?.[NETWORK_LABEL],
  }
}

function addressOf(svc: KubeObject): string | undefined {
  const ingress: Array<{ip?: string; hostname?: string}> = svc.status?.loadBalancer?.ingress ?? []
  for (const i of ingress) if (i.ip) return i.ip
  for (const i of ingress) if (i.hostname) return i.hostname
  const ext: string[] = svc.spec?.externalIPs ?? []
  return ext[0]
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

/** Derive identity and trust from the raw objects (pure). */
export function deriveFacts(raw: {
  namespace?: KubeObject
  istiod?: KubeObject
  injector?: KubeObject
  cacerts?: KubeObject
  rootCertConfigMap?: KubeObject
  services: KubeObject[]
}): Pick<ClusterFacts, 'clusterId' | 'clusterIdSource' | 'network' | 'networkSource' | 'meshId' | 'rootFingerprint' | 'rootSource' | 'gateway'> {
  const values = injectorValues(raw.injector)
  const out: ReturnType<typeof deriveFacts> = {}
  const fromIstiod = clusterIdFromIstiod(raw.istiod)
  const fromInjector: string | undefined = values?.global?.multiCluster?.clusterName || undefined
  if (fromIstiod) Object.assign(out, {clusterId: fromIstiod, clusterIdSource: 'istiod'})
  else if (fromInjector) Object.assign(out, {clusterId: fromInjector, clusterIdSource: 'injector'})
  const nsNetwork = raw.namespace?.metadata.labels?.[NETWORK_LABEL]
  const valuesNetwork: string | undefined = values?.global?.network || undefined
  if (nsNetwork) Object.assign(out, {network: nsNetwork, networkSource: 'namespace'})
  else if (valuesNetwork) Object.assign(out, {network: valuesNetwork, networkSource: 'injector'})
  if (values?.global?.meshID) out.meshId = values.global.meshID
  const cacertsRoot = raw.cacerts?.data?.['root-cert.pem'] ? Buffer.from(raw.cacerts.data['root-cert.pem'], 'base64').toString('utf8') : undefined
  const fpCacerts = pemFingerprint(cacertsRoot)
  const fpConfigMap = pemFingerprint(raw.rootCertConfigMap?.data?.['root-cert.pem'])
  if (fpCacerts) Object.assign(out, {rootFingerprint: fpCacerts, rootSource: 'cacerts'})
  else if (fpConfigMap) Object.assign(out, {rootFingerprint: fpConfigMap, rootSource: 'istio-ca-root-cert'})
  out.gateway = findGateway(raw.services, out.network)
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
  const [namespace, istiods, plainInjector, cacerts, rootCertConfigMap, plainMeshConfigMap, services, serviceAccount, plainClusterRole, plainClusterRoleBinding, tokenSecret, remoteSecrets] = await allInOrder([
    get(RESOURCES.Namespace, ns, false),
    list(RESOURCES.Deployment, ISTIOD_APP_SELECTOR),
    get(RESOURCES.ConfigMap, plain.injectorConfigMap),
    get(RESOURCES.Secret, CACERTS_SECRET),
    get(RESOURCES.ConfigMap, ROOT_CERT_CONFIGMAP),
    get(RESOURCES.ConfigMap, plain.meshConfigMap),
    list(RESOURCES.Service),
    get(RESOURCES.ServiceAccount, READER_SERVICE_ACCOUNT),
    get(RESOURCES.ClusterRole, plain.readerClusterRole, false),
    get(RESOURCES.ClusterRoleBinding, plain.readerClusterRole, false),
    get(RESOURCES.Secret, READER_TOKEN_SECRET),
    list(RESOURCES.Secret, `${MULTICLUSTER_LABEL}=true`),
  ])
  // A revisioned install (no default-revision istiod): its own ConfigMaps and reader RBAC, read
  // in a second round. A reader ClusterRole/binding with the plain name (one kubectl-mesh made
  // earlier) still counts when the revision has none.
  const rev = chooseRevision(istiods, ns)
  let [injector, meshConfigMap, clusterRole, clusterRoleBinding] = [plainInjector, plainMeshConfigMap, plainClusterRole, plainClusterRoleBinding]
  if (rev.names.revision !== DEFAULT_REVISION) {
    [injector, meshConfigMap, clusterRole, clusterRoleBinding] = await allInOrder([
      get(RESOURCES.ConfigMap, rev.names.injectorConfigMap),
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
    ...deriveFacts({namespace, istiod: rev.istiod, injector, cacerts, rootCertConfigMap, services}),
    revision: rev.names.revision,
    otherRevisions: rev.others,
    meshConfigMapName: rev.names.meshConfigMap,
    meshConfigMap,
    serviceAccount: serviceAccount && withType(serviceAccount, RESOURCES.ServiceAccount),
    clusterRole: clusterRole && withType(clusterRole, RESOURCES.ClusterRole),
    clusterRoleBinding: clusterRoleBinding && withType(clusterRoleBinding, RESOURCES.ClusterRoleBinding),
    tokenSecret: tokenSecret && withType(tokenSecret, RESOURCES.Secret),
    remoteSecrets: remoteSecrets.map((s) => withType(s, RESOURCES.Secret)),
  }
}

function withType(obj: KubeObject, type: {apiVersion: string; kind: string}): KubeObject {
  return {...obj, apiVersion: type.apiVersion, kind: type.kind}
}
