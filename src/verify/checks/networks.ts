// Networks: labels consistent per cluster, east-west gateway address and port, meshNetworks.
import {HBONE_PORT} from '../../istio/ambient.ts'
import {isIP} from 'node:net'
import {load} from 'js-yaml'
import {CROSS_NETWORK_GATEWAY, CROSS_NETWORK_PORT, EXPORTED_LABEL, EXPOSE_ANNOTATION, IMPORTED_FROM_LABEL, NETWORK_CONFIG_ANNOTATION, NETWORK_LABEL, isDns1123Label} from '../../istio/names.ts'
import {coveringGateway, describeTargets, passesEverything, serviceFqdn} from '../../istio/gateway.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, unreadable, warn, skipUnreadable} from '../check.ts'
import {exportedFqdn, istioNames, meshConfigMap, remoteGateways, unnamedGatewayService} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'

/** Does any other verified cluster need this cluster's east-west gateway? */
function gatewayNeeded(ctx: CheckContext, c: ClusterFacts): string | undefined {
  const exported = (c.lists.Service ?? []).find((s) => s.metadata.labels?.[EXPORTED_LABEL] === 'true')
  if (exported) return `Service ${exported.metadata.namespace}/${exported.metadata.name} is exported`
  const myId = ctx.clusterIdOf(c)
  for (const o of ctx.reachable) {
    if (o === c) continue
    if ((o.lists.ServiceEntry ?? []).some((se) => se.metadata.labels?.[IMPORTED_FROM_LABEL] === myId)) return `${o.name} imports services from it`
    const linked = ctx.secrets(o).some((e) => ctx.peerOf(e) === c)
    if (linked && ctx.id(o).network && ctx.id(c).network && ctx.id(o).network !== ctx.id(c).network) return `${o.name} (network ${ctx.id(o).network}) links to it across networks`
  }
  return undefined
}

const isHostname = (s: string) => /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(s)

function validCidr(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/')
  const v = isIP(ip)
  return rest.length === 0 && v !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (v === 4 ? 32 : 128)
}

export const networkChecks: CheckDef[] = [
  {
    id: 'networks.labels',
    category: 'networks',
    title: `The network of a cluster agrees everywhere it is set: the Istio namespace label ${NETWORK_LABEL}, the injector's global.network, and the east-west gateway Service's ${NETWORK_LABEL} label.`,
    run: (ctx) => ctx.reachable.map((c) => {
      const id = ctx.id(c)
      const gws = ctx.gateways(c)
      const seen: Array<[string, string]> = []
      if (id.nsNetwork) seen.push([`namespace ${c.istioNamespace} label`, id.nsNetwork])
      if (id.injectorNetwork) seen.push(['injector values global.network', id.injectorNetwork])
      // a registryServiceName gateway's network is its meshNetworks entry's, not a label
      for (const g of gws) if (g.network && !g.registryServiceName) seen.push([`Service ${g.ref} label`, g.network])
      const values = [...new Set(seen.map(([, v]) => v))]
      const right = id.injectorNetwork ?? id.nsNetwork ?? values[0]
      if (values.length > 1) {
        const wrong = seen.find(([, v]) => v !== right)!
        const fix = wrong[0].startsWith('namespace')
          ? `\`kubectl label namespace ${c.istioNamespace} ${NETWORK_LABEL}=${right} --overwrite --context ${ctxOf(c)}\``
          : wrong[0].startsWith('Service')
            ? `\`kubectl label service ${wrong[0].split(' ')[1].split('/')[1]} -n ${wrong[0].split(' ')[1].split('/')[0]} ${NETWORK_LABEL}=${right} --overwrite --context ${ctxOf(c)}\``
            : `set values.global.network=${right} (\`istioctl install --context ${ctxOf(c)} --set values.global.network=${right}\`)`
        return fail(c.name, `cluster ${c.name}: the network is set inconsistently: ${seen.map(([w, v]) => `${w} = ${v}`).join(', ')}`, fix)
      }
      if (values.length === 0) {
        if (istioUnreadable(c)) return skipUnreadable(c, 'Namespace')
        return warn(c.name, `cluster ${c.name}: no network set (no ${NETWORK_LABEL} label on namespace ${c.istioNamespace}); Istio treats all clusters as one flat network`,
          `on a multi-network mesh: \`kubectl label namespace ${c.istioNamespace} ${NETWORK_LABEL}=<network> --context ${ctxOf(c)}\``)
      }
      if (!id.nsNetwork) {
        return warn(c.name, `cluster ${c.name}: namespace ${c.istioNamespace} lacks the label ${NETWORK_LABEL} (network ${right} is set elsewhere)`,
          `\`kubectl label namespace ${c.istioNamespace} ${NETWORK_LABEL}=${right} --context ${ctxOf(c)}\``)
      }
      return pass(c.name, `cluster ${c.name}: network ${right}, set consistently (${seen.length} place(s))`)
    }),
  },
  {
    id: 'networks.gateway-address',
    category: 'networks',
    title: 'The east-west gateway Service (istio=eastwestgateway, labelled with a network, or named by a meshNetworks registryServiceName) has an address (status.loadBalancer.ingress or spec.externalIPs) when another cluster needs it.',
    run: (ctx) => ctx.reachable.map((c) => {
      if (!c.lists.Service) return skipUnreadable(c, 'Service')
      const gws = ctx.gateways(c)
      const need = gatewayNeeded(ctx, c)
      if (gws.length === 0) {
        // a Service listening on the cross-network port that nothing names (neither label nor a meshNetworks registryServiceName): label it
        const unnamed = unnamedGatewayService(c)
        const net = ctx.id(c).network
        if (need && unnamed && net) {
          return fail(c.name, `cluster ${c.name}: no east-west gateway: Service ${c.istioNamespace}/${unnamed.metadata.name} listens on ${CROSS_NETWORK_PORT}, but neither the label ${NETWORK_LABEL} nor a meshNetworks registryServiceName names it, so no istiod uses it; yet ${need}`,
            `\`kubectl label service ${unnamed.metadata.name} -n ${c.istioNamespace} ${NETWORK_LABEL}=${net} --overwrite --context ${ctxOf(c)}\` (istiod discovers it by the label), or name it in the linking clusters' meshNetworks (registryServiceName ${serviceFqdn(unnamed.metadata.name, c.istioNamespace, ctx.id(c).clusterDomain)})`)
        }
        if (need) return fail(c.name, `cluster ${c.name}: no east-west gateway Service (label istio=eastwestgateway or ${NETWORK_LABEL}, or named by a meshNetworks registryServiceName), but ${need}`, `install one: \`samples/multicluster/gen-eastwest-gateway.sh --network <network> | istioctl install --context ${ctxOf(c)} -y -f -\``)
        return skip(c.name, `cluster ${c.name}: no east-west gateway (not needed: nothing exported, imported or linked across networks)`)
      }
      const g0 = gws[0]
      // istiod skips it (labelled, listening on neither port): networks.gateway-port says so and how to fix it
      if (g0.skipped) return skip(c.name, `cluster ${c.name}: ${g0.ref}: ${g0.skipped} (see networks.gateway-port)`)
      const empty = gws.filter((g) => g.targets.length === 0)
      if (empty.includes(g0)) {
        const g = g0.service
        const nodeport = g0.shape === 'nodeport'
        const msg = nodeport
          ? `cluster ${c.name}: NodePort Service ${g0.ref} selects no Node with an ExternalIP (traffic.istio.io/nodeSelector ${g.metadata.annotations?.['traffic.istio.io/nodeSelector']}), so istiod knows no address for it${need ? `, but ${need}` : ''}`
          : `cluster ${c.name}: ${g0.kind} ${g0.ref} has no address (EXTERNAL-IP pending)${need ? `, but ${need}` : ''}`
        const hint = nodeport
          ? `label the Nodes that should carry it, and make sure they have an ExternalIP: \`kubectl get nodes -o wide --show-labels --context ${ctxOf(c)}\``
          : `give the LoadBalancer Service an address (a load-balancer controller such as MetalLB), or set one: \`kubectl patch service ${g.metadata.name} -n ${g.metadata.namespace} --context ${ctxOf(c)} -p '{"spec":{"externalIPs":["<address>"]}}'\``
        return need ? fail(c.name, msg, hint) : warn(c.name, msg, hint)
      }
      const dns = ctx.facts.dns ?? {}
      const unresolved = g0.targets.filter((t) => t.hostname && (dns[t.address] ?? []).length === 0 && ctx.facts.dns)
      if (unresolved.length > 0 && unresolved.length === g0.targets.length) {
        const msg = `cluster ${c.name}: east-west gateway ${g0.ref} is at ${unresolved.map((t) => t.address).join(', ')}, which does not resolve (istiod resolves it the same way and would use no address)${need ? `, but ${need}` : ''}`
        const hint = `check the load balancer's DNS name: \`getent ahosts ${unresolved[0].address}\``
        return need ? fail(c.name, msg, hint) : warn(c.name, msg, hint)
      }
      return pass(c.name, `cluster ${c.name}: east-west gateway ${gws.filter((g) => !empty.includes(g)).map((g) => `${g.ref} (${g.shape}${g.registryServiceName ? `, meshNetworks registryServiceName ${g.registryServiceName}` : ''}) at ${describeTargets(g, dns)}`).join('; ')}`)
    }),
  },
  {
    id: 'networks.gateway-port',
    category: 'networks',
    title: 'The east-west gateway Service exposes the cross-network port 15443 (or its networking.istio.io/gatewayPort label), or HBONE 15008 (an ambient east-west gateway; istiod takes either, network.go getGatewayDetails).',
    run: (ctx) => ctx.reachable.map((c) => {
      if (!c.lists.Service) return skipUnreadable(c, 'Service')
      const gws = ctx.gateways(c)
      if (gws.length === 0) return skip(c.name, `cluster ${c.name}: no east-west gateway`)
      for (const g of gws.filter((x) => x.kind === 'Service')) {
        const port = g.port
        // network.go getGatewayDetails: a labelled Service counts when it listens on the gateway port OR on HBONE 15008 (an ambient east-west gateway)
        if (!(g.service.spec?.ports ?? []).some((p: {port: number}) => p.port === port || p.port === HBONE_PORT)) {
          return fail(c.name, `cluster ${c.name}: Service ${g.ref} does not expose port ${port}, so istiod skips it as a network gateway`,
            `\`kubectl patch service ${g.service.metadata.name} -n ${g.namespace} --context ${ctxOf(c)} --type=json -p '[{"op":"add","path":"/spec/ports/-","value":{"name":"tls","port":${port},"targetPort":${port},"protocol":"TCP"}}]'\``)
        }
      }
      return pass(c.name, `cluster ${c.name}: east-west gateway exposes ${gws.map((g) => ((g.service.spec?.ports ?? []).some((p: {port: number}) => p.port === g.port) ? g.port : `${HBONE_PORT} (HBONE)`)).join(', ')}`)
    }),
  },
  {
    id: 'networks.mesh-networks',
    category: 'networks',
    title: "ConfigMap istio key meshNetworks parses and is valid (registries are DNS-1123 labels naming this cluster or a remote secret, CIDRs, gateway addresses and ports), and is current: each peer's entry has the peer's network, gateway address and port.",
    run: (ctx) => ctx.reachable.map((c): Finding => {
      const cm = meshConfigMap(c)
      if (cm === undefined) return skipUnreadable(c, 'ConfigMap')
      const where = `ConfigMap ${c.istioNamespace}/${istioNames(c).meshConfigMap} key meshNetworks`
      const relink = (peer?: ClusterFacts, id?: string) => peer ? `\`${ctx.linkCommand(c, peer)}\` (rewrites the entry)` : `\`kubectl mesh cluster unlink --context ${ctxOf(c)} --remote-name ${id}\` (drops the stale entry)`
      const raw = cm?.data?.meshNetworks
      const wired = ctx.secrets(c).filter((e) => e.secret.metadata.annotations?.[NETWORK_CONFIG_ANNOTATION] === 'meshnetworks')
      if ((!raw || !raw.trim()) && wired.length === 0) return skip(c.name, `cluster ${c.name}: no meshNetworks`)
      let doc: any
      try {
        doc = load(raw || 'networks: {}')
      } catch (error) {
        return fail(c.name, `cluster ${c.name}: ${where} is not valid YAML (istiod keeps the last valid state): ${(error as Error).message.split('\n')[0]}`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
      }
      const networks = doc?.networks ?? {}
      if (typeof networks !== 'object' || Array.isArray(networks)) return fail(c.name, `cluster ${c.name}: ${where}: "networks" is not a mapping`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
      const localId = ctx.clusterIdOf(c)
      if ((c.failures as Record<string, unknown>).Secret) {
        return skip(c.name, `cluster ${c.name}: ${where} parses, but ${unreadable(c, 'Secret')}: its registries cannot be matched to remote secrets`, 'run verify with a context that may read Secrets in the Istio namespace')
      }
      const keys = new Set(ctx.secrets(c).map((e) => e.key))
      for (const [net, spec] of Object.entries<any>(networks)) {
        for (const ep of spec?.endpoints ?? []) {
          if (ep.fromCidr !== undefined && !validCidr(String(ep.fromCidr))) return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: fromCidr "${ep.fromCidr}" is not a CIDR; istiod rejects the whole document`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
          if (ep.fromRegistry === undefined) continue
          const reg = String(ep.fromRegistry)
          if (!isDns1123Label(reg) && reg !== 'Kubernetes') return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: fromRegistry "${reg}" is not a DNS-1123 label; istiod rejects the whole document`, relink(undefined, reg))
          if (reg !== localId && !keys.has(reg) && reg !== 'Kubernetes') {
            return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: fromRegistry ${reg} is neither this cluster (${localId}) nor a remote secret's cluster (stale)`, relink(undefined, reg))
          }
          const peer = reg === localId ? c : ctx.byClusterId(reg)
          if (!peer || peer.unreachable) continue
          const peerNet = ctx.id(peer).network
          if (peerNet && peerNet !== net) return fail(c.name, `cluster ${c.name}: ${where}: cluster ${reg} is listed under network ${net}, but its network is ${peerNet}`, relink(peer === c ? undefined : peer, reg))
          // what istiod uses for the peer's gateway (NodePort: node ExternalIP × nodePort; a hostname as the name)
          const targets = ctx.gateway(peer)?.targets ?? []
          const addrs = targets.map((t) => t.address)
          const gws = (spec?.gateways ?? []).filter((g: any) => g.address !== undefined)
          if (peer !== c && addrs.length > 0 && gws.length > 0) {
            const stale = gws.filter((g: any) => !addrs.includes(String(g.address)))
            if (stale.length > 0 && (spec?.endpoints ?? []).every((e: any) => e.fromRegistry === reg)) {
              return fail(c.name, `cluster ${c.name}: ${where}: network ${net} lists gateway ${stale.map((g: any) => g.address).join(',')}, but ${peer.name}'s east-west gateway is at ${[...new Set(addrs)].join(',')} (${ctx.gateway(peer)!.ref}, ${ctx.gateway(peer)!.shape}: ${targets.map((t) => `${t.address}:${t.port}`).join(', ')}): istiod sends part of ${peer.name}'s traffic to an address that no longer serves it`, relink(peer))
            }
          }
          const wrongPort = gws.find((g: any) => targets.some((t) => t.address === String(g.address) && t.port !== Number(g.port)))
          if (peer !== c && wrongPort) return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: gateway ${wrongPort.address} port ${wrongPort.port}, but ${peer.name}'s gateway listens there on ${targets.find((t) => t.address === String(wrongPort.address))!.port}`, relink(peer))
        }
        for (const g of spec?.gateways ?? []) {
          const port = Number(g?.port)
          if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: gateway port "${g?.port}" is not a valid port; istiod rejects the whole document`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
          if (g.address !== undefined && !isIP(String(g.address)) && !isHostname(String(g.address))) return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: gateway address "${g.address}" is neither an IP nor a hostname`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
          if (g.address === undefined && g.registryServiceName === undefined) return fail(c.name, `cluster ${c.name}: ${where}: network ${net}: a gateway has neither address nor registryServiceName`, `fix it with \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
        }
      }
      // Linked peers on another network should have an entry (cluster link writes one).
      for (const e of ctx.secrets(c)) {
        const peer = ctx.peerOf(e)
        if (!peer || peer === c || peer.unreachable) continue
        const pn = ctx.id(peer).network
        const mine = ctx.id(c).network
        if (!pn || !mine || pn === mine) continue
        if (ctx.isAmbient(c) && ctx.isAmbient(peer)) continue // ztunnels use the peer's istio-east-west Gateway, no meshNetworks entry
        const listed = Object.values<any>(networks).some((s) => (s?.endpoints ?? []).some((ep: any) => ep.fromRegistry === e.key))
        const wiring = e.secret.metadata.annotations?.[NETWORK_CONFIG_ANNOTATION]
        if (!listed && wiring === 'meshnetworks') {
          return fail(c.name, `cluster ${c.name}: ${where} has no entry for ${e.key} (network ${pn}), but the link was made with --network-config meshnetworks: the entry was wiped (an upgrade re-rendering the ConfigMap does that), so istiod relies on ${e.key}'s label-discovered gateway alone`,
            `${relink(peer)}; or relink with --network-config gateway, which keeps nothing in that ConfigMap`)
        }
        if (!listed && wiring !== 'gateway') return warn(c.name, `cluster ${c.name}: ${where} has no entry for ${e.key} (network ${pn}); istiod relies on label-discovered gateways only`, relink(peer))
      }
      // a gateway-wired link through an istio-remote Gateway of this cluster naming the peer's network
      const decls = remoteGateways(c) ?? []
      const wiring = ctx.secrets(c).flatMap((e) => {
        const w = e.secret.metadata.annotations?.[NETWORK_CONFIG_ANNOTATION]
        const peer = ctx.peerOf(e)
        const pn = peer && peer !== c ? ctx.id(peer).network : undefined
        const remote = w === 'gateway' && pn ? decls.filter((g) => g.network === pn).map((g) => g.ref) : []
        return w ? [`${e.key} via ${w}${remote.length > 0 ? ` (istio-remote Gateway ${remote.join(', ')})` : ''}`] : []
      })
      return pass(c.name, `cluster ${c.name}: ${where} valid and current (${Object.keys(networks).length} network(s))${wiring.length > 0 ? `; links: ${wiring.join(', ')}` : ''}`)
    }),
  },
  {
    id: 'networks.expose',
    category: 'networks',
    title: `Every cross-network link A→B among the verified clusters finds B's services passed through B's east-west gateway (a Gateway with TLS AUTO_PASSTHROUGH for every host, e.g. ${CROSS_NETWORK_GATEWAY} or Istio's cross-network-gateway), unless the link was made with --expose exported.`,
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.reachable) {
        let checked = 0
        const bad: Finding[] = []
        for (const e of ctx.secrets(c)) {
          const peer = ctx.peerOf(e)
          if (!peer || peer === c || peer.unreachable || !peer.lists.Service || !peer.lists.Gateway) continue
          const pn = ctx.id(peer).network
          const mine = ctx.id(c).network
          if (!pn || !mine || pn === mine) continue
          checked++
          if (e.secret.metadata.annotations?.[EXPOSE_ANNOTATION] === 'exported') continue
          // an ambient pair crosses through the istio-east-west Gateway (ambient.eastwest-gateway)
          if (ctx.isAmbient(c) && ctx.isAmbient(peer)) continue
          const ew = ctx.gateway(peer)
          if (!ew) continue // networks.gateway-address reports a missing gateway
          const domain = ctx.id(peer).clusterDomain
          if (peer.lists.Gateway.some((g) => passesEverything(g, ew, domain))) continue
          const unreachable = peer.lists.Service
            .filter((s) => s.metadata.namespace !== 'kube-system' && !coveringGateway(peer.lists.Gateway!, ew, exportedFqdn(s, ctx.id(peer)), s.metadata.namespace ?? ''))
            .map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort()
          if (unreachable.length === 0) continue
          bad.push(fail(c.name, `cluster ${c.name}: links to ${peer.name} across networks (${mine} → ${pn}), but ${peer.name}'s east-west gateway ${ew.ref} does not pass its services through: ${unreachable.length} cannot be reached from ${c.name} (${unreachable.slice(0, 5).join(', ')}${unreachable.length > 5 ? ', …' : ''})`,
            `\`kubectl mesh cluster link --context ${ctxOf(c)} --remote-context ${ctxOf(peer)}\` (adds Gateway ${CROSS_NETWORK_GATEWAY} in ${peer.name}), or relink with --expose exported if only exported services should cross`))
        }
        out.push(...bad)
        if (bad.length === 0) out.push(checked === 0 ? skip(c.name, `cluster ${c.name}: no cross-network link to a verified cluster`) : pass(c.name, `cluster ${c.name}: ${checked} cross-network link(s): the peers' services are passed through (or only exported ones cross, as linked)`))
      }
      return out
    },
  },
]

function istioUnreadable(c: ClusterFacts): boolean {
  return !c.lists.Namespace && !c.lists.ConfigMap
}
