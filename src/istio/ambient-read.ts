// Reading what the ambient rules (./ambient.ts) need from one cluster, in one concurrent round:
// istiod (for its env), the injector values, the DaemonSets and Gateway API Gateways of the Istio
// namespace, the Namespaces labelled for ambient, the mesh ConfigMap. A kind the cluster does not
// serve (no Gateway API CRDs) reads as empty.
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {ApiError} from '../kube/errors.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {allInOrder} from '../settle.ts'
import {type AmbientFacts, ambientFacts, type AmbientGateway, ambientGateways} from './ambient.ts'
import {installValues, parsedKey} from './install.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, revisionNames} from './revision.ts'
import {DATAPLANE_MODE_LABEL, NETWORK_LABEL} from './names.ts'

export interface AmbientRead {
  context: string
  istioNamespace: string
  facts: AmbientFacts
  istiod?: KubeObject
  /** The revision's mesh ConfigMap name (`istio[-rev]`) and the ConfigMap. */
  meshConfigMapName: string
  meshConfigMap?: KubeObject
  mesh?: any
  network?: string
  /** istio-east-west Gateways, on this network first. */
  gateways: AmbientGateway[]
  kubeGateways: KubeObject[]
}

const orEmpty = async (p: Promise<KubeObject[]>): Promise<KubeObject[]> => {
  try {
    return await p
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return []
    throw error
  }
}

/**
 * Where readAmbient's inputs come from: GETs and selective lists (a single command), or a run's
 * lists of whole kinds (apply -f, src/exposure/facts.ts), filtered the same way.
 */
export interface AmbientSources {
  /** The Istio namespace itself. */
  namespace(): Promise<KubeObject | undefined>
  /** The istiod Deployments (label app=istiod) of the Istio namespace. */
  istiods(): Promise<KubeObject[]>
  daemonSets(): Promise<KubeObject[]>
  kubeGateways(): Promise<KubeObject[]>
  /** The Namespaces labelled istio.io/dataplane-mode=ambient. */
  ambientNamespaces(): Promise<KubeObject[]>
  /** One ConfigMap of the Istio namespace. */
  configMap(name: string): Promise<KubeObject | undefined>
}

/** GETs and selective lists: what a single command sends. */
export function directAmbientSources(client: KubeClient, istioNamespace: string): AmbientSources {
  const ns = istioNamespace
  return {
    namespace: async () => (await client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns))) ?? undefined,
    istiods: () => listObjects(client, RESOURCES.Deployment, {namespace: ns, labelSelector: ISTIOD_APP_SELECTOR}),
    daemonSets: () => listObjects(client, RESOURCES.DaemonSet, {namespace: ns}),
    kubeGateways: () => listObjects(client, RESOURCES.KubeGateway, {namespace: ns}),
    ambientNamespaces: () => listObjects(client, RESOURCES.Namespace, {labelSelector: `${DATAPLANE_MODE_LABEL}=ambient`}),
    configMap: async (name) => (await client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, ns, name))) ?? undefined,
  }
}

export async function readAmbient(client: KubeClient, istioNamespace: string, from: AmbientSources = directAmbientSources(client, istioNamespace)): Promise<AmbientRead> {
  const ns = istioNamespace
  const [namespace, istiods, daemonSets, kubeGateways, ambientNamespaces] = await allInOrder([
    from.namespace(),
    from.istiods(),
    orEmpty(from.daemonSets()),
    orEmpty(from.kubeGateways()),
    from.ambientNamespaces(),
  ])
  const rev = chooseRevision(istiods, ns)
  const names = rev.istiod ? rev.names : revisionNames(DEFAULT_REVISION, ns)
  const [injector, meshConfigMap] = await allInOrder([from.configMap(names.injectorConfigMap), from.configMap(names.meshConfigMap)])
  const values = installValues({injector})
  const network = namespace?.metadata.labels?.[NETWORK_LABEL] || values?.global?.network || undefined
  return {
    context: client.context, istioNamespace: ns,
    facts: ambientFacts({istiod: rev.istiod, values, daemonSets, namespaces: ambientNamespaces}),
    istiod: rev.istiod, meshConfigMapName: names.meshConfigMap, meshConfigMap,
    mesh: parsedKey(meshConfigMap, 'mesh'), network,
    gateways: ambientGateways(kubeGateways, network), kubeGateways,
  }
}
