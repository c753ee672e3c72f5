// service export / unexport: read, validate, plan, then write (DESIGN.md "service export / unexport").
import {EXPORTED_LABEL, EXPORTS_GATEWAY, MANAGED_BY_LABEL, MANAGED_BY_VALUE} from '../istio/names.ts'
import {UsageError} from '../errors.ts'
import {type Change, changeOf, deleteObject, listObjects, type WriteOptions} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, objectPath, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {mcsServed, readEastWestGateway, readService, requireEastWestGateway} from './facts.ts'
import {addHost, coveringGateway, exportsGateway, gatewayHosts, removeHost, serviceExport, serviceFqdn} from './plan.ts'
import {editExportsGateway} from './writes.ts'
import {allInOrder} from '../settle.ts'
import {runStep, type StepRunner} from '../steps.ts'

export interface ExportOptions {
  name: string
  namespace: string
  context?: string
  istioNamespace: string
  clusterDomain: string
  mcs: boolean
  dryRun: boolean
  version: string
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
}

export interface ExportResult {
  context: string
  changes: Change[]
  host: string
  /** A Gateway other than ours that already passes the host through. */
  coveredBy?: string
  /** -o yaml: the desired objects, nothing written. */
  plan?: KubeObject[]
}

const exportedLabelObject = (svc: KubeObject, value: string | null) => ({
  apiVersion: 'v1', kind: 'Service', metadata: {name: svc.metadata.name, namespace: svc.metadata.namespace, labels: {[EXPORTED_LABEL]: value}},
})

async function patchLabel(client: KubeClient, svc: KubeObject, value: string | null, opts: WriteOptions): Promise<Change> {
  const current = svc.metadata.labels?.[EXPORTED_LABEL]
  const ref = {kind: 'Service', metadata: svc.metadata}
  if ((value === null && current === undefined) || current === value) return changeOf(client.context, ref, 'unchanged')
  await client.request({
    method: 'PATCH', path: objectPath({...svc, apiVersion: 'v1', kind: 'Service'}), contentType: 'application/merge-patch+json',
    body: {metadata: {labels: {[EXPORTED_LABEL]: value}}}, query: opts.dryRun ? {dryRun: 'All'} : undefined,
  })
  return changeOf(client.context, ref, 'configured')
}

export async function exportService(session: Session, o: ExportOptions, mode: {plan: boolean}): Promise<ExportResult> {
  const client = session.client(o.context)
  const host = serviceFqdn(o.name, o.namespace, o.clusterDomain)
  // Read and validate everything before the first write.
  const [svc, gw, mcs] = await runStep(o.progress, `Read cluster "${client.context}"`, () => allInOrder([
    readService(client, o.namespace, o.name),
    requireEastWestGateway(client, o.istioNamespace),
    o.mcs ? mcsServed(client) : Promise.resolve(false),
  ]))
  if (!svc) {
    throw new UsageError(`context "${client.context}": Service ${o.namespace}/${o.name} does not exist`,
      `check the name and namespace: kubectl --context ${client.context} -n ${o.namespace} get services`)
  }
  if (o.mcs && !mcs) {
    throw new UsageError(`context "${client.context}": --mcs needs the MCS ServiceExport CRD (${RESOURCES.ServiceExport.plural}.${RESOURCES.ServiceExport.apiVersion.split('/')[0]}), which is not installed`,
      'install the CRD from sigs.k8s.io/mcs-api, or export without --mcs')
  }
  const gateways = await listObjects(client, RESOURCES.Gateway, {namespace: gw.namespace})
  const covering = coveringGateway(gateways, gw.selector, host, o.namespace)
  const build = (hosts: string[]) => exportsGateway({namespace: gw.namespace, selector: gw.selector, hosts, version: o.version})
  const ours = gateways.find((g) => g.metadata.name === EXPORTS_GATEWAY)

  if (mode.plan) {
    const plan: KubeObject[] = []
    if (!covering || ours) plan.push(build(covering ? gatewayHosts(ours) : addHost(gatewayHosts(ours), host)))
    plan.push(exportedLabelObject(svc, 'true') as KubeObject)
    if (o.mcs) plan.push(serviceExport(o.name, o.namespace, o.version))
    return {context: client.context, changes: [], host, coveredBy: covering && `${covering.metadata.namespace}/${covering.metadata.name}`, plan}
  }

  const changes: Change[] = []
  if (!covering) {
    const change = await runStep(o.progress, `Write Gateway ${gw.namespace}/${EXPORTS_GATEWAY} in "${client.context}"`, () => editExportsGateway(client, gw.namespace, (hosts) => addHost(hosts, host), build, o))
    if (change) changes.push(change)
  }
  changes.push(await patchLabel(client, svc, 'true', o))
  if (o.mcs) {
    const {applyObject} = await import('../kube/apply.ts')
    changes.push(await applyObject(client, serviceExport(o.name, o.namespace, o.version), o))
  }
  return {context: client.context, changes, host, coveredBy: covering && `${covering.metadata.namespace}/${covering.metadata.name}`}
}

export type UnexportOptions = Omit<ExportOptions, 'mcs'>

export async function unexportService(session: Session, o: UnexportOptions, mode: {plan: boolean}): Promise<ExportResult> {
  const client = session.client(o.context)
  const host = serviceFqdn(o.name, o.namespace, o.clusterDomain)
  const [svc, gw, mcs] = await allInOrder([
    readService(client, o.namespace, o.name),
    readEastWestGateway(client, o.istioNamespace),
    mcsServed(client),
  ])
  // Works when the Service or the gateway Service are gone: the Gateway is looked for in the gateway's namespace, else the Istio namespace.
  const gwNamespace = gw?.namespace ?? o.istioNamespace
  const ourPath = resourcePath(RESOURCES.Gateway, gwNamespace, EXPORTS_GATEWAY)
  const live = await client.getOptional<KubeObject>(ourPath)
  const selector = gw?.selector ?? live?.spec?.selector ?? {}
  const build = (hosts: string[]) => exportsGateway({namespace: gwNamespace, selector, hosts, version: o.version})
  const mcsLive = mcs ? await client.getOptional<KubeObject>(resourcePath(RESOURCES.ServiceExport, o.namespace, o.name)) : undefined
  const mcsOurs = mcsLive?.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? mcsLive : undefined

  if (mode.plan) {
    const plan: KubeObject[] = []
    const remaining = removeHost(gatewayHosts(live), host)
    if (live && remaining.length > 0) plan.push(build(remaining))
    if (svc) plan.push(exportedLabelObject(svc, null) as KubeObject)
    return {context: client.context, changes: [], host, plan}
  }

  const changes: Change[] = []
  if (live && gatewayHosts(live).includes(host)) {
    const change = await editExportsGateway(client, gwNamespace, (hosts) => removeHost(hosts, host), build, o)
    if (change) changes.push(change)
  } else if (live) {
    changes.push(changeOf(client.context, live, 'unchanged'))
  }
  if (svc) changes.push(await patchLabel(client, svc, null, o))
  if (mcsOurs) {
    const change = await deleteObject(client, {...mcsOurs, apiVersion: RESOURCES.ServiceExport.apiVersion, kind: 'ServiceExport'}, o)
    if (change) changes.push(change)
  }
  return {context: client.context, changes, host}
}
