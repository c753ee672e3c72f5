// Readers the exposure commands need beyond the read model (src/istio/read.ts): the Service itself,
// whether the MCS API is served, and the objects export and import plan from. A single command
// reads them with GETs and selective lists; apply -f / plan -f hand in the run's lists
// (src/cluster/snapshot.ts RunLists), so each kind is listed once per cluster for the whole run.
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {RunLists} from '../cluster/snapshot.ts'
import {type AmbientRead, readAmbient} from '../istio/ambient-read.ts'
import {listedAmbientSources} from '../cluster/listed.ts'

export async function readService(client: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return client.getOptional<KubeObject>(resourcePath(RESOURCES.Service, namespace, name))
}

/** True when the API server serves `serviceexports` in multicluster.x-k8s.io/v1alpha1. */
export async function mcsServed(client: KubeClient): Promise<boolean> {
  const {apiVersion, plural} = RESOURCES.ServiceExport
  const list = await client.getOptional<{resources?: Array<{name: string}>}>(`/apis/${apiVersion}`)
  return Boolean(list?.resources?.some((r) => r.name === plural))
}

/** Label equality (value) or presence (null) a selected object must carry. */
export type Labels = Record<string, string | null>

const selectorOf = (labels: Labels) => Object.entries(labels).map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(',')
const carries = (o: KubeObject, labels: Labels) => Object.entries(labels).every(([k, v]) => (v === null ? o.metadata.labels?.[k] !== undefined : o.metadata.labels?.[k] === v))

/** The reads export and import plan from. */
export interface ExposureReads {
  service(client: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined>
  /** Services carrying these labels, in one namespace or (undefined) every one. */
  services(client: KubeClient, namespace: string | undefined, labels: Labels): Promise<KubeObject[]>
  namespace(client: KubeClient, name: string): Promise<KubeObject | undefined>
  /** Every Gateway of the cluster. */
  gateways(client: KubeClient): Promise<KubeObject[]>
  /** Every ServiceEntry of the cluster. */
  serviceEntries(client: KubeClient): Promise<KubeObject[]>
  destinationRules(client: KubeClient, namespace: string | undefined, labels: Labels): Promise<KubeObject[]>
  /** An import's egress objects carrying these labels: its Gateways and VirtualServices in one namespace (undefined: every one), its DestinationRules in any (the egress gateway's). */
  egressObjects(client: KubeClient, namespace: string | undefined, labels: Labels): Promise<KubeObject[]>
  /** What the ambient rules need (src/istio/ambient-read.ts): whether the cluster runs ambient, its istio-east-west Gateways. */
  ambient(client: KubeClient, istioNamespace: string): Promise<AmbientRead>
  /** True when these reads come from lists of whole kinds (an object not in them is absent). */
  listed: boolean
}

/** GETs and selective lists: what a single `service export` / `service import` sends. */
const direct: ExposureReads = {
  service: readService,
  services: (client, namespace, labels) => listObjects(client, RESOURCES.Service, {namespace, labelSelector: selectorOf(labels)}),
  namespace: (client, name) => client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, name)),
  gateways: (client) => listObjects(client, RESOURCES.Gateway),
  serviceEntries: (client) => listObjects(client, RESOURCES.ServiceEntry),
  destinationRules: (client, namespace, labels) => listObjects(client, RESOURCES.DestinationRule, {namespace, labelSelector: selectorOf(labels)}),
  egressObjects: async (client, namespace, labels) => (await Promise.all([
    listObjects(client, RESOURCES.Gateway, {namespace, labelSelector: selectorOf(labels)}),
    listObjects(client, RESOURCES.VirtualService, {namespace, labelSelector: selectorOf(labels)}),
    listObjects(client, RESOURCES.DestinationRule, {labelSelector: selectorOf(labels)}),
  ])).flat(),
  ambient: (client, istioNamespace) => readAmbient(client, istioNamespace),
  listed: false,
}

/** The run's lists (each kind listed once per cluster, cluster-wide, as verify lists it), filtered here. */
function fromLists(lists: RunLists): ExposureReads {
  const inNs = (namespace: string | undefined) => (o: KubeObject) => namespace === undefined || o.metadata.namespace === namespace
  return {
    service: (client, namespace, name) => lists.find(client, 'Service', namespace, name),
    services: async (client, namespace, labels) => (await lists.list(client, 'Service')).filter((o) => inNs(namespace)(o) && carries(o, labels)),
    namespace: (client, name) => lists.find(client, 'Namespace', undefined, name),
    gateways: (client) => lists.list(client, 'Gateway'),
    serviceEntries: (client) => lists.list(client, 'ServiceEntry'),
    destinationRules: async (client, namespace, labels) => (await lists.list(client, 'DestinationRule')).filter((o) => inNs(namespace)(o) && carries(o, labels)),
    egressObjects: async (client, namespace, labels) => {
      const [gateways, routes, rules] = await Promise.all([lists.list(client, 'Gateway'), lists.list(client, 'VirtualService'), lists.list(client, 'DestinationRule')])
      return [...gateways.filter(inNs(namespace)), ...routes.filter(inNs(namespace)), ...rules].filter((o) => carries(o, labels))
    },
    ambient: (client, ns) => readAmbient(client, ns, listedAmbientSources(client, ns, lists)),
    listed: true,
  }
}

export const exposureReads = (lists?: RunLists): ExposureReads => (lists ? fromLists(lists) : direct)
