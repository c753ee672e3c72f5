// The read model of a cluster's east-west gateway and of the hosts it passes through (pure):
// which Service is the east-west gateway, its addresses in one ranked order, its cross-network
// port, Service FQDNs, Gateway host matching as Istio does it, and "which Gateway passes this
// host through". link, export/import, explain and verify all use these; nothing else decides.
import {isIP} from 'node:net'
import type {KubeObject} from '../kube/resources.ts'
import {
  CROSS_NETWORK_PORT, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, EXPORTED_HOST_ANNOTATION, GATEWAY_PORT_LABEL, HBONE_PORT, ISTIOD_WEBHOOK_PORT, ISTIOD_XDS_PORT,
  NETWORK_LABEL, NODE_SELECTOR_ANNOTATION, REMOTE_GATEWAY_CLASS,
} from './names.ts'

/**
 * The shape of a gateway, as istiod learns its address:
 * - `lb-ip` / `lb-hostname`: a LoadBalancer Service's status.loadBalancer.ingress (conversion.go
 *   convertService, `case corev1.ServiceTypeLoadBalancer`); hostnames resolved by istiod itself;
 * - `nodeport`: a NodePort Service with `traffic.istio.io/nodeSelector` (conversion.go
 *   `case corev1.ServiceTypeNodePort`; controller/util.go isNodePortGatewayService): the
 *   ExternalIP of each matching Node × the nodePort of the gateway port (network.go
 *   updateServiceNodePortAddresses, extractGatewaysInner);
 * - `external-ip`: spec.externalIPs (conversion.go, AddAddressesFor);
 * - `gateway-api`: the Service istiod's deployment controller makes for a Gateway API Gateway labelled
 *   with a network (gatewaycommon/deploymentcontroller.go configureIstioGateway: the Service carries
 *   the Gateway's labels, extractInfrastructureLabels; its ports are 15021 and the listeners',
 *   extractServicePorts), discovered by its label like any Service (network.go getGatewayDetails),
 *   its address its load balancer's; or the Gateway's own spec.addresses (network.go handleGatewayResource);
 * - `istio-remote`: a Gateway of that class declaring a peer network's gateway by address (handleGatewayResource);
 * - `none`: no address istiod could use.
 */
export type GatewayShape = 'lb-ip' | 'lb-hostname' | 'nodeport' | 'external-ip' | 'gateway-api' | 'istio-remote' | 'none'

/** One address istiod sends a remote network's traffic to (before resolving hostnames). */
export interface GatewayTarget {
  address: string
  port: number
  /** The address is a DNS name istiod resolves (A and AAAA, model/network.go resolveHostnameGateways). */
  hostname: boolean
}

export interface EastWestGateway {
  /** The gateway Service (or, for the Gateway API shapes, the Gateway). */
  service: KubeObject
  kind: 'Service' | 'Gateway'
  /** namespace/name of the Service. */
  ref: string
  namespace: string
  /** The pod labels the Service selects (what a Gateway's selector must match). */
  selector: Record<string, string>
  /** What istiod holds as its addresses, in istiod's order: load-balancer IPs or hostnames, node ExternalIPs, externalIPs; unique. */
  addresses: string[]
  /** The Service port remote networks reach it on: label networking.istio.io/gatewayPort, else 15443 (15008 when it listens only on HBONE). */
  port: number
  /** Its topology.istio.io/network label, if any. */
  network?: string
  shape: GatewayShape
  /** address × port as istiod uses them (NodePort: each selected Node's ExternalIP × the nodePort of `port`). */
  targets: GatewayTarget[]
  /** istiod learns it from its network label (network.go getGatewayDetails): labelled and listening on `port` or 15008. */
  discovered: boolean
  /** It listens on HBONE 15008 (ambient). */
  hbone: boolean
  /** Why istiod ignores it, in istiod's words (e.g. labelled but listening on neither port). */
  skipped?: string
  /** The Gateway API Gateway (namespace/name) whose istiod-made Service this is (shape gateway-api). */
  kubeGateway?: string
  /** istiod takes it as a meshNetworks gateway by this registryServiceName (registryServiceGateways), not by a label. */
  registryServiceName?: string
}

/** The Nodes a NodePort gateway uses: name, labels and the first ExternalIP (controller.go onNodeEvent: InternalIP is never used). */
export interface GatewayNode {
  name: string
  labels: Record<string, string>
  externalIP?: string
}

export function gatewayNodes(nodes: KubeObject[]): GatewayNode[] {
  return nodes.map((n) => ({
    name: n.metadata.name,
    labels: {...n.metadata.labels},
    externalIP: (n.status?.addresses ?? []).find((a: {type?: string; address?: string}) => a.type === 'ExternalIP' && a.address)?.address,
  }))
}

const isCandidate = (s: KubeObject) =>
  s.metadata.labels?.[EASTWEST_GATEWAY_LABEL] === EASTWEST_GATEWAY_LABEL_VALUE || s.metadata.labels?.[NETWORK_LABEL] !== undefined

/** The load-balancer addresses of a Service, IPs first then hostnames, else its externalIPs (also used for istiod's own Service). */
export function gatewayAddresses(svc: KubeObject): string[] {
  const ingress: Array<{ip?: string; hostname?: string}> = svc.status?.loadBalancer?.ingress ?? []
  const ranked = [...ingress.flatMap((i) => (i.ip ? [i.ip] : [])), ...ingress.flatMap((i) => (!i.ip && i.hostname ? [i.hostname] : []))]
  return [...new Set<string>(ranked.length > 0 ? ranked : (svc.spec?.externalIPs ?? []))]
}

/** The gatewayPort label when it parses as a number (network.go getGatewayDetails: strconv.Atoi, else 15443). */
export function gatewayPort(svc: KubeObject): number {
  const label = svc.metadata.labels?.[GATEWAY_PORT_LABEL]
  return label && /^\d+$/.test(label) && Number(label) > 0 ? Number(label) : CROSS_NETWORK_PORT
}

/** The nodeSelector annotation as istiod parses it (controller/util.go getNodeSelectorsForService: invalid JSON = no selector = every Node). */
export function nodeSelector(svc: KubeObject): Record<string, string> | undefined {
  const raw = svc.metadata.annotations?.[NODE_SELECTOR_ANNOTATION]
  if (raw === undefined) return undefined
  try {
    const v = JSON.parse(raw)
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {}
  } catch {
    return {}
  }
}

const isHostname = (a: string) => isIP(a) === 0

/** The Gateway API Gateway that owns a Service istiod's deployment controller made (its ownerReference, kube-gateway.yaml), if any. */
export function kubeGatewayOwner(svc: KubeObject): string | undefined {
  const refs: Array<{apiVersion?: string; kind?: string; name?: string}> = (svc.metadata as any).ownerReferences ?? []
  return refs.find((r) => r.kind === 'Gateway' && String(r.apiVersion ?? '').startsWith('gateway.networking.k8s.io/'))?.name
}

/**
 * istiod's view of one Service (pure): network.go getGatewayDetails (port; skipped when it listens
 * on neither the gateway port nor 15008), conversion.go convertService (addresses by type),
 * network.go extractGatewaysInner (nodePort mapping), controller.go onNodeEvent (node ExternalIP).
 */
export function describeService(svc: KubeObject, nodes: GatewayNode[] = []): EastWestGateway {
  const network = svc.metadata.labels?.[NETWORK_LABEL] || undefined
  const ports: Array<{port: number; nodePort?: number}> = svc.spec?.ports ?? []
  const gwPort = gatewayPort(svc)
  const acceptMTLS = ports.some((p) => p.port === gwPort)
  const acceptHBONE = ports.some((p) => p.port === HBONE_PORT)
  const port = acceptMTLS || !acceptHBONE ? gwPort : HBONE_PORT
  const skipped = network && !acceptMTLS && !acceptHBONE
    ? `istiod skips it: "service ${svc.metadata.namespace}/${svc.metadata.name} is labeled as gateway, but does not listen neither on port ${gwPort} nor on port ${HBONE_PORT}" (network.go getGatewayDetails)`
    : undefined
  const type = svc.spec?.type ?? 'ClusterIP'
  const selector = nodeSelector(svc)
  let addresses: string[] = []
  let shape: GatewayShape = 'none'
  let targetPort = port
  if (type === 'NodePort' && selector !== undefined) {
    addresses = nodes.filter((n) => n.externalIP && Object.entries(selector).every(([k, v]) => n.labels[k] === v)).map((n) => n.externalIP!)
    shape = 'nodeport'
    targetPort = ports.find((p) => p.port === port)?.nodePort ?? port
  } else {
    if (type === 'LoadBalancer') {
      const ingress: Array<{ip?: string; hostname?: string}> = svc.status?.loadBalancer?.ingress ?? []
      addresses = ingress.flatMap((i) => (i.ip ? [i.ip] : i.hostname ? [i.hostname] : []))
      if (addresses.length > 0) shape = addresses.some(isHostname) ? 'lb-hostname' : 'lb-ip'
    }
    const ext: string[] = svc.spec?.externalIPs ?? []
    if (ext.length > 0) {
      addresses = [...addresses, ...ext]
      if (shape === 'none') shape = 'external-ip'
    }
  }
  addresses = [...new Set(addresses)]
  const owner = kubeGatewayOwner(svc)
  if (owner && shape !== 'none') shape = 'gateway-api'
  return {
    ...(owner ? {kubeGateway: `${svc.metadata.namespace}/${owner}`} : {}),
    service: svc, kind: 'Service',
    ref: `${svc.metadata.namespace}/${svc.metadata.name}`,
    namespace: svc.metadata.namespace ?? '',
    selector: {...svc.spec?.selector},
    addresses, port, network, shape,
    targets: skipped ? [] : addresses.map((address) => ({address, port: targetPort, hostname: isHostname(address)})),
    discovered: Boolean(network) && !skipped,
    hbone: acceptHBONE,
    skipped,
  }
}

/**
 * A Gateway API Gateway labelled with a network (network.go handleGatewayResource): addresses from
 * spec.addresses of type IPAddress or Hostname, ports from its auto-passthrough listeners
 * (conversion.go IsAutoPassthrough: TLS with option gateway.istio.io/listener-protocol:
 * auto-passthrough, or on the gatewayPort label's port, else 15443) and its HBONE listeners.
 * Class istio-remote counts only in the cluster istiod reads its config from (`configCluster`).
 */
export function describeKubeGateway(gw: KubeObject, configCluster: boolean): EastWestGateway | undefined {
  const network = gw.metadata.labels?.[NETWORK_LABEL]
  if (!network) return undefined
  const remote = gw.spec?.gatewayClassName === REMOTE_GATEWAY_CLASS
  if (remote && !configCluster) return undefined
  const expected = String(gw.metadata.labels?.[GATEWAY_PORT_LABEL] ?? CROSS_NETWORK_PORT)
  const listeners: any[] = gw.spec?.listeners ?? []
  const auto = listeners.filter((l) => l?.tls && (l.tls.options?.['gateway.istio.io/listener-protocol'] === 'auto-passthrough' || String(l.port) === expected))
  const hbone = listeners.filter((l) => l?.protocol === 'HBONE')
  const addresses = [...new Set<string>((gw.spec?.addresses ?? []).filter((a: any) => a?.type === 'IPAddress' || a?.type === 'Hostname').map((a: any) => String(a.value)))]
  const ports = [...new Set<number>([...auto, ...hbone].map((l) => Number(l.port)))]
  const name = gw.metadata.name
  return {
    service: gw, kind: 'Gateway', ref: `${gw.metadata.namespace}/${name}`, namespace: gw.metadata.namespace ?? '',
    selector: {'gateway.networking.k8s.io/gateway-name': name},
    addresses, port: Number(auto[0]?.port ?? hbone[0]?.port ?? expected), network,
    shape: remote ? 'istio-remote' : 'gateway-api',
    targets: addresses.flatMap((address) => ports.map((port) => ({address, port, hostname: isHostname(address)}))),
    discovered: true, hbone: hbone.length > 0,
    skipped: ports.length === 0 ? `istiod uses no port of it: no auto-passthrough listener on ${expected} and no HBONE listener (network.go handleGatewayResource)` : undefined,
  }
}

export interface GatewayInputs {
  /** Nodes (for NodePort gateways); absent: not read. */
  nodes?: KubeObject[]
  /** Gateway API Gateways (gateway.networking.k8s.io). */
  kubeGateways?: KubeObject[]
  /** The reading cluster is the config cluster of the istiod reading these (its istio-remote Gateways count). */
  configCluster?: boolean
}

/**
 * The east-west gateway candidates among the Services (labelled istio=eastwestgateway or
 * topology.istio.io/network) and the network-labelled Gateway API Gateways, ranked: on this
 * cluster's network first, then discovered by istiod, then having an address, Services before
 * Gateways, then by name.
 */
export function eastWestGateways(services: KubeObject[], network?: string, inputs: GatewayInputs = {}): EastWestGateway[] {
  const nodes = gatewayNodes(inputs.nodes ?? [])
  const fromServices = services.filter(isCandidate).map((s) => describeService(s, nodes))
  const fromGateways = (inputs.kubeGateways ?? []).flatMap((g) => describeKubeGateway(g, inputs.configCluster ?? true) ?? [])
    .filter((g) => g.shape !== 'istio-remote')
  const score = (g: EastWestGateway) => (network && g.network === network ? 16 : 0) + (g.discovered ? 8 : 0) + (g.network ? 4 : 0) + (g.targets.length > 0 ? 2 : 0) + (g.kind === 'Service' ? 1 : 0)
  return [...fromServices, ...fromGateways]
    .sort((a, b) => score(b) - score(a) || a.service.metadata.name.localeCompare(b.service.metadata.name))
}

/** The east-west gateway: the best-ranked candidate. */
export function eastWestGateway(services: KubeObject[], network?: string, inputs: GatewayInputs = {}): EastWestGateway | undefined {
  return eastWestGateways(services, network, inputs)[0]
}

/**
 * A Service is a NodePort gateway (type NodePort with the nodeSelector annotation, controller/util.go
 * isNodePortGatewayService): its addresses need the Nodes. Any such Service, labelled or not: a
 * meshNetworks registryServiceName may name an unlabelled one.
 */
export function needsNodes(services: KubeObject[]): boolean {
  return services.some((s) => s.spec?.type === 'NodePort' && s.metadata.annotations?.[NODE_SELECTOR_ANNOTATION] !== undefined)
}

/** The cluster is on a network (multi-network) and no Service is a gateway istiod discovers: look for Gateway API Gateways labelled with a network. */
export function needsKubeGateways(services: KubeObject[], network: string | undefined): boolean {
  return Boolean(network) && !services.some((s) => isCandidate(s) && describeService(s).discovered)
}

/** One meshNetworks gateway named by `registryServiceName`, resolved against its registry's Services as istiod does. */
export interface RegistryServiceGateway {
  network: string
  /** The entry's registryServiceName (a Service hostname NAME.NS.svc.<domain>). */
  registryServiceName: string
  /** The entry's port (a Service port; a NodePort gateway's nodePort replaces it). */
  port: number
  /** The Service it names in the registry, as the reader describes it (addresses, shape) with the entry's port; undefined: no such Service. */
  gateway?: EastWestGateway
  /** Why istiod uses no address of it (no such Service; the Service has a network label, which wins; no address). */
  unused?: string
}

/**
 * meshNetworks gateways by `registryServiceName`, as one registry's controller in istiod resolves them
 * (pure): controller/network.go reloadMeshNetworks keeps, for every network whose endpoints list
 * `fromRegistry: <registry>`, each gateway's registryServiceName and port; getGatewayDetails matches
 * them against the registry's Services by hostname (NAME.NS.svc.<istiod's domain suffix>) — only when
 * the Service carries no topology.istio.io/network label (a labelled Service is a label gateway
 * instead, on its own port); extractGatewaysInner then pairs each of the Service's external
 * addresses (load balancer, NodePort Nodes, externalIPs: conversion.go) with the entry's port, a
 * NodePort Service's nodePort of that port replacing it. `meshNetworks` is the parsed document of
 * the discovering istiod's meshNetworks (every registry of that istiod reads the same one).
 */
export function registryServiceGateways(meshNetworks: unknown, registry: string, services: KubeObject[], clusterDomain: string, nodes: KubeObject[] = []): RegistryServiceGateway[] {
  const networks = (meshNetworks as {networks?: Record<string, any>} | undefined)?.networks
  if (!networks || typeof networks !== 'object') return []
  const out: RegistryServiceGateway[] = []
  const gwNodes = gatewayNodes(nodes)
  for (const [network, spec] of Object.entries<any>(networks)) {
    if (!(spec?.endpoints ?? []).some((e: any) => String(e?.fromRegistry ?? '') === registry)) continue
    for (const g of spec?.gateways ?? []) {
      const name = g?.registryServiceName
      if (typeof name !== 'string' || name === '') continue
      const port = Number(g.port)
      const svc = services.find((x) => serviceFqdn(x.metadata.name, x.metadata.namespace ?? '', clusterDomain) === name)
      if (!svc) {
        out.push({network, registryServiceName: name, port, unused: `no Service ${name} in registry ${registry}`})
        continue
      }
      const d = describeService(svc, gwNodes)
      if (d.network) {
        out.push({network, registryServiceName: name, port, gateway: d, unused: `Service ${d.ref} is labelled ${NETWORK_LABEL}=${d.network}: istiod takes it as a label gateway on port ${d.port}, not as this entry (network.go getGatewayDetails)`})
        continue
      }
      const nodePort = d.shape === 'nodeport' ? (svc.spec?.ports ?? []).find((p: any) => p.port === port)?.nodePort : undefined
      const targets = d.addresses.map((address) => ({address, port: nodePort ?? port, hostname: isHostname(address)}))
      const gateway: EastWestGateway = {...d, port, network, targets, discovered: true, skipped: undefined, registryServiceName: name}
      out.push({network, registryServiceName: name, port, gateway, ...(targets.length === 0 ? {unused: `Service ${d.ref} has no external address`} : {})})
    }
  }
  return out
}

/** `istio-remote` Gateways of a cluster: the peer networks' gateways it declares by address (only its own istiod reads them). */
export function remoteGatewayDeclarations(kubeGateways: KubeObject[]): EastWestGateway[] {
  return kubeGateways.flatMap((g) => describeKubeGateway(g, true) ?? []).filter((g) => g.shape === 'istio-remote')
}

/** Hostname → the IPs DNS answers (A and AAAA); an empty list: it did not resolve. */
export type DnsAnswers = Record<string, string[]>

/** The hostnames among the targets of these gateways (what a resolver must look up). */
export function gatewayHostnames(gws: Array<EastWestGateway | undefined>): string[] {
  return [...new Set(gws.flatMap((g) => g?.targets ?? []).filter((t) => t.hostname).map((t) => t.address))].sort()
}

/**
 * The (IP, port) pairs istiod sends traffic to (pure): hostnames replaced by their DNS answers, as
 * istiod does (model/network.go resolveHostnameGateways: a name that does not resolve gives none).
 * `via` keeps the hostname an IP came from.
 */
export function istiodTargets(gw: EastWestGateway | undefined, dns: DnsAnswers = {}): Array<{address: string; port: number; via?: string}> {
  if (!gw) return []
  const out = gw.targets.flatMap((t) => (t.hostname ? (dns[t.address] ?? []).map((ip) => ({address: ip, port: t.port, via: t.address})) : [{address: t.address, port: t.port}]))
  return out.filter((t, i) => out.findIndex((u) => u.address === t.address && u.port === t.port) === i)
}

/** How a gateway's targets read in a message: `127.0.0.12:15443`, `gw.example:15443 (= 127.0.0.12)`, `1.2.3.4:31443 (NodePort on node-a, node-b)`. */
export function describeTargets(gw: EastWestGateway, dns: DnsAnswers = {}): string {
  if (gw.targets.length === 0) return `${gw.ref} (no address)`
  return gw.targets.map((t) => `${t.address}:${t.port}${t.hostname ? ` (= ${(dns[t.address] ?? []).join(', ') || 'does not resolve'})` : ''}`).join(', ')
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
