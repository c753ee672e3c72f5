// Writes that must be safe under concurrency: the exports Gateway's hosts, the address ledger,
// and create-or-update against an already listed live object. Every read-modify-write carries
// the resourceVersion it read as a precondition, and a 409 re-reads and retries.
import {isDeepStrictEqual} from 'node:util'
import {ADDRESS_LEDGER_CONFIGMAP, EXPORTS_GATEWAY, stamp} from '../istio/names.ts'
import type {KubeClient} from '../kube/client.ts'
import {applyObject, type Change, changeOf, isUpToDate, mergeForUpdate, type WriteOptions} from '../kube/apply.ts'
import {ApiError} from '../kube/errors.ts'
import {type KubeObject, objectPath, RESOURCES, resourcePath} from '../kube/resources.ts'
import {gatewayHosts, nextFreeAddresses} from './plan.ts'

const RETRIES = 60
const dry = (o: WriteOptions) => (o.dryRun ? {dryRun: 'All'} : undefined)
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 10 + Math.random() * Math.min(40 * (attempt + 1), 600)))
/** A write lost a race: 409, or 404 on an update/delete of an object someone else just deleted. */
const isConflict = (e: unknown) => e instanceof ApiError && (e.status === 409 || (e.status === 404 && e.method !== 'POST'))

/** live is ours and holds exactly the desired spec, labels and annotations. */
export function upToDate(live: KubeObject, desired: KubeObject): boolean {
  return isUpToDate(live, desired) && isDeepStrictEqual(live.spec, desired.spec)
}

/**
 * Create or update `desired` given the `live` object read earlier (a list), with live's
 * resourceVersion as the precondition. On a conflict, falls back to applyObject (GET + write).
 */
export async function writeAgainst(client: KubeClient, desired: KubeObject, live: KubeObject | undefined, opts: WriteOptions = {}): Promise<Change> {
  const path = objectPath(desired)
  try {
    if (!live) {
      await client.request({method: 'POST', path: path.slice(0, path.lastIndexOf('/')), body: desired, query: dry(opts)})
      return changeOf(client.context, desired, 'created')
    }
    if (upToDate(live, desired)) return changeOf(client.context, desired, 'unchanged')
    await client.request({method: 'PUT', path, body: mergeForUpdate(live, desired), query: dry(opts)})
    return changeOf(client.context, desired, 'configured')
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error
    const fresh = await client.getOptional<KubeObject>(path)
    if (fresh && upToDate(fresh, desired)) return changeOf(client.context, desired, 'unchanged')
    return applyObject(client, desired, opts)
  }
}

/** Delete with a resourceVersion precondition. */
async function deleteAt(client: KubeClient, path: string, resourceVersion: string | undefined, opts: WriteOptions): Promise<void> {
  await client.request({method: 'DELETE', path, query: dry(opts), body: {kind: 'DeleteOptions', apiVersion: 'v1', preconditions: {resourceVersion}}})
}

/**
 * Edit the hosts of the Gateway `kubectl-mesh-exports`: created with the first host, updated one
 * host at a time, deleted when the last host goes. `build` makes the desired Gateway for a hosts list.
 * Returns undefined when there was no Gateway and nothing to add.
 */
export async function editExportsGateway(client: KubeClient, namespace: string, edit: (hosts: string[]) => string[],
  build: (hosts: string[]) => KubeObject, opts: WriteOptions = {}): Promise<Change | undefined> {
  const path = resourcePath(RESOURCES.Gateway, namespace, EXPORTS_GATEWAY)
  for (let attempt = 0; ; attempt++) {
    const live = await client.getOptional<KubeObject>(path)
    const after = edit(gatewayHosts(live))
    try {
      if (!live) {
        if (after.length === 0) return undefined
        const desired = build(after)
        await client.request({method: 'POST', path: resourcePath(RESOURCES.Gateway, namespace), body: desired, query: dry(opts)})
        return changeOf(client.context, desired, 'created')
      }
      if (after.length === 0) {
        await deleteAt(client, path, live.metadata.resourceVersion, opts)
        return changeOf(client.context, live, 'deleted')
      }
      const desired = build(after)
      if (isUpToDate(live, desired)) return changeOf(client.context, desired, 'unchanged')
      await client.request({method: 'PUT', path, body: mergeForUpdate(live, desired), query: dry(opts)})
      return changeOf(client.context, desired, 'configured')
    } catch (error) {
      if (isConflict(error) && attempt < RETRIES) {
        await backoff(attempt)
        continue
      }
      throw error
    }
  }
}

// ---------------------------------------------------------------- the address ledger

/**
 * Claim one 240.0.0.0/16 address per owner (`<namespace>/<ServiceEntry name>`) in the ledger
 * ConfigMap, with a resourceVersion precondition: two concurrent runs can never be handed the
 * same address, because only one of two writes based on the same ledger version succeeds.
 * Owners that already hold an address keep it (no write). `usedElsewhere`: addresses other
 * ServiceEntries in the cluster hold. With dryRun nothing is written and the addresses are provisional.
 */
export async function claimAddresses(client: KubeClient, istioNamespace: string, owners: string[], usedElsewhere: string[],
  version: string, opts: WriteOptions = {}): Promise<{addresses: Map<string, string>; change?: Change}> {
  const path = resourcePath(RESOURCES.ConfigMap, istioNamespace, ADDRESS_LEDGER_CONFIGMAP)
  for (let attempt = 0; ; attempt++) {
    const cm = await client.getOptional<KubeObject>(path)
    const data: Record<string, string> = {...cm?.data}
    const addresses = new Map<string, string>()
    for (const [addr, owner] of Object.entries(data)) if (owners.includes(owner) && !addresses.has(owner)) addresses.set(owner, addr)
    const need = owners.filter((o) => !addresses.has(o))
    if (need.length === 0) return {addresses}
    const fresh = nextFreeAddresses([...Object.keys(data), ...usedElsewhere], need.length)
    need.forEach((o, i) => {
      data[fresh[i]] = o
      addresses.set(o, fresh[i])
    })
    const desired: KubeObject = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: ADDRESS_LEDGER_CONFIGMAP, namespace: istioNamespace, ...stamp(version)}, data}
    try {
      if (!cm) {
        await client.request({method: 'POST', path: resourcePath(RESOURCES.ConfigMap, istioNamespace), body: desired, query: dry(opts)})
        return {addresses, change: changeOf(client.context, desired, 'created')}
      }
      await client.request({method: 'PUT', path, body: {...cm, data}, query: dry(opts)})
      return {addresses, change: changeOf(client.context, desired, 'configured')}
    } catch (error) {
      if (isConflict(error) && attempt < RETRIES) {
        await backoff(attempt)
        continue
      }
      throw error
    }
  }
}

/** Give back the addresses of these owners; the ledger is deleted when it empties. */
export async function releaseAddresses(client: KubeClient, istioNamespace: string, owners: string[], opts: WriteOptions = {}): Promise<Change | undefined> {
  const path = resourcePath(RESOURCES.ConfigMap, istioNamespace, ADDRESS_LEDGER_CONFIGMAP)
  for (let attempt = 0; ; attempt++) {
    const cm = await client.getOptional<KubeObject>(path)
    if (!cm) return undefined
    const data: Record<string, string> = Object.fromEntries(Object.entries<string>(cm.data ?? {}).filter(([, owner]) => !owners.includes(owner)))
    if (Object.keys(data).length === Object.keys(cm.data ?? {}).length) return undefined
    try {
      if (Object.keys(data).length === 0) {
        await deleteAt(client, path, cm.metadata.resourceVersion, opts)
        return changeOf(client.context, cm as KubeObject & {kind: string}, 'deleted')
      }
      await client.request({method: 'PUT', path, body: {...cm, data}, query: dry(opts)})
      return changeOf(client.context, {kind: 'ConfigMap', metadata: cm.metadata}, 'configured')
    } catch (error) {
      if (isConflict(error) && attempt < RETRIES) {
        await backoff(attempt)
        continue
      }
      throw error
    }
  }
}

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
