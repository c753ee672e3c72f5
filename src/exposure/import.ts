// service import / unimport (DESIGN.md "service import / unimport"): read WEST and EAST once,
// validate every input before the first write, plan with pure functions, then write only what changed.
import {
  ADDRESS_LEDGER_CONFIGMAP, DEFAULT_ISTIO_NAMESPACE, EASTWEST_GATEWAY_LABEL, EGRESS_GATEWAY_ANNOTATION, EGRESS_GATEWAY_LABEL_VALUE, EXPORTED_LABEL, IMPORT_VIA_LABEL,
  IMPORTED_FROM_LABEL, IMPORTED_NAMESPACE_LABEL, IMPORTED_SERVICE_LABEL, isDns1123Label, stamp,
} from '../istio/names.ts'
import {describeEgress, egressGateways, egressHost, podReady, principal, trustDomainOf} from '../istio/egress.ts'
import {belongsTo, type EgressTarget, egressSelection, egressServiceEntryMeta, identityLine, importEgressObjects} from './egress.ts'
import {OperationError, UsageError} from '../errors.ts'
import {applyObject, type Change, deleteObject, listObjects} from '../kube/apply.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {type Outcome, type PlannedWrite, recordWrite, undoCommands, writtenSuffix} from '../kube/journal.ts'
import {exposureReads} from './facts.ts'
import type {ReadMode} from './export.ts'
import {installOf, peerGateway, requireGateway} from '../istio/read.ts'
import {allocatesAddresses} from '../istio/install.ts'
import {exportedHost, serviceFqdn} from '../istio/gateway.ts'
import {
  crossablePorts, defaultImportHost, hostOwner, type ImportContext, importDestinationRule,
  importName, importServiceEntry, type ImportTarget, isDnsName, isExported, isIP, localServiceOf, nextFreeAddresses,
  remoteService, serviceEntryAddresses,
} from './plan.ts'
import {claimAddresses, pool, releaseAddresses, writeAgainst} from './writes.ts'
import {importAmbient, readAmbientImportTargets, unimportAmbient} from './ambient-import.ts'
import {ambientFacts} from '../istio/ambient.ts'
import {readAmbient} from '../istio/ambient-read.ts'
import {allInOrder} from '../settle.ts'
import {counting, runStep, type StepRunner} from '../steps.ts'

export interface ImportOptions {
  /** One service, or undefined with allExported. */
  name?: string
  /** Several services of one namespace (`apply -f`): each read and checked as NAME is, all written in one run as with allExported. */
  names?: string[]
  allExported: boolean
  /** The namespace; with allExported, undefined means every namespace. */
  namespace?: string
  context?: string
  fromContext: string
  fromName?: string
  host?: string
  address: string
  createNamespace: boolean
  istioNamespace: string
  /** --cluster-domain: WEST's domain in the SNIs; default: what WEST's export recorded, else WEST's install's domain. */
  clusterDomain?: string
  dryRun: boolean
  version: string
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** The Service is exported earlier in the same run (`apply --dry-run`, where that export did not persist): its exported label is not required. */
  assumeExported?: boolean
  /** --via-egress: undefined = direct (and any egress path of these imports removed); '' = EAST's Service labelled istio=egressgateway; else NAMESPACE/NAME. */
  viaEgress?: string
}

export interface ImportedService {
  name: string
  namespace: string
  host: string
  addresses: string[]
  /** Through EAST's egress gateway (namespace/name); absent: direct to WEST's east-west gateway. */
  egressGateway?: string
  /** --via-egress: the identity the owner's workloads see, and how an AuthorizationPolicy admits it (one line). */
  identity?: string
}

export interface ImportResult {
  changes: Change[]
  imported: ImportedService[]
  warnings: string[]
  notes: string[]
  /** -o yaml: [context, object] pairs, nothing written. */
  plan?: Array<{context: string; object: KubeObject}>
}

const WRITE_CONCURRENCY = 16

/** Flag combinations, checked before any request. */
export function validateImportOptions(o: ImportOptions): void {
  if (o.allExported && o.name) throw new UsageError('pass either a service NAME or --all-exported, not both', 'kubectl mesh service import --all-exported --from-context WEST [-n NS]')
  if (o.names && (o.name || o.allExported || o.host || isIP(o.address))) throw new UsageError('names lists services; it takes no NAME, --all-exported, --host or --address IP', 'import those one by one')
  if (!o.allExported && !o.name && !o.names?.length) throw new UsageError('missing the service NAME', 'kubectl mesh service import NAME -n NS --from-context WEST, or --all-exported')
  if (o.allExported && o.host) throw new UsageError('--host names one service; it cannot be used with --all-exported', 'import that service on its own with --host')
  if (o.host && !isDnsName(o.host)) throw new UsageError(`--host "${o.host}" is not a valid DNS name`, 'use lower-case labels separated by dots, e.g. httpbin.bar.global')
  if (!['auto', 'none'].includes(o.address) && !isIP(o.address)) throw new UsageError(`--address "${o.address}" is not auto, none or an IP address`, 'e.g. --address auto, or --address 240.0.0.10')
  if (o.allExported && isIP(o.address)) throw new UsageError('--address IP names one service; it cannot be used with --all-exported', 'use --address auto or none')
  if (o.fromName !== undefined && !isDns1123Label(o.fromName)) throw new UsageError(`--from-name "${o.fromName}" is not a DNS-1123 label`, 'use lower-case letters, digits and -, at most 63 characters')
  if (o.viaEgress && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.viaEgress)) {
    throw new UsageError(`--via-egress "${o.viaEgress}" is not NAMESPACE/NAME of a Service`, 'e.g. --via-egress istio-system/istio-egressgateway, or --via-egress alone for the Service labelled istio=egressgateway')
  }
}

const key = (ns: string | undefined, name: string) => `${ns}/${name}`

export async function importServices(session: Session, o: ImportOptions, mode: ReadMode): Promise<ImportResult> {
  validateImportOptions(o)
  const reads = exposureReads(mode.lists)
  const west = session.client(o.fromContext)
  const east = session.client(o.context)
  if (west.context === east.context) throw new UsageError(`--from-context and --context both name "${east.context}"`, 'import from another cluster: --from-context WEST --context EAST')
  const warnings: string[] = []
  const notes: string[] = []

  // ---- read WEST
  const exportHint = (name: string, ns: string) => `export it first: kubectl mesh service export ${name} -n ${ns} --context ${west.context}`
  const readWestServices = async (): Promise<KubeObject[]> => {
    if (o.allExported) return reads.services(west, o.namespace, {[EXPORTED_LABEL]: 'true'})
    const ns = o.namespace ?? west.ref.namespace
    return Promise.all((o.names ?? [o.name!]).map(async (name) => {
      const svc = await reads.service(west, ns, name)
      if (!svc) throw new UsageError(`context "${west.context}": Service ${ns}/${name} does not exist`, `check the name and namespace: kubectl --context ${west.context} -n ${ns} get services`)
      if (!isExported(svc) && !o.assumeExported) throw new UsageError(`context "${west.context}": Service ${ns}/${name} is not exported`, exportHint(name, ns))
      return svc
    }))
  }
  const [westServices, westInstall] = await runStep(o.progress, `Read cluster "${west.context}"`, () => allInOrder([readWestServices(), installOf(mode.installs, west, o.istioNamespace, o.clusterDomain, {meshConfig: false})]))
  const fromId = o.fromName ?? westInstall.facts.clusterId
  // neither a gateway nor a cluster ID (a namespace without Istio): the missing gateway is named first (a
  // registryServiceName gateway, found later by peerGateway, needs the ID)
  if (!fromId && !westInstall.gateway) requireGateway(westInstall)
  if (!fromId) throw new UsageError(`context "${west.context}": cannot tell the cluster ID (no istiod CLUSTER_ID, no injector clusterName)`, 'pass --from-name ID')
  if (!isDns1123Label(fromId)) throw new UsageError(`context "${west.context}": cluster ID "${fromId}" is not a DNS-1123 label, so it cannot name objects`, 'pass --from-name with a DNS-1123 label')
  if (westServices.length === 0) {
    notes.push(`context "${west.context}": no exported services${o.namespace ? ` in namespace ${o.namespace}` : ''}; nothing to import`)
    return {changes: [], imported: [], warnings, notes, plan: mode.plan ? [] : undefined}
  }
  // The owner's host of each Service: --cluster-domain, else what its export recorded, else WEST's domain.
  const fqdnOf = new Map(westServices.map((s) => [key(s.metadata.namespace, s.metadata.name),
    o.clusterDomain ? serviceFqdn(s.metadata.name, s.metadata.namespace ?? '', o.clusterDomain) : exportedHost(s, westInstall.facts.clusterDomain)]))
  const services = westServices.map(remoteService).sort((a, b) => key(a.namespace, a.name).localeCompare(key(b.namespace, b.name)))
  for (const s of services) {
    if (crossablePorts(s.ports).length === 0) throw new UsageError(`context "${west.context}": Service ${s.namespace}/${s.name} has no TCP port that can cross the gateway`, 'only TCP-based ports can be imported')
  }

  // ---- read EAST
  const namespaces = [...new Set(services.map((s) => s.namespace))]
  const drLabels = {[IMPORTED_FROM_LABEL]: fromId, ...(o.allExported || o.names ? {} : {[IMPORTED_SERVICE_LABEL]: services[0].name})}
  const importNs = o.allExported ? o.namespace : services[0].namespace
  const viaLabels = egressSelection(fromId, o.allExported || o.names ? undefined : services[0].name)
  const readEgressServices = async (): Promise<KubeObject[]> => {
    if (o.viaEgress === undefined) return []
    if (o.viaEgress === '') return reads.services(east, undefined, {[EASTWEST_GATEWAY_LABEL]: EGRESS_GATEWAY_LABEL_VALUE})
    const [ns, name] = o.viaEgress.split('/')
    const svc = await reads.service(east, ns, name)
    return svc ? [svc] : []
  }
  const [eastInstall, entries, rules, nsLive, egressServices, liveEgress] = await runStep(o.progress, `Read cluster "${east.context}"`, () => allInOrder([
    installOf(mode.installs, east, o.istioNamespace),
    reads.serviceEntries(east),
    reads.destinationRules(east, importNs, drLabels),
    Promise.all(namespaces.map((ns) => reads.namespace(east, ns))),
    readEgressServices(),
    // the egress path of these imports as it is (written by an earlier --via-egress; removed when this run goes direct)
    reads.egressObjects(east, importNs, viaLabels),
  ]))
  // WEST's gateway as EAST's istiod knows it: by its label, else by EAST's meshNetworks registryServiceName
  const gw = peerGateway(westInstall, eastInstall, fromId)
  if (gw.skipped) {
    throw new UsageError(`context "${west.context}": the east-west gateway ${gw.ref} is not one istiod uses: ${gw.skipped}`,
      `expose port ${gw.port} (or 15008 for HBONE) on ${gw.ref}, or set its networking.istio.io/gatewayPort label to the port it listens on`)
  }
  if (gw.targets.length === 0) {
    throw new UsageError(gw.shape === 'nodeport'
      ? `context "${west.context}": the east-west gateway ${gw.ref} is a NodePort Service whose traffic.istio.io/nodeSelector matches no Node with an ExternalIP`
      : `context "${west.context}": the east-west gateway ${gw.ref} has no address (no load-balancer ingress, no externalIPs)`,
    gw.shape === 'nodeport'
      ? `give the selected Nodes an ExternalIP, or fix the selector: kubectl --context ${west.context} get nodes -o wide --show-labels`
      : `wait for its load balancer: kubectl --context ${west.context} -n ${gw.namespace} get service ${gw.service.metadata.name} -w`)
  }
  const localOwner = o.host ? localServiceOf(o.host, eastInstall.facts.clusterDomain) : undefined
  const localSvc = localOwner ? await reads.service(east, localOwner.namespace, localOwner.name) : undefined
  const missingNs = namespaces.filter((_, i) => !nsLive[i])
  if (missingNs.length > 0 && !o.createNamespace) {
    throw new UsageError(`context "${east.context}": namespace${missingNs.length > 1 ? 's' : ''} ${missingNs.join(', ')} not found`,
      `create ${missingNs.length > 1 ? 'them' : 'it'} (kubectl --context ${east.context} create namespace ${missingNs[0]}) or pass --create-namespace`)
  }
  // ambient EAST (istiod's PILOT_ENABLE_AMBIENT or the ambient profile, read with the install): no ServiceEntry; the Service made global (./ambient-import.ts)
  if (ambientFacts({istiod: eastInstall.istiod}).kind === 'ambient') {
    const [eastAmbient, westAmbient, targetsHere] = await runStep(o.progress, `Read the ambient meshes of "${east.context}" and "${west.context}"`, () => allInOrder([
      readAmbient(east, o.istioNamespace), readAmbient(west, o.istioNamespace), readAmbientImportTargets(east, westServices, fromId, o.istioNamespace),
    ]))
    const unsupported = [...(o.host ? ['--host'] : []), ...(isIP(o.address) ? ['--address'] : []), ...(o.viaEgress === undefined ? [] : ['--via-egress'])]
    const nsWrites: Change[] = []
    const nsPlan = missingNs.map((ns): KubeObject => ({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns, ...stamp(o.version)}}))
    const run = (plan: boolean) => importAmbient({east, eastAmbient, westContext: west.context, westAmbient, fromId, ...targetsHere, istioNamespace: o.istioNamespace, version: o.version, dryRun: o.dryRun, plan, unsupported}, eastInstall.facts.clusterDomain)
    if (mode.plan) {
      const r = await run(true)
      return {changes: [], imported: r.imported, warnings, notes: [...notes, ...r.notes], plan: [...nsPlan.map((object) => ({context: east.context, object})), ...r.plan!]}
    }
    await run(true) // every refusal before the first write
    for (const ns of nsPlan) nsWrites.push(await applyObject(east, ns, o))
    const r = await run(false)
    return {changes: [...nsWrites, ...r.changes], imported: r.imported, warnings, notes: [...notes, ...r.notes]}
  }
  if (localSvc) {
    throw new UsageError(`context "${east.context}": host ${o.host} belongs to the local Service ${localOwner!.namespace}/${localOwner!.name}`,
      'pick another --host (the default is NAME.NS.global)')
  }
  const seByKey = new Map(entries.map((se) => [key(se.metadata.namespace, se.metadata.name), se]))
  const drByKey = new Map(rules.map((dr) => [key(dr.metadata.namespace, dr.metadata.name), dr]))

  const targets: ImportTarget[] = services.map((service) => ({
    service, fqdn: fqdnOf.get(key(service.namespace, service.name))!, host: o.host ?? defaultImportHost(service.name, service.namespace), addresses: [],
  }))
  for (const t of targets) {
    const self = {namespace: t.service.namespace, name: importName(t.service.name, fromId)}
    const owner = hostOwner(entries, t.host, self)
    if (owner) {
      throw new UsageError(`context "${east.context}": host ${t.host} is already owned by ServiceEntry ${owner.metadata.namespace}/${owner.metadata.name}`,
        owner.metadata.labels?.[IMPORTED_FROM_LABEL]
          ? `it is imported from ${owner.metadata.labels[IMPORTED_FROM_LABEL]}; unimport it first (kubectl mesh service unimport ${t.service.name} -n ${t.service.namespace} --from-name ${owner.metadata.labels[IMPORTED_FROM_LABEL]}) or pick another --host`
          : 'pick another --host, or remove that ServiceEntry')
    }
  }

  // ---- addresses
  const version = eastInstall.facts.version
  let claimOwners: string[] = []
  if (o.address === 'auto') {
    if (allocatesAddresses(version)) {
      if (!version) notes.push(`context "${east.context}": cannot read the Istio version from the istiod image; assuming 1.25+, which allocates ServiceEntry addresses itself (pass --address auto on an older Istio after fixing this, or --address IP)`)
    } else {
      claimOwners = targets.map((t) => key(t.service.namespace, importName(t.service.name, fromId)))
    }
  } else if (o.address !== 'none') {
    const t = targets[0]
    const self = seByKey.get(key(t.service.namespace, importName(t.service.name, fromId)))
    const clash = entries.find((se) => se !== self && serviceEntryAddresses([se]).includes(o.address))
    if (clash) throw new UsageError(`context "${east.context}": address ${o.address} is already used by ServiceEntry ${clash.metadata.namespace}/${clash.metadata.name}`, 'pick another --address, or use --address auto')
    t.addresses = [o.address]
  }
  // ---- the egress gateway (--via-egress)
  let egress: EgressTarget | undefined
  let egressPrincipal: string | undefined
  if (o.viaEgress !== undefined) {
    // a named Service is the egress gateway whatever its labels; else the ones labelled istio=egressgateway
    const found = o.viaEgress ? egressServices.map(describeEgress) : egressGateways(egressServices, o.istioNamespace)
    const gwSvc = found[0]
    if (!gwSvc) {
      throw new UsageError(o.viaEgress
        ? `context "${east.context}": Service ${o.viaEgress} (the egress gateway --via-egress names) does not exist`
        : `context "${east.context}": no egress gateway (no Service labelled ${EASTWEST_GATEWAY_LABEL}=${EGRESS_GATEWAY_LABEL_VALUE})`,
      o.viaEgress
        ? `check the name: kubectl --context ${east.context} get services -A -l ${EASTWEST_GATEWAY_LABEL}=${EGRESS_GATEWAY_LABEL_VALUE}`
        : `install Istio's egress gateway (istioctl install --context ${east.context} --set components.egressGateways[0].name=istio-egressgateway --set components.egressGateways[0].enabled=true), or name yours: --via-egress NAMESPACE/NAME`)
    }
    const g = gwSvc
    if (Object.keys(g.selector).length === 0) throw new UsageError(`context "${east.context}": the egress gateway Service ${g.ref} has no pod selector`, 'give it the selector of its gateway Pods (e.g. istio: egressgateway)')
    if (g.port === undefined) throw new UsageError(`context "${east.context}": the egress gateway Service ${g.ref} has no TLS port (named https or tls, or 443)`, `add one to the Service (Istio's egress gateway has https: 443 → 8443), or name another gateway with --via-egress NAMESPACE/NAME`)
    if (found.length > 1 && !o.viaEgress) notes.push(`context "${east.context}": ${found.length} egress gateways; using ${g.ref} (name another with --via-egress NAMESPACE/NAME)`)
    egress = {namespace: g.namespace, name: g.name, host: egressHost(g, eastInstall.facts.clusterDomain), selector: g.selector, port: g.port}
    const selector = Object.entries(g.selector).map(([k, v]) => `${k}=${v}`).join(',')
    const pods = await listObjects(east, RESOURCES.Pod, {namespace: g.namespace, labelSelector: selector})
    const sa = pods.find(podReady)?.spec?.serviceAccountName ?? pods[0]?.spec?.serviceAccountName ?? 'default'
    egressPrincipal = principal(trustDomainOf(eastInstall.facts.mesh), g.namespace, sa)
    if (!pods.some(podReady)) warnings.push(`context "${east.context}": the egress gateway ${g.ref} has no ready Pod (selector ${selector}): imported traffic fails until one is ready`)
  }

  if (!eastInstall.facts.dnsCapture) {
    warnings.push(`context "${east.context}": DNS proxying is off in the mesh config (defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE), so ${targets.length === 1 ? targets[0].host : 'the imported hosts'} will not resolve in pods; set it to "true" in ConfigMap ${o.istioNamespace}/${eastInstall.names.meshConfigMap} key mesh (or per pod with the proxy.istio.io/config annotation)`)
  }

  // the addresses and ports istiod uses for WEST's gateway (src/istio/gateway.ts): a hostname stays a name (resolution DNS)
  const ctx: ImportContext = {fromId, gatewayAddresses: [...new Set(gw.targets.map((x) => x.address))], gatewayPort: gw.port,
    gatewayPorts: Object.fromEntries(gw.targets.filter((x) => x.port !== gw.port).map((x) => [x.address, x.port])), version: o.version}
  const via = egress ? egressServiceEntryMeta(egress) : undefined
  const identity = egressPrincipal ? identityLine({westContext: west.context, eastContext: east.context, principal: egressPrincipal}) : undefined
  if (identity) notes.push(identity)
  const liveByKey = new Map(liveEgress.map((obj) => [`${obj.kind}/${key(obj.metadata.namespace, obj.metadata.name)}`, obj]))
  const changes: Change[] = []
  const nsObjects = missingNs.map((ns): KubeObject => ({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns, ...stamp(o.version)}}))
  const usedElsewhere = serviceEntryAddresses(entries.filter((se) => !claimOwners.includes(key(se.metadata.namespace, se.metadata.name))))

  if (mode.plan) {
    if (claimOwners.length > 0) {
      const ledger = await east.getOptional<KubeObject>(resourcePath(RESOURCES.ConfigMap, o.istioNamespace, ADDRESS_LEDGER_CONFIGMAP))
      const held = new Map(Object.entries<string>(ledger?.data ?? {}).map(([a, owner]) => [owner, a]))
      const fresh = nextFreeAddresses([...Object.keys(ledger?.data ?? {}), ...usedElsewhere], claimOwners.filter((c) => !held.has(c)).length)
      targets.forEach((t, i) => (t.addresses = [held.get(claimOwners[i]) ?? fresh.shift()!]))
      notes.push('the 240.0.0.0/16 addresses shown are provisional: they are claimed when the import runs')
    }
    const plan = [...nsObjects, ...targets.flatMap((t) => [importServiceEntry(t, ctx, via), importDestinationRule(t, ctx), ...(egress ? importEgressObjects(t, ctx, egress) : [])])].map((object) => ({context: east.context, object}))
    return {changes, imported: imported(targets, egress, identity), warnings, notes, plan}
  }

  // ---- write, in plan order: namespaces, the address ledger, then per service its ServiceEntry and DestinationRule
  const journal: Outcome[] = []
  const planned = (seq: number, obj: {kind: string; metadata: {name: string; namespace?: string}}, undo?: string): PlannedWrite =>
    ({seq, context: east.context, kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name, undo})
  const istioNsFlag = o.istioNamespace === DEFAULT_ISTIO_NAMESPACE ? '' : ` --istio-namespace ${o.istioNamespace}`
  const unimport = (t: ImportTarget) => `kubectl mesh service unimport ${t.service.name} -n ${t.service.namespace} --context ${east.context} --from-name ${fromId}${istioNsFlag}`
  try {
    for (const [i, ns] of nsObjects.entries()) {
      changes.push(await recordWrite(journal, planned(i, ns, `kubectl --context ${east.context} delete namespace ${ns.metadata.name}`), () => applyObject(east, ns, o)))
    }
    if (claimOwners.length > 0) {
      let addresses = new Map<string, string>()
      const ledger = {kind: 'ConfigMap', metadata: {name: ADDRESS_LEDGER_CONFIGMAP, namespace: o.istioNamespace}}
      const change = await recordWrite(journal, planned(nsObjects.length, ledger), async () => {
        const claim = await claimAddresses(east, o.istioNamespace, claimOwners, usedElsewhere, o.version, o)
        addresses = claim.addresses
        return claim.change
      })
      if (change) changes.push(change)
      targets.forEach((t, i) => (t.addresses = [addresses.get(claimOwners[i])!]))
    }
    const first = nsObjects.length + 1
    const writing = `Write ${targets.length === 1 ? 'the import' : `${targets.length} imports`} in "${east.context}"`
    const drop = egress ? {} : {labels: [IMPORT_VIA_LABEL], annotations: [EGRESS_GATEWAY_ANNOTATION]}
    const perTarget = await runStep(o.progress, writing, (update) => pool(targets, WRITE_CONCURRENCY, counting(update, writing, targets.length, async (t: ImportTarget, i: number) => {
      const se = importServiceEntry(t, ctx, via)
      const dr = importDestinationRule(t, ctx)
      const k = key(se.metadata.namespace, se.metadata.name)
      // seq: per target a block of 1000 (ServiceEntry, DestinationRule, then the egress path)
      const seq = first + 1000 * i
      const out: Change[] = []
      const paths = egress ? importEgressObjects(t, ctx, egress) : []
      // Towards the egress gateway: its rule, Gateways and routes first, the sidecars' route last
      // (written after the ServiceEntry, so the host exists when the route lands).
      out.push(await recordWrite(journal, planned(seq, se, unimport(t)), () => writeAgainst(east, se, seByKey.get(k), o, drop)))
      out.push(await recordWrite(journal, planned(seq + 1, dr, unimport(t)), () => writeAgainst(east, dr, drByKey.get(k), o)))
      for (const [j, obj] of paths.entries()) {
        out.push(await recordWrite(journal, planned(seq + 2 + j, obj, unimport(t)), () => writeAgainst(east, obj, liveByKey.get(`${obj.kind}/${key(obj.metadata.namespace, obj.metadata.name)}`), o)))
      }
      // What an earlier --via-egress wrote that this run does not want (back to the direct path, or fewer ports): deleted, the sidecars' route first.
      const wanted = new Set(paths.map((obj) => `${obj.kind}/${key(obj.metadata.namespace, obj.metadata.name)}`))
      const stale = liveEgress.filter((obj) => belongsTo(obj, t.service.name, t.service.namespace, fromId) && !wanted.has(`${obj.kind}/${key(obj.metadata.namespace, obj.metadata.name)}`))
        .sort((a, b) => Number(b.kind === 'VirtualService' && b.metadata.name === se.metadata.name) - Number(a.kind === 'VirtualService' && a.metadata.name === se.metadata.name))
      for (const obj of stale) {
        const change = await deleteObject(east, obj, o)
        if (change) out.push(change)
      }
      return out
    })))
    changes.push(...perTarget.flat())
  } catch (error) {
    const cause = error instanceof ApiError ? toOperationError(error) : error as Error
    const written = writtenSuffix(journal)
    if (written === '' || o.dryRun) throw cause
    const undo = undoCommands(journal)
    throw new OperationError(`${cause.message}${written}`,
      `run the same command again to finish (it writes only what is missing)${undo.length > 0 ? `, or undo it: ${undo.join('; ')}` : ''}`)
  }
  return {changes, imported: imported(targets, egress, identity), warnings, notes}
}

const isMeshRoute = (o: KubeObject) => o.kind === 'VirtualService' && (o.spec?.gateways ?? []).includes('mesh')

const imported = (targets: ImportTarget[], egress?: EgressTarget, identity?: string): ImportedService[] =>
  targets.map((t) => ({name: t.service.name, namespace: t.service.namespace, host: t.host, addresses: t.addresses,
    ...(egress ? {egressGateway: `${egress.namespace}/${egress.name}`, identity} : {})}))

export interface UnimportOptions {
  name: string
  namespace: string
  context?: string
  fromName?: string
  istioNamespace: string
  dryRun: boolean
}

/** Delete the ServiceEntry and DestinationRule of NAME (from one cluster ID, or every one), and give back their addresses. */
export async function unimportService(session: Session, o: UnimportOptions): Promise<{changes: Change[]; notes: string[]}> {
  if (o.fromName !== undefined && !isDns1123Label(o.fromName)) throw new UsageError(`--from-name "${o.fromName}" is not a DNS-1123 label`, 'use the cluster ID the import used')
  const east: KubeClient = session.client(o.context)
  const selector = `${IMPORTED_SERVICE_LABEL}=${o.name}${o.fromName ? `,${IMPORTED_FROM_LABEL}=${o.fromName}` : `,${IMPORTED_FROM_LABEL}`}`
  const [entries, rules, gateways, routes, egressRules, service] = await Promise.all([
    listObjects(east, RESOURCES.ServiceEntry, {namespace: o.namespace, labelSelector: selector}),
    listObjects(east, RESOURCES.DestinationRule, {namespace: o.namespace, labelSelector: selector}),
    // --via-egress: the Gateways and routes beside them, and the egress gateway's rule in its own namespace
    listObjects(east, RESOURCES.Gateway, {namespace: o.namespace, labelSelector: selector}),
    listObjects(east, RESOURCES.VirtualService, {namespace: o.namespace, labelSelector: selector}),
    listObjects(east, RESOURCES.DestinationRule, {labelSelector: `${selector},${IMPORTED_NAMESPACE_LABEL}=${o.namespace}`}),
    // an ambient import: the Service it made global, or created (./ambient-import.ts)
    east.getOptional<KubeObject>(resourcePath(RESOURCES.Service, o.namespace, o.name)),
  ])
  // The addresses to give back (Istio < 1.25): those of the ServiceEntries found, and with
  // --from-name the one this import's name would hold, even without a ServiceEntry: an import
  // that failed after claiming its address, before writing the ServiceEntry, leaves only that.
  const owners = new Set(entries.map((se) => key(se.metadata.namespace, se.metadata.name)))
  if (o.fromName) owners.add(key(o.namespace, importName(o.name, o.fromName)))
  const changes: Change[] = []
  // the sidecars' route first (no moment where it names a missing subset), then the egress path, then the ServiceEntry and its rule
  const seen = new Set<string>()
  const all = [...routes.filter((vs) => !vs.metadata.labels?.[IMPORTED_NAMESPACE_LABEL]), ...gateways, ...egressRules, ...entries, ...rules]
    .sort((a, b) => Number(isMeshRoute(b)) - Number(isMeshRoute(a)))
    .filter((obj) => {
      const k = `${obj.kind}/${key(obj.metadata.namespace, obj.metadata.name)}`
      return seen.has(k) ? false : (seen.add(k), true)
    })
  for (const obj of all) {
    const change = await deleteObject(east, obj, o)
    if (change) changes.push(change)
  }
  const released = owners.size > 0 ? await releaseAddresses(east, o.istioNamespace, [...owners], o) : undefined
  if (released) changes.push(released)
  const ambient = await unimportAmbient(east, service, o.fromName, o)
  if (ambient) changes.push(ambient)
  const notes: string[] = []
  if (changes.length === 0) notes.push(`context "${east.context}": nothing imported as ${o.name} in namespace ${o.namespace}${o.fromName ? ` from ${o.fromName}` : ''}`)
  return {changes, notes}
}

