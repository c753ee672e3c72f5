// Readers: the facts export and import need from a cluster, read once per run.
import {EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, NETWORK_LABEL} from '../istio/names.ts'
import {chooseRevision, ISTIOD_APP_SELECTOR, type RevisionNames} from '../istio/revision.ts'
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {parseYamlKey} from '../kube/configmap-yaml.ts'
import {UsageError} from '../errors.ts'
import {gatewayAddressesOf, parseIstioVersion, pickEastWestGateway} from './plan.ts'

export interface EastWestGateway {
  service: KubeObject
  namespace: string
  selector: Record<string, string>
  addresses: string[]
}

/** The east-west gateway Service of the Istio namespace (label `istio: eastwestgateway`, else `topology.istio.io/network`). */
export async function readEastWestGateway(client: KubeClient, istioNamespace: string): Promise<EastWestGateway | undefined> {
  const services = await listObjects(client, RESOURCES.Service, {namespace: istioNamespace})
  const svc = pickEastWestGateway(services, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, NETWORK_LABEL)
  if (!svc) return undefined
  return {service: svc, namespace: svc.metadata.namespace ?? istioNamespace, selector: {...svc.spec?.selector}, addresses: gatewayAddressesOf(svc)}
}

/** The east-west gateway, or exit 2 naming the context. */
export async function requireEastWestGateway(client: KubeClient, istioNamespace: string): Promise<EastWestGateway> {
  const gw = await readEastWestGateway(client, istioNamespace)
  if (!gw) {
    throw new UsageError(`context "${client.context}": no east-west gateway in namespace ${istioNamespace} (a Service labelled ${EASTWEST_GATEWAY_LABEL}=${EASTWEST_GATEWAY_LABEL_VALUE} or ${NETWORK_LABEL})`,
      'install one (istio samples/multicluster/gen-eastwest-gateway.sh, or the istio/gateway chart with networkGateway=<network>), or pass --istio-namespace')
  }
  if (Object.keys(gw.selector).length === 0) {
    throw new UsageError(`context "${client.context}": the east-west gateway Service ${gw.namespace}/${gw.service.metadata.name} has no pod selector`,
      'give the gateway Service a selector (e.g. istio: eastwestgateway)')
  }
  return gw
}

export async function readService(client: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return client.getOptional<KubeObject>(resourcePath(RESOURCES.Service, namespace, name))
}

/** The istiod Deployment of the Istio revision in use, and that revision's object names (src/istio/revision.ts). */
export interface IstiodRead {
  istiod?: KubeObject
  names: RevisionNames
}

export async function readIstiod(client: KubeClient, istioNamespace: string): Promise<IstiodRead> {
  const list = await client.get<{items?: KubeObject[]}>(resourcePath(RESOURCES.Deployment, istioNamespace), {labelSelector: ISTIOD_APP_SELECTOR})
  const {istiod, names} = chooseRevision(list.items ?? [], istioNamespace)
  return {istiod, names}
}

function discoveryContainer(deploy: KubeObject | undefined): any {
  const containers: any[] = deploy?.spec?.template?.spec?.containers ?? []
  return containers.find((c) => c.name === 'discovery') ?? containers[0]
}

/** istiod's Istio version from its image tag; undefined when unknown (no istiod, `latest`, a digest). */
export function istiodVersion(deploy: KubeObject | undefined): {major: number; minor: number; image?: string} | undefined {
  const image = discoveryContainer(deploy)?.image
  const v = parseIstioVersion(image)
  return v ? {...v, image} : undefined
}

/** The cluster ID: istiod `CLUSTER_ID`, else the injector values `global.multiCluster.clusterName`. */
export async function readClusterId(client: KubeClient, istioNamespace: string, read: IstiodRead): Promise<string | undefined> {
  const env: any[] = discoveryContainer(read.istiod)?.env ?? []
  const fromEnv = env.find((e) => e.name === 'CLUSTER_ID')?.value
  if (fromEnv) return fromEnv
  const cm = await client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, istioNamespace, read.names.injectorConfigMap))
  try {
    const values = cm?.data?.values ? JSON.parse(cm.data.values) : undefined
    return values?.global?.multiCluster?.clusterName || undefined
  } catch {
    return undefined
  }
}

/** The parsed mesh config (ConfigMap `istio`, or `istio-<revision>`, key `mesh`); undefined when absent or unreadable. */
export async function readMeshConfig(client: KubeClient, istioNamespace: string, names: RevisionNames): Promise<any | undefined> {
  const cm = await client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, istioNamespace, names.meshConfigMap))
  try {
    return parseYamlKey<any>(cm, 'mesh')
  } catch {
    return undefined
  }
}

/** True when the API server serves `serviceexports` in multicluster.x-k8s.io/v1alpha1. */
export async function mcsServed(client: KubeClient): Promise<boolean> {
  const {apiVersion, plural} = RESOURCES.ServiceExport
  const list = await client.getOptional<{resources?: Array<{name: string}>}>(`/apis/${apiVersion}`)
  return Boolean(list?.resources?.some((r) => r.name === plural))
}
