// service export / unexport in an ambient mesh (DESIGN.md "Ambient"): a Service crosses clusters
// when every istiod judges it GLOBAL by its own mesh config's serviceScopeConfigs; `cluster link`
// puts kubectl-mesh's entry (istio.io/global=true) in every linked cluster's mesh config, so export
// labels the Service istio.io/global=true (plus the exported label and host annotation every
// command reads), and the waypoint it uses (istio.io/use-waypoint on it or its namespace) the same
// way: a waypoint serving a GLOBAL Service must be GLOBAL too for remote ztunnels to send through it
// (ambientindex.go AllLocalNetworkGlobalServices counts waypoints of global services). Unexport
// removes only the labels export added (annotation kubectl-mesh/global-label on the object).
import {EXPORTED_HOST_ANNOTATION, EXPORTED_LABEL, GLOBAL_FOR_ANNOTATION, GLOBAL_SERVICE_LABEL, GLOBAL_SERVICE_VALUE} from '../istio/names.ts'
import {type Change, changeOf, type WriteOptions} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, objectPath, RESOURCES, resourcePath} from '../kube/resources.ts'
import {isGlobalScopeEntry, meshKindLine, serviceScope, waypointOf} from '../istio/ambient.ts'
import type {AmbientRead} from '../istio/ambient-read.ts'
import type {ExportOptions, ExportResult, UnexportOptions} from './export-types.ts'


const list = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : [])

/** The metadata patch that makes `obj` global for `who` (null: nothing to do). Labels the user set stay theirs. */
export function globalPatch(obj: KubeObject, who: string, extra: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>} = {}): any | null {
  const labels: Record<string, string | null> = {...extra.labels}
  const annotations: Record<string, string | null> = {...extra.annotations}
  const userSet = obj.metadata.labels?.[GLOBAL_SERVICE_LABEL] === GLOBAL_SERVICE_VALUE && obj.metadata.annotations?.[GLOBAL_FOR_ANNOTATION] === undefined
  if (!userSet) {
    const forList = [...new Set([...list(obj.metadata.annotations?.[GLOBAL_FOR_ANNOTATION]), who])].sort().join(',')
    if (obj.metadata.labels?.[GLOBAL_SERVICE_LABEL] !== GLOBAL_SERVICE_VALUE) labels[GLOBAL_SERVICE_LABEL] = GLOBAL_SERVICE_VALUE
    if (obj.metadata.annotations?.[GLOBAL_FOR_ANNOTATION] !== forList) annotations[GLOBAL_FOR_ANNOTATION] = forList
  }
  const same = (cur: Record<string, string> | undefined, want: Record<string, string | null>) => Object.entries(want).every(([k, v]) => (cur?.[k] ?? null) === v)
  if (same(obj.metadata.labels, labels) && same(obj.metadata.annotations, annotations)) return null
  return {metadata: {labels, annotations}}
}

/** The patch that drops `who` from the objects needing the label (and the label when no one needs it and export added it). */
export function localPatch(obj: KubeObject, who: string, extra: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>} = {}): any | null {
  const labels: Record<string, string | null> = {...extra.labels}
  const annotations: Record<string, string | null> = {...extra.annotations}
  const recorded = obj.metadata.annotations?.[GLOBAL_FOR_ANNOTATION]
  if (recorded !== undefined) {
    const rest = list(recorded).filter((x) => x !== who)
    if (rest.length === 0) {
      labels[GLOBAL_SERVICE_LABEL] = null
      annotations[GLOBAL_FOR_ANNOTATION] = null
    } else if (rest.join(',') !== recorded) {
      annotations[GLOBAL_FOR_ANNOTATION] = rest.join(',')
    }
  }
  const same = (cur: Record<string, string> | undefined, want: Record<string, string | null>) => Object.entries(want).every(([k, v]) => (cur?.[k] ?? null) === v)
  if (same(obj.metadata.labels, labels) && same(obj.metadata.annotations, annotations)) return null
  return {metadata: {labels, annotations}}
}

/** A merge patch of a Service's metadata (null: nothing to write, `unchanged`). */
export async function patch(client: KubeClient, svc: KubeObject, body: any | null, opts: WriteOptions): Promise<Change> {
  const ref = {kind: 'Service', metadata: {name: svc.metadata.name, namespace: svc.metadata.namespace}}
  if (!body) return changeOf(client.context, ref, 'unchanged')
  await client.request({method: 'PATCH', path: objectPath({...svc, apiVersion: 'v1', kind: 'Service'}), contentType: 'application/merge-patch+json', body, query: opts.dryRun ? {dryRun: 'All'} : undefined})
  return changeOf(client.context, ref, 'configured')
}

/** The waypoint Service the exported Service uses, or why there is none to make global. */
async function waypointService(client: KubeClient, svc: KubeObject): Promise<{svc?: KubeObject; ref?: string; why?: string}> {
  const ns = await client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, svc.metadata.namespace!))
  const wp = waypointOf(svc, ns ?? undefined)
  if (!wp) return {}
  const ref = `${wp.namespace}/${wp.name}`
  const found = await client.getOptional<KubeObject>(resourcePath(RESOURCES.Service, wp.namespace, wp.name))
  return found ? {svc: found, ref} : {ref, why: `its waypoint ${ref} has no Service yet (istiod makes it for the waypoint Gateway): run export again once it exists, or it stays local`}
}

export async function exportAmbient(client: KubeClient, amb: AmbientRead, svc: KubeObject, host: string, o: ExportOptions, mode: {plan: boolean}): Promise<ExportResult> {
  const who = `${svc.metadata.namespace}/${svc.metadata.name}`
  const notes = [meshKindLine(client.context, amb.facts)]
  if (!amb.facts.multiNetwork) notes.push(`context "${client.context}": istiod runs without AMBIENT_ENABLE_MULTI_NETWORK=true: no Service crosses clusters until it does (kubectl mesh verify names the fix)`)
  if (!(amb.mesh?.serviceScopeConfigs ?? []).some(isGlobalScopeEntry)) notes.push(`context "${client.context}": its mesh config has no serviceScopeConfigs entry for ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}: link the clusters with kubectl mesh cluster link (it adds the entry), or the label has no effect`)
  const own = globalPatch(svc, who, {labels: {[EXPORTED_LABEL]: 'true'}, annotations: {[EXPORTED_HOST_ANNOTATION]: host}})
  const wp = await waypointService(client, svc)
  if (wp.why) notes.push(`context "${client.context}": Service ${who}: ${wp.why}`)
  if (wp.svc) {
    const nsObj = await client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, wp.svc.metadata.namespace!))
    if (serviceScope(amb.mesh, nsObj?.metadata.labels ?? {}, {...wp.svc.metadata.labels, [GLOBAL_SERVICE_LABEL]: GLOBAL_SERVICE_VALUE}) === 'GLOBAL' || !amb.mesh) notes.push(`context "${client.context}": Service ${who} uses waypoint ${wp.ref}: made global the same way`)
  }
  if (mode.plan) {
    const plan: KubeObject[] = []
    const asObject = (s: KubeObject, p: any) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: s.metadata.name, namespace: s.metadata.namespace, ...p.metadata}} as KubeObject)
    plan.push(asObject(svc, own ?? {metadata: {}}))
    if (wp.svc) plan.push(asObject(wp.svc, globalPatch(wp.svc, who) ?? {metadata: {}}))
    return {context: client.context, changes: [], host, plan, meshKind: 'ambient', notes}
  }
  const changes = [await patch(client, svc, own, o)]
  if (wp.svc) changes.push(await patch(client, wp.svc, globalPatch(wp.svc, who), o))
  return {context: client.context, changes, host, meshKind: 'ambient', notes}
}

export async function unexportAmbient(client: KubeClient, amb: AmbientRead, svc: KubeObject | undefined, host: string, o: UnexportOptions, mode: {plan: boolean}): Promise<ExportResult> {
  const notes = [meshKindLine(client.context, amb.facts)]
  if (!svc) return {context: client.context, changes: [], host, meshKind: 'ambient', notes, ...(mode.plan ? {plan: []} : {})}
  const who = `${svc.metadata.namespace}/${svc.metadata.name}`
  const own = localPatch(svc, who, {labels: {[EXPORTED_LABEL]: null}, annotations: {[EXPORTED_HOST_ANNOTATION]: null}})
  const wp = await waypointService(client, svc)
  if (mode.plan) {
    const asObject = (s: KubeObject, p: any) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: s.metadata.name, namespace: s.metadata.namespace, ...p.metadata}} as KubeObject)
    return {context: client.context, changes: [], host, meshKind: 'ambient', notes, plan: [asObject(svc, own ?? {metadata: {}}), ...(wp.svc ? [asObject(wp.svc, localPatch(wp.svc, who) ?? {metadata: {}})] : [])]}
  }
  const changes = [await patch(client, svc, own, o)]
  if (wp.svc) changes.push(await patch(client, wp.svc, localPatch(wp.svc, who), o))
  return {context: client.context, changes, host, meshKind: 'ambient', notes}
}
