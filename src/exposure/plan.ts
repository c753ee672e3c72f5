// Pure planners for service export / import: facts and options in, desired objects out.
// No API calls here; test/unit/exposure.test.ts covers them.
import {
  CROSS_NETWORK_PORT, EXPORTS_GATEWAY, EXPORTED_LABEL, IMPORT_ADDRESS_PREFIX, IMPORT_HOST_SUFFIX, IMPORTED_FROM_LABEL,
  IMPORTED_SERVICE_LABEL, ISTIO_AUTO_ALLOCATE_MINOR, MCS_API_GROUP_VERSION, stamp,
} from '../istio/names.ts'
import type {KubeObject} from '../kube/resources.ts'

// ---------------------------------------------------------------- export: the Gateway hosts

/** `NAME.NS.svc.<cluster domain>`: the FQDN the owner's AUTO_PASSTHROUGH gateway matches. */
export function serviceFqdn(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`
}

/** The hosts list with `host` added (sorted, no duplicates). */
export function addHost(hosts: readonly string[], host: string): string[] {
  return [...new Set([...hosts, host])].sort()
}

/** The hosts list without `host` (sorted). */
export function removeHost(hosts: readonly string[], host: string): string[] {
  return hosts.filter((h) => h !== host).sort()
}

/** The Gateway `kubectl-mesh-exports` with these hosts. */
export function exportsGateway(opts: {namespace: string; selector: Record<string, string>; hosts: string[]; version: string}): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: {name: EXPORTS_GATEWAY, namespace: opts.namespace, ...stamp(opts.version)},
    spec: {
      selector: {...opts.selector},
      servers: [{
        port: {number: CROSS_NETWORK_PORT, name: 'tls', protocol: 'TLS'},
        tls: {mode: 'AUTO_PASSTHROUGH'},
        hosts: [...opts.hosts],
      }],
    },
  }
}

/** The hosts of our Gateway's 15443 server (empty when there is none). */
export function gatewayHosts(gw: KubeObject | undefined): string[] {
  const server = (gw?.spec?.servers ?? []).find((s: any) => s?.port?.number === CROSS_NETWORK_PORT)
  return Array.isArray(server?.hosts) ? [...server.hosts] : []
}

/** True when a Gateway host pattern (`[ns/]host`, `*` wildcards at the front) matches an FQDN in namespace `ns`. */
export function hostMatches(pattern: string, fqdn: string, namespace: string): boolean {
  let p = pattern
  const slash = p.indexOf('/')
  if (slash >= 0) {
    const ns = p.slice(0, slash)
    if (ns !== '*' && ns !== '.' && ns !== namespace) return false
    p = p.slice(slash + 1)
  }
  if (p === '*') return true
  if (p.startsWith('*')) return fqdn.endsWith(p.slice(1))
  return p === fqdn
}

const sameSelector = (a: Record<string, string> | undefined, b: Record<string, string>) => {
  const ak = Object.keys(a ?? {})
  return ak.length > 0 && ak.length === Object.keys(b).length && ak.every((k) => a![k] === b[k])
}

/**
 * Another Gateway (not ours) with the same selector that already passes `fqdn` through on 15443
 * in AUTO_PASSTHROUGH mode, e.g. Istio's sample `cross-network-gateway` with hosts `*.local`.
 */
export function coveringGateway(gateways: KubeObject[], selector: Record<string, string>, fqdn: string, serviceNamespace: string): KubeObject | undefined {
  return gateways.find((gw) => gw.metadata.name !== EXPORTS_GATEWAY
    && sameSelector(gw.spec?.selector, selector)
    && (gw.spec?.servers ?? []).some((s: any) => s?.port?.number === CROSS_NETWORK_PORT && s?.tls?.mode === 'AUTO_PASSTHROUGH'
      && (s.hosts ?? []).some((h: string) => hostMatches(h, fqdn, serviceNamespace))))
}

export function serviceExport(name: string, namespace: string, version: string): KubeObject {
  return {apiVersion: MCS_API_GROUP_VERSION, kind: 'ServiceExport', metadata: {name, namespace, ...stamp(version)}}
}

// ---------------------------------------------------------------- import: facts

export interface RemotePort {
  number: number
  name?: string
  protocol?: string // TCP | UDP | SCTP
  appProtocol?: string
}

export interface RemoteService {
  name: string
  namespace: string
  ports: RemotePort[]
}

export interface ImportTarget {
  service: RemoteService
  /** The host in the importing mesh (default NAME.NS.global). */
  host: string
  /** spec.addresses of the ServiceEntry (empty: none). */
  addresses: string[]
}

export interface ImportContext {
  /** WEST's cluster ID, used in names and labels. */
  fromId: string
  /** WEST's east-west gateway addresses (IPs or hostnames). */
  gatewayAddresses: string[]
  clusterDomain: string
  version: string
}

export function defaultImportHost(name: string, namespace: string): string {
  return `${name}.${namespace}.${IMPORT_HOST_SUFFIX}`
}

export function importName(name: string, fromId: string): string {
  return `${name}-${fromId}`
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
export const isIPv4 = (s: string) => IPV4.test(s)
export const isIP = (s: string) => isIPv4(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s))

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
export const isDnsName = (s: string) => s.length <= 253 && DNS1123_SUBDOMAIN.test(s)

/** Istio's protocol for a Service port: appProtocol first, then the name prefix (`http-web`), else undefined (auto-detect). */
export function istioProtocol(port: RemotePort): string | undefined {
  const known: Record<string, string> = {
    http: 'HTTP', http2: 'HTTP2', h2c: 'HTTP2', 'kubernetes.io/h2c': 'HTTP2', grpc: 'GRPC', 'grpc-web': 'GRPC',
    https: 'HTTPS', tls: 'TLS', tcp: 'TCP', mongo: 'MONGO', mysql: 'TCP', redis: 'TCP', 'kubernetes.io/ws': 'HTTP', 'kubernetes.io/wss': 'HTTPS',
  }
  const app = port.appProtocol?.toLowerCase()
  if (app && known[app]) return known[app]
  const name = port.name?.toLowerCase() ?? ''
  if (known[name]) return known[name]
  const prefix = name.split('-')[0]
  if (name.includes('-') && known[prefix]) return known[prefix]
  return undefined
}

/** The ports that can cross an AUTO_PASSTHROUGH gateway (TCP-based; UDP and SCTP cannot). */
export function crossablePorts(ports: RemotePort[]): RemotePort[] {
  return ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP')
}

/** A port name for the ServiceEntry: the remote one, else `<protocol>-<number>`. */
export function sePortName(port: RemotePort): string {
  return port.name || `${(istioProtocol(port) ?? 'tcp').toLowerCase()}-${port.number}`
}

export function importLabels(name: string, fromId: string): Record<string, string> {
  return {[IMPORTED_FROM_LABEL]: fromId, [IMPORTED_SERVICE_LABEL]: name}
}

/** The SNI the owner's AUTO_PASSTHROUGH gateway routes to the real service (reference §3.2, §3.6 option B). */
export function outboundSni(port: number, name: string, namespace: string, clusterDomain: string): string {
  return `outbound_.${port}_._.${serviceFqdn(name, namespace, clusterDomain)}`
}

export function importServiceEntry(t: ImportTarget, ctx: ImportContext): KubeObject {
  const ports = crossablePorts(t.service.ports)
  const dns = ctx.gatewayAddresses.some((a) => !isIP(a))
  const spec: Record<string, unknown> = {
    hosts: [t.host],
    ...(t.addresses.length > 0 ? {addresses: [...t.addresses]} : {}),
    location: 'MESH_INTERNAL',
    ports: ports.map((p) => {
      const protocol = istioProtocol(p)
      return {number: p.number, name: sePortName(p), ...(protocol ? {protocol} : {})}
    }),
    resolution: dns ? 'DNS' : 'STATIC',
    endpoints: ctx.gatewayAddresses.map((address) => ({
      address,
      ports: Object.fromEntries(ports.map((p) => [sePortName(p), CROSS_NETWORK_PORT])),
    })),
  }
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: {name: importName(t.service.name, ctx.fromId), namespace: t.service.namespace, ...stamp(ctx.version, importLabels(t.service.name, ctx.fromId))},
    spec,
  }
}

export function importDestinationRule(t: ImportTarget, ctx: ImportContext): KubeObject {
  const ports = crossablePorts(t.service.ports)
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: {name: importName(t.service.name, ctx.fromId), namespace: t.service.namespace, ...stamp(ctx.version, importLabels(t.service.name, ctx.fromId))},
    spec: {
      host: t.host,
      trafficPolicy: {
        tls: {mode: 'ISTIO_MUTUAL'},
        portLevelSettings: ports.map((p) => ({
          port: {number: p.number},
          tls: {mode: 'ISTIO_MUTUAL', sni: outboundSni(p.number, t.service.name, t.service.namespace, ctx.clusterDomain)},
        })),
      },
    },
  }
}

// ---------------------------------------------------------------- import: addresses

/** `1.24.3`, `1.24-dev`, `1.25.0-distroless` → {major, minor}; undefined for `latest`, digests, etc. */
export function parseIstioVersion(image: string | undefined): {major: number; minor: number} | undefined {
  if (!image) return undefined
  const at = image.indexOf('@')
  const ref = at >= 0 ? image.slice(0, at) : image
  const lastSlash = ref.lastIndexOf('/')
  const colon = ref.indexOf(':', lastSlash + 1)
  if (colon < 0) return undefined
  const m = /^v?(\d+)\.(\d+)/.exec(ref.slice(colon + 1))
  return m ? {major: Number(m[1]), minor: Number(m[2])} : undefined
}

/** True when this Istio allocates ServiceEntry addresses itself (1.25+). Unknown versions count as new. */
export function allocatesAddresses(version: {major: number; minor: number} | undefined): boolean {
  if (!version) return true
  return version.major > 1 || version.minor >= ISTIO_AUTO_ALLOCATE_MINOR
}

/** Every address in 240.0.0.0/16 in order, skipping the network and broadcast addresses. */
export function* importAddressRange(): Generator<string> {
  for (let i = 1; i < 65535; i++) yield `${IMPORT_ADDRESS_PREFIX}${i >> 8}.${i & 255}`
}

/** The first `count` addresses of 240.0.0.0/16 not in `used`. */
export function nextFreeAddresses(used: Iterable<string>, count: number): string[] {
  const taken = new Set(used)
  const out: string[] = []
  if (count <= 0) return out
  for (const a of importAddressRange()) {
    if (!taken.has(a)) out.push(a)
    if (out.length === count) return out
  }
  throw new Error('240.0.0.0/16 is exhausted')
}

/** Every spec.addresses and status.addresses value of these ServiceEntries. */
export function serviceEntryAddresses(entries: KubeObject[]): string[] {
  const out: string[] = []
  for (const se of entries) {
    for (const a of se.spec?.addresses ?? []) out.push(String(a).split('/')[0])
    for (const a of se.status?.addresses ?? []) if (a?.value) out.push(String(a.value).split('/')[0])
  }
  return out
}

/** A ServiceEntry other than `self` that already claims `host`. */
export function hostOwner(entries: KubeObject[], host: string, self: {namespace: string; name: string}): KubeObject | undefined {
  return entries.find((se) => (se.spec?.hosts ?? []).includes(host) && !(se.metadata.namespace === self.namespace && se.metadata.name === self.name))
}

/** `svc.ns.svc.<domain>` → {name, namespace}: the local Service a host would collide with. */
export function localServiceOf(host: string, clusterDomain: string): {name: string; namespace: string} | undefined {
  const suffix = `.svc.${clusterDomain}`
  if (!host.endsWith(suffix)) return undefined
  const parts = host.slice(0, -suffix.length).split('.')
  return parts.length === 2 ? {name: parts[0], namespace: parts[1]} : undefined
}

/** True when the Service carries the exported label. */
export function isExported(svc: KubeObject): boolean {
  return svc.metadata.labels?.[EXPORTED_LABEL] === 'true'
}

/** The remote Service's ports as the planner needs them. */
export function remoteService(svc: KubeObject): RemoteService {
  return {
    name: svc.metadata.name,
    namespace: svc.metadata.namespace ?? '',
    ports: (svc.spec?.ports ?? []).map((p: any) => ({number: p.port, name: p.name, protocol: p.protocol, appProtocol: p.appProtocol})),
  }
}

/** The addresses of a load-balancer Service: status ingress IPs/hostnames, else spec.externalIPs. */
export function gatewayAddressesOf(svc: KubeObject): string[] {
  const ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).filter(Boolean)
  if (ingress.length > 0) return [...new Set<string>(ingress)]
  return [...new Set<string>(svc.spec?.externalIPs ?? [])]
}

/** Pick the east-west gateway among the Services of the Istio namespace. */
export function pickEastWestGateway(services: KubeObject[], labelKey: string, labelValue: string, networkLabel: string): KubeObject | undefined {
  return services.find((s) => s.metadata.labels?.[labelKey] === labelValue)
    ?? services.find((s) => s.metadata.labels?.[networkLabel] !== undefined && s.spec?.selector)
}

/** ISTIO_META_DNS_CAPTURE from the parsed mesh config. */
export function dnsCaptureOn(mesh: any): boolean {
  const v = mesh?.defaultConfig?.proxyMetadata?.ISTIO_META_DNS_CAPTURE
  return v === true || v === 'true' || v === 'True'
}
