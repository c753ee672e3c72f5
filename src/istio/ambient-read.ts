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

export async function readAmbient(client: KubeClient, istioNamespace: string): Promise<AmbientRead> {
  const ns = istioNamespace
  const [namespace, istiods, daemonSets, kubeGateways, ambientNamespaces] = await allInOrder([
    client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns)),
    listObjects(client, RESOURCES.Deployment, {namespace: ns, labelSelector: ISTIOD_APP_SELECTOR}),
    orEmpty(listObjects(client, RESOURCES.DaemonSet, {namespace: ns})),
    orEmpty(listObjects(client, RESOURCES.KubeGateway, {namespace: ns})),
    listObjects(client, RESOURCES.Namespace, {labelSelector: `${DATAPLANE_MODE_LABEL}=ambient`}),
  ])
  const rev = chooseRevision(istiods, ns)
  const names = rev.istiod ? rev.names : revisionNames(DEFAULT_REVISION, ns)
  const [injector, meshConfigMap] = await allInOrder([
    client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, ns, names.injectorConfigMap)),
    client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, ns, names.meshConfigMap)),
  ])
  const values = installValues({injector})
  const network = namespace?.metadata.labels?.[NETWORK_LABEL] || values?.global?.network || undefined
  return {
    context: client.context, istioNamespace: ns,
    facts: ambientFacts({istiod: rev.istiod, values, daemonSets, namespaces: ambientNamespaces}),
    istiod: rev.istiod, meshConfigMapName: names.meshConfigMap, meshConfigMap: meshConfigMap ?? undefined,
    mesh: parsedKey(meshConfigMap, 'mesh'), network,
    gateways: ambientGateways(kubeGateways, network), kubeGateways,
  }
}
