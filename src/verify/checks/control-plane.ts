// istio.control-plane: a remote-profile cluster (Istio's `remote` profile: no istiod) reaches its
// primary's istiod — its istiod Service points at the primary's east-west gateway (or the
// primary's istiod), the primary passes istiod through that gateway, holds the remote's remote
// secret, and the remote's namespace annotation topology.istio.io/controlPlaneClusters names it.
import {CONTROL_PLANE_CLUSTERS_ANNOTATION, ISTIOD_GATEWAY, ISTIOD_WEBHOOK_PORT, ISTIOD_XDS_PORT} from '../../istio/names.ts'
import {gatewayAddresses, passesIstiod} from '../../istio/gateway.ts'
import {istiodEnv, istiodServiceAddresses} from '../../istio/install.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, warn} from '../check.ts'
import {istioNames, istioNamespace, istiodDeployment, rootCertConfigMap} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'

const named = (c: ClusterFacts): string[] =>
  (istioNamespace(c)?.metadata.annotations?.[CONTROL_PLANE_CLUSTERS_ANNOTATION] ?? '').split(',').map((x) => x.trim()).filter(Boolean)

function controlPlane(ctx: CheckContext, r: ClusterFacts): Finding {
  const rid = ctx.clusterIdOf(r)
  const ns = r.istioNamespace
  const primaries = ctx.reachable.filter((p) => p !== r && ctx.secrets(p).some((e) => ctx.peerOf(e) === r))
  const annotated = named(r)
  if (primaries.length === 0) {
    const guess = ctx.reachable.find((p) => p !== r && annotated.includes(ctx.clusterIdOf(p)))
    return fail(r.name, `cluster ${r.name} runs Istio's remote profile (no istiod), but no verified cluster holds a remote secret for ${rid}: no istiod discovers its services, and its proxies get no configuration`,
      `\`kubectl mesh cluster link --context ${guess ? ctxOf(guess) : '<PRIMARY>'} --remote-context ${ctxOf(r)}\`${guess ? '' : ' (and verify the primary too: --context <PRIMARY>)'}`)
  }
  const p = primaries[0]
  const pid = ctx.clusterIdOf(p)
  const relink = `\`kubectl mesh cluster link --context ${ctxOf(p)} --remote-context ${ctxOf(r)}\``
  if (!annotated.includes(pid) && !annotated.includes('*')) {
    return fail(r.name, `cluster ${r.name}: namespace ${ns} annotation ${CONTROL_PLANE_CLUSTERS_ANNOTATION} ${annotated.length ? `names ${annotated.join(',')}` : 'is missing'}, but its control plane is ${p.name} (${pid}, which holds its remote secret)`,
      `${relink} (annotates it), or \`kubectl annotate namespace ${ns} ${CONTROL_PLANE_CLUSTERS_ANNOTATION}=${pid} --overwrite --context ${ctxOf(r)}\``)
  }
  const svcName = istioNames(r).istiod
  const svc = (r.lists.Service ?? []).find((s) => s.metadata.namespace === ns && s.metadata.name === svcName)
  if (!r.lists.Service) return skip(r.name, `cluster ${r.name}: Services not readable`)
  const reinstall = (addr: string) => `reinstall the remote profile pointing at it: \`istioctl install --context ${ctxOf(r)} --set profile=remote --set values.global.remotePilotAddress=${addr}\``
  const pGateway = ctx.gateway(p)
  const gwAddrs = pGateway?.addresses ?? []
  const pIstiod = (p.lists.Service ?? []).find((s) => s.metadata.namespace === p.istioNamespace && s.metadata.name === istioNames(p).istiod)
  const istiodAddrs = pIstiod ? gatewayAddresses(pIstiod) : []
  const want = gwAddrs[0] ?? istiodAddrs[0] ?? '<primary east-west gateway address>'
  if (!svc) return fail(r.name, `cluster ${r.name}: no Service ${ns}/${svcName}: its proxies and webhooks have no address for their control plane in ${p.name}`, reinstall(want))
  if (svc.spec?.type !== 'ExternalName' && !r.endpointSlices) return skip(r.name, `cluster ${r.name}: the EndpointSlices of ${ns} were not readable, so where Service ${ns}/${svcName} points is unknown`)
  // the EndpointSlice (or ExternalName) the render made; else what the install's values say it points at
  const sliced = istiodServiceAddresses(svc, r.endpointSlices ?? [])
  const pilot = ctx.id(r).install.remotePilotAddress
  const addrs = sliced.length > 0 ? sliced : pilot ? [pilot] : []
  const via = sliced.length > 0 ? '' : ' (values global.remotePilotAddress; no EndpointSlice)'
  if (addrs.length === 0) return fail(r.name, `cluster ${r.name}: Service ${ns}/${svcName} points nowhere (no externalName, no EndpointSlice addresses, no values global.remotePilotAddress)`, reinstall(want))
  const viaGateway = addrs.some((a) => gwAddrs.includes(a))
  const direct = addrs.some((a) => istiodAddrs.includes(a))
  if (!viaGateway && !direct) {
    return fail(r.name, `cluster ${r.name}: Service ${ns}/${svcName} points at ${addrs.join(',')}${via}, which is neither ${p.name}'s east-west gateway (${gwAddrs.join(',') || 'no address'}) nor its istiod Service (${istiodAddrs.join(',') || 'no load-balancer address'})`, reinstall(want))
  }
  if (viaGateway && pGateway) {
    const gws = p.lists.Gateway
    if (!gws) return skip(r.name, `cluster ${r.name}: ${p.name}'s Gateways not readable, so whether it passes istiod through is unknown`)
    const by = gws.find((g) => passesIstiod(g, pGateway))
    if (!by) {
      return fail(r.name, `cluster ${r.name}: its istiod Service points at ${p.name}'s east-west gateway ${pGateway.ref} (${addrs.join(',')}), but ${p.name} does not pass istiod through it (no Gateway with TLS PASSTHROUGH on ${ISTIOD_XDS_PORT} and ${ISTIOD_WEBHOOK_PORT}, such as ${ISTIOD_GATEWAY}): ${r.name}'s proxies cannot reach their control plane`,
        `${relink} (adds Gateway and VirtualService ${ISTIOD_GATEWAY} in ${p.name}), or apply Istio's samples/multicluster/expose-istiod.yaml with \`kubectl --context ${ctxOf(p)} apply -n ${p.istioNamespace} -f expose-istiod.yaml\``)
    }
    return leads(r, p) ?? pass(r.name, `cluster ${r.name}: control plane ${p.name} (${pid}): istiod Service → ${p.name}'s east-west gateway ${addrs.join(',')}${via}, passed through by Gateway ${by.metadata.namespace}/${by.metadata.name}; ${p.name} holds its remote secret; ${CONTROL_PLANE_CLUSTERS_ANNOTATION}=${annotated.join(',')}`)
  }
  return leads(r, p) ?? pass(r.name, `cluster ${r.name}: control plane ${p.name} (${pid}): istiod Service → ${p.name}'s istiod ${addrs.join(',')}${via}; ${p.name} holds its remote secret; ${CONTROL_PLANE_CLUSTERS_ANNOTATION}=${annotated.join(',')}`)
}

/**
 * The primary's istiod leads a remote's controllers — writes the mesh's root (ConfigMap
 * istio-ca-root-cert, which the remote's sidecars mount) into its namespaces and patches its
 * webhooks' CA bundle — only with EXTERNAL_ISTIOD=true (and the annotation naming it;
 * pilot/pkg/serviceregistry/kube/controller/multicluster.go checkShouldLead). A warning when it
 * runs without and the remote has no istio-ca-root-cert (so nobody wrote it another way).
 */
function leads(r: ClusterFacts, p: ClusterFacts): Finding | undefined {
  const dep = istiodDeployment(p)
  if (!dep || istiodEnv(dep).EXTERNAL_ISTIOD === 'true') return undefined
  if (rootCertConfigMap(r)) return undefined
  return warn(r.name, `cluster ${r.name}: its control plane ${p.name} runs istiod without EXTERNAL_ISTIOD=true, and ${r.name} has no ConfigMap ${r.istioNamespace}/istio-ca-root-cert: no istiod writes the mesh's root into ${r.name}'s namespaces (its sidecars mount it) or patches its webhooks' CA bundle`,
    `reinstall the primary as Istio's primary-remote guide does: \`istioctl install --context ${ctxOf(p)} --set values.pilot.env.EXTERNAL_ISTIOD=true\` (with the same values as before)`)
}

export const controlPlaneChecks: CheckDef[] = [
  {
    id: 'istio.control-plane',
    category: 'istio',
    title: `A remote-profile cluster (no istiod) reaches its primary: its istiod Service points at the primary's east-west gateway (or istiod), the primary passes istiod through (TLS PASSTHROUGH on ${ISTIOD_XDS_PORT} and ${ISTIOD_WEBHOOK_PORT}, e.g. ${ISTIOD_GATEWAY}), holds its remote secret, and ${CONTROL_PLANE_CLUSTERS_ANNOTATION} names it.`,
    run: (ctx) => ctx.reachable.map((c) => (ctx.id(c).install.remoteProfile ? controlPlane(ctx, c) : skip(c.name, `cluster ${c.name}: runs its own istiod (not a remote-profile cluster)`))),
  },
]
