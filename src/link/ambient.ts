// `cluster link` between ambient clusters (DESIGN.md "Ambient"): the checks before any write and
// the writes beyond the sidecar link's remote secret —
// - istiod's AMBIENT_ENABLE_MULTI_NETWORK must be on in both (else exit 2 with the fix);
// - WEST's east-west gateway is an istio-east-west Gateway (found, or with --create-gateway written
//   as samples/multicluster/gen-eastwest-gateway.sh --ambient prints it);
// - kubectl-mesh's serviceScopeConfigs entry (GLOBAL for istio.io/global=true) in BOTH clusters'
//   mesh config, every other entry kept: each istiod judges every Service, its own and remote ones,
//   by its own mesh config (src/istio/ambient.ts). The ConfigMap records that kubectl-mesh added
//   it (annotation kubectl-mesh/service-scope), so unlink removes only what link added.
// No meshNetworks entry and no cross-network Gateway (networking.istio.io) are written for an
// ambient pair: ztunnels reach other networks through the istio-east-west Gateway's status address.
import {UsageError} from '../errors.ts'
import {dumpYaml} from '../kube/configmap-yaml.ts'
import type {KubeObject} from '../kube/resources.ts'
import {stamp} from '../istio/names.ts'
import {
  ambientEastWestGateway, type AmbientGateway, HBONE_PORT, isGlobalScopeEntry, meshKindLine, multiNetworkFix, SERVICE_SCOPE_OWNED_ANNOTATION, withGlobalScope, withoutGlobalScope,
} from '../istio/ambient.ts'
import type {AmbientRead} from '../istio/ambient-read.ts'
import {parsedKey} from '../istio/install.ts'

export interface AmbientLinkPlan {
  east: AmbientRead
  west: AmbientRead
  /** Both clusters run ambient: the ambient writes apply. */
  ambient: boolean
  /** WEST's istio-east-west Gateway, found. */
  westGateway?: AmbientGateway
  /** --create-gateway: the Gateway to write in WEST. */
  createGateway?: KubeObject
  /** Lines to print (mesh kinds; mixed pairs). */
  notes: string[]
  warnings: string[]
}

/** Pure: the ambient part of a link from both clusters' reads (src/link/facts.ts reads them with the rest). */
export function planAmbientLink(e: AmbientRead, w: AmbientRead,
  o: {createGateway?: boolean; crossNetwork: (e: AmbientRead, w: AmbientRead) => boolean; version: string}): AmbientLinkPlan {
  const plan: AmbientLinkPlan = {east: e, west: w, ambient: e.facts.kind === 'ambient' && w.facts.kind === 'ambient', notes: [e, w].some((r) => r.facts.kind === 'ambient') ? [meshKindLine(e.context, e.facts), meshKindLine(w.context, w.facts)] : [], warnings: []}
  if (!plan.ambient) {
    if (e.facts.kind === 'sidecar' && w.facts.kind === 'ambient' && w.gateways.length > 0) {
      plan.warnings.push(`context "${e.context}" runs sidecars and "${w.context}" an ambient-only east-west gateway (HBONE 15008): sidecars handed that gateway fail with 503 (istio/istio#57878); give "${w.context}" a sidecar east-west gateway on 15443 too (gen-eastwest-gateway.sh without --ambient)`)
    }
    if (o.createGateway) throw new UsageError(`--create-gateway writes an ambient east-west Gateway, but ${e.facts.kind !== 'ambient' ? `"${e.context}"` : `"${w.context}"`} does not run ambient`, 'link without --create-gateway')
    return plan
  }
  for (const r of [e, w]) {
    if (!r.facts.multiNetwork) {
      throw new UsageError(`context "${r.context}": istiod runs without ${'AMBIENT_ENABLE_MULTI_NETWORK'}=true, so it takes no Service of another cluster in ambient; nothing was written`,
        multiNetworkFix(r.context, r.istioNamespace, r.istiod?.metadata.name))
    }
    if (!r.meshConfigMap) {
      throw new UsageError(`context "${r.context}": no ConfigMap ${r.istioNamespace}/${r.meshConfigMapName}: nowhere to add the serviceScopeConfigs entry; nothing was written`, 'is Istio installed in this cluster? (check --istio-namespace)')
    }
  }
  if (o.crossNetwork(e, w)) {
    const gw = w.gateways.find((g) => g.network === w.network) ?? w.gateways[0]
    if (gw) {
      plan.westGateway = gw
      if (o.createGateway) plan.notes.push(`context "${w.context}": Gateway ${gw.ref} (istio-east-west) already exists; none written`)
    } else if (o.createGateway) {
      if (!w.network) throw new UsageError(`context "${w.context}": no network (label topology.istio.io/network on ${w.istioNamespace}) for the east-west Gateway`, `label it: kubectl --context ${w.context} label namespace ${w.istioNamespace} topology.istio.io/network=<network>`)
      const s = stamp(o.version)
      plan.createGateway = ambientEastWestGateway(w.network, w.istioNamespace, s.labels, s.annotations)
    } else {
      throw new UsageError(`context "${w.context}": no east-west Gateway of class istio-east-west in ${w.istioNamespace}: "${e.context}"'s ztunnels cannot reach network "${w.network ?? '?'}"; nothing was written`,
        `pass --create-gateway, or apply the one Istio's samples/multicluster/gen-eastwest-gateway.sh --ambient --network ${w.network ?? '<network>'} prints`)
    }
  }
  return plan
}

/** The gateway address the link summary names: the Gateway's status address on 15008, when it has one. */
export function ambientGatewayOf(p: AmbientLinkPlan): {address: string; port: number} | undefined {
  const g = p.westGateway
  return g && g.addresses[0] ? {address: g.addresses[0], port: g.hbonePort ?? HBONE_PORT} : undefined
}

/** The edit of a mesh ConfigMap that adds kubectl-mesh's entry (and records it added it); the live object when nothing is to do. */
export function addScopeEdit(live: KubeObject | undefined): KubeObject | undefined {
  if (!live) return undefined
  const mesh = parsedKey(live, 'mesh') ?? {}
  const list: unknown[] = Array.isArray(mesh.serviceScopeConfigs) ? mesh.serviceScopeConfigs : []
  if (list.some(isGlobalScopeEntry)) return live
  return {
    ...live,
    metadata: {...live.metadata, annotations: {...live.metadata.annotations, [SERVICE_SCOPE_OWNED_ANNOTATION]: 'added'}},
    data: {...live.data, mesh: dumpYaml(withGlobalScope(mesh))},
  }
}

/** The edit that removes kubectl-mesh's entry, only when kubectl-mesh added it. */
export function removeScopeEdit(live: KubeObject | undefined): KubeObject | undefined {
  if (!live || live.metadata.annotations?.[SERVICE_SCOPE_OWNED_ANNOTATION] === undefined) return live
  const mesh = parsedKey(live, 'mesh') ?? {}
  const annotations = {...live.metadata.annotations}
  delete annotations[SERVICE_SCOPE_OWNED_ANNOTATION]
  return {...live, metadata: {...live.metadata, annotations}, data: {...live.data, mesh: dumpYaml(withoutGlobalScope(mesh))}}
}

/** A mesh ConfigMap edit is up to date when its mesh key and kubectl-mesh's annotation are. */
export const sameScopeEqual = (live: KubeObject, desired: KubeObject) =>
  live.data?.mesh === desired.data?.mesh && (live.metadata.annotations?.[SERVICE_SCOPE_OWNED_ANNOTATION] ?? null) === (desired.metadata.annotations?.[SERVICE_SCOPE_OWNED_ANNOTATION] ?? null)
