// Why a peer cluster that has the service contributes nothing a sidecar can use (pure): facts about
// the link (remote secret, istiod's sync status), istiod's shards and gateways, the prediction
// (./predict.ts), and — when the peer was read through a context — its Service, east-west gateway
// and the Gateway that passes the host through (src/istio/gateway.ts).
import type {PortPrediction} from './predict.ts'
import type {NetworkGatewayEntry} from '../cluster/istiod.ts'

export interface PeerView {
  /** The peer's cluster ID. */
  id: string
  /** The context it was read through, when one was (hints name it). */
  context?: string
  /** CTX holds a remote secret for it (istiod reads its endpoints). */
  linked: boolean
  /** The peer as read through its context; undefined when it was not read. */
  read?: {
    /** The Service (or, for an import, the exported Service) exists there. */
    hasService: boolean
    network?: string
    /** Its east-west gateway: ref, addresses, port; undefined when it has none. */
    gateway?: {ref: string; addresses: string[]; port: number; network?: string}
    /** The Gateway (namespace/name) that passes the host through its east-west gateway; null: none does. */
    passedBy?: string | null
  }
}

export interface ExplainTarget {
  /** The host istiod knows (NAME.NS.svc.<domain>, or an import's host). */
  host: string
  name: string
  namespace: string
  /** The context explained (the sidecar's cluster). */
  context: string
  clusterId: string
  network?: string
  /** For an import: the cluster it was imported from and the owner's host (NAME.NS.svc.<its domain>). */
  importedFrom?: string
  ownerHost?: string
}

export interface IstiodView {
  clusterz: Array<{id: string; syncStatus: string}>
  gateways: NetworkGatewayEntry[]
  /** The clusters istiod holds a shard of the host from. */
  shardClusters: string[]
}

export interface Dropped {
  cluster: string
  reason: string
  hint: string
}

const ctx = (p: PeerView) => p.context ?? p.id

/** The reason and fix for one peer, or undefined when it contributes a usable endpoint on every port. */
export function peerReason(t: ExplainTarget, peer: PeerView, view: IstiodView, ports: PortPrediction[]): Dropped | undefined {
  const d = (reason: string, hint: string): Dropped => ({cluster: peer.id, reason, hint})
  const svc = `${t.namespace}/${t.name}`
  const link = `kubectl mesh cluster link --context ${t.context} --remote-context ${ctx(peer)}`

  if (t.importedFrom) return importReason(t, peer, ports)
  if (peer.read && !peer.read.hasService) {
    return d(`service ${svc} absent: cluster ${peer.id} has no Service ${svc}`, `nothing to fix if ${peer.id} should not serve it; else create the Service ${svc} and its workload in ${peer.id} (--context ${ctx(peer)})`)
  }
  if (!peer.linked) {
    return d(`not linked: ${t.context} holds no remote secret for cluster ${peer.id}, so its istiod does not read ${peer.id}'s endpoints`, `\`${link}\``)
  }
  const sync = view.clusterz.find((c) => c.id === peer.id)
  if (!sync) {
    return d(`not synced: ${t.context}'s istiod does not list cluster ${peer.id} in /debug/clusterz (it skipped the remote secret)`,
      `look for "${peer.id}" in istiod's log (\`kubectl -n istio-system logs deploy/istiod --context ${t.context}\`) and run \`kubectl mesh verify --context ${t.context} --context ${ctx(peer)}\``)
  }
  if (sync.syncStatus !== 'synced') {
    return d(`not synced: ${t.context}'s istiod lists cluster ${peer.id} as "${sync.syncStatus}"`,
      `check that ${peer.id}'s API server is reachable with the remote secret's token (\`kubectl mesh verify --context ${t.context} --context ${ctx(peer)}\`); a new token: \`${link}\``)
  }
  if (!view.shardClusters.includes(peer.id)) {
    return d(`no endpoints: ${t.context}'s istiod holds no endpoint of ${t.host} from cluster ${peer.id}${peer.read ? ' (the Service has no ready pod there)' : ' (the Service is absent there or has no ready pod)'}`,
      `\`kubectl -n ${t.namespace} get endpointslices -l kubernetes.io/service-name=${t.name} --context ${ctx(peer)}\`: start a ready pod behind ${svc} in ${peer.id}`)
  }
  for (const p of ports) {
    const mine = p.endpoints.filter((e) => e.cluster.split(',').includes(peer.id))
    const lost = p.dropped.filter((e) => e.cluster === peer.id)
    const label = `port ${p.port.port}${p.port.name ? ` (${p.port.name})` : ''}`
    if (mine.length === 0) {
      if (lost.length > 0 && lost.every((e) => e.cause === 'no-sidecar')) {
        return d(`endpoints without a sidecar cannot cross networks: ${peer.id}'s ${lost.length} endpoint(s) of ${label} on network ${lost[0].network} have no sidecar (TLSMode disabled), and istiod sends other networks only mTLS endpoints through the gateway`,
          `inject the sidecar into the workload in ${peer.id}: \`kubectl label namespace ${t.namespace} istio-injection=enabled --context ${ctx(peer)}\`, then recreate its pods (\`kubectl -n ${t.namespace} rollout restart deployment --context ${ctx(peer)}\`)`)
      }
      if (lost.length > 0 && lost.every((e) => e.cause === 'no-mtls' || e.cause === 'no-sidecar')) {
        return d(`mTLS off cannot cross networks: a DestinationRule for ${t.host} in ${t.context} sets a TLS mode other than ISTIO_MUTUAL for ${label}, so istiod sends other networks none of ${peer.id}'s ${lost.length} endpoint(s)`,
          `set \`trafficPolicy.tls.mode: ISTIO_MUTUAL\` in that DestinationRule (\`kubectl get destinationrules -A --context ${t.context}\`)`)
      }
      if (lost.length > 0) {
        const causes = [...new Set(lost.map((e) => e.cause))].join(', ')
        return d(`no usable endpoint of ${label}: istiod drops ${peer.id}'s ${lost.length} endpoint(s) (${causes})`,
          `\`kubectl -n ${t.namespace} get pods -o wide --context ${ctx(peer)}\`: make the pods behind ${svc} ready${causes.includes('no-sidecar') ? ' and give them a sidecar' : ''}`)
      }
      const other = p.otherPortNames[peer.id]
      if (other?.length) {
        return d(`no endpoint for ${label}: ${peer.id}'s endpoints carry port name(s) ${other.join(', ')}, not "${p.port.name}"`,
          `give the Service ${svc} the same port names in every cluster (\`kubectl -n ${t.namespace} get service ${t.name} -o yaml --context ${ctx(peer)}\`)`)
      }
      return d(`no endpoint of ${label} from ${peer.id}`, `\`kubectl -n ${t.namespace} get endpointslices -l kubernetes.io/service-name=${t.name} --context ${ctx(peer)}\``)
    }
    const pods = mine.filter((e) => e.crossNetworkPod)
    if (pods.length === mine.length) {
      const net = pods[0].network
      const gw = peer.read?.gateway
      const hint = !peer.read
        ? `give ${peer.id}'s east-west gateway Service the label topology.istio.io/network=${net} and a load-balancer address (or list it under meshNetworks), so istiod sends the gateway instead`
        : !gw
          ? `install an east-west gateway in ${peer.id} for network ${net} (istio samples/multicluster/gen-eastwest-gateway.sh --network ${net}), with a load-balancer address`
          : gw.addresses.length === 0
            ? `${peer.id}'s east-west gateway Service ${gw.ref} has no address: give it a load-balancer address (\`kubectl -n ${gw.ref.split('/')[0]} get service ${gw.ref.split('/')[1]} --context ${ctx(peer)}\`)`
            : gw.network !== net
              ? `label ${peer.id}'s east-west gateway Service ${gw.ref} topology.istio.io/network=${net} (\`kubectl -n ${gw.ref.split('/')[0]} label service ${gw.ref.split('/')[1]} topology.istio.io/network=${net} --overwrite --context ${ctx(peer)}\`)`
              : `istiod has not picked up ${gw.ref} yet; run \`kubectl mesh verify --context ${t.context} --context ${ctx(peer)}\``
      return d(`no gateway known for its network ${net}: ${t.context}'s istiod knows no gateway for network ${net}, so it sends ${peer.id}'s pod IPs (${pods.map((e) => `${e.address}:${e.port}`).join(', ')}), which network ${t.network ?? '(none)'} cannot reach`, hint)
    }
    const viaGw = mine.filter((e) => e.via === 'gateway')
    if (peer.read && viaGw.length > 0 && viaGw.length === mine.length) {
      const gw = peer.read.gateway
      if (gw && gw.addresses.length === 0) {
        return d(`gateway without address: ${t.context}'s istiod sends ${peer.id}'s endpoints to ${viaGw.map((e) => `${e.address}:${e.port}`).join(', ')} (a gateway it still knows for network ${viaGw[0].network}, e.g. from meshNetworks), but ${peer.id}'s east-west gateway Service ${gw.ref} has no address`,
          `give ${gw.ref} a load-balancer address (\`kubectl -n ${gw.ref.split('/')[0]} get service ${gw.ref.split('/')[1]} --context ${ctx(peer)}\`), then \`${link}\` to write it into meshNetworks`)
      }
      if (gw && !viaGw.some((e) => gw.addresses.includes(e.address) && e.port === gw.port)) {
        return d(`gateway moved: ${t.context}'s istiod sends ${peer.id}'s endpoints to ${viaGw.map((e) => `${e.address}:${e.port}`).join(', ')}, but ${peer.id}'s east-west gateway ${gw.ref} is at ${gw.addresses.map((a) => `${a}:${gw.port}`).join(', ')}`,
          `istiod follows the gateway Service within seconds; if it does not, check the link: \`kubectl mesh verify --context ${t.context} --context ${ctx(peer)}\``)
      }
      if (peer.read.passedBy === null) {
        return d(`not passed through the remote gateway: no AUTO_PASSTHROUGH Gateway on ${peer.id}'s east-west gateway${gw ? ` ${gw.ref}` : ''} passes ${t.host} through (not exposed or exported)`,
          `\`${link}\` (passes every service through), or with --expose exported: \`kubectl mesh service export ${t.name} -n ${t.namespace} --context ${ctx(peer)}\``)
      }
    }
  }
  return undefined
}

/** An imported host: its endpoints are the owner's gateway; the owner must still export it there. */
function importReason(t: ExplainTarget, peer: PeerView, ports: PortPrediction[]): Dropped | undefined {
  const d = (reason: string, hint: string): Dropped => ({cluster: peer.id, reason, hint})
  const svc = `${t.namespace}/${t.name}`
  const reimport = `kubectl mesh service import ${t.name} -n ${t.namespace} --from-context ${ctx(peer)} --context ${t.context}`
  const all = ports.flatMap((p) => p.endpoints.filter((e) => e.cluster === peer.id))
  if (all.length === 0) return d(`no endpoints: ${t.context}'s istiod holds no endpoint for the import ${t.host}`, `\`${reimport}\``)
  if (!peer.read) return undefined
  if (!peer.read.hasService) return d(`service ${svc} absent: cluster ${peer.id} has no Service ${svc} to serve the import ${t.host}`, `create it in ${peer.id}, or remove the import: \`kubectl mesh service unimport ${t.name} -n ${t.namespace} --context ${t.context}\``)
  const gw = peer.read.gateway
  if (gw && gw.addresses.length > 0 && !all.some((e) => gw.addresses.includes(e.address) && e.port === gw.port)) {
    return d(`gateway moved: the import ${t.host} points at ${all.map((e) => `${e.address}:${e.port}`).join(', ')}, but ${peer.id}'s east-west gateway ${gw.ref} is at ${gw.addresses.map((a) => `${a}:${gw.port}`).join(', ')}`, `\`${reimport}\``)
  }
  if (peer.read.passedBy === null) {
    return d(`not passed through the remote gateway: ${peer.id}'s east-west gateway${gw ? ` ${gw.ref}` : ''} does not pass ${t.ownerHost ?? svc} through (not exported)`,
      `\`kubectl mesh service export ${t.name} -n ${t.namespace} --context ${ctx(peer)}\``)
  }
  return undefined
}
