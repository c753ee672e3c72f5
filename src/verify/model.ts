// Pure derivations from the collected facts: identity, gateways, remote secrets, trust roots.
import {isIP} from 'node:net'
import type {X509Certificate} from 'node:crypto'
import {load} from 'js-yaml'
import type {KubeconfigDoc, KubeCluster, KubeUser} from '../kube/kubeconfig.ts'
import type {KubeObject} from '../kube/resources.ts'
import {CACERTS_SECRET, MULTICLUSTER_LABEL, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {chooseRevision, ISTIOD_APP_SELECTOR, type RevisionNames} from '../istio/revision.ts'
import {type EastWestGateway, eastWestGateways as rankedGateways, exportedHost, serviceFqdn} from '../istio/gateway.ts'
import {installFacts, type InstallFacts} from '../istio/install.ts'
import {cacertsRoots, decodeSecretData, parseBundle} from './certs.ts'
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
export const istioNames = (f: ClusterFacts): RevisionNames =>
  chooseRevision((f.lists.Deployment ?? []).filter((d) => `app=${d.metadata.labels?.app}` === ISTIOD_APP_SELECTOR), f.istioNamespace).names
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

/** The host an exported Service is passed through as: what export recorded, else its FQDN in the cluster's domain. */
export function exportedFqdn(svc: KubeObject, id: Identity): string {
  return exportedHost(svc, id.clusterDomain)
}

/** A Service's FQDN in the cluster's domain. */
export const fqdnIn = (id: Identity, name: string, ns: string) => serviceFqdn(name, ns, id.clusterDomain)

export interface RemoteSecretEntry {
  secret: KubeObject
  key: string
  doc?: KubeconfigDoc
  parseError?: string
  server?: string
  cluster?: KubeCluster
  user?: KubeUser
}

/** The istio-system Secrets istiod reads as remote secrets (label istio/multiCluster=true). */
export function remoteSecrets(f: ClusterFacts): KubeObject[] {
  return (f.lists.Secret ?? []).filter((s) => s.metadata.namespace === f.istioNamespace && s.metadata.labels?.[MULTICLUSTER_LABEL] === 'true')
}

/** One entry per data key of each remote secret, with its kubeconfig parsed. */
export function remoteSecretEntries(f: ClusterFacts): RemoteSecretEntry[] {
  const out: RemoteSecretEntry[] = []
  for (const secret of remoteSecrets(f)) {
    for (const [key, value] of Object.entries<string>(secret.data ?? {})) {
      const entry: RemoteSecretEntry = {secret, key}
      try {
        const doc = load(Buffer.from(value, 'base64').toString('utf8')) as KubeconfigDoc
        if (!doc || typeof doc !== 'object') throw new Error('not a kubeconfig')
        const ctxName = doc['current-context'] ?? doc.contexts?.[0]?.name
        const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context
        const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster ?? doc.clusters?.[0]?.cluster
        const user = doc.users?.find((u) => u.name === ctx?.user)?.user ?? doc.users?.[0]?.user
        if (!cluster?.server) throw new Error('no cluster server in the kubeconfig')
        Object.assign(entry, {doc, cluster, user: user ?? {}, server: cluster.server})
      } catch (error) {
        entry.parseError = (error as Error).message.split('\n')[0]
      }
      out.push(entry)
    }
  }
  return out
}

/** Reasons istiod would reject this kubeconfig (sanitizeKubeConfig, reference §2.4). */
export function disallowedAuth(entry: RemoteSecretEntry): string[] {
  const out: string[] = []
  const u = entry.user ?? {}
  if (u.exec) out.push('users[].user.exec (an exec credential plugin)')
  const ap = u['auth-provider'] as {name?: string} | undefined
  if (ap && ap.name !== 'oidc') out.push(`users[].user.auth-provider "${ap.name ?? '?'}"`)
  if (u.tokenFile) out.push('users[].user.tokenFile (a file path)')
  if (u['client-certificate']) out.push('users[].user.client-certificate (a file path)')
  if (u['client-key']) out.push('users[].user.client-key (a file path)')
  if (entry.cluster?.['certificate-authority']) out.push('clusters[].cluster.certificate-authority (a file path)')
  return out
}

export function hasCredentials(entry: RemoteSecretEntry): boolean {
  const u = entry.user ?? {}
  return Boolean(u.token || u['client-certificate-data'] || u['auth-provider'] || u.exec || u.tokenFile || u['client-certificate'] || (u.username && u.password))
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/** Server URLs compared by origin and path. */
export function sameServer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false
  try {
    const ua = new URL(a)
    const ub = new URL(b)
    return ua.protocol === ub.protocol && ua.hostname === ub.hostname && (ua.port || '443') === (ub.port || '443') && ua.pathname.replace(/\/$/, '') === ub.pathname.replace(/\/$/, '')
  } catch {
    return false
  }
}

/** The roots workloads of a cluster trust: istio-ca-root-cert when istiod published it, else the cacerts roots. undefined: unknown. */
export function trustedRoots(f: ClusterFacts): {roots: X509Certificate[]; from: string} | undefined {
  const cm = rootCertConfigMap(f)
  if (cm?.data?.['root-cert.pem']) {
    try {
      const roots = parseBundle(cm.data['root-cert.pem'])
      if (roots.length > 0) return {roots, from: `ConfigMap ${f.istioNamespace}/istio-ca-root-cert`}
    } catch { /* fall through */ }
  }
  const s = cacertsSecret(f)
  if (s) {
    const roots = cacertsRoots(decodeSecretData(s.data))
    if (roots.length > 0) return {roots, from: `Secret ${f.istioNamespace}/cacerts`}
  }
  return undefined
}
