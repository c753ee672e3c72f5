// Pure planners for service export / import: facts and options in, desired objects out.
// No API calls here; test/unit/exposure.test.ts covers them.
import {
  EXPORTED_LABEL, EXPORTS_GATEWAY, IMPORT_ADDRESS_PREFIX, IMPORT_HOST_SUFFIX, IMPORTED_FROM_LABEL,
  IMPORTED_SERVICE_LABEL, MCS_API_GROUP_VERSION, stamp,
} from '../istio/names.ts'
import type {KubeObject} from '../kube/resources.ts'
import {outboundSni} from '../istio/gateway.ts'

// ---------------------------------------------------------------- export: the Gateway hosts

/** The hosts list with `host` added (sorted, no duplicates). */
export function addHost(hosts: readonly string[], host: string): string[] {
  return [...new Set([...hosts, host])].sort()
}

/** The Gateway `kubectl-mesh-exports` with these hosts. */
export function exportsGateway(opts: {namespace: string; selector: Record<string, string>; port: number; hosts: string[]; version: string}): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: {name: EXPORTS_GATEWAY, namespace: opts.namespace, ...stamp(opts.version)},
    spec: {
      selector: {...opts.selector},
      servers: [{
        port: {number: opts.port, name: 'tls', protocol: 'TLS'},
        tls: {mode: 'AUTO_PASSTHROUGH'},
        hosts: [...opts.hosts],
      }],
    },
  }
}

/** The hosts of our Gateway's one server (empty when there is none). */
export function gatewayHosts(gw: KubeObject | undefined): string[] {
  const server = gw?.spec?.servers?.[0]
  return Array.isArray(server?.hosts) ? [...server.hosts] : []
}

/** The hosts list without those `service export` added for NAME in NS: the recorded one, and NAME.NS.svc.<any domain>. */
export function withoutService(hosts: readonly string[], name: string, namespace: string, recorded: string): string[] {
  return hosts.filter((h) => h !== recorded && !h.startsWith(`${name}.${namespace}.svc.`)).sort()
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
  /** The owner's host for the Service (what its export recorded, else NAME.NS.svc.<its domain>): the SNIs name it. */
  fqdn: string
  /** The host in the importing mesh (default NAME.NS.global). */
  host: string
  /** spec.addresses of the ServiceEntry (empty: none). */
  addresses: string[]
}

export interface ImportContext {
  /** WEST's cluster ID, used in names and labels. */
  fromId: string
  /** WEST's east-west gateway addresses (IPs or hostnames) and cross-network port. */
  gatewayAddresses: string[]
  gatewayPort: number
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

/** `via`: the egress path's labels and annotation (src/exposure/egress.ts), when the import goes through EAST's egress gateway. */
export function importServiceEntry(t: ImportTarget, ctx: ImportContext, via?: {labels: Record<string, string>; annotations: Record<string, string>}): KubeObject {
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
      ports: Object.fromEntries(ports.map((p) => [sePortName(p), ctx.gatewayPort])),
    })),
  }
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: seMeta(t, ctx, via),
    spec,
  }
}

function seMeta(t: ImportTarget, ctx: ImportContext, via?: {labels: Record<string, string>; annotations: Record<string, string>}) {
  const m = stamp(ctx.version, {...importLabels(t.service.name, ctx.fromId), ...via?.labels})
  return {name: importName(t.service.name, ctx.fromId), namespace: t.service.namespace, labels: m.labels, annotations: {...m.annotations, ...via?.annotations}}
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
          tls: {mode: 'ISTIO_MUTUAL', sni: outboundSni(p.number, t.fqdn)},
        })),
      },
    },
  }
}

// ---------------------------------------------------------------- import: addresses

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
