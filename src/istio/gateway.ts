// The read model of a cluster's east-west gateway and of the hosts it passes through (pure):
// which Service is the east-west gateway, its addresses in one ranked order, its cross-network
// port, Service FQDNs, Gateway host matching as Istio does it, and "which Gateway passes this
// host through". link, export/import, explain and verify all use these; nothing else decides.
import type {KubeObject} from '../kube/resources.ts'
import {
  CROSS_NETWORK_PORT, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, EXPORTED_HOST_ANNOTATION, GATEWAY_PORT_LABEL, ISTIOD_WEBHOOK_PORT, ISTIOD_XDS_PORT, NETWORK_LABEL,
} from './names.ts'

export interface EastWestGateway {
  /** The gateway Service. */
  service: KubeObject
  /** namespace/name of the Service. */
  ref: string
  namespace: string
  /** The pod labels the Service selects (what a Gateway's selector must match). */
  selector: Record<string, string>
  /** Its addresses, best first: load-balancer IPs, then load-balancer hostnames; externalIPs when it has no load-balancer address. */
  addresses: string[]
  /** The port remote networks reach it on: label networking.istio.io/gatewayPort, else 15443. */
  port: number
  /** Its topology.istio.io/network label, if any. */
  network?: string
}

const isCandidate = (s: KubeObject) =>
  s.metadata.labels?.[EASTWEST_GATEWAY_LABEL] === EASTWEST_GATEWAY_LABEL_VALUE || s.metadata.labels?.[NETWORK_LABEL] !== undefined

/** The addresses of a load-balancer Service in one ranked order (see EastWestGateway.addresses). */
export function gatewayAddresses(svc: KubeObject): string[] {
  const ingress: Array<{ip?: string; hostname?: string}> = svc.status?.loadBalancer?.ingress ?? []
  const ranked = [...ingress.flatMap((i) => (i.ip ? [i.ip] : [])), ...ingress.flatMap((i) => (!i.ip && i.hostname ? [i.hostname] : []))]
  return [...new Set<string>(ranked.length > 0 ? ranked : (svc.spec?.externalIPs ?? []))]
}

export function gatewayPort(svc: KubeObject): number {
  const label = svc.metadata.labels?.[GATEWAY_PORT_LABEL]
  return label && /^\d+$/.test(label) && Number(label) > 0 ? Number(label) : CROSS_NETWORK_PORT
}

function describe(svc: KubeObject): EastWestGateway {
  return {
    service: svc,
    ref: `${svc.metadata.namespace}/${svc.metadata.name}`,
    namespace: svc.metadata.namespace ?? '',
    selector: {...svc.spec?.selector},
    addresses: gatewayAddresses(svc),
    port: gatewayPort(svc),
    network: svc.metadata.labels?.[NETWORK_LABEL],
  }
}

/**
 * The east-west gateway candidates among the Services of the Istio namespace (labelled
 * istio=eastwestgateway or topology.istio.io/network), ranked: on this cluster's network first,
 * then network-labelled, then having an address, then by name.
 */
export function eastWestGateways(services: KubeObject[], network?: string): EastWestGateway[] {
  const score = (g: EastWestGateway) => (network && g.network === network ? 4 : 0) + (g.network ? 2 : 0) + (g.addresses.length > 0 ? 1 : 0)
  return services.filter(isCandidate).map(describe)
    .sort((a, b) => score(b) - score(a) || a.service.metadata.name.localeCompare(b.service.metadata.name))
}

/** The east-west gateway: the best-ranked candidate. */
export function eastWestGateway(services: KubeObject[], network?: string): EastWestGateway | undefined {
  return eastWestGateways(services, network)[0]
}

/** `NAME.NS.svc.<cluster domain>`: the host istiod gives a Service, and the one SNIs name. */
export function serviceFqdn(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`
}

/** `outbound_.<port>_._.<fqdn>`: the SNI an AUTO_PASSTHROUGH gateway routes to that Service port. */
export function outboundSni(port: number, fqdn: string): string {
  return `outbound_.${port}_._.${fqdn}`
}

/** The host `service export` added for a Service (recorded on it), else its FQDN in `clusterDomain`. */
export function exportedHost(svc: KubeObject, clusterDomain: string): string {
  return svc.metadata.annotations?.[EXPORTED_HOST_ANNOTATION] || serviceFqdn(svc.metadata.name, svc.metadata.namespace ?? '', clusterDomain)
}

/**
 * Does a Gateway server's `hosts` entry match the host of a Service in `serviceNamespace`, as
 * Istio matches them: `[namespace/]dnsName`, where the namespace is `*` (any; also when omitted),
 * `.` (the Gateway's own namespace) or a name, and dnsName is `*`, `*.suffix` or exact.
 */
export function hostMatches(entry: string, fqdn: string, serviceNamespace: string, gatewayNamespace: string): boolean {
  const slash = entry.indexOf('/')
  const ns = slash >= 0 ? entry.slice(0, slash) : '*'
  const host = (slash >= 0 ? entry.slice(slash + 1) : entry).toLowerCase()
  if (ns !== '*' && (ns === '.' ? gatewayNamespace : ns) !== serviceNamespace) return false
  if (host === '*') return true
  if (host.startsWith('*.')) return fqdn.toLowerCase().endsWith(host.slice(1))
  return host === fqdn.toLowerCase()
}

/** A Gateway applies to the gateway's pods when its (non-empty) selector is a subset of their labels. */
export function selectsGateway(gw: KubeObject, ew: EastWestGateway): boolean {
  const entries = Object.entries<string>(gw.spec?.selector ?? {})
  return entries.length > 0 && entries.every(([k, v]) => ew.selector[k] === v)
}

/** The AUTO_PASSTHROUGH servers on the gateway's cross-network port of a Gateway that applies to it. */
export function passthroughServers(gw: KubeObject, ew: EastWestGateway): any[] {
  if (!selectsGateway(gw, ew)) return []
  return (gw.spec?.servers ?? []).filter((s: any) => s?.port?.number === ew.port && s?.tls?.mode === 'AUTO_PASSTHROUGH')
}

/** The first Gateway that passes `fqdn` of a Service in `serviceNamespace` through the east-west gateway, or undefined. */
export function coveringGateway(gateways: KubeObject[], ew: EastWestGateway, fqdn: string, serviceNamespace: string): KubeObject | undefined {
  return gateways.find((gw) => passthroughServers(gw, ew).some((s) => (s.hosts ?? []).some((h: string) => hostMatches(h, fqdn, serviceNamespace, gw.metadata.namespace ?? ''))))
}

/**
 * True when a Gateway passes every Service of the cluster through the east-west gateway: an
 * AUTO_PASSTHROUGH server on its port with a host (any namespace) of `*` or a wildcard that every
 * NAME.NS.svc.<cluster domain> ends with (`*.local`, `*.cluster.local`, `*.svc.cluster.local`).
 */
export function passesEverything(gw: KubeObject, ew: EastWestGateway, clusterDomain: string): boolean {
  const everyHost = `.svc.${clusterDomain}`.toLowerCase()
  return passthroughServers(gw, ew).some((s) => (s.hosts ?? []).some((entry: string) => {
    const slash = entry.indexOf('/')
    if (slash >= 0 && entry.slice(0, slash) !== '*') return false
    const host = (slash >= 0 ? entry.slice(slash + 1) : entry).toLowerCase()
    return host === '*' || (host.startsWith('*.') && everyHost.endsWith(host.slice(1)))
  }))
}

export const objectRef = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`

/**
 * True when a Gateway passes istiod through the east-west gateway as Istio's
 * samples/multicluster/expose-istiod.yaml does: TLS PASSTHROUGH servers for every host (`*`) on
 * both istiod ports (15012 xDS/CA, 15017 webhooks), applying to the gateway's pods.
 */
export function passesIstiod(gw: KubeObject, ew: EastWestGateway): boolean {
  if (!selectsGateway(gw, ew)) return false
  const open = (port: number) => (gw.spec?.servers ?? []).some((s: any) => s?.port?.number === port && s?.tls?.mode === 'PASSTHROUGH'
    && (s.hosts ?? []).some((h: string) => h === '*' || h === '*/*'))
  return open(ISTIOD_XDS_PORT) && open(ISTIOD_WEBHOOK_PORT)
}
