// Reading one cluster's Istio install for the commands that need only it (export, unexport,
// import): the GETs, concurrently, then the read model's pure derivations (./install.ts,
// ./gateway.ts). link reads more objects in its own round (src/link/facts.ts) and hands them to
// the same derivations; verify lists whole kinds (src/verify/model.ts) and does the same.
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {UsageError} from '../errors.ts'
import {allInOrder} from '../settle.ts'
import {CROSS_NETWORK_PORT, EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, NETWORK_LABEL} from './names.ts'
import {parseYamlKey} from '../kube/configmap-yaml.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, type RevisionChoice, type RevisionNames, revisionNames} from './revision.ts'
import {installFacts, type InstallFacts} from './install.ts'
import {type EastWestGateway, eastWestGateway, type GatewayInputs, needsKubeGateways, needsNodes, registryNamedGateway} from './gateway.ts'
import {ApiError} from '../kube/errors.ts'

export interface IstioInstall {
  context: string
  istioNamespace: string
  /** The revision read (src/istio/revision.ts) and its object names. */
  names: RevisionNames
  istiod?: KubeObject
  facts: InstallFacts
  gateway?: EastWestGateway
  /** The Services of the Istio namespace and the Nodes read for them (a registryServiceName gateway is resolved from them). */
  services: KubeObject[]
  nodes?: KubeObject[]
  /** The revision's mesh ConfigMap, when read (meshNetworks). */
  meshConfigMap?: KubeObject
}

/** The objects of an install named after its revision (src/istio/revision.ts). */
export type RevisionedObject = 'injector' | 'values' | 'meshConfigMap' | 'readerClusterRole' | 'readerClusterRoleBinding'

const REVISIONED: Record<RevisionedObject, (n: RevisionNames, ns: string) => string> = {
  injector: (n, ns) => resourcePath(RESOURCES.ConfigMap, ns, n.injectorConfigMap),
  values: (n, ns) => resourcePath(RESOURCES.ConfigMap, ns, n.valuesConfigMap),
  meshConfigMap: (n, ns) => resourcePath(RESOURCES.ConfigMap, ns, n.meshConfigMap),
  readerClusterRole: (n) => resourcePath(RESOURCES.ClusterRole, undefined, n.readerClusterRole),
  readerClusterRoleBinding: (n) => resourcePath(RESOURCES.ClusterRoleBinding, undefined, n.readerClusterRole),
}

/**
 * The one two-round read of revision-named objects: the istiod Deployments listed together with
 * the `want`ed objects under the default revision's names; when the revision in use is another,
 * those objects again under its names (a second round only then). `plain` keeps the first round's
 * (a reader ClusterRole with the plain name still counts for a revisioned install).
 */
export async function readRevisioned<K extends RevisionedObject>(client: KubeClient, ns: string, want: readonly K[]): Promise<{
  revision: RevisionChoice
  /** Every istiod Deployment (label app=istiod) of the namespace, by name. */
  istiods: KubeObject[]
  objects: Record<K, KubeObject | undefined>
  plain: Record<K, KubeObject | undefined>
}> {
  const round = (names: RevisionNames) => allInOrder(want.map((k) => client.getOptional<KubeObject>(REVISIONED[k](names, ns))))
  const keyed = (found: Array<KubeObject | undefined>) => Object.fromEntries(want.map((k, i) => [k, found[i]])) as Record<K, KubeObject | undefined>
  const [istiods, first] = await allInOrder([listObjects(client, RESOURCES.Deployment, {namespace: ns, labelSelector: ISTIOD_APP_SELECTOR}), round(revisionNames(DEFAULT_REVISION, ns))])
  const revision = chooseRevision(istiods, ns)
  const plain = keyed(first)
  const objects = revision.names.revision === DEFAULT_REVISION ? plain : keyed(await round(revision.names))
  return {revision, istiods: [...istiods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), objects, plain}
}

/**
 * Where readIstioInstall's objects come from: GETs and selective lists (a single command, below),
 * or a run's lists of whole kinds (apply -f / plan -f: src/cluster/listed.ts), filtered the same way.
 */
export interface InstallSources {
  /** The Istio namespace itself. */
  namespace(): Promise<KubeObject | undefined>
  /** The istiod Deployments, the revision in use, and its injector (and mesh) ConfigMaps. */
  revisioned<K extends 'injector' | 'meshConfigMap'>(want: readonly K[]): Promise<{revision: RevisionChoice; objects: Record<K, KubeObject | undefined>}>
  /** The Services of the Istio namespace (where the east-west gateway is). */
  services(): Promise<KubeObject[]>
  /** One ConfigMap of the Istio namespace (the remote profile's values). */
  configMap(name: string): Promise<KubeObject | undefined>
  /** What the gateway's addresses need beyond the Services (readGatewayInputs). */
  gatewayInputs(services: KubeObject[], network: string | undefined): Promise<GatewayInputs>
}

/** GETs and selective lists: what a single command sends (one round of GETs; a second for a revisioned install). */
export function directInstallSources(client: KubeClient, istioNamespace: string): InstallSources {
  const ns = istioNamespace
  return {
    namespace: async () => (await client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns))) ?? undefined,
    revisioned: (want) => readRevisioned(client, ns, want),
    services: () => listObjects(client, RESOURCES.Service, {namespace: ns}),
    configMap: async (name) => (await client.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, ns, name))) ?? undefined,
    gatewayInputs: (services, network) => readGatewayInputs(client, services, network),
  }
}

/** The install's objects and its facts. */
export async function readIstioInstall(client: KubeClient, istioNamespace: string, overrides: {clusterDomain?: string} = {}, want: {meshConfig?: boolean} = {},
  from: InstallSources = directInstallSources(client, istioNamespace)): Promise<IstioInstall> {
  const mesh = want.meshConfig ?? true
  const ns = istioNamespace
  const [namespace, {revision: rev, objects}, services] = await allInOrder([
    from.namespace(),
    from.revisioned(mesh ? ['injector', 'meshConfigMap'] as const : ['injector'] as const),
    from.services(),
  ])
  const injector = objects.injector
  const meshConfigMap = 'meshConfigMap' in objects ? objects.meshConfigMap as KubeObject | undefined : undefined
  // No istiod and no injector: perhaps Istio's `remote` profile, whose values ConfigMap names the
  // cluster ID and network (read only then, so a full install costs no extra request).
  const values = !rev.istiod && !injector ? await from.configMap(rev.names.valuesConfigMap) : undefined
  const facts = installFacts({namespace, istiod: rev.istiod, injector, values, meshConfigMap}, overrides)
  const inputs = await from.gatewayInputs(services, facts.network)
  return {context: client.context, istioNamespace: ns, names: rev.names, istiod: rev.istiod, facts, gateway: eastWestGateway(services, facts.network, inputs), services, nodes: inputs.nodes, meshConfigMap}
}

/**
 * What a gateway's addresses need beyond the Services, read only when needed (no request for a
 * LoadBalancer gateway): the Nodes for a NodePort gateway, the Gateway API Gateways when no
 * Service is a gateway istiod discovers. Unreadable (forbidden, CRD not served): left out.
 */
export async function readGatewayInputs(client: KubeClient, services: KubeObject[], network: string | undefined): Promise<GatewayInputs> {
  const optional = (p: Promise<KubeObject[]>) => p.catch((error) => (error instanceof ApiError && [403, 404].includes(error.status) ? undefined : Promise.reject(error)))
  const [nodes, kubeGateways] = await allInOrder([
    needsNodes(services) ? optional(listObjects(client, RESOURCES.Node, {})) : undefined,
    needsKubeGateways(services, network) ? optional(listObjects(client, RESOURCES.KubeGateway, {})) : undefined,
  ])
  return {nodes, kubeGateways}
}

/** Installs already read in this run, by context (apply -f reads each declared cluster once and hands them to the steps). */
export type KnownInstalls = ReadonlyMap<string, IstioInstall>

/**
 * The install of a cluster: the one this run has read already (read without overrides, the mesh
 * config included), else read now. A --cluster-domain override reads again (it changes the facts).
 */
export function installOf(known: KnownInstalls | undefined, client: KubeClient, istioNamespace: string, clusterDomain?: string, want: {meshConfig?: boolean} = {}): Promise<IstioInstall> {
  const had = clusterDomain === undefined ? known?.get(client.context) : undefined
  return had && had.istioNamespace === istioNamespace ? Promise.resolve(had) : readIstioInstall(client, istioNamespace, {clusterDomain}, want)
}

/**
 * The peer's east-west gateway as the discovering cluster's istiod knows it: the label-discovered
 * one, else the Service the discoverer's meshNetworks names by registryServiceName for `registry`
 * (the peer's cluster ID; src/istio/gateway.ts registryNamedGateway), else requireGateway's.
 */
export function peerGateway(peer: IstioInstall, discoverer: IstioInstall, registry: string): EastWestGateway {
  if (!peer.gateway?.discovered) {
    let doc: unknown
    try {
      doc = parseYamlKey(discoverer.meshConfigMap, 'meshNetworks')
    } catch {
      doc = undefined
    }
    const named = registryNamedGateway(doc, registry, peer.services, discoverer.facts.clusterDomain, peer.nodes ?? [], peer.facts.network)
    if (named) return named
  }
  return requireGateway(peer)
}

/** The east-west gateway, or exit 2 naming the context. */
export function requireGateway(install: IstioInstall): EastWestGateway {
  const gw = install.gateway
  if (!gw) {
    // An unlabelled Service on 15443 may be a gateway that only a peer's meshNetworks names by
    // registryServiceName (which this cluster cannot read): the label istio=eastwestgateway marks
    // it as the east-west gateway for kubectl-mesh and changes nothing istiod does.
    const unnamed = install.services.find((s) => (s.spec?.ports ?? []).some((p: {port: number}) => p.port === CROSS_NETWORK_PORT))
    throw new UsageError(`context "${install.context}": no east-west gateway in namespace ${install.istioNamespace} (a Service labelled ${EASTWEST_GATEWAY_LABEL}=${EASTWEST_GATEWAY_LABEL_VALUE} or ${NETWORK_LABEL})${unnamed ? `; Service ${unnamed.metadata.name} listens on ${CROSS_NETWORK_PORT} but carries neither label` : ''}`,
      unnamed ? `if it is the east-west gateway (e.g. one a peer's meshNetworks names by registryServiceName), mark it: kubectl --context ${install.context} -n ${install.istioNamespace} label service ${unnamed.metadata.name} ${EASTWEST_GATEWAY_LABEL}=${EASTWEST_GATEWAY_LABEL_VALUE} (istiod ignores that label)`
        : 'install one (istio samples/multicluster/gen-eastwest-gateway.sh, or the istio/gateway chart with networkGateway=<network>), or pass --istio-namespace')
  }
  if (Object.keys(gw.selector).length === 0) {
    throw new UsageError(`context "${install.context}": the east-west gateway Service ${gw.ref} has no pod selector`,
      'give the gateway Service a selector (e.g. istio: eastwestgateway)')
  }
  return gw
}
