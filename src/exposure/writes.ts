// Writes that must be safe under concurrency: the exports Gateway's hosts, the address ledger,
// and create-or-update against an already listed live object. All go through the one
// read-modify-write of src/kube/apply.ts (editObject: resourceVersion precondition, one conflict policy).
import {ADDRESS_LEDGER_CONFIGMAP, EXPORTS_GATEWAY, stamp} from '../istio/names.ts'
import type {KubeClient} from '../kube/client.ts'
import {type Change, createOrUpdate, editObject, isConflict, ownedFieldsEqual, type WriteOptions} from '../kube/apply.ts'
import {type KubeObject, RESOURCES} from '../kube/resources.ts'
import {gatewayHosts, nextFreeAddresses} from './plan.ts'

/**
 * Create or update `desired` given the `live` object read earlier (a list), with live's
 * resourceVersion as the precondition. On a conflict, the one read-modify-write (editObject).
 */
export async function writeAgainst(client: KubeClient, desired: KubeObject, live: KubeObject | undefined, opts: WriteOptions = {},
  drop: {labels?: string[]; annotations?: string[]} = {}): Promise<Change> {
  // Updates merge labels and annotations (others' stay); `drop` names ours that must go (an import
  // that no longer goes through the egress gateway), so an object carrying one is not up to date.
  const strip = (o: KubeObject): KubeObject => ({...o, metadata: {...o.metadata,
    labels: Object.fromEntries(Object.entries(o.metadata.labels ?? {}).filter(([k]) => !drop.labels?.includes(k))),
    annotations: Object.fromEntries(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => !drop.annotations?.includes(k)))}})
  const carries = (o: KubeObject) => (drop.labels ?? []).some((k) => o.metadata.labels?.[k] !== undefined) || (drop.annotations ?? []).some((k) => o.metadata.annotations?.[k] !== undefined)
  const upToDate = (l: KubeObject, d: KubeObject) => !carries(l) && ownedFieldsEqual(l, d)
  try {
    return await createOrUpdate(client, desired, live && strip(live), opts, live && carries(live) ? () => false : upToDate)
  } catch (error) {
    if (!isConflict(error)) throw error
    // lost a race: re-read and write again (a label to drop that the winner kept stays until the next run)
    return (await editObject(client, desired, () => desired, opts, upToDate))!
  }
}

/**
 * Edit the hosts of the Gateway `kubectl-mesh-exports`: created with the first host, updated one
 * host at a time, deleted when the last host goes. `build` makes the desired Gateway for a hosts list.
 * Returns undefined when there was no Gateway and nothing to add.
 */
export async function editExportsGateway(client: KubeClient, namespace: string, edit: (hosts: string[]) => string[],
  build: (hosts: string[]) => KubeObject, opts: WriteOptions = {}): Promise<Change | undefined> {
  return editObject(client, {...RESOURCES.Gateway, metadata: {name: EXPORTS_GATEWAY, namespace}}, (live) => {
    const after = edit(gatewayHosts(live))
    if (after.length === 0) return live ? null : undefined
    return build(after)
  }, opts)
}

// ---------------------------------------------------------------- the address ledger

/**
 * Claim one 240.0.0.0/16 address per owner (`<namespace>/<ServiceEntry name>`) in the ledger
 * ConfigMap, with a resourceVersion precondition (editObject): two concurrent runs can never be
 * handed the same address, because only one of two writes based on the same ledger version
 * succeeds. Owners that already hold an address keep it (no write). `usedElsewhere`: addresses
 * other ServiceEntries in the cluster hold. With dryRun nothing is written and the addresses are provisional.
 */
export async function claimAddresses(client: KubeClient, istioNamespace: string, owners: string[], usedElsewhere: string[],
  version: string, opts: WriteOptions = {}): Promise<{addresses: Map<string, string>; change?: Change}> {
  let addresses = new Map<string, string>()
  const change = await editObject(client, ledgerRef(istioNamespace), (cm) => {
    const data: Record<string, string> = {...cm?.data}
    addresses = new Map<string, string>()
    for (const [addr, owner] of Object.entries(data)) if (owners.includes(owner) && !addresses.has(owner)) addresses.set(owner, addr)
    const need = owners.filter((o) => !addresses.has(o))
    if (need.length === 0) return undefined
    const fresh = nextFreeAddresses([...Object.keys(data), ...usedElsewhere], need.length)
    need.forEach((o, i) => {
      data[fresh[i]] = o
      addresses.set(o, fresh[i])
    })
    return {...ledgerRef(istioNamespace), metadata: {...ledgerRef(istioNamespace).metadata, ...stamp(version)}, data}
  }, opts)
  return {addresses, change}
}

/** Give back the addresses of these owners; the ledger is deleted when it empties. */
export async function releaseAddresses(client: KubeClient, istioNamespace: string, owners: string[], opts: WriteOptions = {}): Promise<Change | undefined> {
  return editObject(client, ledgerRef(istioNamespace), (cm) => {
    if (!cm) return undefined
    const data: Record<string, string> = Object.fromEntries(Object.entries<string>(cm.data ?? {}).filter(([, owner]) => !owners.includes(owner)))
    if (Object.keys(data).length === Object.keys(cm.data ?? {}).length) return undefined
    return Object.keys(data).length === 0 ? null : {...cm, data}
  }, opts)
}

const ledgerRef = (namespace: string) => ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: ADDRESS_LEDGER_CONFIGMAP, namespace}})

/**
 * Run `fn` over items with at most `limit` in flight; results in order. After a failure no new
 * item starts, the ones in flight finish (so their outcomes are known), and the failure of the
 * first item in list order is thrown (the same error on every run, as allInOrder).
 */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  const failures = new Map<number, unknown>()
  let next = 0
  const worker = async () => {
    while (next < items.length && failures.size === 0) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (error) {
        failures.set(i, error)
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()))
  return results
}
