// The Kubernetes and Istio resource types kubectl-mesh touches, and their REST paths.

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  resourceVersion?: string
  uid?: string
  creationTimestamp?: string
  [key: string]: unknown
}

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: any
}

export interface ResourceType {
  apiVersion: string
  kind: string
  plural: string
  namespaced: boolean
}

const t = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({apiVersion, kind, plural, namespaced})

export const RESOURCES = {
  Namespace: t('v1', 'Namespace', 'namespaces', false),
  Secret: t('v1', 'Secret', 'secrets'),
  ConfigMap: t('v1', 'ConfigMap', 'configmaps'),
  Service: t('v1', 'Service', 'services'),
  ServiceAccount: t('v1', 'ServiceAccount', 'serviceaccounts'),
  Pod: t('v1', 'Pod', 'pods'),
  Node: t('v1', 'Node', 'nodes', false),
  Deployment: t('apps/v1', 'Deployment', 'deployments'),
  EndpointSlice: t('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices'),
  ClusterRole: t('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false),
  ClusterRoleBinding: t('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  CustomResourceDefinition: t('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
  Gateway: t('networking.istio.io/v1', 'Gateway', 'gateways'),
  /** Gateway API Gateway (gateway.networking.k8s.io). */
  KubeGateway: t('gateway.networking.k8s.io/v1', 'Gateway', 'gateways'),
  DaemonSet: t('apps/v1', 'DaemonSet', 'daemonsets'),
  ServiceEntry: t('networking.istio.io/v1', 'ServiceEntry', 'serviceentries'),
  DestinationRule: t('networking.istio.io/v1', 'DestinationRule', 'destinationrules'),
  VirtualService: t('networking.istio.io/v1', 'VirtualService', 'virtualservices'),
  ServiceExport: t('multicluster.x-k8s.io/v1alpha1', 'ServiceExport', 'serviceexports'),
  SelfSubjectAccessReview: t('authorization.k8s.io/v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false),
} as const

export type Kind = keyof typeof RESOURCES

export function resourceFor(obj: {apiVersion: string; kind: string}): ResourceType {
  const found = Object.values(RESOURCES).find((r) => r.kind === obj.kind && r.apiVersion === obj.apiVersion)
  if (!found) throw new Error(`kubectl-mesh does not know the resource ${obj.apiVersion} ${obj.kind}`)
  return found
}

/** The REST path of a collection (no name) or of one object. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string): string {
  const prefix = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''
  return `${prefix}${ns}/${type.plural}${name ? `/${encodeURIComponent(name)}` : ''}`
}

export function objectPath(obj: KubeObject): string {
  return resourcePath(resourceFor(obj), obj.metadata.namespace, obj.metadata.name)
}
