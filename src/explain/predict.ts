// The endpoints istiod sends a sidecar for one Service port, predicted from istiod's own view
// (/debug/endpointShardz, /debug/networkz) with Istio's rules (pure). The rules, as
// pilot/pkg/xds/endpoints of the Istio module (1.31 line) applies them:
//
// - BuildClusterLoadAssignment: every shard's endpoints, keeping those whose ServicePortName is the
//   port's name and whose address is an IP (or empty, see below).
// - filterIstioEndpoint: drop unhealthy (HealthStatus 2), draining (3) and terminating (4) endpoints;
//   drop an endpoint without an address unless multi-network is on and it is on another network (its
//   gateway stands in).
// - EndpointsByNetworkFilter, only when multi-network is on (istiod knows at least one gateway,
//   NetworkGateways.IsMultiNetworkEnabled): an endpoint on the proxy's network (or when either
//   network is empty: Proxy.InNetwork) passes as its own address; so does one on a network with no
//   gateway known (selectNetworkGateways finds none): its pod IP, which the other network usually
//   cannot reach. Otherwise, an endpoint without mTLS (TLSMode not "istio": no sidecar) is dropped,
//   and the others are replaced by their network's gateways (those of the endpoint's cluster on that
//   network when istiod knows any, else all of the network's), one gateway endpoint per gateway,
//   its weight the sum of the endpoints' weights scaled by GetLBWeightScaleFactor and split evenly.
// - A ServiceEntry with resolution DNS (DNS_ROUND_ROBIN) is not sent over EDS: its Envoy cluster is
//   STRICT_DNS (LOGICAL_DNS) (networking/core/cluster.go convertResolution) and carries the endpoints in
//   its load_assignment (cluster_builder.go buildCluster, from endpoint_builder.go FromServiceEndpoints →
//   generate: filterIstioEndpoint and EndpointsByNetworkFilter as above), where a hostname stays a
//   hostname that Envoy resolves itself: the not-an-IP filter is BuildClusterLoadAssignment's (EDS) only.
// - Not modelled: locality priorities, subsets, PeerAuthentication turning mTLS off, cluster-local
//   hosts, Sidecar egress scoping, network views (REQUESTED_NETWORK_VIEW), gateway IP families of a
//   single-stack proxy, ambient/HBONE.
import type {NetworkGatewayEntry, ShardEndpoint} from '../cluster/istiod.ts'
import {shardCluster, shardProvider} from '../cluster/istiod.ts'

export interface ServicePort {
  name: string
  port: number
}

export interface PredictInput {
  ports: ServicePort[]
  /** The proxy: its cluster ID and network (CLUSTER_ID, NETWORK metadata). */
  proxy: {cluster: string; network?: string}
  /** istiod's /debug/networkz. */
  gateways: NetworkGatewayEntry[]
  /** The shards istiod holds for the host in its namespace (endpointShardz[host][namespace]); undefined: none. */
  shards?: Record<string, ShardEndpoint[]>
  /** For a ServiceEntry an import made: the cluster its External endpoints stand for (the gateway of that cluster). */
  importedFrom?: string
  /** The TLS mode a DestinationRule for the host sets, by service port (absent: no DestinationRule sets one). */
  drTlsMode?: Record<number, string>
  /** The host's Envoy cluster type: EDS (default), or STRICT_DNS / LOGICAL_DNS for a ServiceEntry resolved by DNS (endpoints in the cluster's load_assignment, hostnames kept). */
  discovery?: EnvoyDiscovery
}

export type EnvoyDiscovery = 'EDS' | 'STRICT_DNS' | 'LOGICAL_DNS'

/** The Envoy cluster type istiod gives a ServiceEntry's resolution (cluster.go convertResolution; DNS_ROUND_ROBIN is LOGICAL_DNS). NONE (ORIGINAL_DST for a sidecar) is not modelled: EDS. */
export function discoveryOf(resolution: string | undefined): EnvoyDiscovery {
  return resolution === 'DNS' ? 'STRICT_DNS' : resolution === 'DNS_ROUND_ROBIN' ? 'LOGICAL_DNS' : 'EDS'
}

export type Via = 'pod' | 'gateway'

export interface PredictedEndpoint {
  /** The cluster the endpoints came from (for a gateway endpoint: the clusters whose endpoints it stands for). */
  cluster: string
  address: string
  port: number
  servicePort: number
  via: Via
  weight: number
  /** The endpoint's network. */
  network: string
  /** A pod IP on another network than the proxy's (no gateway known for it): sent, but usually unreachable. */
  crossNetworkPod?: boolean
}

/** Why one endpoint of a shard was not sent. */
export type DropCause = 'no-sidecar' | 'no-mtls' | 'unhealthy' | 'draining' | 'terminating' | 'no-address' | 'not-an-ip'

export interface DroppedEndpoint {
  cluster: string
  address: string
  port: number
  network: string
  cause: DropCause
}

export interface PortPrediction {
  port: ServicePort
  endpoints: PredictedEndpoint[]
  dropped: DroppedEndpoint[]
  /** Per source cluster: how many endpoints its shard holds for this port (after the port-name match). */
  held: Record<string, number>
  /** Per source cluster: endpoints in its shard for other port names only (the port name does not match). */
  otherPortNames: Record<string, string[]>
}

const HEALTH_UNHEALTHY = 2
const HEALTH_DRAINING = 3
const HEALTH_TERMINATING = 4

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const isIp = (s: string) => IPV4.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s))

/** Proxy.InNetwork: the same network, or either one empty. */
export function sameNetwork(a: string | undefined, b: string | undefined): boolean {
  return !a || !b || a === b
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
const lcm = (a: number, b: number) => (a / gcd(a, b)) * b

/** NetworkGateways.GetLBWeightScaleFactor: the lcm of the gateway counts per network and per network+cluster. */
export function weightScaleFactor(gateways: NetworkGatewayEntry[]): number {
  const counts = new Map<string, number>()
  for (const g of gateways) {
    counts.set(`n/${g.network}`, (counts.get(`n/${g.network}`) ?? 0) + 1)
    counts.set(`c/${g.network}/${g.cluster}`, (counts.get(`c/${g.network}/${g.cluster}`) ?? 0) + 1)
  }
  let f = 1
  for (const n of counts.values()) f = lcm(f, n)
  return f
}

/** selectNetworkGateways: the network's gateways in the endpoint's cluster, else all of the network's. */
export function gatewaysFor(gateways: NetworkGatewayEntry[], network: string, cluster: string): NetworkGatewayEntry[] {
  const exact = gateways.filter((g) => g.network === network && g.cluster === cluster)
  // a sidecar cannot use an ambient-only gateway (no mTLS port)
  return (exact.length > 0 ? exact : gateways.filter((g) => g.network === network)).filter((g) => g.port !== 0)
}

/** The EDS for one port of the host, as istiod would build it for this proxy. */
export function predictPort(input: PredictInput, port: ServicePort): PortPrediction {
  const multiNetwork = input.gateways.length > 0
  const scale = weightScaleFactor(input.gateways)
  const endpoints: PredictedEndpoint[] = []
  const dropped: DroppedEndpoint[] = []
  const held: Record<string, number> = {}
  const otherPortNames: Record<string, string[]> = {}
  const viaGateway = new Map<string, PredictedEndpoint>()
  const keys = Object.keys(input.shards ?? {}).sort()
  for (const key of keys) {
    const external = shardProvider(key) === 'External'
    for (const ep of input.shards![key]) {
      const cluster = external && input.importedFrom ? input.importedFrom : ep.cluster || shardCluster(key)
      if (ep.servicePortName !== port.name) {
        const names = (otherPortNames[cluster] ??= [])
        if (!names.includes(ep.servicePortName)) names.push(ep.servicePortName)
        continue
      }
      held[cluster] = (held[cluster] ?? 0) + 1
      const drop = (cause: DropCause) => dropped.push({cluster, address: ep.address, port: ep.port, network: ep.network, cause})
      if (ep.address !== '' && ep.port !== 0 && !isIp(ep.address) && (input.discovery ?? 'EDS') === 'EDS') {
        drop('not-an-ip')
        continue
      }
      if (ep.healthStatus === HEALTH_UNHEALTHY) {
        drop('unhealthy')
        continue
      }
      if (ep.healthStatus === HEALTH_TERMINATING) {
        drop('terminating')
        continue
      }
      if (ep.healthStatus === HEALTH_DRAINING) {
        drop('draining')
        continue
      }
      const local = sameNetwork(ep.network, input.proxy.network)
      if (ep.address === '' && (!multiNetwork || local)) {
        drop('no-address')
        continue
      }
      const gws = multiNetwork ? gatewaysFor(input.gateways, ep.network, ep.cluster || shardCluster(key)) : []
      const forceGateway = !input.proxy.network && ep.network !== '' && gws.length > 0
      if (!multiNetwork || (!forceGateway && (local || gws.length === 0))) {
        if (ep.address === '') continue
        endpoints.push({
          cluster, address: ep.address, port: ep.port, servicePort: port.port, weight: (ep.weight ?? 1) * scale, network: ep.network,
          via: external && input.importedFrom ? 'gateway' : 'pod',
          ...(!local && !(external && input.importedFrom) ? {crossNetworkPod: true} : {}),
        })
        continue
      }
      const dr = input.drTlsMode?.[port.port]
      if (dr !== undefined ? dr !== 'ISTIO_MUTUAL' : ep.tlsMode !== 'istio') {
        drop(dr !== undefined ? 'no-mtls' : 'no-sidecar')
        continue
      }
      const share = Math.floor(((ep.weight ?? 1) * scale) / gws.length)
      for (const g of gws) {
        const k = `${g.network}|${g.cluster}|${g.addr}|${g.port}`
        const seen = viaGateway.get(k)
        if (seen) {
          seen.weight += share
          if (!seen.cluster.split(',').includes(cluster)) seen.cluster = [...seen.cluster.split(','), cluster].sort().join(',')
        } else {
          const e: PredictedEndpoint = {cluster, address: g.addr, port: g.port, servicePort: port.port, via: 'gateway', weight: share, network: g.network}
          viaGateway.set(k, e)
          endpoints.push(e)
        }
      }
    }
  }
  for (const e of endpoints) if (e.via === 'gateway' && e.weight === 0) e.weight = 1
  endpoints.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.address.localeCompare(b.address) || a.port - b.port)
  return {port, endpoints, dropped, held, otherPortNames}
}

/** Every port (or the one asked). */
export function predict(input: PredictInput, onlyPort?: number): PortPrediction[] {
  return input.ports.filter((p) => onlyPort === undefined || p.port === onlyPort).map((p) => predictPort(input, p))
}
