// service import / unimport (DESIGN.md "service import / unimport"): read WEST and EAST once,
// validate every input before the first write, plan with pure functions, then write only what changed.
import {ADDRESS_LEDGER_CONFIGMAP, DEFAULT_ISTIO_NAMESPACE, EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL, isDns1123Label, stamp} from '../istio/names.ts'
import {OperationError, UsageError} from '../errors.ts'
import {applyObject, type Change, deleteObject, listObjects} from '../kube/apply.ts'
import {ApiError, toOperationError} from '../kube/errors.ts'
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import type {Session} from '../kube/session.ts'
import {type Outcome, type PlannedWrite, recordWrite, undoCommands, writtenSuffix} from '../kube/journal.ts'
import {readService} from './facts.ts'
import {installOf, type KnownInstalls, requireGateway} from '../istio/read.ts'
import {allocatesAddresses} from '../istio/install.ts'
import {exportedHost, serviceFqdn} from '../istio/gateway.ts'
import {
  crossablePorts, defaultImportHost, hostOwner, type ImportContext, importDestinationRule,
  importName, importServiceEntry, type ImportTarget, isDnsName, isExported, isIP, localServiceOf, nextFreeAddresses,
  remoteService, serviceEntryAddresses,
} from './plan.ts'
import {claimAddresses, pool, releaseAddresses, writeAgainst} from './writes.ts'
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
}

export interface ImportedService {name: string; namespace: string; host: string; addresses: string[]}

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
}

const key = (ns: string | undefined, name: string) => `${ns}/${name}`

export async function importServices(session: Session, o: ImportOptions, mode: {plan: boolean; installs?: KnownInstalls}): Promise<ImportResult> {
  validateImportOptions(o)
  const west = session.client(o.fromContext)
  const east = session.client(o.context)
  if (west.context === east.context) throw new UsageError(`--from-context and --context both name "${east.context}"`, 'import from another cluster: --from-context WEST --context EAST')
  const warnings: string[] = []
  const notes: string[] = []

  // ---- read WEST
  const exportHint = (name: string, ns: string) => `export it first: kubectl mesh service export ${name} -n ${ns} --context ${west.context}`
  const readWestServices = async (): Promise<KubeObject[]> => {
    if (o.allExported) return listObjects(west, RESOURCES.Service, {namespace: o.namespace, labelSelector: `${EXPORTED_LABEL}=true`})
    const ns = o.namespace ?? west.ref.namespace
    return Promise.all((o.names ?? [o.name!]).map(async (name) => {
      const svc = await readService(west, ns, name)
      if (!svc) throw new UsageError(`context "${west.context}": Service ${ns}/${name} does not exist`, `check the name and namespace: kubectl --context ${west.context} -n ${ns} get services`)
      if (!isExported(svc) && !o.assumeExported) throw new UsageError(`context "${west.context}": Service ${ns}/${name} is not exported`, exportHint(name, ns))
      return svc
    }))
  }
  const [westServices, westInstall] = await runStep(o.progress, `Read cluster "${west.context}"`, () => allInOrder([readWestServices(), installOf(mode.installs, west, o.istioNamespace, o.clusterDomain, {meshConfig: false})]))
  const gw = requireGateway(westInstall)
  if (gw.addresses.length === 0) {
    throw new UsageError(`context "${west.context}": the east-west gateway ${gw.ref} has no address (no load-balancer ingress, no externalIPs)`,
      `wait for its load balancer: kubectl --context ${west.context} -n ${gw.namespace} get service ${gw.service.metadata.name} -w`)
  }
  const fromId = o.fromName ?? westInstall.facts.clusterId
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
  const drSelector = `${IMPORTED_FROM_LABEL}=${fromId}${o.allExported || o.names ? '' : `,${IMPORTED_SERVICE_LABEL}=${services[0].name}`}`
  const [eastInstall, entries, rules, nsLive] = await runStep(o.progress, `Read cluster "${east.context}"`, () => allInOrder([
    installOf(mode.installs, east, o.istioNamespace),
    listObjects(east, RESOURCES.ServiceEntry),
    listObjects(east, RESOURCES.DestinationRule, {namespace: o.allExported ? o.namespace : services[0].namespace, labelSelector: drSelector}),
    Promise.all(namespaces.map((ns) => east.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns)))),
  ]))
  const localOwner = o.host ? localServiceOf(o.host, eastInstall.facts.clusterDomain) : undefined
  const localSvc = localOwner ? await readService(east, localOwner.namespace, localOwner.name) : undefined
  const missingNs = namespaces.filter((_, i) => !nsLive[i])
  if (missingNs.length > 0 && !o.createNamespace) {
    throw new UsageError(`context "${east.context}": namespace${missingNs.length > 1 ? 's' : ''} ${missingNs.join(', ')} not found`,
      `create ${missingNs.length > 1 ? 'them' : 'it'} (kubectl --context ${east.context} create namespace ${missingNs[0]}) or pass --create-namespace`)
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
  if (!eastInstall.facts.dnsCapture) {
    warnings.push(`context "${east.context}": DNS proxying is off in the mesh config (defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE), so ${targets.length === 1 ? targets[0].host : 'the imported hosts'} will not resolve in pods; set it to "true" in ConfigMap ${o.istioNamespace}/${eastInstall.names.meshConfigMap} key mesh (or per pod with the proxy.istio.io/config annotation)`)
  }

  const ctx: ImportContext = {fromId, gatewayAddresses: gw.addresses, gatewayPort: gw.port, version: o.version}
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
    const plan = [...nsObjects, ...targets.flatMap((t) => [importServiceEntry(t, ctx), importDestinationRule(t, ctx)])].map((object) => ({context: east.context, object}))
    return {changes, imported: imported(targets), warnings, notes, plan}
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
    const perTarget = await runStep(o.progress, writing, (update) => pool(targets, WRITE_CONCURRENCY, counting(update, writing, targets.length, async (t: ImportTarget, i: number) => {
      const se = importServiceEntry(t, ctx)
      const dr = importDestinationRule(t, ctx)
      const k = key(se.metadata.namespace, se.metadata.name)
      return [
        await recordWrite(journal, planned(first + 2 * i, se, unimport(t)), () => writeAgainst(east, se, seByKey.get(k), o)),
        await recordWrite(journal, planned(first + 2 * i + 1, dr, unimport(t)), () => writeAgainst(east, dr, drByKey.get(k), o)),
      ]
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
  return {changes, imported: imported(targets), warnings, notes}
}

const imported = (targets: ImportTarget[]): ImportedService[] =>
  targets.map((t) => ({name: t.service.name, namespace: t.service.namespace, host: t.host, addresses: t.addresses}))

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
  const [entries, rules] = await Promise.all([
    listObjects(east, RESOURCES.ServiceEntry, {namespace: o.namespace, labelSelector: selector}),
    listObjects(east, RESOURCES.DestinationRule, {namespace: o.namespace, labelSelector: selector}),
  ])
  // The addresses to give back (Istio < 1.25): those of the ServiceEntries found, and with
  // --from-name the one this import's name would hold, even without a ServiceEntry: an import
  // that failed after claiming its address, before writing the ServiceEntry, leaves only that.
  const owners = new Set(entries.map((se) => key(se.metadata.namespace, se.metadata.name)))
  if (o.fromName) owners.add(key(o.namespace, importName(o.name, o.fromName)))
  const changes: Change[] = []
  for (const obj of [...entries, ...rules]) {
    const change = await deleteObject(east, obj, o)
    if (change) changes.push(change)
  }
  const released = owners.size > 0 ? await releaseAddresses(east, o.istioNamespace, [...owners], o) : undefined
  if (released) changes.push(released)
  const notes: string[] = []
  if (changes.length === 0) notes.push(`context "${east.context}": nothing imported as ${o.name} in namespace ${o.namespace}${o.fromName ? ` from ${o.fromName}` : ''}`)
  return {changes, notes}
}

