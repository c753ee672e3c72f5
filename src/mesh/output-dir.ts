// --output-dir: the desired objects of every cluster as YAML files for GitOps (Argo CD, Flux).
// The step services print what they would write (-o yaml / plan mode) one operation at a time,
// each from the cluster as it is; objects several operations write (meshNetworks, the
// cross-network and exports Gateways, the address ledger) are merged here. Pure.
import {load} from 'js-yaml'
import {dumpYaml} from '../kube/configmap-yaml.ts'
import type {KubeObject} from '../kube/resources.ts'
import {ADDRESS_LEDGER_CONFIGMAP, CROSS_NETWORK_GATEWAY, EXPORTS_GATEWAY, EXPOSED_FOR_ANNOTATION} from '../istio/names.ts'
import type {MeshNetworks, Network} from '../link/plan.ts'

export interface Doc {context: string; object: KubeObject}

const keyOf = (d: Doc) => `${d.context}\0${d.object.kind}\0${d.object.metadata.namespace ?? ''}\0${d.object.metadata.name}`

const unionBy = <T>(a: T[] = [], b: T[] = [], key: (x: T) => string): T[] => {
  const seen = new Set(a.map(key))
  return [...a, ...b.filter((x) => !seen.has(key(x)))]
}

/** Two meshNetworks documents, each the result of one link's edit of the same live one: every network of both. */
export function mergeMeshNetworks(a: MeshNetworks | undefined, b: MeshNetworks | undefined): MeshNetworks {
  const networks: Record<string, Network | null> = {...(a?.networks ?? {})}
  for (const [name, net] of Object.entries(b?.networks ?? {})) {
    const prev = networks[name]
    networks[name] = prev && net
      ? {...prev, ...net, endpoints: unionBy(prev.endpoints, net.endpoints, (e) => JSON.stringify(e)), gateways: unionBy(prev.gateways, net.gateways, (g) => `${g.address ?? g.registryServiceName}:${g.port}`)}
      : net ?? prev
  }
  return {...a, ...b, networks}
}

function mergeTwo(a: KubeObject, b: KubeObject): KubeObject {
  const name = a.metadata.name
  if (a.kind === 'ConfigMap' && a.data?.meshNetworks !== undefined && b.data?.meshNetworks !== undefined) {
    const merged = mergeMeshNetworks(load(a.data.meshNetworks) as MeshNetworks | undefined, load(b.data.meshNetworks) as MeshNetworks | undefined)
    return {...b, data: {...a.data, ...b.data, meshNetworks: dumpYaml(merged)}}
  }
  if (a.kind === 'ConfigMap' && name === ADDRESS_LEDGER_CONFIGMAP) return {...b, data: {...a.data, ...b.data}}
  if (a.kind === 'Gateway' && name === CROSS_NETWORK_GATEWAY) {
    const ids = [...new Set([a, b].flatMap((g) => (g.metadata.annotations?.[EXPOSED_FOR_ANNOTATION] ?? '').split(',').filter(Boolean)))].sort()
    return {...b, metadata: {...b.metadata, annotations: {...b.metadata.annotations, [EXPOSED_FOR_ANNOTATION]: ids.join(',')}}}
  }
  if (a.kind === 'Gateway' && name === EXPORTS_GATEWAY) {
    const hosts = [...new Set([a, b].flatMap((g) => g.spec?.servers?.[0]?.hosts ?? []))].sort()
    return {...b, spec: {...b.spec, servers: [{...b.spec.servers[0], hosts}]}}
  }
  return b
}

/** One document per object (first place kept), several writers' documents merged. */
export function mergeDocs(docs: Doc[]): Doc[] {
  const byKey = new Map<string, Doc>()
  for (const d of docs) {
    const k = keyOf(d)
    const prev = byKey.get(k)
    byKey.set(k, prev ? {context: d.context, object: mergeTwo(prev.object, d.object)} : d)
  }
  return [...byKey.values()]
}

const safe = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-')

/** The stable file name of an object: `<kind>.<namespace>.<name>.yaml` (`<kind>.<name>.yaml` when cluster-scoped). */
export function fileNameOf(o: KubeObject): string {
  return `${[o.kind, o.metadata.namespace, o.metadata.name].filter(Boolean).map((p) => safe(p!)).join('.')}.yaml`
}

/** The file's text: one YAML document; the object as the API server takes it (no status, no server fields). */
export function fileTextOf(o: KubeObject): string {
  const {resourceVersion: _r, uid: _u, creationTimestamp: _c, managedFields: _m, generation: _g, ...metadata} = o.metadata
  const {status: _s, ...rest} = o
  return dumpYaml({...rest, metadata})
}
