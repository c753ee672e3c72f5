// service export / unexport: read, validate, plan, then write (DESIGN.md "service export / unexport").
import {EXPORTED_HOST_ANNOTATION, EXPORTED_LABEL, EXPORTS_GATEWAY, MANAGED_BY_LABEL, MANAGED_BY_VALUE} from '../istio/names.ts'
import {coveringGateway, objectRef, serviceFqdn} from '../istio/gateway.ts'
import {installOf, type KnownInstalls, requireGateway} from '../istio/read.ts'
import {UsageError} from '../errors.ts'
import {type Change, changeOf, deleteObject, type WriteOptions} from '../kube/apply.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, objectPath, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {exposureReads, mcsServed, readService} from './facts.ts'
import type {RunLists} from '../cluster/snapshot.ts'
import {addHost, exportsGateway, gatewayHosts, serviceExport, withoutService} from './plan.ts'
import {editExportsGateway} from './writes.ts'
import {allInOrder} from '../settle.ts'
import {readAmbient} from '../istio/ambient-read.ts'
import {exportAmbient, unexportAmbient} from './ambient.ts'
import {runStep} from '../steps.ts'
import type {ExportOptions, ExportResult, UnexportOptions} from './export-types.ts'

export type {ExportOptions, ExportResult, UnexportOptions} from './export-types.ts'


/** What export records on the Service: the exported label and the host it is passed through as (null: removed). */
const exportMarks = (host: string | null) => ({labels: {[EXPORTED_LABEL]: host === null ? null : 'true'}, annotations: {[EXPORTED_HOST_ANNOTATION]: host}})

const markedServiceObject = (svc: KubeObject, host: string | null) => ({
  apiVersion: 'v1', kind: 'Service', metadata: {name: svc.metadata.name, namespace: svc.metadata.namespace, ...exportMarks(host)},
})

/** Set (or, with null, remove) the exported label and host annotation; unchanged when they already are so. */
async function markService(client: KubeClient, svc: KubeObject, host: string | null, opts: WriteOptions): Promise<Change> {
  const ref = {kind: 'Service', metadata: svc.metadata}
  const label = svc.metadata.labels?.[EXPORTED_LABEL]
  const recorded = svc.metadata.annotations?.[EXPORTED_HOST_ANNOTATION]
  const done = host === null ? label === undefined && recorded === undefined : label === 'true' && recorded === host
  if (done) return changeOf(client.context, ref, 'unchanged')
  await client.request({
    method: 'PATCH', path: objectPath({...svc, apiVersion: 'v1', kind: 'Service'}), contentType: 'application/merge-patch+json',
    body: {metadata: exportMarks(host)}, query: opts.dryRun ? {dryRun: 'All'} : undefined,
  })
  return changeOf(client.context, ref, 'configured')
}

/** How a step reads: the installs (KnownInstalls) and, for apply -f / plan -f, the run's lists of whole kinds (src/cluster/snapshot.ts RunLists). */
export interface ReadMode {plan: boolean; installs?: KnownInstalls; lists?: RunLists}

export async function exportService(session: Session, o: ExportOptions, mode: ReadMode): Promise<ExportResult> {
  const client = session.client(o.context)
  const reads = exposureReads(mode.lists)
  // Read and validate everything before the first write.
  const [svc, install, mcs] = await runStep(o.progress, `Read cluster "${client.context}"`, () => allInOrder([
    reads.service(client, o.namespace, o.name),
    installOf(mode.installs, client, o.istioNamespace, o.clusterDomain),
    o.mcs ? mcsServed(client) : Promise.resolve(false),
  ]))
  const host = serviceFqdn(o.name, o.namespace, install.facts.clusterDomain)
  if (!svc) {
    throw new UsageError(`context "${client.context}": Service ${o.namespace}/${o.name} does not exist`,
      `check the name and namespace: kubectl --context ${client.context} -n ${o.namespace} get services`)
  }
  const amb = await reads.ambient(client, o.istioNamespace)
  if (amb.facts.kind === 'ambient') return exportAmbient(client, amb, svc, host, o, mode)
  const gw = requireGateway(install)
  if (o.mcs && !mcs) {
    throw new UsageError(`context "${client.context}": --mcs needs the MCS ServiceExport CRD (${RESOURCES.ServiceExport.plural}.${RESOURCES.ServiceExport.apiVersion.split('/')[0]}), which is not installed`,
      'install the CRD from sigs.k8s.io/mcs-api, or export without --mcs')
  }
  // Every namespace: a Gateway anywhere applies to the gateway pods it selects (PILOT_SCOPE_GATEWAY_TO_NAMESPACE is off by default).
  const gateways = [...await reads.gateways(client), ...(o.plannedGateways ?? [])]
  const ours = gateways.find((g) => g.metadata.name === EXPORTS_GATEWAY && g.metadata.namespace === gw.namespace)
  const covering = coveringGateway(gateways.filter((g) => g !== ours), gw, host, o.namespace)
  const build = (hosts: string[]) => exportsGateway({namespace: gw.namespace, selector: gw.selector, port: gw.port, hosts, version: o.version})
  const coveredBy = covering && objectRef(covering)

  if (mode.plan) {
    const plan: KubeObject[] = []
    if (!covering || ours) plan.push(build(covering ? gatewayHosts(ours) : addHost(gatewayHosts(ours), host)))
    plan.push(markedServiceObject(svc, host) as KubeObject)
    if (o.mcs) plan.push(serviceExport(o.name, o.namespace, o.version))
    return {context: client.context, changes: [], host, coveredBy, plan}
  }

  const changes: Change[] = []
  if (!covering) {
    const change = await runStep(o.progress, `Write Gateway ${gw.namespace}/${EXPORTS_GATEWAY} in "${client.context}"`, () => editExportsGateway(client, gw.namespace, (hosts) => addHost(hosts, host), build, o, reads.listed ? ours ?? null : undefined))
    if (change) changes.push(change)
  }
  changes.push(await markService(client, svc, host, o))
  if (o.mcs) {
    const {applyObject} = await import('../kube/apply.ts')
    changes.push(await applyObject(client, serviceExport(o.name, o.namespace, o.version), o))
  }
  return {context: client.context, changes, host, coveredBy}
}


/**
 * Remove exactly what export added: the Service's hosts from our Gateway (the one recorded on the
 * Service, and any other NAME.NS.svc.* host of it there), its label and annotation, our ServiceExport.
 */
export async function unexportService(session: Session, o: UnexportOptions, mode: ReadMode): Promise<ExportResult> {
  const client = session.client(o.context)
  const [svc, install, mcs] = await allInOrder([
    readService(client, o.namespace, o.name),
    installOf(mode.installs, client, o.istioNamespace, o.clusterDomain),
    mcsServed(client),
  ])
  const gw = install.gateway
  const host = svc?.metadata.annotations?.[EXPORTED_HOST_ANNOTATION] ?? serviceFqdn(o.name, o.namespace, install.facts.clusterDomain)
  const amb = await readAmbient(client, o.istioNamespace)
  if (amb.facts.kind === 'ambient') return unexportAmbient(client, amb, svc, host, o, mode)
  // Works when the Service or the gateway Service are gone: the Gateway is looked for in the gateway's namespace, else the Istio namespace.
  const gwNamespace = gw?.namespace ?? o.istioNamespace
  const live = await client.getOptional<KubeObject>(resourcePath(RESOURCES.Gateway, gwNamespace, EXPORTS_GATEWAY))
  const liveServer = live?.spec?.servers?.[0]
  const build = (hosts: string[]) => exportsGateway({
    namespace: gwNamespace, selector: gw?.selector ?? live?.spec?.selector ?? {}, port: liveServer?.port?.number ?? gw?.port, hosts, version: o.version,
  })
  const mcsLive = mcs ? await client.getOptional<KubeObject>(resourcePath(RESOURCES.ServiceExport, o.namespace, o.name)) : undefined
  const mcsOurs = mcsLive?.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? mcsLive : undefined
  const drop = (hosts: string[]) => withoutService(hosts, o.name, o.namespace, host).filter((h) => !(o.removedHosts ?? []).includes(h))

  if (mode.plan) {
    const plan: KubeObject[] = []
    const remaining = drop(gatewayHosts(live))
    if (live && remaining.length > 0) plan.push(build(remaining))
    if (svc) plan.push(markedServiceObject(svc, null) as KubeObject)
    return {context: client.context, changes: [], host, plan}
  }

  const changes: Change[] = []
  if (live && drop(gatewayHosts(live)).length !== gatewayHosts(live).length) {
    const change = await editExportsGateway(client, gwNamespace, drop, build, o)
    if (change) changes.push(change)
  } else if (live) {
    changes.push(changeOf(client.context, live, 'unchanged'))
  }
  if (svc) changes.push(await markService(client, svc, null, o))
  if (mcsOurs) {
    const change = await deleteObject(client, {...mcsOurs, apiVersion: RESOURCES.ServiceExport.apiVersion, kind: 'ServiceExport'}, o)
    if (change) changes.push(change)
  }
  return {context: client.context, changes, host}
}
