// Reading one cluster's Istio install for the commands that need only it (export, unexport,
// import): the GETs, concurrently, then the read model's pure derivations (./install.ts,
// ./gateway.ts). link reads more objects in its own round (src/link/facts.ts) and hands them to
// the same derivations; verify lists whole kinds (src/verify/model.ts) and does the same.
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {UsageError} from '../errors.ts'
import {allInOrder} from '../settle.ts'
import {EASTWEST_GATEWAY_LABEL, EASTWEST_GATEWAY_LABEL_VALUE, NETWORK_LABEL} from './names.ts'
import {chooseRevision, DEFAULT_REVISION, ISTIOD_APP_SELECTOR, type RevisionNames, revisionNames} from './revision.ts'
import {installFacts, type InstallFacts} from './install.ts'
import {type EastWestGateway, eastWestGateway, type GatewayInputs, needsKubeGateways, needsNodes} from './gateway.ts'
import {ApiError} from '../kube/errors.ts'

export interface IstioInstall {
  context: string
  istioNamespace: string
  /** The revision read (src/istio/revision.ts) and its object names. */
  names: RevisionNames
  istiod?: KubeObject
  facts: InstallFacts
  gateway?: EastWestGateway
}

/** The install's objects (one round of GETs; a second for a revisioned install) and its facts. */
export async function readIstioInstall(client: KubeClient, istioNamespace: string, overrides: {clusterDomain?: string} = {}, want: {meshConfig?: boolean} = {}): Promise<IstioInstall> {
  const mesh = want.meshConfig ?? true
  const ns = istioNamespace
  const get = (type: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, namespaced = true) =>
    client.getOptional<KubeObject>(resourcePath(type, namespaced ? ns : undefined, name))
  const plain = revisionNames(DEFAULT_REVISION, ns)
  const [namespace, istiods, plainInjector, plainMesh, services] = await allInOrder([
    get(RESOURCES.Namespace, ns, false),
    listObjects(client, RESOURCES.Deployment, {namespace: ns, labelSelector: ISTIOD_APP_SELECTOR}),
    get(RESOURCES.ConfigMap, plain.injectorConfigMap),
    mesh ? get(RESOURCES.ConfigMap, plain.meshConfigMap) : undefined,
    listObjects(client, RESOURCES.Service, {namespace: ns}),
  ])
  const rev = chooseRevision(istiods, ns)
  let [injector, meshConfigMap] = [plainInjector, plainMesh]
  if (rev.names.revision !== DEFAULT_REVISION) {
    [injector, meshConfigMap] = await allInOrder([get(RESOURCES.ConfigMap, rev.names.injectorConfigMap), mesh ? get(RESOURCES.ConfigMap, rev.names.meshConfigMap) : undefined])
  }
  // No istiod and no injector: perhaps Istio's `remote` profile, whose values ConfigMap names the
  // cluster ID and network (read only then, so a full install costs no extra request).
  const values = !rev.istiod && !injector ? await get(RESOURCES.ConfigMap, rev.names.valuesConfigMap) : undefined
  const facts = installFacts({namespace, istiod: rev.istiod, injector, values, meshConfigMap}, overrides)
  const inputs = await readGatewayInputs(client, services)
  return {context: client.context, istioNamespace: ns, names: rev.names, istiod: rev.istiod, facts, gateway: eastWestGateway(services, facts.network, inputs)}
}

/**
 * What a gateway's addresses need beyond the Services, read only when needed (no request for a
 * LoadBalancer gateway): the Nodes for a NodePort gateway, the Gateway API Gateways when no
 * Service is a gateway istiod discovers. Unreadable (forbidden, CRD not served): left out.
 */
export async function readGatewayInputs(client: KubeClient, services: KubeObject[]): Promise<GatewayInputs> {
  const optional = (p: Promise<KubeObject[]>) => p.catch((error) => (error instanceof ApiError && [403, 404].includes(error.status) ? undefined : Promise.reject(error)))
  const [nodes, kubeGateways] = await allInOrder([
    needsNodes(services) ? optional(listObjects(client, RESOURCES.Node, {})) : undefined,
    needsKubeGateways(services) ? optional(listObjects(client, RESOURCES.KubeGateway, {})) : undefined,
  ])
  return {nodes, kubeGateways}
}

/** The east-west gateway, or exit 2 naming the context. */
export function requireGateway(install: IstioInstall): EastWestGateway {
  const gw = install.gateway
  if (!gw) {
    throw new UsageError(`context "${install.context}": no east-west gateway in namespace ${install.istioNamespace} (a Service labelled ${EASTWEST_GATEWAY_LABEL}=${EASTWEST_GATEWAY_LABEL_VALUE} or ${NETWORK_LABEL})`,
      'install one (istio samples/multicluster/gen-eastwest-gateway.sh, or the istio/gateway chart with networkGateway=<network>), or pass --istio-namespace')
  }
  if (Object.keys(gw.selector).length === 0) {
    throw new UsageError(`context "${install.context}": the east-west gateway Service ${gw.ref} has no pod selector`,
      'give the gateway Service a selector (e.g. istio: eastwestgateway)')
  }
  return gw
}
