// `kubectl mesh explain` in an ambient mesh: what istiod sends a ztunnel of CTX for the service
// (delta xDS, istio.workload.Address), predicted from the clusters' objects by istiod's rules
// (src/istio/ambient.ts), and why a peer contributes nothing. istiod's ambient index
// (pilot/pkg/serviceregistry/ambient/multicluster.go):
// - workloads on the ztunnel's own network are sent as they are (networkLocalWorkloads): CTX's pods
//   behind the Service, with their pod IPs;
// - the workloads of a remote network are coalesced into ONE workload per network and Service
//   (coalescedWorkloads, createSplitHorizonWorkload): no address, networkGateway = that network's
//   istio-east-west Gateway status address on its HBONE port (15008), capacity = their number —
//   only for a Service GLOBAL by CTX's own mesh config (services.go serviceServiceBuilder drops a
//   remote Service that is not), and only when a gateway for that network is known;
// - when CTX has the Service itself, its own copy is the base of the merge and must be GLOBAL too:
//   a LOCAL local copy takes no remote endpoints (multicluster.go mergeServiceInfosWithCluster).
import {UsageError} from '../errors.ts'
import {listObjects} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {isGlobalScopeEntry, multiNetworkFix, serviceScope} from '../istio/ambient.ts'
import {type AmbientRead, readAmbient} from '../istio/ambient-read.ts'
import {serviceFqdn} from '../istio/gateway.ts'
import {readIstioInstall} from '../istio/read.ts'
import {GLOBAL_SERVICE_LABEL, GLOBAL_SERVICE_VALUE, HBONE_PORT, MULTI_NETWORK_ENV, MULTICLUSTER_LABEL} from '../istio/names.ts'
import {remoteSecretEntries, sameServer} from '../cluster/remote-secrets.ts'
import type {ExplainOptions} from './service.ts'
import type {Dropped} from './reasons.ts'

export interface AmbientEndpoint {
  cluster: string
  /** A pod IP (same network), or the remote network's east-west gateway address */
  address: string
  /** The target port (pods) or the gateway's HBONE port */
  port: number
  servicePort: number
  via: 'pod' | 'gateway'
  network?: string
  /** via gateway: how many workloads of that network stand behind it (the coalesced workload's capacity) */
  capacity?: number
}

export interface AmbientExplain {
  service: string
  from: {context: string; namespace: string}
  endpoints: AmbientEndpoint[]
  dropped: Dropped[]
  meshKind: 'ambient'
  detail: {cluster: string; network?: string; multiNetwork: boolean}
}

/** The Ready pod addresses behind a Service (its EndpointSlices), with the target port per service port. */
function sliceEndpoints(slices: KubeObject[], svc: KubeObject): Array<{address: string; ports: Record<number, number>}> {
  const byName = new Map<string, number>((svc.spec?.ports ?? []).map((p: any) => [String(p.name ?? ''), Number(p.port)]))
  const out = new Map<string, Record<number, number>>()
  for (const s of slices) {
    if (s.metadata.labels?.['kubernetes.io/service-name'] !== svc.metadata.name) continue
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue
      for (const a of e.addresses ?? []) {
        const ports = out.get(a) ?? {}
        for (const p of s.ports ?? []) {
          const sp = byName.get(String(p.name ?? ''))
          if (sp !== undefined) ports[sp] = Number(p.port)
        }
        out.set(a, ports)
      }
    }
  }
  return [...out.entries()].map(([address, ports]) => ({address, ports})).sort((a, b) => a.address.localeCompare(b.address))
}

interface PeerRead {
  id: string
  context?: string
  linked: boolean
  amb?: AmbientRead
  svc?: KubeObject | null
  ns?: KubeObject | null
  ready?: number
}

async function readService(client: KubeClient, ns: string, name: string) {
  const [svc, nsObj, slices] = await Promise.all([
    client.getOptional<KubeObject>(resourcePath(RESOURCES.Service, ns, name)),
    client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns)),
    listObjects(client, RESOURCES.EndpointSlice, {namespace: ns, labelSelector: `kubernetes.io/service-name=${name}`}),
  ])
  return {svc: svc ?? null, ns: nsObj ?? null, slices}
}

export async function explainAmbient(session: Session, o: ExplainOptions, amb: AmbientRead): Promise<AmbientExplain> {
  const context = amb.context
  const client = session.client(context)
  const from = o.from ?? o.namespace
  const [install, own, secrets] = await Promise.all([
    readIstioInstall(client, o.istioNamespace, {}, {meshConfig: false}),
    readService(client, o.namespace, o.service),
    listObjects(client, RESOURCES.Secret, {namespace: o.istioNamespace, labelSelector: `${MULTICLUSTER_LABEL}=true`}),
  ])
  const clusterId = install.facts.clusterId ?? context
  const network = install.facts.network
  const host = serviceFqdn(o.service, o.namespace, install.facts.clusterDomain)
  const links = remoteSecretEntries({lists: {Secret: secrets}, istioNamespace: o.istioNamespace}).filter((e) => e.key !== clusterId)
  const kc = session.kubeconfig
  const contextFor = (id: string, server?: string): string | undefined => {
    if (kc.has(id)) return id
    return kc.merged.contexts.find((c) => sameServer(kc.merged.clusters.find((k) => k.name === c.context?.cluster)?.cluster?.server, server))?.name
  }
  const peers: PeerRead[] = links.map((e) => ({id: e.key, context: contextFor(e.key, e.server), linked: true}))
  for (const c of o.peerContexts) {
    const name = session.resolve(c).context
    if (name !== context && !peers.some((p) => p.context === name)) peers.push({id: name, context: name, linked: false})
  }
  await Promise.all(peers.map(async (p) => {
    if (!p.context || p.context === context) return
    try {
      const pc = session.client(p.context)
      const [pa, pi, r] = await Promise.all([readAmbient(pc, o.istioNamespace), readIstioInstall(pc, o.istioNamespace, {}, {meshConfig: false}), readService(pc, o.namespace, o.service)])
      p.amb = pa
      p.id = pi.facts.clusterId ?? p.id
      p.svc = r.svc
      p.ns = r.ns
      p.ready = r.svc ? sliceEndpoints(r.slices, r.svc).length : 0
      if (!p.linked) p.linked = links.some((e) => e.key === p.id)
    } catch { /* unreadable: said below */ }
  }))
  const svc = own.svc ?? peers.find((p) => p.svc)?.svc
  if (!svc) {
    throw new UsageError(`context "${context}": service ${o.namespace}/${o.service} not found${peers.some((p) => p.amb) ? ` (nor in ${peers.filter((p) => p.amb).map((p) => p.context).join(', ')})` : ''}`,
      `list the services: \`kubectl get services -n ${o.namespace} --context ${context}\``)
  }
  const ports: Array<{port: number}> = (svc.spec?.ports ?? []).map((p: any) => ({port: Number(p.port)})).filter((p: {port: number}) => o.port === undefined || p.port === o.port)
  if (o.port !== undefined && ports.length === 0) throw new UsageError(`context "${context}": ${host} has no port ${o.port}`, `pass one of its ports: ${(svc.spec?.ports ?? []).map((p: any) => `--port ${p.port}`).join(', ')}`)

  const endpoints: AmbientEndpoint[] = []
  if (own.svc) {
    for (const e of sliceEndpoints(own.slices, own.svc)) {
      for (const p of ports) endpoints.push({cluster: clusterId, address: e.address, port: e.ports[p.port] ?? p.port, servicePort: p.port, via: 'pod', ...(network ? {network} : {})})
    }
  }
  const dropped: Dropped[] = []
  const fixScope = (p: PeerRead) => `\`kubectl mesh cluster link --context ${context} --remote-context ${p.context ?? p.id}\` (adds kubectl-mesh's serviceScopeConfigs entry; every other entry is kept)`
  for (const p of peers) {
    const drop = (reason: string, hint: string) => dropped.push({cluster: p.id, reason, hint})
    if (!p.amb) {
      if (p.context) drop(`could not be read through context "${p.context}"`, `check the context: \`kubectl get services -n ${o.namespace} --context ${p.context}\``)
      continue
    }
    if (!p.svc) continue // nothing to contribute
    if (!p.linked) {
      drop(`not linked: ${context} has no remote secret for ${p.id}`, `\`kubectl mesh cluster link --context ${context} --remote-context ${p.context}\``)
      continue
    }
    if (!amb.facts.multiNetwork) {
      drop(`istiod of ${context} runs without ${MULTI_NETWORK_ENV}=true: it takes no Service of another cluster`, `\`${multiNetworkFix(context, o.istioNamespace, amb.istiod?.metadata.name)}\``)
      continue
    }
    if (serviceScope(amb.mesh, p.ns?.metadata.labels ?? {}, p.svc.metadata.labels ?? {}) !== 'GLOBAL') {
      if (!(amb.mesh?.serviceScopeConfigs ?? []).some(isGlobalScopeEntry)) drop(`its Service is LOCAL for istiod of ${context}: ConfigMap ${o.istioNamespace}/${amb.meshConfigMapName} has no serviceScopeConfigs entry selecting ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}`, fixScope(p))
      else drop(`its Service is LOCAL (not exported: no label ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE})`, `\`kubectl mesh service export ${o.service} -n ${o.namespace} --context ${p.context}\``)
      continue
    }
    if (own.svc && serviceScope(amb.mesh, own.ns?.metadata.labels ?? {}, own.svc.metadata.labels ?? {}) !== 'GLOBAL') {
      drop(`${context}'s own Service ${o.namespace}/${o.service} is LOCAL, and istiod merges no other cluster's endpoints into a LOCAL local Service`, `\`kubectl mesh service import ${o.service} -n ${o.namespace} --from-context ${p.context} --context ${context}\` (makes ${context}'s copy GLOBAL)`)
      continue
    }
    if (!p.ready) {
      drop('its Service has no ready endpoint', `check its pods: \`kubectl get endpointslices -n ${o.namespace} -l kubernetes.io/service-name=${o.service} --context ${p.context}\``)
      continue
    }
    if (p.amb.network === network) {
      drop('on the same network: its pods are sent as they are (not predicted here)', 'explain from a cluster on another network, or read the probe')
      continue
    }
    const gw = p.amb.gateways.find((g) => g.network === p.amb!.network && g.hbone && g.addresses.length > 0)
    if (!gw) {
      drop(`no gateway known for network ${p.amb.network ?? '(none)'}: ${p.amb.gateways.length === 0 ? 'no istio-east-west Gateway' : `Gateway ${p.amb.gateways[0].ref} has no address in its status`}`,
        p.amb.gateways.length === 0 ? `\`kubectl mesh cluster link --context ${context} --remote-context ${p.context} --create-gateway\`` : `give its Service a load-balancer address: \`kubectl get service -n ${p.amb.gateways[0].gateway.metadata.namespace} ${p.amb.gateways[0].gateway.metadata.name} --context ${p.context}\``)
      continue
    }
    for (const port of ports) endpoints.push({cluster: p.id, address: gw.addresses[0], port: gw.hbonePort ?? HBONE_PORT, servicePort: port.port, via: 'gateway', ...(p.amb.network ? {network: p.amb.network} : {}), capacity: p.ready})
  }
  endpoints.sort((a, b) => a.servicePort - b.servicePort || a.cluster.localeCompare(b.cluster) || a.address.localeCompare(b.address))
  dropped.sort((a, b) => a.cluster.localeCompare(b.cluster))
  return {service: host, from: {context, namespace: from}, endpoints, dropped, meshKind: 'ambient', detail: {cluster: clusterId, network, multiNetwork: amb.facts.multiNetwork}}
}

export function renderAmbientText(r: AmbientExplain): string {
  const lines = [`${r.service} for a ztunnel of ${r.from.context} (ambient mesh; cluster ${r.detail.cluster}, network ${r.detail.network ?? '(none)'}; multi-network ${r.detail.multiNetwork ? 'on' : 'off'})`]
  for (const port of [...new Set(r.endpoints.map((e) => e.servicePort))]) {
    const eps = r.endpoints.filter((e) => e.servicePort === port)
    lines.push('', `port ${port}: ${eps.length} endpoint${eps.length === 1 ? '' : 's'}`)
    for (const e of eps) lines.push(`  ${e.cluster.padEnd(12)} ${`${e.address}:${e.port}`.padEnd(22)} ${e.via === 'gateway' ? `via gateway (network ${e.network ?? '(none)'}, HBONE, ${e.capacity} workload${e.capacity === 1 ? '' : 's'} behind it)` : 'via pod'}`)
  }
  lines.push('')
  if (r.dropped.length === 0) lines.push('✔ every peer cluster that has the service contributes')
  else {
    lines.push('Missing:')
    for (const d of r.dropped) lines.push(`  ✖ ${d.cluster}: ${d.reason}`, `    Hint: ${d.hint}`)
  }
  return `${lines.join('\n')}\n`
}
