// The readers of src/istio/ (the install: read.ts readIstioInstall; the ambient data plane:
// ambient-read.ts readAmbient) fed from a run's lists (RunLists) instead of their own GETs: apply -f
// and plan -f read each declared cluster's install, and every export step its ambient inputs, from
// the lists the snapshot takes anyway (the Istio namespace's Deployments and ConfigMaps, every
// Namespace and Service), so each kind is listed once per cluster per run.
import type {KubeClient} from '../kube/client.ts'
import {ApiError} from '../kube/errors.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {InstallSources} from '../istio/read.ts'
import type {AmbientSources} from '../istio/ambient-read.ts'
import {DATAPLANE_MODE_LABEL} from '../istio/names.ts'
import {needsKubeGateways, needsNodes} from '../istio/gateway.ts'
import {chooseRevision, ISTIOD_APP_SELECTOR} from '../istio/revision.ts'
import {allInOrder} from '../settle.ts'
import type {RunLists} from './snapshot.ts'

const isIstiod = (d: KubeObject) => `app=${d.metadata.labels?.app}` === ISTIOD_APP_SELECTOR
const named = (list: KubeObject[], name: string) => list.find((o) => o.metadata.name === name)
/** A kind this identity may not list, or the cluster does not serve: left out, as the GETs' reader does. */
const optional = (p: Promise<KubeObject[]>) => p.catch((error) => (error instanceof ApiError && [403, 404].includes(error.status) ? undefined : Promise.reject(error)))

/** readIstioInstall's objects from the run's lists. */
export function listedInstallSources(client: KubeClient, istioNamespace: string, lists: RunLists): InstallSources {
  const ns = istioNamespace
  const configMaps = () => lists.list(client, 'ConfigMap', ns)
  const configKey = {injector: 'injectorConfigMap', meshConfigMap: 'meshConfigMap'} as const
  return {
    namespace: () => lists.find(client, 'Namespace', undefined, ns),
    revisioned: async (want) => {
      const [deployments, maps] = await allInOrder([lists.list(client, 'Deployment', ns), configMaps()])
      const revision = chooseRevision(deployments.filter(isIstiod), ns)
      const objects = Object.fromEntries(want.map((k) => [k, named(maps, revision.names[configKey[k]])])) as Record<(typeof want)[number], KubeObject | undefined>
      return {revision, objects}
    },
    services: async () => (await lists.list(client, 'Service')).filter((s) => s.metadata.namespace === ns),
    configMap: async (name) => named(await configMaps(), name),
    gatewayInputs: async (services, network) => {
      const [nodes, kubeGateways] = await allInOrder([
        needsNodes(services) ? optional(lists.list(client, 'Node')) : undefined,
        needsKubeGateways(services, network) ? optional(lists.list(client, 'KubeGateway')) : undefined,
      ])
      return {nodes, kubeGateways}
    },
  }
}

/** readAmbient's inputs from the run's lists (the kinds of the Istio namespace as the snapshot lists them, shared with verify). */
export function listedAmbientSources(client: KubeClient, istioNamespace: string, lists: RunLists): AmbientSources {
  const ns = istioNamespace
  return {
    namespace: () => lists.find(client, 'Namespace', undefined, ns),
    istiods: async () => (await lists.list(client, 'Deployment', ns)).filter(isIstiod),
    daemonSets: () => lists.list(client, 'DaemonSet', ns),
    kubeGateways: () => lists.inNamespace(client, 'KubeGateway', ns),
    ambientNamespaces: async () => (await lists.list(client, 'Namespace')).filter((n) => n.metadata.labels?.[DATAPLANE_MODE_LABEL] === 'ambient'),
    configMap: async (name) => named(await lists.list(client, 'ConfigMap', ns), name),
  }
}
