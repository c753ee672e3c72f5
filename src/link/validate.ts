// Pure checks for `cluster link`: the flags alone (before any request), then the pair of
// clusters (after reading both, before the first write). Failures are UsageErrors (exit 2);
// things that are suspicious but allowed come back as warnings.
import {isIP} from 'node:net'
import {UsageError} from '../errors.ts'
import {CROSS_NETWORK_PORT, isDns1123Label, REMOTE_SECRET_PREFIX} from '../istio/names.ts'
import type {LinkFacts, Gateway} from './facts.ts'
import {type EastWestGateway, registryNamedGateway} from '../istio/gateway.ts'
import {parseYamlKey} from '../kube/configmap-yaml.ts'

/** Where the cluster ID is looked for, for the error when it is in neither place. */
export const NO_CLUSTER_ID = 'no CLUSTER_ID on Deployment istiod, no global.multiCluster.clusterName in ConfigMap istio-sidecar-injector or values'

/** ADDR[:PORT]: an IPv4/IPv6 address or a DNS name, IPv6 with a port in brackets; port defaults to 15443. */
export function parseGateway(input: string): Gateway {
  const bad = (why: string) => new UsageError(`invalid --gateway "${input}": ${why}`, 'use ADDR[:PORT], e.g. --gateway 203.0.113.7:15443 or --gateway eastwest.example.com')
  let address = input.trim()
  let port = CROSS_NETWORK_PORT
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(address)
  if (bracket) {
    address = bracket[1]
    if (bracket[2] !== undefined) port = Number(bracket[2])
  } else if (isIP(address) !== 6) {
    const m = /^(.*):(\d*)$/.exec(address)
    if (m) {
      address = m[1]
      if (m[2] === '') throw bad('empty port')
      port = Number(m[2])
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('port must be 1-65535')
  if (address === '') throw bad('empty address')
  if (!isIP(address) && !isDnsName(address)) throw bad('not an IP address or DNS name')
  return {address, port}
}

export function isDnsName(value: string): boolean {
  if (value.length > 253) return false
  return value.replace(/\.$/, '').split('.').every((l) => isDns1123Label(l))
}

export function isLoopbackServer(server: string): boolean {
  let host: string
  try {
    host = new URL(server).hostname.replace(/^\[|\]$/g, '')
  } catch {
    return false
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host)
}

export interface LinkInputs {
  context: string
  remoteContext: string
  remoteName?: string
  server?: string
  tlsServerName?: string
  network?: string
  gateway?: string
}

/** Flag checks that need no cluster. */
export function validateInputs(o: LinkInputs): {gateway?: Gateway} {
  if (o.context === o.remoteContext) {
    throw new UsageError(`--context and --remote-context are both "${o.context}": a cluster cannot be linked to itself`,
      'pass the cluster whose istiod should discover endpoints as --context and the other cluster as --remote-context')
  }
  if (o.remoteName !== undefined && !isDns1123Label(o.remoteName)) {
    throw new UsageError(`--remote-name "${o.remoteName}" is not a DNS-1123 label`,
      'use lower-case letters, digits and "-", at most 63 characters, starting and ending with a letter or digit (it must equal the remote istiod\'s CLUSTER_ID)')
  }
  if (o.network !== undefined && o.network.trim() === '') throw new UsageError('--network is empty', 'pass the remote cluster\'s network name, or leave the flag out to read it from the cluster')
  // A network name is the value of the label topology.istio.io/network.
  if (o.network !== undefined && !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(o.network) || (o.network?.length ?? 0) > 63) {
    throw new UsageError(`--network "${o.network}" is not a valid network name (a Kubernetes label value)`, 'use at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit, as in the label topology.istio.io/network')
  }
  if (o.tlsServerName !== undefined && o.tlsServerName.trim() === '') throw new UsageError('--tls-server-name is empty', 'pass the name on the remote API server\'s certificate, or leave the flag out')
  if (o.server !== undefined) {
    let url: URL
    try {
      url = new URL(o.server)
    } catch {
      throw new UsageError(`--server "${o.server}" is not a URL`, 'pass the API server address as https://HOST[:PORT]')
    }
    if (url.protocol !== 'https:') throw new UsageError(`--server "${o.server}" is not an https URL`, 'istiod talks to remote API servers over TLS: pass https://HOST[:PORT]')
  }
  return {gateway: o.gateway === undefined ? undefined : parseGateway(o.gateway)}
}

export interface PairOptions {
  /** How EAST's istiod learns WEST's gateway across networks (cluster link --network-config); default meshnetworks. */
  networkConfig?: 'meshnetworks' | 'gateway'
  remoteName?: string
  network?: string
  gateway?: Gateway
  force?: boolean
}

/** What one direction of a link needs, resolved from facts and flags. */
export interface ResolvedLink {
  /** The cluster whose istiod discovers (gets the remote secret). */
  east: LinkFacts
  /** The cluster being discovered (gets the reader account and token). */
  west: LinkFacts
  /** WEST's cluster ID: the remote secret's data key and meshNetworks' fromRegistry. */
  id: string
  westNetwork?: string
  /** Set when the networks differ: the meshNetworks gateway for WEST's network (the first of `gateways`). */
  gateway?: Gateway
  /** Every address × port istiod would use for WEST's gateway (NodePort: one per selected node), or --gateway. */
  gateways?: Gateway[]
  /** How WEST's gateway is reached (src/istio/gateway.ts GatewayShape), or `flag` for --gateway. */
  gatewayShape?: string
  /** meshnetworks: EAST's meshNetworks names WEST's network and gateway; gateway: EAST's istiod discovers WEST's labelled gateway through the remote secret. */
  networkConfig: 'meshnetworks' | 'gateway'
  /** True when EAST's meshNetworks gets an entry for WEST's network. */
  crossNetwork: boolean
  /** --network-config gateway where EAST's istiod cannot discover WEST's gateway: why; an istio-remote Gateway in EAST names it. */
  remoteGateway?: string
  /** WEST's gateway is known to EAST's istiod only through this registryServiceName of EAST's meshNetworks (kept as it is). */
  registryServiceName?: string
}

/**
 * Check one direction: EAST discovers WEST. Throws UsageError on a pair that cannot work;
 * returns the resolved link and warnings.
 */
export function validatePair(east: LinkFacts, westFacts: LinkFacts, o: PairOptions): {link: ResolvedLink; warnings: string[]} {
  let west = westFacts
  const warnings: string[] = []
  const E = `context "${east.context}"`
  const W = `context "${west.context}"`
  for (const [f, label] of [[east, E], [west, W]] as const) {
    if (!f.namespaceExists) {
      throw new UsageError(`${label}: namespace ${f.istioNamespace} does not exist: Istio is not installed there`,
        'install Istio first, or pass --istio-namespace if it lives elsewhere')
    }
  }
  const discovered = west.clusterId
  let id = o.remoteName ?? discovered
  if (!id) {
    throw new UsageError(`${W}: cannot tell the cluster ID (${NO_CLUSTER_ID})`,
      'pass --remote-name with the cluster ID the remote istiod runs with')
  }
  if (!isDns1123Label(id)) {
    throw new UsageError(`${W}: cluster ID "${id}" (from ${west.clusterIdSource}) is not a DNS-1123 label`,
      'reinstall Istio there with a valid global.multiCluster.clusterName, or pass --remote-name (and --force)')
  }
  if (o.remoteName && discovered && o.remoteName !== discovered) {
    if (!o.force) {
      throw new UsageError(`--remote-name "${o.remoteName}" differs from ${W}'s cluster ID "${discovered}" (from ${west.clusterIdSource}): istiod would register its endpoints under the wrong cluster`,
        `leave --remote-name out (it defaults to "${discovered}"), or pass --force to link under "${o.remoteName}" anyway`)
    }
    warnings.push(`--force: linking ${W} as "${o.remoteName}" although its istiod runs with CLUSTER_ID "${discovered}"`)
  }
  if (east.clusterId === id) {
    throw new UsageError(`${E} and ${W} have the same cluster ID "${id}": istiod ignores a remote secret for its own cluster ID`,
      'give every cluster a unique global.multiCluster.clusterName (istiod CLUSTER_ID); are both contexts pointing at the same cluster?')
  }
  if (!east.clusterId) warnings.push(`${E}: cannot tell the cluster ID (no CLUSTER_ID on istiod, none in the injector values)`)
  const taken = east.remoteSecrets.find((s) => s.metadata.name !== `${REMOTE_SECRET_PREFIX}${id}` && s.data && id in s.data)
  if (taken) {
    throw new UsageError(`${E}: cluster ID "${id}" is already registered by Secret ${east.istioNamespace}/${taken.metadata.name}; istiod would ignore a second secret for it`,
      `remove it first (kubectl --context ${east.context} -n ${east.istioNamespace} delete secret ${taken.metadata.name}), then link again`)
  }

  // Sets of roots: mid-rotation a cluster trusts two, and a shared one is enough for mTLS.
  const eastRoots = east.rootFingerprints ?? []
  const westRoots = west.rootFingerprints ?? []
  if (eastRoots.length > 0 && westRoots.length > 0 && !eastRoots.some((r) => westRoots.includes(r))) {
    // read from what istiod published (src/cluster/trust.ts): a newer cacerts may wait for its restart
    const published = [east, west].find((f) => f.rootSource === 'istio-ca-root-cert')
    if (!o.force) {
      throw new UsageError(`${E} and ${W} trust different root CAs (${east.rootSource} ${eastRoots.map(short).join(' + ')} vs ${west.rootSource} ${westRoots.map(short).join(' + ')}): mTLS between them would fail`,
        published
          ? `install intermediates from one root in both (kubectl mesh ca gen --cluster NAME --context CTX); a cacerts installed after istiod started is used only once istiod restarts (kubectl --context ${published.context} rollout restart deployment/${published.istiodService} -n ${published.istioNamespace}); or pass --force to link anyway`
          : 'install intermediates from one root in both (kubectl mesh ca gen --cluster NAME --context CTX), or pass --force to link anyway')
    }
    warnings.push(`--force: ${E} and ${W} trust different root CAs; cross-cluster mTLS will fail until they share one`)
  } else if (eastRoots.length === 0 && !east.remoteProfile || westRoots.length === 0 && !west.remoteProfile) {
    // (a remote-profile cluster runs no CA: its workloads get their certificates from the primary)
    const unknown = [east, west].filter((f) => !f.rootFingerprints?.length).map((f) => `"${f.context}"`).join(' and ')
    warnings.push(`cannot tell the root CA of context ${unknown} (no ${'cacerts'} Secret, no istio-ca-root-cert ConfigMap): make sure both clusters share one root (kubectl mesh ca gen)`)
  }
  if (east.meshId && west.meshId && east.meshId !== west.meshId) {
    warnings.push(`${E} is in mesh "${east.meshId}" and ${W} in mesh "${west.meshId}": linked clusters normally share one mesh ID`)
  }

  const networkConfig = o.networkConfig ?? 'meshnetworks'
  const westNetwork = o.network ?? west.network
  const crossNetwork = Boolean(westNetwork) && westNetwork !== east.network
  let gateway: Gateway | undefined
  let gateways: Gateway[] | undefined
  let gatewayShape: string | undefined
  let remoteGateway: string | undefined
  // No gateway istiod discovers by its label: EAST's meshNetworks may name one of WEST's Services
  // by registryServiceName (istiod accepts that shape, src/istio/gateway.ts registryServiceGateways).
  const named = crossNetwork && !o.gateway && !west.ewGateway?.discovered ? namedGatewayOf(east, west, id, westNetwork!) : undefined
  if (named) west = withGateway(west, named)
  if (crossNetwork) {
    if (o.gateway) [gateway, gateways, gatewayShape] = [o.gateway, [o.gateway], 'flag']
    else if (west.gateway?.skipped) {
      throw new UsageError(`${W}'s east-west gateway ${west.gateway.service} is not one istiod uses: ${west.gateway.skipped}`,
        `expose port ${west.gateway.port} (or 15008 for HBONE) on ${west.gateway.service}, or set its networking.istio.io/gatewayPort label to the port it listens on; or pass --gateway ADDR[:PORT]`)
    } else if (west.gateway?.targets?.length) [gateway, gateways, gatewayShape] = [west.gateway.targets[0], west.gateway.targets, west.gateway.shape]
    else if (west.gateway?.address && !west.gateway.targets) [gateway, gatewayShape] = [{address: west.gateway.address, port: west.gateway.port}, west.gateway.shape]
    else {
      const why = !west.gateway ? `it has no east-west gateway Service (labelled istio=eastwestgateway or ${'topology.istio.io/network'}) in ${west.istioNamespace}`
        : west.gateway.shape === 'nodeport' ? `its east-west gateway ${west.gateway.service} is a NodePort Service whose traffic.istio.io/nodeSelector matches no Node with an ExternalIP (istiod knows no address for it)`
          : `its east-west gateway Service ${west.gateway.service} has no address yet`
      throw new UsageError(`${W} is on network "${westNetwork}" and ${E} on ${east.network ? `"${east.network}"` : 'no network'}, but ${why}`,
        'install or fix the east-west gateway in the remote cluster, or pass --gateway ADDR[:PORT]')
    }
    if (networkConfig === 'gateway') {
      // istiod learns a remote cluster's gateway from its network-labelled Service (network.go
      // getGatewayDetails runs for every registry, the remote secret's included; model/network.go
      // merges them): it must be labelled with WEST's network and be one istiod does not skip.
      // Where it is not (or the address is one only --gateway knows), an istio-remote Gateway in
      // EAST names it (src/link/remote-gateway.ts): EAST must serve the Gateway API for that.
      const ew = west.ewGateway
      if (!named && (o.gateway || !ew || !ew.discovered || ew.network !== westNetwork || ew.kind !== 'Service')) {
        remoteGateway = o.gateway ? '--gateway names an address istiod cannot discover'
          : !ew ? `${W} has no east-west gateway Service`
            : ew.network !== westNetwork ? `its east-west gateway ${ew.ref} is not labelled topology.istio.io/network=${westNetwork}`
              : `its east-west gateway ${ew.ref} is not one istiod discovers`
        if (east.kubeGateways === undefined) {
          throw new UsageError(`--network-config gateway: ${remoteGateway}, so ${E}'s istiod would know no gateway for network "${westNetwork}" unless an istio-remote Gateway names it, and ${E} does not serve the Gateway API (gateway.networking.k8s.io)`,
            ew && ew.kind === 'Service' && !o.gateway && ew.discovered ? `\`kubectl -n ${ew.namespace} label service ${ew.service.metadata.name} topology.istio.io/network=${westNetwork} --overwrite --context ${west.context}\`; or install the Gateway API CRDs in ${E}; or link with --network-config meshnetworks`
              : `install the Gateway API CRDs in ${E} (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/standard-install.yaml), or link with --network-config meshnetworks`)
        }
      }
    } else if (!east.meshConfigMap) {
      throw new UsageError(`${E}: ConfigMap ${east.istioNamespace}/istio does not exist, so meshNetworks cannot name network "${westNetwork}"`,
        'is Istio installed there? (check --istio-namespace)')
    }
  } else if (!westNetwork) {
    warnings.push(`cannot tell ${W}'s network (no ${'topology.istio.io/network'} label on namespace ${west.istioNamespace}, no global.network): treating both clusters as one network; pass --network if they are not`)
  }
  return {link: {east, west, id, westNetwork, gateway, gateways, gatewayShape, crossNetwork, networkConfig, remoteGateway, registryServiceName: named?.registryServiceName}, warnings}
}

/** WEST's gateway as EAST's meshNetworks names it by registryServiceName for registry `id` on `network` (the one reader); undefined: none. */
export function namedGatewayOf(east: LinkFacts, west: LinkFacts, id: string, network: string): EastWestGateway | undefined {
  let doc: unknown
  try {
    doc = parseYamlKey(east.meshConfigMap, 'meshNetworks')
  } catch {
    return undefined
  }
  return registryNamedGateway(doc, id, west.services ?? [], east.clusterDomain, west.nodes ?? [], network)
}

/** WEST's facts with this gateway as its east-west gateway (what the exposure Gateway selects, what the plan names). */
function withGateway(west: LinkFacts, ew: EastWestGateway): LinkFacts {
  return {...west, ewGateway: ew, gateway: {service: ew.ref, address: ew.targets[0]?.address, port: ew.targets[0]?.port ?? ew.port, network: ew.network, shape: ew.shape,
    targets: ew.targets.map((t) => ({address: t.address, port: t.port}))}}
}

function short(fp: string): string {
  return `${fp.slice(0, 11)}…`
}

/**
 * Primary-remote (Istio's `remote` profile in WEST, detected or forced with --remote-profile):
 * only PRIMARY discovers. Throws UsageError for a pair that cannot work: EAST itself has no istiod
 * (a remote-profile cluster cannot discover), --bidirectional towards a remote-profile WEST, or a
 * primary whose cluster ID is unknown (WEST's controlPlaneClusters annotation must name it).
 * Returns true when this is a primary-remote link.
 */
export function validatePrimaryRemote(east: LinkFacts, west: LinkFacts, o: {remoteProfile?: boolean; bidirectional?: boolean}): boolean {
  if (east.remoteProfile) {
    throw new UsageError(`context "${east.context}" runs Istio's remote profile (no istiod, only a values ConfigMap): it cannot discover other clusters`,
      `link its primary to it instead: kubectl mesh cluster link --context <PRIMARY> --remote-context ${east.context}`)
  }
  const remote = Boolean(o.remoteProfile || west.remoteProfile)
  if (!remote) return false
  const why = o.remoteProfile && !west.remoteProfile ? 'is linked with --remote-profile' : 'runs Istio\'s remote profile (no istiod of its own)'
  if (o.bidirectional) {
    throw new UsageError(`context "${west.context}" ${why}: --bidirectional would make it discover "${east.context}", but it has no istiod to discover anything`,
      `leave --bidirectional out: kubectl mesh cluster link --context ${east.context} --remote-context ${west.context}${o.remoteProfile ? ' --remote-profile' : ''}`)
  }
  if (!east.clusterId || !isDns1123Label(east.clusterId)) {
    throw new UsageError(`context "${east.context}": cannot tell the primary's cluster ID (${east.clusterId ? `"${east.clusterId}" is not a DNS-1123 label` : NO_CLUSTER_ID}), which ${west.context}'s annotation topology.istio.io/controlPlaneClusters must name`,
      `install Istio in "${east.context}" with values.global.multiCluster.clusterName=<ID>`)
  }
  return true
}
