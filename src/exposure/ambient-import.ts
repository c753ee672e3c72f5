// service import / unimport in an ambient mesh (docs/exposure.md "Ambient meshes: import"). There is
// no ServiceEntry to write: istiod of EAST merges WEST's Service into EAST's ztunnel view by host name
// (pilot/pkg/serviceregistry/ambient/multicluster.go mergeServiceInfosWithCluster):
// - EAST has no Service of that name: WEST's GLOBAL Service is taken as it is (its endpoints behind
//   WEST's east-west gateway), but pods of EAST cannot resolve the name (cluster DNS knows no such
//   Service). Import creates a selectorless Service with WEST's ports, labelled istio.io/global=true:
//   cluster DNS answers its ClusterIP, and istiod merges it (GLOBAL) with WEST's, the ClusterIP
//   joining the VIPs that lead to WEST's endpoints.
// - EAST has its own Service of that name: when it is LOCAL, istiod takes EAST's copy alone and
//   drops every other cluster's endpoints ("If we have a locally scoped service … skip merging").
//   Import labels it istio.io/global=true. Its own endpoints then become global too: an ambient
//   Service's scope is one for both ways (a note says so when it selects Pods).
// Each import records itself (`import:<WEST cluster ID>`) in the kubectl-mesh/global-for annotation;
// unimport removes its record, the label when nothing else needs it (and the user did not set it),
// and the Service when import created it and nothing else needs it.
import {UsageError} from '../errors.ts'
import {applyObject, type Change, deleteObject} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {isGlobalScopeEntry, meshKindLine} from '../istio/ambient.ts'
import type {AmbientRead} from '../istio/ambient-read.ts'
import {
  GLOBAL_FOR_ANNOTATION, GLOBAL_SERVICE_LABEL, GLOBAL_SERVICE_VALUE, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
  MULTI_NETWORK_ENV, REMOTE_SECRET_PREFIX, stamp,
} from '../istio/names.ts'
import {globalPatch, patch} from './ambient.ts'

/** What an import records in kubectl-mesh/global-for (a ':' no namespace/name has). */
export const importRecord = (fromId: string) => `import:${fromId}`
const records = (svc: KubeObject) => (svc.metadata.annotations?.[GLOBAL_FOR_ANNOTATION] ?? '').split(',').filter(Boolean)

/** The selectorless Service import creates in EAST: WEST's ports, labelled global (pure). */
export function importedService(west: KubeObject, fromId: string, version: string): KubeObject {
  const st = stamp(version, {[IMPORTED_FROM_LABEL]: fromId, [IMPORTED_SERVICE_LABEL]: west.metadata.name, [GLOBAL_SERVICE_LABEL]: GLOBAL_SERVICE_VALUE})
  const ports = ((west.spec?.ports ?? []) as any[]).map((p) => ({
    ...(p.name ? {name: p.name} : {}), port: p.port, ...(p.targetPort === undefined ? {} : {targetPort: p.targetPort}), protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? {appProtocol: p.appProtocol} : {}),
  }))
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: {name: west.metadata.name, namespace: west.metadata.namespace, labels: st.labels, annotations: {...st.annotations, [GLOBAL_FOR_ANNOTATION]: importRecord(fromId)}},
    spec: {ports},
  }
}

/** Import created it (and only an import may delete it). */
const createdByImport = (svc: KubeObject) => svc.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && svc.metadata.labels?.[IMPORTED_SERVICE_LABEL] !== undefined && !svc.spec?.selector

export interface AmbientImportInput {
  east: KubeClient
  eastAmbient: AmbientRead
  westContext: string
  westAmbient: AmbientRead
  fromId: string
  /** WEST's exported Services, and EAST's Service of each name (undefined: none). */
  services: Array<{west: KubeObject; local?: KubeObject}>
  istioNamespace: string
  /** EAST has a remote secret for WEST (its istiod watches WEST). */
  linked: boolean
  version: string
  dryRun: boolean
  plan: boolean
  unsupported: string[]
}

export interface AmbientImportResult {
  changes: Change[]
  imported: Array<{name: string; namespace: string; host: string; addresses: string[]}>
  notes: string[]
  plan?: Array<{context: string; object: KubeObject}>
}

/** Refusals first (nothing written), then one write per Service at most. */
export async function importAmbient(i: AmbientImportInput, domain: string): Promise<AmbientImportResult> {
  const {east, fromId} = i
  if (i.unsupported.length > 0) {
    throw new UsageError(`context "${east.context}": ambient mesh: ${i.unsupported.join(', ')} ${i.unsupported.length === 1 ? 'has' : 'have'} no meaning here (istiod merges the remote Service into this cluster's under its own name; no ServiceEntry, no egress path)`,
      `drop ${i.unsupported.join(', ')}: kubectl mesh service import NAME -n NS --from-context ${i.westContext} --context ${east.context}`)
  }
  if (i.westAmbient.facts.kind !== 'ambient') {
    throw new UsageError(`context "${i.westContext}" runs a ${i.westAmbient.facts.kind === 'sidecar' ? 'sidecar mesh' : 'cluster without Istio'} and context "${east.context}" an ambient mesh: ztunnels take only the Services of ambient clusters (through their istio-east-west gateway)`,
      `import into a sidecar cluster instead, or run ambient in ${i.westContext} (istioctl install --set profile=ambient --context ${i.westContext})`)
  }
  if (!i.linked) {
    throw new UsageError(`context "${east.context}" is not linked to ${fromId} (no Secret ${i.istioNamespace}/${REMOTE_SECRET_PREFIX}${fromId}): its istiod does not see ${i.westContext}'s Services`,
      `link first: kubectl mesh cluster link --context ${east.context} --remote-context ${i.westContext}`)
  }
  const notes = [meshKindLine(east.context, i.eastAmbient.facts)]
  if (!i.eastAmbient.facts.multiNetwork) notes.push(`context "${east.context}": istiod runs without ${MULTI_NETWORK_ENV}=true: it takes no Service of another cluster until it does (kubectl mesh verify names the fix)`)
  if (!(i.eastAmbient.mesh?.serviceScopeConfigs ?? []).some(isGlobalScopeEntry)) notes.push(`context "${east.context}": its mesh config has no serviceScopeConfigs entry for ${GLOBAL_SERVICE_LABEL}=${GLOBAL_SERVICE_VALUE}: link the clusters with kubectl mesh cluster link (it adds the entry), or the label has no effect`)
  const who = importRecord(fromId)
  const changes: Change[] = []
  const plan: Array<{context: string; object: KubeObject}> = []
  const imported: AmbientImportResult['imported'] = []
  for (const {west, local} of i.services) {
    const ref = `${west.metadata.namespace}/${west.metadata.name}`
    imported.push({name: west.metadata.name, namespace: west.metadata.namespace!, host: `${west.metadata.name}.${west.metadata.namespace}.svc.${domain}`, addresses: []})
    if (!local) {
      const obj = importedService(west, fromId, i.version)
      notes.push(`context "${east.context}": Service ${ref}: none here; a selectorless one with ${fromId}'s ports, GLOBAL, so that cluster DNS resolves the name and istiod merges it with ${fromId}'s`)
      if (i.plan) plan.push({context: east.context, object: obj})
      else changes.push(await applyObject(east, obj, {dryRun: i.dryRun}))
      continue
    }
    if (local.spec?.selector && Object.keys(local.spec.selector).length > 0 && !(local.metadata.labels?.[GLOBAL_SERVICE_LABEL] === GLOBAL_SERVICE_VALUE)) {
      notes.push(`context "${east.context}": Service ${ref} selects Pods here: GLOBAL, its own endpoints are offered to linked clusters too (an ambient Service's scope is one for both ways)`)
    }
    const body = globalPatch(local, who)
    if (i.plan) plan.push({context: east.context, object: {apiVersion: 'v1', kind: 'Service', metadata: {name: local.metadata.name, namespace: local.metadata.namespace, ...(body ?? {metadata: {}}).metadata}} as KubeObject})
    else changes.push(await patch(east, local, body, {dryRun: i.dryRun}))
  }
  return {changes, imported, notes, ...(i.plan ? {plan} : {})}
}

/**
 * Unimport's ambient part: the Service NAME of the namespace, when an import recorded itself on it
 * (every import, or the one from `fromId`): its record removed; the label when nothing else needs
 * it; the Service when an import created it and nothing else needs it. Undefined: nothing recorded.
 */
export async function unimportAmbient(east: KubeClient, svc: KubeObject | null | undefined, fromId: string | undefined, o: {dryRun: boolean}): Promise<Change | undefined> {
  if (!svc) return undefined
  const mine = records(svc).filter((r) => (fromId ? r === importRecord(fromId) : r.startsWith('import:')))
  if (mine.length === 0) return undefined
  const rest = records(svc).filter((r) => !mine.includes(r))
  if (rest.length === 0 && createdByImport(svc)) return deleteObject(east, {apiVersion: 'v1', kind: 'Service', metadata: {name: svc.metadata.name, namespace: svc.metadata.namespace}}, o)
  // as localPatch does for one record: the label goes with the last record (the annotation says an import or export added it)
  const body = rest.length === 0
    ? {metadata: {labels: {[GLOBAL_SERVICE_LABEL]: null}, annotations: {[GLOBAL_FOR_ANNOTATION]: null}}}
    : {metadata: {annotations: {[GLOBAL_FOR_ANNOTATION]: rest.join(',')}}}
  return patch(east, svc, body, o)
}

/** EAST's Service of each name (one GET each) and whether EAST holds a remote secret for WEST. */
export async function readAmbientImportTargets(east: KubeClient, westServices: KubeObject[], fromId: string, istioNamespace: string): Promise<{services: Array<{west: KubeObject; local?: KubeObject}>; linked: boolean}> {
  const [locals, secret] = await Promise.all([
    Promise.all(westServices.map((s) => east.getOptional<KubeObject>(resourcePath(RESOURCES.Service, s.metadata.namespace, s.metadata.name)))),
    east.getOptional<KubeObject>(resourcePath(RESOURCES.Secret, istioNamespace, `${REMOTE_SECRET_PREFIX}${fromId}`)),
  ])
  return {services: westServices.map((west, n) => ({west, ...(locals[n] ? {local: locals[n]!} : {})})), linked: Boolean(secret)}
}
