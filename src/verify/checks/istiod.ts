// istiod's own view of its links: every cluster a remote secret names is `synced` in
// /debug/clusterz. The facts come from src/verify/istiod.ts (one GET per cluster, through a
// port-forward to istiod's pod or at a --istiod-debug-url).
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip} from '../check.ts'
import type {ClusterFacts, Finding, VerifyFacts} from '../types.ts'
import {EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL, NETWORK_CONFIG_ANNOTATION} from '../../istio/names.ts'
import {describeTargets, istiodTargets} from '../../istio/gateway.ts'
import {fqdnIn, istioNames, remoteGateways, remoteWiring, unnamedGatewayService} from '../model.ts'
import {remoteGatewayName} from '../../link/remote-gateway.ts'

/** By hand: what verify does through the API server. */
const byHand = (ns: string, ctx: string) =>
  `\`kubectl -n ${ns} port-forward deploy/istiod 15014:15014 --context ${ctx}\` and \`curl -s 127.0.0.1:15014/debug/clusterz\` (or \`istioctl remote-clusters --context ${ctx}\`)`

export const istiodChecks: CheckDef[] = [
  {
    id: 'links.istiod-sync',
    category: 'links',
    title: "istiod lists every cluster its remote secrets name as `synced` in /debug/clusterz (read through a port-forward to istiod's pod, monitoring port 15014).",
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.clusters) {
        const probe = ctx.facts.istiod?.find((p) => p.cluster === c.name)
        const localId = ctx.clusterIdOf(c)
        const keys = [...new Set(ctx.secrets(c).map((e) => e.key))].filter((k) => k !== localId)
        if (keys.length === 0) {
          if (!c.unreachable) out.push(skip(c.name, `cluster ${c.name}: no remote secrets`))
          continue
        }
        if (!probe || probe.outcome === 'not-asked' || probe.outcome === 'no-pod' || probe.outcome === 'forbidden') {
          if (c.unreachable) continue
          if (probe?.outcome === 'no-pod') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read: ${probe.detail}`,
              `if istiod runs outside this cluster, pass \`--istiod-debug-url ${ctxOf(c)}=http://HOST:15014\` with an address of its monitoring port; by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else if (probe?.outcome === 'forbidden') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read: ${probe.detail} (forbidden)`,
              `reading it needs \`list pods\` and \`create pods/portforward\` in ${c.istioNamespace}; by hand with other credentials: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else if (c.source === 'context') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read`, `by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read (cluster read through a remote secret, not a context)`,
              `verify it with a context: \`kubectl mesh verify --context ${ctxOf(c)}\`; by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          }
          continue
        }
        if (probe.outcome === 'error' || !probe.clusterz) {
          out.push(fail(c.name, `cluster ${c.name}: istiod did not answer /debug/clusterz (${probe.url}): ${probe.detail}`,
            `check that istiod runs and serves its monitoring port 15014 (\`kubectl -n ${c.istioNamespace} get pods -l app=istiod --context ${ctxOf(c)}\`, then its log: \`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)}\`); by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          continue
        }
        const bad: Finding[] = []
        for (const key of keys) {
          const entry = probe.clusterz.find((e) => e.id === key)
          const secret = ctx.secrets(c).find((e) => e.key === key)?.secret.metadata.name
          if (!entry) {
            bad.push(fail(c.name, `cluster ${c.name}: istiod does not list cluster ${key} (Secret ${c.istioNamespace}/${secret}) in /debug/clusterz`,
              `istiod skipped the secret: look for "${key}" in its log (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)} | grep ${key}\`), e.g. a kubeconfig it rejects or a cluster ID registered twice`))
          } else if (entry.syncStatus !== 'synced') {
            const peer = ctx.byClusterId(key)
            bad.push(fail(c.name, `cluster ${c.name}: istiod's view of cluster ${key} is "${entry.syncStatus}", not synced: it cannot read everything it needs from cluster ${key}'s API server`,
              `check that cluster ${key}'s API server (${peer?.server || 'the server in the remote secret'}) is up and reachable from istiod's pod, and look for "watch error in cluster ${key}" in istiod's log (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)}\`): a "forbidden" there means the reader ClusterRole in ${key} lacks a permission. istiod retries on its own; a token change needs \`${ctx.linkCommand(c, peer ?? key)}\``))
          }
        }
        out.push(...bad)
        if (bad.length === 0) out.push(pass(c.name, `cluster ${c.name}: istiod lists ${keys.length} remote cluster(s) as synced: ${keys.join(', ')}`))
      }
      return out
    },
  },
]

/** How many of a linked cluster's other services (neither exported nor imported) links.istiod-endpoints samples. */
export const ENDPOINT_SAMPLE = 5

type Probe = NonNullable<VerifyFacts['istiod']>[number]

/** The probe of a cluster when istiod answered; a skip when it was not read (links.istiod-sync reports why). */
export function viewOf(ctx: CheckContext, c: ClusterFacts, what: 'networkz' | 'endpointShardz'): {probe: Probe} | {finding?: Finding} {
  const probe = ctx.facts.istiod?.find((p) => p.cluster === c.name)
  const keys = ctx.secrets(c).filter((e) => e.key !== ctx.clusterIdOf(c))
  if (keys.length === 0) return {finding: c.unreachable ? undefined : skip(c.name, `cluster ${c.name}: no remote secrets`)}
  if (!probe || probe.outcome !== 'ok') return {finding: c.unreachable ? undefined : skip(c.name, `cluster ${c.name}: istiod's /debug/${what} not read (istiod not reachable; see links.istiod-sync)`, `by hand: ${byHand(c.istioNamespace, ctxOf(c)).replace('/debug/clusterz', `/debug/${what}`)}`)}
  const error = what === 'networkz' ? probe.networkzError : probe.endpointShardzError
  if (error || !probe[what]) return {finding: fail(c.name, `cluster ${c.name}: istiod did not answer /debug/${what}: ${error ?? 'no answer'}`, `by hand: ${byHand(c.istioNamespace, ctxOf(c)).replace('/debug/clusterz', `/debug/${what}`)}`)}
  return {probe}
}

/** The verified clusters a cluster's remote secrets name (each once), with the secret's key. */
export function linkedPeers(ctx: CheckContext, c: ClusterFacts): Array<{key: string; peer?: ClusterFacts}> {
  const seen = new Set<string>()
  const out: Array<{key: string; peer?: ClusterFacts}> = []
  for (const e of ctx.secrets(c)) {
    if (e.key === ctx.clusterIdOf(c) || seen.has(e.key)) continue
    seen.add(e.key)
    const peer = ctx.peerOf(e)
    out.push({key: e.key, peer: peer && peer !== c ? peer : undefined})
  }
  return out
}

istiodChecks.push(
  {
    id: 'links.istiod-gateways',
    category: 'links',
    title: "istiod's /debug/networkz lists the east-west gateway of every linked cluster on another network at that gateway's current address and port (read through the same port-forward).",
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.clusters) {
        const v = viewOf(ctx, c, 'networkz')
        if (!('probe' in v)) {
          if (v.finding) out.push(v.finding)
          continue
        }
        const known = v.probe.networkz!
        const mine = ctx.id(c).network
        const bad: Finding[] = []
        const viaRemote: string[] = []
        let checked = 0
        for (const {key, peer} of linkedPeers(ctx, c)) {
          if (!peer || peer.unreachable) continue
          const net = ctx.id(peer).network
          if (!net || !mine || net === mine) continue
          // an ambient pair: ztunnels use the peer's istio-east-west Gateway (ambient.eastwest-gateway), not /debug/networkz's sidecar gateways
          if (ctx.isAmbient(c) && ctx.isAmbient(peer)) continue
          checked++
          const gw = ctx.gateway(peer)
          const onNet = known.filter((g) => g.network === net)
          const shown = onNet.map((g) => `${g.addr}:${g.port}${g.cluster ? ` (cluster ${g.cluster})` : ''}`).join(', ')
          const gwCmd = gw ? `\`kubectl -n ${gw.namespace} get ${gw.kind === 'Gateway' ? 'gateways.gateway.networking.k8s.io' : 'service'} ${gw.service.metadata.name} -o wide --context ${ctxOf(peer)}\`` : ''
          const want = ctx.istiodTargets(peer)
          const hostnames = gw ? gw.targets.filter((t) => t.hostname) : []
          // istio-remote Gateways in this cluster naming the peer's network (cluster link --network-config gateway writes one where istiod cannot discover the peer's gateway by its label)
          const decls = remoteGateways(c)
          const wiring = ctx.secrets(c).find((e) => e.key === key)?.secret.metadata.annotations?.[NETWORK_CONFIG_ANNOTATION]
          // no istio-remote Gateway needed: istiod discovers the gateway by its network label or a meshNetworks
          // registryServiceName entry (link then plans none), or there is no gateway for one to name (the
          // no-gateway finding below says what to fix)
          const needsNone = !gw || Boolean(gw.network === net && (gw.registryServiceName || (gw.kind === 'Service' && gw.discovered)))
          const rw = decls ? remoteWiring({declarations: decls, network: net, current: want, needsNone, wiring, dns: ctx.facts.dns}) : {kind: 'none' as const}
          const relink = `\`${ctx.linkCommand(c, peer)} --network-config gateway\` (rewrites it with ${key}'s current gateway; add the --gateway ADDR:PORT the link was made with, if any)`
          if (rw.kind === 'moved') {
            const g = rw.gateway
            bad.push(fail(c.name, `cluster ${c.name}: istio-remote Gateway ${g.ref} names network ${net} at ${rw.stale.map((t) => `${t.address}:${t.port}`).join(', ')}, but ${key}'s east-west gateway ${gw?.ref} (${gw?.shape}) is at ${gw ? describeTargets(gw, ctx.facts.dns) : want.map((t) => `${t.address}:${t.port}`).join(', ')}: istiod sends ${key}'s traffic to an address that no longer serves it`, relink))
            continue
          }
          if (rw.kind === 'missing') {
            const ref = `${c.istioNamespace}/${remoteGatewayName(key)}`
            bad.push(fail(c.name, `cluster ${c.name}: the link to ${key} was made with --network-config gateway and relies on istio-remote Gateway ${ref} naming network ${net}${gw ? ` (istiod cannot discover ${key}'s east-west gateway ${gw.ref} by its label)` : ''}, but no istio-remote Gateway names network ${net}: istiod ${onNet.length > 0 ? `knows it only at ${shown}` : `knows no gateway for network ${net} and sends ${key}'s pod IPs to network ${mine}`}`,
              `\`${ctx.linkCommand(c, peer)} --network-config gateway\` (writes it again; add the --gateway ADDR:PORT the link was made with, if any)`))
            continue
          }
          if (rw.kind === 'ok') {
            const declared = rw.gateways.flatMap((g) => istiodTargets(g, ctx.facts.dns))
            const refs = rw.gateways.map((g) => g.ref).join(', ')
            if (!onNet.some((g) => declared.some((t) => t.address === g.addr && t.port === g.port))) {
              bad.push(fail(c.name, `cluster ${c.name}: istio-remote Gateway ${refs} names network ${net} of cluster ${key} at ${declared.map((t) => `${t.address}:${t.port}`).join(', ')}, but istiod ${onNet.length > 0 ? `knows it only at ${shown}` : `knows no gateway for network ${net}`}`,
                `istiod reads istio-remote Gateways only from its own cluster and once the Gateway API CRDs are served (\`kubectl get crd gateways.gateway.networking.k8s.io --context ${ctxOf(c)}\`); restart it to pick up CRDs installed after it started (\`kubectl -n ${c.istioNamespace} rollout restart deployment/${istioNames(c).istiod} --context ${ctxOf(c)}\`)`))
            } else {
              viaRemote.push(`${key} wired by istio-remote Gateway ${refs} (${declared.map((t) => `${t.address}:${t.port}`).join(', ')})`)
            }
            continue
          }
          if (!gw) {
            // a Service listening on 15443 that nothing names: label it (networks.gateway-address says the same)
            const unnamed = unnamedGatewayService(peer)
            bad.push(fail(c.name, `cluster ${c.name}: istiod ${onNet.length > 0 ? `knows network ${net} only at ${shown}` : `knows no gateway for network ${net}`} of cluster ${key}, which has no east-west gateway${unnamed ? ` (Service ${peer.istioNamespace}/${unnamed.metadata.name} listens on 15443, but neither the label topology.istio.io/network nor a meshNetworks registryServiceName names it)` : ''}`,
              unnamed
                ? `\`kubectl label service ${unnamed.metadata.name} -n ${peer.istioNamespace} topology.istio.io/network=${net} --overwrite --context ${ctxOf(peer)}\`, or name it in meshNetworks in ${c.name} (registryServiceName ${fqdnIn(ctx.id(peer), unnamed.metadata.name, peer.istioNamespace)})`
                : `install an east-west gateway in ${key} (istio samples/multicluster/gen-eastwest-gateway.sh --network ${net}); without one istiod sends ${key}'s pod IPs to network ${mine}`))
          } else if (gw.skipped) {
            bad.push(fail(c.name, `cluster ${c.name}: istiod does not use ${key}'s east-west gateway ${gw.ref}: ${gw.skipped}`,
              `expose port ${gw.port} on ${gw.ref} (\`kubectl -n ${gw.namespace} get service ${gw.service.metadata.name} -o yaml --context ${ctxOf(peer)}\`), or set its networking.istio.io/gatewayPort label to the port it listens on`))
          } else if (gw.targets.length === 0) {
            bad.push(fail(c.name, `cluster ${c.name}: istiod knows no current gateway for network ${net} of cluster ${key}: its east-west gateway ${gw.kind} ${gw.ref} has no address (istiod ${onNet.length > 0 ? `still lists ${shown}, which nothing serves` : `knows no gateway for network ${net} and sends ${key}'s pod IPs to network ${mine}`})`,
              gw.shape === 'nodeport'
                ? `give a Node matching ${gw.ref}'s traffic.istio.io/nodeSelector an ExternalIP, or fix the selector (\`kubectl get nodes -o wide --show-labels --context ${ctxOf(peer)}\`)`
                : `give ${gw.ref} a load-balancer address (${gwCmd}), or list the gateway under meshNetworks`))
          } else if (hostnames.length > 0 && want.length === 0) {
            bad.push(fail(c.name, `cluster ${c.name}: ${key}'s east-west gateway ${gw.ref} is at ${hostnames.map((t) => t.address).join(', ')}, which does not resolve here (istiod resolves it itself; ${onNet.length > 0 ? `it lists ${shown}` : 'it knows no gateway for network ' + net})`,
              `check the DNS name (\`getent ahosts ${hostnames[0].address}\`); istiod keeps its last answer while DNS fails`))
          } else if (!onNet.some((g) => want.some((t) => t.address === g.addr && t.port === g.port))) {
            bad.push(fail(c.name, `cluster ${c.name}: istiod ${onNet.length > 0 ? `knows network ${net} of cluster ${key} at ${shown}` : `knows no gateway for network ${net} of cluster ${key}`}, but its east-west gateway ${gw.ref} (${gw.shape}) is at ${describeTargets(gw, ctx.facts.dns)}`,
              gw.network !== net && gw.kind === 'Service'
                ? `label ${gw.ref} topology.istio.io/network=${net} (\`kubectl -n ${gw.namespace} label service ${gw.service.metadata.name} topology.istio.io/network=${net} --overwrite --context ${ctxOf(peer)}\`), or fix meshNetworks in ${c.name}`
                : hostnames.length > 0
                  ? `istiod re-resolves ${hostnames.map((t) => t.address).join(', ')} on the record's TTL (30 s to 1 h, model/network.go networkGatewayNameCache): wait, or restart istiod (\`kubectl -n ${c.istioNamespace} rollout restart deployment/${istioNames(c).istiod} --context ${ctxOf(c)}\`)`
                  : `istiod follows the gateway Service of a synced cluster within seconds: check links.istiod-sync, then meshNetworks in ${c.name} (\`kubectl -n ${c.istioNamespace} get configmap istio -o yaml --context ${ctxOf(c)}\`)`))
          }
        }
        out.push(...bad)
        if (bad.length === 0) out.push(checked === 0 ? skip(c.name, `cluster ${c.name}: no linked verified cluster on another network`) : pass(c.name, `cluster ${c.name}: istiod knows the gateway of each of ${checked} linked cluster(s) on other networks at its current address${viaRemote.length > 0 ? `; ${viaRemote.join('; ')}` : ''}`))
      }
      return out
    },
  },
  {
    id: 'links.istiod-endpoints',
    category: 'links',
    title: `istiod's /debug/endpointShardz holds each linked cluster's shard for its exported services and for a sample of ${ENDPOINT_SAMPLE} of its others (those the linked cluster's own istiod holds endpoints for), and a shard for every imported service.`,
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.clusters) {
        const v = viewOf(ctx, c, 'endpointShardz')
        if (!('probe' in v)) {
          if (v.finding) out.push(v.finding)
          continue
        }
        const shardz = v.probe.endpointShardz!
        const bad: Finding[] = []
        let checked = 0
        const has = (host: string, ns: string, key?: string) => Object.entries(shardz[host]?.[ns] ?? {}).some(([k, eps]) => (key ? k === key : true) && eps.length > 0)
        for (const {key, peer} of linkedPeers(ctx, c)) {
          const own = peer && ctx.facts.istiod?.find((p) => p.cluster === peer.name)?.endpointShardz
          if (!peer || !own) continue
          // what the peer's own istiod holds endpoints for, from the peer's pods (shard Kubernetes/<peer>)
          const shard = `Kubernetes/${key}`
          const held = Object.entries(own).flatMap(([host, byNs]) => Object.entries(byNs).filter(([, s]) => (s[`Kubernetes/${ctx.clusterIdOf(peer)}`] ?? []).length > 0).map(([ns]) => ({host, ns})))
            .filter((h) => h.ns !== peer.istioNamespace && h.host.includes('.svc.'))
            .sort((a, b) => a.host.localeCompare(b.host))
          const exported = new Set((peer.lists.Service ?? []).filter((s) => s.metadata.labels?.[EXPORTED_LABEL] === 'true').map((s) => `${s.metadata.namespace}/${s.metadata.name}`))
          const isExported = (h: {host: string; ns: string}) => exported.has(`${h.ns}/${h.host.split('.')[0]}`)
          const wanted = [...held.filter(isExported), ...held.filter((h) => !isExported(h)).slice(0, ENDPOINT_SAMPLE)]
          for (const h of wanted) {
            checked++
            if (!has(h.host, h.ns, shard)) {
              bad.push(fail(c.name, `cluster ${c.name}: istiod holds no shard ${shard} for ${h.host}${isExported(h) ? ' (exported)' : ''}, which cluster ${key}'s own istiod holds endpoints for: ${c.name}'s sidecars get none of ${key}'s endpoints of it`,
                `check links.istiod-sync for ${key}, then istiod's log in ${c.name} (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)} | grep ${key}\`); a new link: \`${ctx.linkCommand(c, peer)}\``))
            }
          }
        }
        for (const se of (c.lists.ServiceEntry ?? []).filter((s) => s.metadata.labels?.[IMPORTED_FROM_LABEL])) {
          for (const host of (se.spec?.hosts ?? []) as string[]) {
            checked++
            if (!has(host, se.metadata.namespace ?? '')) {
              bad.push(fail(c.name, `cluster ${c.name}: istiod holds no endpoint for ${host}, imported from ${se.metadata.labels![IMPORTED_FROM_LABEL]} (ServiceEntry ${se.metadata.namespace}/${se.metadata.name})`,
                `\`kubectl mesh service import ${se.metadata.labels![IMPORTED_SERVICE_LABEL] ?? se.metadata.name} -n ${se.metadata.namespace} --from-context ${(() => { const o = ctx.byClusterId(se.metadata.labels![IMPORTED_FROM_LABEL]); return o ? ctxOf(o) : se.metadata.labels![IMPORTED_FROM_LABEL] })()} --context ${ctxOf(c)}\` rewrites it; istiod's log: \`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)}\``))
            }
          }
        }
        out.push(...bad)
        if (bad.length === 0) out.push(checked === 0 ? skip(c.name, `cluster ${c.name}: no linked cluster whose istiod was read, and no import`) : pass(c.name, `cluster ${c.name}: istiod holds the shard of each of ${checked} linked or imported service(s) checked`))
      }
      return out
    },
  },
)
