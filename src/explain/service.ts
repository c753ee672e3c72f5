// `kubectl mesh explain`: read the sidecar's cluster (its Istio install, the Service or import, its
// remote secrets), each peer that has a context (its install, the Service, its Gateways), and
// istiod's own view through a port-forward (/debug/clusterz, /debug/networkz,
// /debug/endpointShardz); then predict (./predict.ts) and explain (./reasons.ts). Never writes.
import type {Session} from '../kube/session.ts'
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {OperationError, UsageError} from '../errors.ts'
import {readIstioInstall} from '../istio/read.ts'
import {coveringGateway, exportedHost, gatewayHostnames, istiodTargets, objectRef, serviceFqdn} from '../istio/gateway.ts'
import {resolveHostnames} from '../istio/gateway-dns.ts'
import {EGRESS_GATEWAY_ANNOTATION, IMPORT_VIA_EGRESS, IMPORT_VIA_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL, MULTICLUSTER_LABEL} from '../istio/names.ts'
import {egressHost, sidecarHop, subsetTls} from '../istio/egress.ts'
import {remoteSecretEntries, sameServer} from '../cluster/remote-secrets.ts'
import {describeTarget, type EndpointShardz, istiodJson, locateIstiodPod, type NetworkGatewayEntry, parseEndpointShardz, parseNetworkz, shardCluster} from '../cluster/istiod.ts'
import {discoveryOf, type EnvoyDiscovery, predict, type PortPrediction, type ServicePort, type Via} from './predict.ts'
import {type Dropped, type ExplainTarget, peerReason, type PeerView} from './reasons.ts'
import {allInOrder} from '../settle.ts'

export interface ExplainOptions {
  /** A Service name, or a host (contains a dot) of a ServiceEntry in the namespace, e.g. an import's NAME.NS.global. */
  service: string
  namespace: string
  context?: string
  /** The sidecar's namespace (default: namespace). */
  from?: string
  port?: number
  peerContexts: string[]
  istioNamespace: string
}

export interface ExplainEndpoint {
  cluster: string
  address: string
  port: number
  servicePort: number
  via: Via
}

/** An import through the egress gateway (service import --via-egress): per port, the two hops. */
export interface EgressHops {
  /** namespace/name of the egress gateway Service. */
  gateway: string
  hops: Array<{
    port: number
    /** Hop 1, the sidecar → the egress gateway: where the route sends the port (none: no route, straight to WEST's gateway), the egress gateway port, and the subset's TLS. */
    sidecar: {to: 'egress' | 'elsewhere' | 'none'; port?: number; subset?: string; tls?: string; sni?: string; dest?: string}
    /** Hop 2, the egress gateway → WEST: the ServiceEntry's endpoints (WEST's east-west gateway) and the import's TLS. */
    egress: {endpoints: string[]; tls?: string; sni?: string}
  }>
}

export interface ExplainResult {
  service: string
  from: {context: string; namespace: string}
  endpoints: ExplainEndpoint[]
  dropped: Dropped[]
  /** Only for an import through the egress gateway. */
  egress?: EgressHops
  /** For the text renderer. */
  detail: {
    proxy: {cluster: string; network?: string}
    ports: PortPrediction[]
    istiod: string
    gateways: NetworkGatewayEntry[]
    importedFrom?: string
    /** The host's Envoy cluster type: EDS, or STRICT_DNS / LOGICAL_DNS for a ServiceEntry resolved by DNS (an import of a hostname gateway). */
    discovery?: EnvoyDiscovery
  }
}

interface Target extends ExplainTarget {
  ports: ServicePort[]
}

const portsOf = (svc: KubeObject): ServicePort[] => (svc.spec?.ports ?? []).map((p: any) => ({name: String(p.name ?? ''), port: Number(p.port)}))

async function get(client: KubeClient, type: (typeof RESOURCES)[keyof typeof RESOURCES], ns: string | undefined, name: string): Promise<KubeObject | null> {
  return (await client.getOptional<KubeObject>(resourcePath(type, ns, name))) ?? null
}

/** A peer read through its context: cluster ID, network, gateway, the Service, the Gateway passing the host. */
async function readPeer(session: Session, context: string, o: ExplainOptions, name: string): Promise<{id?: string; read: NonNullable<PeerView['read']>; service: KubeObject | null} | undefined> {
  const client = session.client(context)
  try {
    const [install, service, gateways] = await allInOrder([
      readIstioInstall(client, o.istioNamespace, {}, {meshConfig: false}),
      get(client, RESOURCES.Service, o.namespace, name),
      listObjects(client, RESOURCES.Gateway).catch(() => [] as KubeObject[]),
    ])
    const gw = install.gateway
    // hostnames resolved as istiod resolves them (model/network.go): what its EDS can hold
    const dns = await resolveHostnames(gatewayHostnames([gw]))
    const host = service ? exportedHost(service, install.facts.clusterDomain) : serviceFqdn(name, o.namespace, install.facts.clusterDomain)
    const passing = gw ? coveringGateway(gateways, gw, host, o.namespace) : undefined
    return {
      id: install.facts.clusterId,
      service,
      read: {
        hasService: service !== null,
        network: install.facts.network,
        gateway: gw && {ref: gw.ref, addresses: gw.addresses, port: gw.port, network: gw.network, shape: gw.shape,
          targets: [...gw.targets, ...istiodTargets(gw, dns)].map((x) => ({address: x.address, port: x.port})),
          hostnames: gw.targets.filter((x) => x.hostname).map((x) => x.address)},
        passedBy: gw ? (passing ? objectRef(passing) : null) : undefined,
      },
    }
  } catch {
    return undefined
  }
}

/**
 * The TLS mode the DestinationRule for the host sets per port (mtlsChecker: it decides over the
 * endpoint's TLSMode when set): an exact host (a short name is qualified with the rule's namespace)
 * before a wildcard, the longest wildcard first; port-level settings before the rule's own.
 */
export function destinationRuleTls(rules: KubeObject[], host: string, clusterDomain: string, ports: ServicePort[]): Record<number, string> | undefined {
  const qualify = (h: string, ns: string) => (h.includes('.') || h.startsWith('*') ? h : serviceFqdn(h, ns, clusterDomain))
  const score = (r: KubeObject) => {
    const h = qualify(String(r.spec?.host ?? ''), r.metadata.namespace ?? '')
    if (h === host) return 10_000
    if (h === '*') return 1
    if (h.startsWith('*.') && host.endsWith(h.slice(1))) return h.length
    return 0
  }
  const rule = rules.filter((r) => score(r) > 0).sort((a, b) => score(b) - score(a))[0]
  if (!rule) return undefined
  const out: Record<number, string> = {}
  for (const p of ports) {
    const mode = (rule.spec?.trafficPolicy?.portLevelSettings ?? []).find((s: any) => s?.port?.number === p.port)?.tls?.mode ?? rule.spec?.trafficPolicy?.tls?.mode
    if (typeof mode === 'string') out[p.port] = mode
  }
  return out
}

export async function explain(session: Session, o: ExplainOptions): Promise<ExplainResult> {
  const ref = session.resolve(o.context)
  const context = ref.context
  const client = session.client(context)
  const from = o.from ?? o.namespace
  for (const p of o.peerContexts) session.resolve(p)
  const isHost = o.service.includes('.')

  const [install, ns, fromNs, secrets, service, entries, rules, routes] = await allInOrder([
    readIstioInstall(client, o.istioNamespace, {}, {meshConfig: false}),
    get(client, RESOURCES.Namespace, undefined, o.namespace),
    from === o.namespace ? undefined : get(client, RESOURCES.Namespace, undefined, from),
    listObjects(client, RESOURCES.Secret, {namespace: o.istioNamespace, labelSelector: `${MULTICLUSTER_LABEL}=true`}),
    isHost ? undefined : get(client, RESOURCES.Service, o.namespace, o.service),
    listObjects(client, RESOURCES.ServiceEntry, {namespace: o.namespace}).catch(() => [] as KubeObject[]),
    listObjects(client, RESOURCES.DestinationRule).catch(() => [] as KubeObject[]),
    isHost ? listObjects(client, RESOURCES.VirtualService).catch(() => [] as KubeObject[]) : [],
  ])
  if (!ns) throw new UsageError(`context "${context}": namespace ${o.namespace} not found`, `list the namespaces: \`kubectl get namespaces --context ${context}\``)
  if (fromNs === null) throw new UsageError(`context "${context}": namespace ${from} (--from) not found`, `the sidecar's namespace must exist in ${context}: \`kubectl get namespaces --context ${context}\``)
  const clusterId = install.facts.clusterId ?? context
  const clusterDomain = install.facts.clusterDomain

  // Peers: the clusters CTX's remote secrets name (through a context with that name or the same API server), plus --peer-context.
  const links = remoteSecretEntries({lists: {Secret: secrets}, istioNamespace: o.istioNamespace}).filter((e) => e.key !== clusterId)
  const kc = session.kubeconfig
  const contextFor = (id: string, server?: string): string | undefined => {
    if (kc.has(id)) return id
    return kc.merged.contexts.find((c) => sameServer(kc.merged.clusters.find((k) => k.name === c.context?.cluster)?.cluster?.server, server))?.name
  }

  let target: Target
  let importedFrom: string | undefined
  let ownerName = o.service
  let egress: EgressHops | undefined
  let discovery: EnvoyDiscovery = 'EDS'
  if (isHost) {
    const se = entries.find((e) => (e.spec?.hosts ?? []).includes(o.service))
    if (!se) {
      throw new UsageError(`context "${context}": no ServiceEntry in namespace ${o.namespace} has host ${o.service}`,
        `name a Service (\`kubectl get services -n ${o.namespace} --context ${context}\`) or a ServiceEntry host (\`kubectl get serviceentries -n ${o.namespace} --context ${context}\`)`)
    }
    importedFrom = se.metadata.labels?.[IMPORTED_FROM_LABEL]
    discovery = discoveryOf(se.spec?.resolution)
    ownerName = se.metadata.labels?.[IMPORTED_SERVICE_LABEL] ?? se.metadata.name
    target = {host: o.service, name: ownerName, namespace: o.namespace, context, clusterId, network: install.facts.network, importedFrom,
      ports: (se.spec?.ports ?? []).map((p: any) => ({name: String(p.name ?? ''), port: Number(p.number)}))}
    if (se.metadata.labels?.[IMPORT_VIA_LABEL] === IMPORT_VIA_EGRESS) egress = egressHops(se, routes, rules, o.istioNamespace, clusterDomain)
  } else {
    target = {host: serviceFqdn(o.service, o.namespace, clusterDomain), name: o.service, namespace: o.namespace, context, clusterId, network: install.facts.network, ports: service ? portsOf(service) : []}
  }

  // Read the peers that have a context.
  const peerCtx = new Map<string, {id?: string; linked: boolean}>()
  if (importedFrom) {
    const link = links.find((e) => e.key === importedFrom)
    const c = o.peerContexts[0] ?? contextFor(importedFrom, link?.server)
    if (c) peerCtx.set(c, {id: importedFrom, linked: Boolean(link)})
  } else {
    for (const e of links) {
      const c = contextFor(e.key, e.server)
      if (c && c !== context) peerCtx.set(c, {id: e.key, linked: true})
    }
    for (const c of o.peerContexts) if (c !== context && !peerCtx.has(session.resolve(c).context)) peerCtx.set(session.resolve(c).context, {linked: false})
  }
  const reads = await Promise.all([...peerCtx.entries()].map(async ([c, p]) => ({context: c, ...p, got: await readPeer(session, c, o, ownerName)})))
  const peers: PeerView[] = []
  for (const r of reads) {
    const id = r.got?.id ?? r.id ?? r.context
    const linked = importedFrom ? r.linked : links.some((e) => e.key === id)
    peers.push({id, context: r.context, linked, read: r.got?.read})
  }
  if (!importedFrom) {
    for (const e of links) if (!peers.some((p) => p.id === e.key)) peers.push({id: e.key, linked: true})
  } else if (!peers.some((p) => p.id === importedFrom)) {
    peers.push({id: importedFrom, linked: links.some((e) => e.key === importedFrom)})
  }

  if (!isHost && !service) {
    const elsewhere = reads.find((r) => r.got?.service)
    if (!elsewhere) {
      const imports = entries.filter((e) => e.metadata.labels?.[IMPORTED_SERVICE_LABEL] === o.service).flatMap((e) => e.spec?.hosts ?? [])
      throw new UsageError(`context "${context}": service ${o.namespace}/${o.service} not found${reads.length > 0 ? ` (nor in ${reads.map((r) => r.context).join(', ')})` : ''}`,
        imports.length > 0 ? `it is imported here as ${imports[0]}: \`kubectl mesh explain ${imports[0]} -n ${o.namespace} --context ${context}\`` : `list the services: \`kubectl get services -n ${o.namespace} --context ${context}\``)
    }
    target.ports = portsOf(elsewhere.got!.service!)
  }
  if (target.ports.length === 0) throw new UsageError(`context "${context}": ${target.host} has no ports`, `give the Service or ServiceEntry a port`)
  if (o.port !== undefined && !target.ports.some((p) => p.port === o.port)) {
    throw new UsageError(`context "${context}": ${target.host} has no port ${o.port}`, `pass one of its ports: ${target.ports.map((p) => `--port ${p.port}`).join(', ')}`)
  }
  if (importedFrom) {
    const owner = reads.find((r) => r.got?.id === importedFrom)?.got?.service
    if (owner) target.ownerHost = exportedHost(owner, clusterDomain)
  }

  // istiod's view: one pod list, then three GETs through port-forwards.
  const found = await locateIstiodPod({name: context, istioNamespace: o.istioNamespace}, client)
  if (!('target' in found)) {
    throw new OperationError(`context "${context}": cannot reach istiod: ${found.detail}`, `explain reads istiod's view through a port-forward to its pod (RBAC: list pods, create pods/portforward in ${o.istioNamespace})`)
  }
  let clusterz: Array<{id: string; syncStatus: string}>
  let gateways: NetworkGatewayEntry[]
  let shardz: EndpointShardz
  try {
    const [cz, nz, sz] = await Promise.all([
      istiodJson(found.target, '/debug/clusterz', 'list', session.timeoutMs),
      istiodJson(found.target, '/debug/networkz', 'list', session.timeoutMs),
      istiodJson(found.target, '/debug/endpointShardz', 'object', session.timeoutMs),
    ])
    clusterz = (cz as Array<{id: string; syncStatus: string}>)
    gateways = parseNetworkz(nz)
    shardz = parseEndpointShardz(sz)
  } catch (error) {
    throw new OperationError(`context "${context}": cannot read istiod's view: ${(error as Error).message}`, `check istiod: \`kubectl -n ${o.istioNamespace} get pods -l app=istiod --context ${context}\``)
  }

  const shards = shardz[target.host]?.[o.namespace]
  const proxy = {cluster: clusterId, network: install.facts.network}
  const drTlsMode = destinationRuleTls(rules, target.host, clusterDomain, target.ports)
  const ports = predict({ports: target.ports, proxy, gateways, shards, importedFrom, drTlsMode, discovery}, o.port)
  const shardClusters = [...new Set(Object.entries(shards ?? {}).filter(([, eps]) => eps.length > 0).map(([k]) => (importedFrom && k.startsWith('External/') ? importedFrom : shardCluster(k))))]
  const dropped = peers
    .map((p) => peerReason(target, p, {clusterz, gateways, shardClusters}, ports))
    .filter((d): d is Dropped => d !== undefined)
    .sort((a, b) => a.cluster.localeCompare(b.cluster))
  return {
    service: target.host,
    from: {context, namespace: from},
    endpoints: ports.flatMap((p) => p.endpoints.map((e) => ({cluster: e.cluster, address: e.address, port: e.port, servicePort: e.servicePort, via: e.via}))),
    dropped,
    ...(egress ? {egress: o.port === undefined ? egress : {...egress, hops: egress.hops.filter((h) => h.port === o.port)}} : {}),
    detail: {proxy, ports, istiod: describeTarget(found.target), gateways, ...(importedFrom ? {importedFrom} : {}), discovery},
  }
}

/** The two hops of an import through the egress gateway, per port, from the cluster's objects (pure). */
export function egressHops(se: KubeObject, routes: KubeObject[], rules: KubeObject[], rootNamespace: string, clusterDomain: string): EgressHops {
  const ref = se.metadata.annotations?.[EGRESS_GATEWAY_ANNOTATION] ?? ''
  const [namespace, name] = ref.split('/')
  const gw = {namespace, name, host: egressHost({namespace, name}, clusterDomain)}
  const host = String(se.spec?.hosts?.[0] ?? '')
  const importRule = rules.find((r) => r.spec?.host === host && r.metadata.namespace === se.metadata.namespace)
  return {
    gateway: ref,
    hops: (se.spec?.ports ?? []).map((p: any) => {
      const hop = sidecarHop(routes, host, gw, {number: p.number, protocol: p.protocol})
      const tls = hop.to === 'egress' ? subsetTls(rules, gw, rootNamespace, hop.subset, hop.port) : undefined
      const pls = (importRule?.spec?.trafficPolicy?.portLevelSettings ?? []).find((x: any) => x.port?.number === p.number)?.tls ?? importRule?.spec?.trafficPolicy?.tls
      return {
        port: Number(p.number),
        sidecar: {to: hop.to, ...(hop.to === 'egress' ? {port: hop.port, subset: hop.subset, tls: tls?.mode, sni: tls?.sni} : {}), ...(hop.dest ? {dest: hop.dest} : {})},
        egress: {endpoints: (se.spec?.endpoints ?? []).map((e: any) => `${e.address}:${e.ports?.[p.name] ?? p.number}`), tls: pls?.mode, sni: pls?.sni},
      }
    }),
  }
}
