// The whole plan of `cluster unlink` as a value, from the facts of the cluster that holds the link
// (and, with --remote-context, of the peer), read once (src/link/facts.ts): per direction, the
// remote secret deleted, the ID removed from meshNetworks, the istio-remote Gateway and the
// primary's istiod exposure dropped, the peer's namespace annotation, cross-network Gateway and the
// tokens issued for this link alone; the ambient serviceScopeConfigs entry once no link needs it;
// with --prune-remote the reader objects kubectl-mesh made. Pure: src/kube/execute.ts writes it.
import {parseYamlKey} from '../kube/configmap-yaml.ts'
import type {PlannedOp} from '../kube/execute.ts'
import {type KubeObject, RESOURCES} from '../kube/resources.ts'
import {ANCHOR_FOR_LABEL, CONTROL_PLANE_CLUSTERS_ANNOTATION, CROSS_NETWORK_GATEWAY, EXPOSE_ANNOTATION, ISTIOD_GATEWAY, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET, readerClusterRole} from '../istio/names.ts'
import type {LinkFacts} from './facts.ts'
import {controlPlaneClusters, dropExposure, dropIstiodExposure, isManaged, type MeshNetworks, remoteSecretName, removeRegistry, withoutControlPlane} from './plan.ts'
import {removeScopeEdit} from './ambient.ts'
import {sameScopeEqual} from './ambient.ts'
import {dropRemoteGateway, remoteGatewayRef} from './remote-gateway.ts'

export interface UnlinkDirection {
  /** The cluster that holds the link (its istiod discovers `id`). */
  from: LinkFacts
  /** The cluster ID unlinked. */
  id: string
  /** `from`'s cluster ID, which the peer's objects name (cross-network Gateway, anchors, annotation). */
  fromId?: string
  /** The unlinked cluster, when --remote-context names it. */
  peer?: LinkFacts
}

export interface UnlinkPlan {
  writes: PlannedOp[]
  /** Per write: the direction it belongs to (-1: the ambient entry; -2: --prune-remote). */
  part: number[]
  notes: string[]
  warnings: string[]
}

const remove = (context: string, ref: {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, read: KubeObject | null | undefined, owned = false): PlannedOp =>
  ({op: 'edit', context, ref, edit: (live) => (live && (!owned || isManaged(live)) ? null : undefined), read})

const find = (list: KubeObject[] | undefined, name: string, namespace?: string): KubeObject | null | undefined =>
  list === undefined ? undefined : list.find((o) => o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace)) ?? null

export function planUnlink(directions: UnlinkDirection[], o: {istioNamespace: string; dryRun?: boolean; pruneRemote?: boolean}): UnlinkPlan {
  const ns = o.istioNamespace
  const writes: PlannedOp[] = []
  const part: number[] = []
  const notes: string[] = []
  const warnings: string[] = []
  const push = (i: number, w: PlannedOp) => {
    writes.push(w)
    part.push(i)
  }
  const deletedSecrets = new Map<string, Set<string>>()
  for (const [i, d] of directions.entries()) {
    const f = d.from
    // the remote secret, whoever made it
    const name = remoteSecretName(d.id)
    const secret = f.secrets?.find((s) => s.metadata.name === name)
    if (secret) {
      push(i, remove(f.context, {apiVersion: 'v1', kind: 'Secret', metadata: {name, namespace: ns}}, secret))
      deletedSecrets.set(f.context, new Set([...deletedSecrets.get(f.context) ?? [], name]))
    }
    // meshNetworks, in the mesh ConfigMap of the revision link chose (src/istio/revision.ts)
    if (f.meshConfigMap) {
      let before: MeshNetworks | undefined
      try {
        before = parseYamlKey(f.meshConfigMap, 'meshNetworks') as MeshNetworks | undefined
      } catch {
        before = undefined
      }
      const after = removeRegistry(structuredClone(before), d.id)
      if (JSON.stringify(after ?? null) !== JSON.stringify(before ?? null)) {
        push(i, {op: 'yaml', context: f.context, namespace: ns, name: f.meshConfigMapName, key: 'meshNetworks', edit: (doc: MeshNetworks | undefined) => removeRegistry(doc, d.id)})
      }
    }
    // --network-config gateway: the istio-remote Gateway that named the ID's network
    const rref = remoteGatewayRef(ns, d.id)
    const remoteGw = find(f.kubeGateways, rref.metadata.name, ns)
    if (remoteGw && isManaged(remoteGw)) push(i, {op: 'edit', context: f.context, ref: rref, edit: dropRemoteGateway, read: remoteGw})
    // primary-remote: this cluster no longer passes its istiod through for the ID (once no remote relies on it)
    const gwNs = f.ewGateway?.namespace ?? ns
    const istiodGw = find(f.gateways, ISTIOD_GATEWAY, gwNs)
    const istiodDrop = dropIstiodExposure(d.id)
    const istiodAfter = istiodDrop(istiodGw ?? undefined)
    if (istiodAfter !== undefined || istiodGw === undefined) {
      const gref = {...RESOURCES.Gateway, metadata: {name: ISTIOD_GATEWAY, namespace: gwNs}}
      if (istiodGw !== null) push(i, {op: 'edit', context: f.context, ref: gref, edit: istiodDrop, read: istiodGw})
      // the VirtualService goes with the Gateway
      if (istiodAfter === null) push(i, remove(f.context, {...RESOURCES.VirtualService, metadata: {name: ISTIOD_GATEWAY, namespace: gwNs}}, undefined, true))
    }
    const istiodDropped = istiodAfter !== undefined
    if (d.peer && d.fromId) {
      const fromId = d.fromId
      const peer = d.peer
      if (controlPlaneClusters(peer.namespace).includes(fromId)) {
        push(i, {op: 'annotate', context: peer.context, ref: {...RESOURCES.Namespace, metadata: {name: ns}}, key: CONTROL_PLANE_CLUSTERS_ANNOTATION, edit: (live) => withoutControlPlane(live, fromId)})
      }
      // the peer's cross-network Gateway: drop this cluster's ID (deleted when no linking cluster is left)
      const cref = {...RESOURCES.Gateway, metadata: {name: CROSS_NETWORK_GATEWAY, namespace: peer.ewGateway?.namespace ?? ns}}
      const cross = find(peer.gateways, cref.metadata.name, cref.metadata.namespace)
      if (cross !== null && (cross === undefined || dropExposure(fromId)(cross) !== undefined)) push(i, {op: 'edit', context: peer.context, ref: cref, edit: dropExposure(fromId), read: cross})
      // the credentials made for this link alone (--token-ttl anchors, rotate-credentials' per-link token Secrets): deleting them revokes their tokens
      for (const s of (peer.anchors ?? []).filter((a) => a.metadata.labels?.[ANCHOR_FOR_LABEL] === fromId && isManaged(a))) {
        push(i, remove(peer.context, {apiVersion: 'v1', kind: 'Secret', metadata: {name: s.metadata.name, namespace: ns}}, s))
      }
    } else {
      if (istiodDropped) notes.push(`context "${d.id}" (a remote-profile cluster) may still name "${f.context}" in its namespace annotation ${CONTROL_PLANE_CLUSTERS_ANNOTATION}: run unlink with --remote-context for ${d.id} to drop it`)
      if (secret?.metadata.annotations?.[EXPOSE_ANNOTATION] === 'all') {
        notes.push(`context "${f.context}" relied on ${d.id}'s Gateway ${CROSS_NETWORK_GATEWAY} (it passes ${d.id}'s services through its east-west gateway); it may still list this cluster: run unlink with --remote-context for ${d.id} to drop it`)
      }
    }
  }
  // Ambient: kubectl-mesh's serviceScopeConfigs entry goes from a cluster once no link needs it
  // (no remote secret left in it, and none in the peer naming it); only when kubectl-mesh added it.
  if (!o.dryRun) {
    const pair = [directions[0].from, ...(directions[0].peer ? [directions[0].peer] : [])]
    const busy = pair.some((c) => c.remoteSecrets.some((s) => !deletedSecrets.get(c.context)?.has(s.metadata.name)))
    for (const c of busy ? [] : pair) {
      const r = c.ambient
      if (r?.facts.kind !== 'ambient' || !r.meshConfigMap || removeScopeEdit(r.meshConfigMap) === r.meshConfigMap) continue
      push(-1, {op: 'edit', context: c.context, ref: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: r.meshConfigMapName, namespace: r.istioNamespace}}, edit: removeScopeEdit, upToDate: sameScopeEqual, read: r.meshConfigMap})
    }
  }
  // --prune-remote: what link created in each peer: the token Secret, and the account and RBAC if kubectl-mesh made them.
  if (o.pruneRemote) {
    for (const d of directions) {
      const p = d.peer!
      const objs: Array<[{apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, KubeObject | undefined]> = [
        [{apiVersion: 'v1', kind: 'Secret', metadata: {name: READER_TOKEN_SECRET, namespace: ns}}, p.tokenSecret],
        [{apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {name: readerClusterRole(ns)}}, p.clusterRoleBinding?.metadata.name === readerClusterRole(ns) ? p.clusterRoleBinding : undefined],
        [{apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: readerClusterRole(ns)}}, p.clusterRole?.metadata.name === readerClusterRole(ns) ? p.clusterRole : undefined],
        [{apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: READER_SERVICE_ACCOUNT, namespace: ns}}, p.serviceAccount],
      ]
      const kept: string[] = []
      for (const [ref, live] of objs) {
        if (!live) continue
        if (!isManaged(live)) {
          kept.push(`${ref.kind}/${ref.metadata.name}`)
          continue
        }
        push(-2, remove(p.context, ref, live))
        if (ref.kind === 'Secret') warnings.push(`context "${p.context}": the reader token is shared by every cluster linked to "${p.context}" with kubectl-mesh; their links stop working until they are linked again`)
      }
      if (kept.length > 0) notes.push(`context "${p.context}": left ${kept.join(', ')} in place: kubectl-mesh did not create them`)
    }
  }
  return {writes, part, notes, warnings}
}
