// Pure derivations from the collected facts: identity, gateways, remote secrets, trust roots.
import {isIP} from 'node:net'
import type {X509Certificate} from 'node:crypto'
import {load} from 'js-yaml'
import type {KubeconfigDoc, KubeCluster, KubeUser} from '../kube/kubeconfig.ts'
import type {KubeObject} from '../kube/resources.ts'
import {
  CACERTS_SECRET, CROSS_NETWORK_PORT, DNS_CAPTURE_ENV, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE,
  MULTICLUSTER_LABEL, NETWORK_LABEL, ROOT_CERT_CONFIGMAP,
} from '../istio/names.ts'
import {chooseRevision, type RevisionNames} from '../istio/revision.ts'
import {cacertsRoots, decodeSecretData, parseBundle} from './certs.ts'
import type {ClusterFacts, ListedKind} from './types.ts'

export const CLUSTER_DOMAIN = 'cluster.local'
export const GATEWAY_PORT_LABEL = 'networking.istio.io/gatewayPort'

/** The objects of one kind, or undefined when that list failed. */
export function listOf(f: ClusterFacts, kind: ListedKind): KubeObject[] | undefined {
  return f.lists[kind]
}

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
  chooseRevision((f.lists.Deployment ?? []).filter((d) => d.metadata.labels?.app === 'istiod'), f.istioNamespace).names
export const meshConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, istioNames(f).meshConfigMap)
export const injectorConfigMap = (f: ClusterFacts) => findIn(f, 'ConfigMap', f.istioNamespace, istioNames(f).injectorConfigMap)
export const istiodDeployment = (f: ClusterFacts) => findIn(f, 'Deployment', f.istioNamespace, istioNames(f).istiod)

export function istiodEnv(dep: KubeObject | null | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const c of dep?.spec?.template?.spec?.containers ?? []) {
    for (const e of c.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value
  }
  return env
}

export function istiodImageVersion(dep: KubeObject | null | undefined): string | undefined {
  const image: string | undefined = dep?.spec?.template?.spec?.containers?.find((c: {name: string}) => c.name === 'discovery')?.image
    ?? dep?.spec?.template?.spec?.containers?.[0]?.image
  const m = image ? /:(\d+\.\d+(?:\.\d+)?)/.exec(image) : null
  return m?.[1]
}

export function injectorValues(cm: KubeObject | null | undefined): any {
  const raw = cm?.data?.values
  if (!raw) return undefined
  try {
    return JSON.parse(raw)
  } catch {
    try {
      return load(raw)
    } catch {
      return undefined
    }
  }
}

export function meshConfig(cm: KubeObject | null | undefined): any {
  try {
    return cm?.data?.mesh ? load(cm.data.mesh) : undefined
  } catch {
    return undefined
  }
}

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
  /** Whether the facts needed were readable at all. */
  istiodReadable: boolean
  injectorReadable: boolean
}

export function identity(f: ClusterFacts): Identity {
  const dep = istiodDeployment(f)
  const inj = injectorConfigMap(f)
  const values = injectorValues(inj)
  const envClusterId = istiodEnv(dep).CLUSTER_ID
  const injectorClusterId = values?.global?.multiCluster?.clusterName || undefined
  const ns = istioNamespace(f)
  const nsNetwork = ns?.metadata.labels?.[NETWORK_LABEL]
  const injectorNetwork = values?.global?.network || undefined
  const mesh = meshConfig(meshConfigMap(f))
  let clusterId = envClusterId ?? injectorClusterId
  let idSource = envClusterId ? `istiod CLUSTER_ID` : injectorClusterId ? 'injector values global.multiCluster.clusterName' : undefined
  if (!clusterId && f.source === 'remote-secret') {
    clusterId = f.name
    idSource = 'remote secret data key'
  }
  return {
    clusterId, idSource, envClusterId, injectorClusterId, nsNetwork, injectorNetwork,
    network: nsNetwork ?? injectorNetwork,
    meshId: values?.global?.meshID || mesh?.defaultConfig?.meshId || undefined,
    istioVersion: istiodImageVersion(dep) ?? values?.global?.tag,
    istiodReadable: dep !== undefined,
    injectorReadable: inj !== undefined,
  }
}

export function dnsCaptureOn(f: ClusterFacts): boolean | undefined {
  const cm = meshConfigMap(f)
  if (cm === undefined) return undefined
  const v = meshConfig(cm)?.defaultConfig?.proxyMetadata?.[DNS_CAPTURE_ENV]
  return v === true || v === 'true'
}

/** The east-west gateway Services: labelled istio=eastwestgateway, else labelled with a network. */
export function eastWestGateways(f: ClusterFacts): KubeObject[] {
  const svcs = f.lists.Service ?? []
  const byIstio = svcs.filter((s) => s.metadata.labels?.[EASTWEST_GATEWAY_LABEL] === EASTWEST_GATEWAY_LABEL_VALUE)
  if (byIstio.length > 0) return byIstio
  return svcs.filter((s) => s.metadata.labels?.[NETWORK_LABEL] !== undefined)
}

export function gatewayAddresses(svc: KubeObject): string[] {
  const out: string[] = []
  for (const i of svc.status?.loadBalancer?.ingress ?? []) {
    if (i.ip) out.push(i.ip)
    else if (i.hostname) out.push(i.hostname)
  }
  for (const ip of svc.spec?.externalIPs ?? []) out.push(ip)
  return [...new Set(out)]
}

export function gatewayPort(svc: KubeObject): number {
  const label = svc.metadata.labels?.[GATEWAY_PORT_LABEL]
  return label && /^\d+$/.test(label) ? Number(label) : CROSS_NETWORK_PORT
}

export function gatewaySelector(svc: KubeObject): Record<string, string> {
  return svc.spec?.selector ?? svc.metadata.labels ?? {}
}

/** All current addresses of a cluster's east-west gateways. */
export function clusterGatewayAddresses(f: ClusterFacts): string[] {
  return [...new Set(eastWestGateways(f).flatMap(gatewayAddresses))]
}

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

/** The Service FQDN for NAME in NS. */
export const serviceFqdn = (name: string, ns: string) => `${name}.${ns}.svc.${CLUSTER_DOMAIN}`

/** Does a Gateway `hosts` entry (optionally "ns/host") cover the FQDN of a Service in `ns`? */
export function hostCovers(entry: string, fqdn: string, ns: string, gatewayNs: string): boolean {
  let nsPart = '*'
  let host = entry
  const slash = entry.indexOf('/')
  if (slash >= 0) {
    nsPart = entry.slice(0, slash)
    host = entry.slice(slash + 1)
  }
  if (nsPart !== '*' && nsPart !== ns && !(nsPart === '.' && gatewayNs === ns)) return false
  if (host === '*') return true
  if (host.startsWith('*.')) return fqdn.endsWith(host.slice(1))
  return host === fqdn
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {})
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v)
}
