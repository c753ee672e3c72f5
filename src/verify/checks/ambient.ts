// Ambient meshes over several networks (DESIGN.md "Ambient"; rules in src/istio/ambient.ts):
// istiod's multi-network flag, ztunnel, the istio-east-west Gateway, exported Services GLOBAL in
// every istiod that must judge them so, their waypoints too, and no sidecar cluster handed an
// ambient-only gateway (istio/istio#57878). Clusters that do not run ambient are skipped, except
// by the last check, which is about sidecar clusters linked to ambient ones.
import {ambientGateways, ambientOnlyService, inClusterAddresses, isGlobalScopeEntry, multiNetworkFix, serviceScope, waypointOf} from '../../istio/ambient.ts'
import {gatewayPort} from '../../istio/gateway.ts'
import {EXPORTED_LABEL, GLOBAL_SERVICE_LABEL, GLOBAL_SERVICE_VALUE, HBONE_PORT, MULTI_NETWORK_ENV, NETWORK_LABEL} from '../../istio/names.ts'
import type {KubeObject} from '../../kube/resources.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip} from '../check.ts'
import {istiodDeployment, istioNames, meshConfigMap} from '../model.ts'
import {parsedKey} from '../../istio/install.ts'
import type {ClusterFacts, Finding} from '../types.ts'


/** The clusters a cluster's remote secrets name (linked peers), that verify read. */
function peers(ctx: CheckContext, c: ClusterFacts): ClusterFacts[] {
  return ctx.secrets(c).flatMap((e) => ctx.peerOf(e) ?? []).filter((p) => p !== c)
}

const meshOf = (c: ClusterFacts) => parsedKey(meshConfigMap(c) ?? undefined, 'mesh')
const nsLabels = (c: ClusterFacts, ns: string) => (c.lists.Namespace ?? []).find((n) => n.metadata.name === ns)?.metadata.labels ?? {}
const exportedIn = (c: ClusterFacts) => (c.lists.Service ?? []).filter((s) => s.metadata.labels?.[EXPORTED_LABEL] === 'true')
const svcRef = (s: KubeObject) => `${s.metadata.namespace}/${s.metadata.name}`
const linked = (ctx: CheckContext, c: ClusterFacts) => ctx.secrets(c).length > 0 || ctx.reachable.some((p) => p !== c && peers(ctx, p).includes(c))

/**
 * Run `check` for every reachable ambient cluster (only the linked ones with `linkedOnly`); every
 * other cluster gets the one skip that says why the check is not about it.
 */
function eachAmbient(ctx: CheckContext, linkedOnly: boolean, check: (c: ClusterFacts) => Finding | Finding[]): Finding[] {
  return ctx.reachable.flatMap((c) => {
    if (!ctx.isAmbient(c)) return [skip(c.name, `cluster ${c.name}: ${ctx.ambient(c).kind === 'sidecar' ? 'sidecar mesh' : 'no Istio control plane'} (no ztunnel, no ambient profile)`)]
    if (linkedOnly && !linked(ctx, c)) return [skip(c.name, `cluster ${c.name}: not linked`)]
    return check(c)
  })
}

export const ambientChecks: CheckDef[] = [
  {
    id: 'ambient.multi-network',
    category: 'ambient',
    title: `In an ambient cluster, istiod runs with ${MULTI_NETWORK_ENV}=true (else it takes no Service of another cluster and ignores serviceScopeConfigs).`,
    run: (ctx) => eachAmbient(ctx, false, (c) => {
      const dep = istiodDeployment(c)
      if (!dep) return skip(c.name, `cluster ${c.name}: no istiod Deployment readable`)
      if (ctx.ambient(c).multiNetwork) return pass(c.name, `cluster ${c.name}: ambient mesh (${ctx.ambient(c).evidence}); istiod ${dep.metadata.name} runs with ${MULTI_NETWORK_ENV}=true`)
      return fail(c.name, `cluster ${c.name}: ambient mesh, but istiod ${dep.metadata.name} runs without ${MULTI_NETWORK_ENV}=true: no Service of another cluster reaches its ztunnels`,
        `\`${multiNetworkFix(ctxOf(c), c.istioNamespace, dep.metadata.name).replace(' (or', '` (or')}`)
    }),
  },
  {
    id: 'ambient.ztunnel',
    category: 'ambient',
    title: 'An ambient cluster runs ztunnel (a DaemonSet in the Istio namespace).',
    run: (ctx) => eachAmbient(ctx, false, (c) => {
      const zt = ctx.ambient(c).ztunnel
      return zt ? pass(c.name, `cluster ${c.name}: ztunnel DaemonSet ${zt}`)
        : fail(c.name, `cluster ${c.name}: the ambient profile is installed, but no ztunnel DaemonSet runs in ${c.istioNamespace}: no workload is captured`, `install Istio's ztunnel: \`istioctl install --set profile=ambient --context ${ctxOf(c)}\` (or the ztunnel Helm chart)`)
    }),
  },
  {
    id: 'ambient.eastwest-gateway',
    category: 'ambient',
    title: 'A linked ambient cluster has an istio-east-west Gateway with its network label, an HBONE listener on 15008 (TLS Terminate), Programmed, with an address in its status that other networks reach (what other istiods send ztunnels to: not its Service\'s ClusterIP).',
    run: (ctx) => eachAmbient(ctx, true, (c): Finding => {
      const network = ctx.id(c).network
      const gws = ambientGateways(c.ambientObjects?.kubeGateways ?? [], network)
      const g = gws[0]
      const create = `\`kubectl mesh cluster link --context <peer> --remote-context ${ctxOf(c)} --create-gateway\` (or apply what Istio's samples/multicluster/gen-eastwest-gateway.sh --ambient --network ${network ?? '<network>'} prints)`
      if (!g) return fail(c.name, `cluster ${c.name}: no Gateway of class istio-east-west in ${c.istioNamespace}: other networks' ztunnels cannot reach its workloads`, create)
      if (!g.network) return fail(c.name, `cluster ${c.name}: Gateway ${g.ref} has no ${NETWORK_LABEL} label: istiod does not take it as a network gateway`, `\`kubectl --context ${ctxOf(c)} -n ${g.gateway.metadata.namespace} label gateways.gateway.networking.k8s.io ${g.gateway.metadata.name} ${NETWORK_LABEL}=${network ?? '<network>'}\``)
      if (!g.hbone) return fail(c.name, `cluster ${c.name}: Gateway ${g.ref} has no HBONE listener with TLS mode Terminate: istiod does not take it as a network gateway`, create)
      const {name: gwName, namespace: gwNs} = g.gateway.metadata
      const why = g.notProgrammed ? ` (Programmed False, ${g.notProgrammed.reason}: ${g.notProgrammed.message})` : ''
      // istiod writes an external address only once the Service has one, and a ready endpoint (gatewaycommon/context.go ResolveGatewayInstances)
      const lbFix = `give Service ${gwNs}/${gwName} a load-balancer address: \`kubectl --context ${ctxOf(c)} -n ${gwNs} get service ${gwName}\` shows EXTERNAL-IP <pending> when no load-balancer controller serves the cluster (install one, e.g. MetalLB on bare metal; spec.addresses on the Gateway asks it for a given IP); istiod then writes that address into the Gateway's status`
      if (g.addresses.length === 0) {
        return fail(c.name, `cluster ${c.name}: Gateway ${g.ref} has no address in its status${why}: no other istiod can send ztunnels to it`,
          `${lbFix}; and a ready gateway Pod: \`kubectl --context ${ctxOf(c)} -n ${gwNs} get deployment ${gwName}\``)
      }
      const {inCluster} = inClusterAddresses(g, c.lists.Service ?? [], ctx.id(c).clusterDomain)
      if (inCluster.length === g.addresses.length) {
        return fail(c.name, `cluster ${c.name}: Gateway ${g.ref} has no address other networks reach: its status holds only ${inCluster.join(', ')}, the in-cluster address of its Service${why}; other istiods send ztunnels to ${inCluster[0]}:${g.hbonePort ?? HBONE_PORT}, which only answers inside ${c.name}`, lbFix)
      }
      return pass(c.name, `cluster ${c.name}: Gateway ${g.ref} (istio-east-west, network ${g.network}) at ${g.addresses.join(',')}:${g.hbonePort ?? HBONE_PORT}${g.programmed ? ', Programmed' : ''}`)
    }),
  },
  {
    id: 'ambient.service-scope',
    category: 'ambient',
    title: `Every exported Service of a linked ambient cluster is GLOBAL by the serviceScopeConfigs of its own istiod and of every linked ambient istiod (each istiod judges every Service, local or remote, by its own mesh config), and labelled ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE} in every cluster that has it.`,
    run: (ctx) => eachAmbient(ctx, true, (c) => {
      const bad: Finding[] = []
      const mesh = meshOf(c)
      const cm = `ConfigMap ${c.istioNamespace}/${istioNames(c).meshConfigMap}`
      // the Services this istiod must judge GLOBAL: its own exported ones, and those of the ambient clusters it links to
      const judged: Array<{svc: KubeObject; from: ClusterFacts}> = [...exportedIn(c).map((svc) => ({svc, from: c})),
        ...peers(ctx, c).filter((p) => ctx.isAmbient(p)).flatMap((p) => exportedIn(p).map((svc) => ({svc, from: p})))]
      for (const {svc, from} of judged) {
        if (serviceScope(mesh, nsLabels(from, svc.metadata.namespace ?? ''), svc.metadata.labels ?? {}) === 'GLOBAL') continue
        const why = !(mesh?.serviceScopeConfigs ?? []).some(isGlobalScopeEntry)
          ? `${cm} has no serviceScopeConfigs entry selecting ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}`
          : `the Service is not labelled ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}`
        const fix = why.startsWith('ConfigMap')
          ? `\`${ctx.linkCommand(c, from === c ? (peers(ctx, c)[0] ?? from) : from)}\` (adds the entry again; every other entry is kept)`
          : `\`kubectl mesh service export ${svc.metadata.name} -n ${svc.metadata.namespace} --context ${ctxOf(from)}\``
        bad.push(fail(c.name, `cluster ${c.name}: Service ${svc.metadata.namespace}/${svc.metadata.name} of cluster ${from.name} is exported, but istiod of ${c.name} judges it LOCAL (${why})${from === c ? ': its east-west gateway does not serve it' : ': its ztunnels do not get it'}`, fix))
      }
      // the same Service in another linked ambient cluster: labelled too, or it is local there
      for (const p of peers(ctx, c).filter((x) => ctx.isAmbient(x))) {
        for (const svc of exportedIn(p)) {
          const twin = (c.lists.Service ?? []).find((s) => svcRef(s) === svcRef(svc))
          if (twin && twin.metadata.labels?.[GLOBAL_SERVICE_LABEL] !== GLOBAL_SERVICE_VALUE) {
            bad.push(fail(c.name, `cluster ${c.name}: Service ${svcRef(svc)} is exported in ${p.name} but this cluster's copy is LOCAL, and istiod merges no other cluster's endpoints into a LOCAL local Service (multicluster.go mergeServiceInfosWithCluster): ${c.name}'s ztunnels never get ${p.name}'s`,
              `\`kubectl mesh service import ${svc.metadata.name} -n ${svc.metadata.namespace} --from-context ${ctxOf(p)} --context ${ctxOf(c)}\` (labels this copy ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}; its own endpoints become global too)`))
          }
        }
      }
      return bad.length > 0 ? bad : [pass(c.name, `cluster ${c.name}: ${judged.length} exported Service${judged.length === 1 ? '' : 's'} GLOBAL by its serviceScopeConfigs`)]
    }),
  },
  {
    id: 'ambient.waypoint',
    category: 'ambient',
    title: `The waypoint an exported Service uses (label istio.io/use-waypoint on it or its namespace) is GLOBAL too (labelled ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}).`,
    run: (ctx) => eachAmbient(ctx, false, (c) => {
      const bad: Finding[] = []
      let used = 0
      for (const svc of exportedIn(c)) {
        const ns = (c.lists.Namespace ?? []).find((n) => n.metadata.name === svc.metadata.namespace)
        const wp = waypointOf(svc, ns)
        if (!wp) continue
        used++
        const w = (c.lists.Service ?? []).find((s) => s.metadata.namespace === wp.namespace && s.metadata.name === wp.name)
        if (!w) {
          bad.push(fail(c.name, `cluster ${c.name}: Service ${svcRef(svc)} uses waypoint ${wp.namespace}/${wp.name}, which has no Service: ztunnels cannot send through it`, `create the waypoint: \`istioctl waypoint apply -n ${wp.namespace} --name ${wp.name} --context ${ctxOf(c)}\`, then \`kubectl mesh service export ${svc.metadata.name} -n ${svc.metadata.namespace} --context ${ctxOf(c)}\``))
        } else if (serviceScope(meshOf(c), nsLabels(c, wp.namespace), w.metadata.labels ?? {}) !== 'GLOBAL') {
          bad.push(fail(c.name, `cluster ${c.name}: Service ${svcRef(svc)} is exported, but its waypoint ${wp.namespace}/${wp.name} is LOCAL: other clusters' ztunnels cannot send through it`,
            `\`kubectl mesh service export ${svc.metadata.name} -n ${svc.metadata.namespace} --context ${ctxOf(c)}\` (labels the waypoint too)`))
        }
      }
      return bad.length > 0 ? bad : [used > 0 ? pass(c.name, `cluster ${c.name}: the waypoints of ${used} exported Service${used === 1 ? '' : 's'} are GLOBAL`) : skip(c.name, `cluster ${c.name}: no exported Service uses a waypoint`)]
    }),
  },
  {
    id: 'ambient.sidecar-gateway',
    category: 'ambient',
    title: "No sidecar cluster is linked to a cluster on another network whose east-west gateway listens only on HBONE 15008 (istio/istio#57878): sidecars cross networks with mTLS on 15443, which that gateway does not take; the pinned istiod drops such a gateway for sidecars and hands them the other network's pod addresses directly (ep_filters.go selectNetworkGateways, EndpointsByNetworkFilter), or, through a meshNetworks entry, the gateway on 15008.",
    run: (ctx) => ctx.reachable.map((c): Finding => {
      if (ctx.isAmbient(c) || ctx.ambient(c).kind === 'none') return skip(c.name, `cluster ${c.name}: ${ctx.isAmbient(c) ? 'ambient mesh' : 'no Istio control plane'}`)
      const bad: Array<{peer: ClusterFacts; gateways: string[]}> = []
      for (const p of peers(ctx, c)) {
        if (ctx.id(p).network === ctx.id(c).network) continue
        const gws = ctx.gateways(p).filter((g) => g.network && ambientOnlyService(g.service, gatewayPort(g.service)))
        if (gws.length > 0 && !ctx.gateways(p).some((g) => g.network && !ambientOnlyService(g.service, gatewayPort(g.service)))) bad.push({peer: p, gateways: gws.map((g) => g.ref)})
      }
      if (bad.length === 0) return pass(c.name, `cluster ${c.name}: sidecar mesh; no linked cluster offers only an ambient (HBONE-only) gateway`)
      const names = bad.map((b) => `${b.peer.name}'s ${b.gateways.join(', ')}`).join('; ')
      const first = bad[0].peer
      return fail(c.name, `cluster ${c.name}: sidecar mesh linked to ${names}, an ambient-only east-west gateway (HBONE 15008, no 15443): its sidecars have no working path to ${bad.map((b) => b.peer.name).join(', ')} (istiod hands them that network's pod addresses, unreachable from here, or the gateway on 15008, which refuses their mTLS: 503s, istio/istio#57878)`,
        `unlink: \`kubectl mesh cluster unlink --context ${ctxOf(c)} --remote-context ${ctxOf(first)}\`; to reach ${first.name}'s services from sidecars, run ambient in ${c.name} too (istioctl install --set profile=ambient --context ${ctxOf(c)}); a 15443 east-west gateway in ${first.name} (gen-eastwest-gateway.sh without --ambient) serves only its sidecar-injected workloads, istiod drops its ambient ones for sidecars (no mTLS)`)
    }),
  },
]
