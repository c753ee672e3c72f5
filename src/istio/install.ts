// The read model of one cluster's Istio install: every fact link, export/import, ca and verify
// need about it, derived once, here, from the raw objects (pure; each command does its own GETs
// or lists and hands the objects in). One reader per fact (STYLE.md §13):
//   cluster ID, network, mesh ID, mesh config and DNS proxying, Istio version, cluster domain.
// The east-west gateway, Service FQDNs and Gateway host matching: ./gateway.ts.
import {load} from 'js-yaml'
import type {KubeObject} from '../kube/resources.ts'
import {DEFAULT_CLUSTER_DOMAIN, DNS_CAPTURE_ENV, ISTIO_AUTO_ALLOCATE_MINOR, NETWORK_LABEL} from './names.ts'

/** The objects an install's facts come from; any may be missing (undefined or null). */
export interface InstallObjects {
  /** The Istio namespace (its network label). */
  namespace?: KubeObject | null
  /** The istiod Deployment of the revision in use (src/istio/revision.ts). */
  istiod?: KubeObject | null
  /** That revision's injector ConfigMap (`istio-sidecar-injector[-rev]`, key `values`). */
  injector?: KubeObject | null
  /** The `values` ConfigMap a remote-profile install has instead of an injector's values. */
  values?: KubeObject | null
  /** That revision's mesh ConfigMap (`istio[-rev]`, keys `mesh` and `meshNetworks`). */
  meshConfigMap?: KubeObject | null
}

export type ClusterIdSource = 'istiod' | 'injector' | 'values'
export type NetworkSource = 'namespace' | 'injector' | 'values'
export type DomainSource = 'flag' | 'istiod' | 'values' | 'default'

export interface IstioVersion {
  major: number
  minor: number
  /** The numeric part as found: `1.31.1`, `1.31` (of `1.31-eed52ebb66ad`), … */
  text: string
}

export interface InstallFacts {
  clusterId?: string
  clusterIdSource?: ClusterIdSource
  /** istiod CLUSTER_ID and the values' clusterName, each as found (verify compares them). */
  istiodClusterId?: string
  valuesClusterId?: string
  network?: string
  networkSource?: NetworkSource
  namespaceNetwork?: string
  valuesNetwork?: string
  meshId?: string
  /** The mesh config's trustDomain (Istio's default: cluster.local) and trustDomainAliases. */
  trustDomain: string
  trustDomainSource: 'mesh config' | 'default'
  trustDomainAliases: string[]
  /** The parsed mesh config (key `mesh`); undefined when absent or unparsable. */
  mesh?: any
  /** ISTIO_META_DNS_CAPTURE in the mesh config's defaultConfig.proxyMetadata. */
  dnsCapture: boolean
  version?: IstioVersion
  clusterDomain: string
  clusterDomainSource: DomainSource
  /** The install has no istiod but values that name a remote (Istio's `remote` profile). */
  remoteProfile: boolean
  /** The values' global.remotePilotAddress: where a remote-profile install's istiod Service points (the primary's istiod or east-west gateway). */
  remotePilotAddress?: string
}

type Env = {name: string; value?: string}

/** istiod's `discovery` container (else its first). */
export function discoveryContainer(deploy: KubeObject | null | undefined): any {
  const containers: any[] = deploy?.spec?.template?.spec?.containers ?? []
  return containers.find((c) => c.name === 'discovery') ?? containers[0]
}

/** The literal env values of istiod's discovery container. */
export function istiodEnv(deploy: KubeObject | null | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const e of (discoveryContainer(deploy)?.env ?? []) as Env[]) if (typeof e.value === 'string') env[e.name] = e.value
  return env
}

/** The value of `--name V` or `--name=V` among istiod's args. */
export function istiodArg(deploy: KubeObject | null | undefined, name: string): string | undefined {
  const args: string[] = (discoveryContainer(deploy)?.args ?? []).map(String)
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3)
  }
  return undefined
}

/** A ConfigMap key holding JSON (the injector's `values`) or YAML; undefined when absent or unparsable. */
export function parsedKey(cm: KubeObject | null | undefined, key: string): any {
  const raw = cm?.data?.[key]
  if (!raw) return undefined
  try {
    return JSON.parse(raw)
  } catch {
    try {
      return load(raw) ?? undefined
    } catch {
      return undefined
    }
  }
}

/** The install's Helm values: the injector's `values`, else the remote profile's `values` ConfigMap. */
export function installValues(o: InstallObjects): any {
  return parsedKey(o.injector, 'values') ?? parsedKey(o.values, 'values') ?? parseValuesConfigMap(o.values)
}

/** The `values` ConfigMap of a remote-profile render keeps the values under `original-values`/`merged-values`. */
function parseValuesConfigMap(cm: KubeObject | null | undefined): any {
  return parsedKey(cm, 'merged-values') ?? parsedKey(cm, 'original-values')
}

/** `1.24.3`, `1.24-dev`, `1.25.0-distroless` → {major, minor}; undefined for `latest`, digests, etc. */
export function parseIstioVersion(tag: string | undefined): IstioVersion | undefined {
  const m = tag ? /^v?((\d+)\.(\d+)(?:\.\d+)?)/.exec(tag) : null
  return m ? {major: Number(m[2]), minor: Number(m[3]), text: m[1]} : undefined
}

/** The tag of an image reference (`repo/pilot:1.31.1` → `1.31.1`); undefined for digests and untagged images. */
export function imageTag(image: string | undefined): string | undefined {
  if (!image) return undefined
  const at = image.indexOf('@')
  const ref = at >= 0 ? image.slice(0, at) : image
  const colon = ref.indexOf(':', ref.lastIndexOf('/') + 1)
  return colon < 0 ? undefined : ref.slice(colon + 1)
}

/** istiod's Istio version, from its image tag. */
export function istiodVersion(deploy: KubeObject | null | undefined): IstioVersion | undefined {
  return parseIstioVersion(imageTag(discoveryContainer(deploy)?.image))
}

/**
 * Does this istiod take a changed plugged-in cacerts without a restart? From 1.18 it watches the
 * files (pilot/pkg/bootstrap/istio_ca.go); before, only with AUTO_RELOAD_PLUGIN_CERTS=true.
 * undefined: the version is unknown. (An istiod that started without cacerts, self-signed, takes
 * a plugged-in CA only at startup, whatever its version.)
 */
export function reloadsCacerts(d: {env: Record<string, string>; version?: {major: number; minor: number}}): boolean | undefined {
  if (d.env.AUTO_RELOAD_PLUGIN_CERTS === 'true') return true
  if (!d.version) return undefined
  return d.version.major > 1 || d.version.minor >= 18
}

/** True when this Istio allocates ServiceEntry addresses itself (1.25+). Unknown versions count as new. */
export function allocatesAddresses(version: {major: number; minor: number} | undefined): boolean {
  if (!version) return true
  return version.major > 1 || version.minor >= ISTIO_AUTO_ALLOCATE_MINOR
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'True'
}

/** Istio's default trust domain (pkg/config/mesh DefaultMeshConfig: TrustDomain "cluster.local"). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local'

/** Every fact of the install, from its objects. `clusterDomain` (the --cluster-domain flag) overrides the install's domain. */
export function installFacts(o: InstallObjects, overrides: {clusterDomain?: string} = {}): InstallFacts {
  const values = installValues(o)
  const istiodClusterId = istiodEnv(o.istiod).CLUSTER_ID || undefined
  const valuesClusterId: string | undefined = values?.global?.multiCluster?.clusterName || undefined
  const namespaceNetwork: string | undefined = o.namespace?.metadata.labels?.[NETWORK_LABEL] || undefined
  const valuesNetwork: string | undefined = values?.global?.network || undefined
  const mesh = parsedKey(o.meshConfigMap, 'mesh')
  const valuesSource: ClusterIdSource & NetworkSource = o.injector ? 'injector' : 'values'
  const out: InstallFacts = {
    istiodClusterId, valuesClusterId, namespaceNetwork, valuesNetwork, mesh,
    meshId: values?.global?.meshID || mesh?.defaultConfig?.meshId || undefined,
    dnsCapture: truthy(mesh?.defaultConfig?.proxyMetadata?.[DNS_CAPTURE_ENV]),
    // MeshConfig.trust_domain, default "cluster.local" (pkg/config/mesh DefaultMeshConfig); aliases: MeshConfig.trust_domain_aliases
    trustDomain: typeof mesh?.trustDomain === 'string' && mesh.trustDomain ? mesh.trustDomain : DEFAULT_TRUST_DOMAIN,
    trustDomainSource: typeof mesh?.trustDomain === 'string' && mesh.trustDomain ? 'mesh config' : 'default',
    trustDomainAliases: Array.isArray(mesh?.trustDomainAliases) ? mesh.trustDomainAliases.filter((a: unknown) => typeof a === 'string' && a).map(String) : [],
    version: istiodVersion(o.istiod) ?? parseIstioVersion(values?.global?.tag === undefined ? undefined : String(values.global.tag)),
    clusterDomain: DEFAULT_CLUSTER_DOMAIN,
    clusterDomainSource: 'default',
    remoteProfile: !o.istiod && !o.injector && Boolean(parseValuesConfigMap(o.values) ?? parsedKey(o.values, 'values')),
  }
  const remotePilotAddress: unknown = values?.global?.remotePilotAddress
  if (typeof remotePilotAddress === 'string' && remotePilotAddress) out.remotePilotAddress = remotePilotAddress
  if (istiodClusterId) Object.assign(out, {clusterId: istiodClusterId, clusterIdSource: 'istiod'})
  else if (valuesClusterId) Object.assign(out, {clusterId: valuesClusterId, clusterIdSource: valuesSource})
  if (namespaceNetwork) Object.assign(out, {network: namespaceNetwork, networkSource: 'namespace'})
  else if (valuesNetwork) Object.assign(out, {network: valuesNetwork, networkSource: valuesSource})
  const istiodDomain = istiodArg(o.istiod, 'domain')
  const valuesDomain: string | undefined = values?.global?.proxy?.clusterDomain || undefined
  if (overrides.clusterDomain) Object.assign(out, {clusterDomain: overrides.clusterDomain, clusterDomainSource: 'flag'})
  else if (istiodDomain) Object.assign(out, {clusterDomain: istiodDomain, clusterDomainSource: 'istiod'})
  else if (valuesDomain) Object.assign(out, {clusterDomain: valuesDomain, clusterDomainSource: 'values'})
  return out
}

/**
 * Where a cluster's istiod Service sends its clients: the externalName of an ExternalName Service,
 * else the addresses of the EndpointSlices of that Service (a remote-profile render has a
 * selector-less `istiod` Service and an EndpointSlice with global.remotePilotAddress). Empty when
 * neither says.
 */
export function istiodServiceAddresses(service: KubeObject | null | undefined, slices: KubeObject[]): string[] {
  if (!service) return []
  if (service.spec?.type === 'ExternalName' && service.spec.externalName) return [String(service.spec.externalName)]
  const name = service.metadata.name
  const out = new Set<string>()
  for (const s of slices) {
    if (s.metadata.namespace !== service.metadata.namespace || s.metadata.labels?.['kubernetes.io/service-name'] !== name) continue
    for (const e of s.endpoints ?? []) for (const a of e.addresses ?? []) out.add(String(a))
  }
  return [...out].sort()
}
