// Create-or-update with a known result: created / configured / unchanged / deleted.
// A GET first; no write is sent when the live object already holds every desired field.
import type {KubeClient} from './client.ts'
import {ApiError} from './errors.ts'
import {type KubeObject, objectPath, resourceFor, resourcePath} from './resources.ts'

export type Action = 'created' | 'configured' | 'unchanged' | 'deleted'

export interface Change {
  context: string
  kind: string
  namespace: string
  name: string
  action: Action
}

export interface WriteOptions {
  dryRun?: boolean
}

const dryRunQuery = (o: WriteOptions) => (o.dryRun ? {dryRun: 'All'} : undefined)

export function changeOf(context: string, obj: {kind: string; metadata: {name: string; namespace?: string}}, action: Action): Change {
  return {context, kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name, action}
}

/**
 * True when `live` holds every field of `desired` (server-side defaults in `live` are ignored):
 * objects are compared key by key on the desired keys, arrays element by element, scalars exactly.
 */
export function covers(live: unknown, desired: unknown): boolean {
  if (desired === null || typeof desired !== 'object') return live === desired
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => covers(live[i], d))
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return false
  return Object.entries(desired).every(([k, v]) => v === undefined || covers((live as Record<string, unknown>)[k], v))
}

/** The desired content of an object (all top-level fields but metadata and status) is in `live`, and its labels and annotations too. */
export function isUpToDate(live: KubeObject, desired: KubeObject): boolean {
  const {metadata: dm, status: _s, ...dBody} = desired
  return covers(live, dBody) && covers(live.metadata.labels ?? {}, dm.labels ?? {}) && covers(live.metadata.annotations ?? {}, dm.annotations ?? {})
}

/** The object to PUT: the live one with the desired fields replaced and desired labels/annotations merged in. */
export function mergeForUpdate(live: KubeObject, desired: KubeObject): KubeObject {
  const {metadata: dm, status: _s, ...dBody} = desired
  return {
    ...live,
    ...dBody,
    metadata: {
      ...live.metadata,
      labels: {...live.metadata.labels, ...dm.labels},
      annotations: {...live.metadata.annotations, ...dm.annotations},
    },
  }
}

/** Create the object, or update it when it differs; retried on a write conflict. */
export async function applyObject(client: KubeClient, desired: KubeObject, opts: WriteOptions = {}): Promise<Change> {
  const path = objectPath(desired)
  const collection = path.slice(0, path.lastIndexOf('/'))
  for (let attempt = 0; ; attempt++) {
    const live = await client.getOptional<KubeObject>(path)
    try {
      if (!live) {
        await client.request({method: 'POST', path: collection, body: desired, query: dryRunQuery(opts)})
        return changeOf(client.context, desired, 'created')
      }
      if (isUpToDate(live, desired)) return changeOf(client.context, desired, 'unchanged')
      await client.request({method: 'PUT', path, body: mergeForUpdate(live, desired), query: dryRunQuery(opts)})
      return changeOf(client.context, desired, 'configured')
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && attempt < 10) continue
      throw error
    }
  }
}

/** Delete an object if it exists. Returns undefined when there was nothing to delete. */
export async function deleteObject(client: KubeClient, obj: {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, opts: WriteOptions = {}): Promise<Change | undefined> {
  const path = objectPath(obj as KubeObject)
  try {
    await client.request({method: 'DELETE', path, query: dryRunQuery(opts)})
    return changeOf(client.context, obj, 'deleted')
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined
    throw error
  }
}

/** List objects of a type, in a namespace or everywhere, optionally by label selector. */
export async function listObjects(client: KubeClient, type: {apiVersion: string; kind: string}, opts: {namespace?: string; labelSelector?: string} = {}): Promise<KubeObject[]> {
  const list = await client.get<{items: KubeObject[]}>(resourcePath(resourceFor(type), opts.namespace), {labelSelector: opts.labelSelector})
  return (list.items ?? []).map((item) => ({...item, apiVersion: type.apiVersion, kind: type.kind}))
}
