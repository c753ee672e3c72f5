// Create-or-update with a known result: created / configured / unchanged / deleted.
// A GET first; no write is sent when the live object already holds every desired field.
import {isDeepStrictEqual} from 'node:util'
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

/**
 * Create the object, or update it when it differs (isUpToDate: the desired fields are in the live
 * object, server-set defaults aside); the one read-modify-write (editObject) with its conflict policy.
 */
export async function applyObject(client: KubeClient, desired: KubeObject, opts: WriteOptions = {}): Promise<Change> {
  return (await editObject(client, desired, () => desired, opts, isUpToDate))!
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

// ---------------------------------------------------------------- the one read-modify-write

/** How many lost races a read-modify-write retries (each re-reads and re-applies its pure edit). */
export const CONFLICT_RETRIES = 200
/** A short random wait before a retry: at most 100 ms, so a busy object delays an edit by seconds, not minutes. */
const conflictBackoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(10 * (attempt + 1), 100)))
/** A write lost a race: 409, or 404 on an update/delete of an object someone else just deleted. */
export const isConflict = (e: unknown) => e instanceof ApiError && (e.status === 409 || (e.status === 404 && e.method !== 'POST'))

/**
 * What an edit wants for an object, from its live state: the desired object (created, or merged
 * into the live one; `unchanged` when it already is so), `null` to delete it, or `undefined` when
 * the edit has nothing to do with it (no write, no change reported).
 */
export type Edit = (live: KubeObject | undefined) => KubeObject | null | undefined

/**
 * An edited object owns each top-level field it sets (a Gateway's spec, a ConfigMap's data):
 * up to date when those fields are equal to the live ones, and the labels and annotations are there.
 */
export function ownedFieldsEqual(live: KubeObject, desired: KubeObject): boolean {
  const {metadata: dm, status: _s, apiVersion: _a, kind: _k, ...body} = desired
  return Object.entries(body).every(([k, v]) => isDeepStrictEqual(live[k], v))
    && covers(live.metadata.labels ?? {}, dm.labels ?? {}) && covers(live.metadata.annotations ?? {}, dm.annotations ?? {})
}

/**
 * One write of `desired` against `live` as read (undefined: absent): POST, nothing when up to
 * date, else PUT with live's resourceVersion as the precondition (a lost race throws a conflict).
 */
export async function createOrUpdate(client: KubeClient, desired: KubeObject, live: KubeObject | undefined, opts: WriteOptions = {},
  upToDate: (live: KubeObject, desired: KubeObject) => boolean = ownedFieldsEqual): Promise<Change> {
  const path = objectPath(desired)
  if (!live) {
    await client.request({method: 'POST', path: path.slice(0, path.lastIndexOf('/')), body: desired, query: dryRunQuery(opts)})
    return changeOf(client.context, desired, 'created')
  }
  if (upToDate(live, desired)) return changeOf(client.context, desired, 'unchanged')
  await client.request({method: 'PUT', path, body: mergeForUpdate(live, desired), query: dryRunQuery(opts)})
  return changeOf(client.context, desired, 'configured')
}

/**
 * Read-modify-write with one conflict policy for every kind of object (plain objects, YAML held in
 * a ConfigMap key, host lists, the address ledger): GET, apply the pure edit, then POST / PUT /
 * DELETE with the resourceVersion read as the precondition; a lost race re-reads and re-applies
 * the edit. Up to date (ownedFieldsEqual by default; applyObject passes isUpToDate): no write is sent. Returns undefined when the edit had
 * nothing to do. `read`: the object as already read (a list; null: absent), used instead of the first
 * GET; when it is stale, its write loses on the precondition (or the create on AlreadyExists) and the object is read again.
 */
export async function editObject(client: KubeClient, ref: {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, edit: Edit, opts: WriteOptions = {},
  upToDate: (live: KubeObject, desired: KubeObject) => boolean = ownedFieldsEqual, read?: KubeObject | null): Promise<Change | undefined> {
  const path = objectPath(ref as KubeObject)
  for (let attempt = 0; ; attempt++) {
    const live = attempt === 0 && read !== undefined ? read ?? undefined : await client.getOptional<KubeObject>(path)
    const desired = edit(live)
    try {
      if (desired === undefined) return undefined
      if (desired === null) {
        if (!live) return undefined
        // With a body, the API server reads DeleteOptions from it and ignores the query: dryRun goes in both.
        await client.request({method: 'DELETE', path, query: dryRunQuery(opts), body: {kind: 'DeleteOptions', apiVersion: 'v1', preconditions: {resourceVersion: live.metadata.resourceVersion}, ...(opts.dryRun ? {dryRun: ['All']} : {})}})
        return changeOf(client.context, {...ref, metadata: live.metadata}, 'deleted')
      }
      return await createOrUpdate(client, desired, live, opts, upToDate)
    } catch (error) {
      if (isConflict(error) && attempt < CONFLICT_RETRIES) {
        await conflictBackoff(attempt)
        continue
      }
      throw error
    }
  }
}

/**
 * One annotation of an object someone else owns (a namespace): the pure edit gives its new value
 * from the live object (null: remove it; undefined: leave it), written as a JSON merge patch of
 * that key alone with the resourceVersion read as the precondition, retried on conflict. The
 * object's other fields are never sent. undefined: the object does not exist or the edit had
 * nothing to do.
 */
export async function editAnnotation(client: KubeClient, ref: {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}, key: string,
  edit: (live: KubeObject) => string | null | undefined, opts: WriteOptions = {}): Promise<Change | undefined> {
  const path = objectPath(ref as KubeObject)
  for (let attempt = 0; ; attempt++) {
    const live = await client.getOptional<KubeObject>(path)
    if (!live) return undefined
    const value = edit(live)
    if (value === undefined || (value !== null && live.metadata.annotations?.[key] === value)) return changeOf(client.context, {...ref, metadata: live.metadata}, 'unchanged')
    if (value === null && live.metadata.annotations?.[key] === undefined) return changeOf(client.context, {...ref, metadata: live.metadata}, 'unchanged')
    try {
      await client.request({method: 'PATCH', path, contentType: 'application/merge-patch+json', query: dryRunQuery(opts),
        body: {metadata: {resourceVersion: live.metadata.resourceVersion, annotations: {[key]: value}}}})
      return changeOf(client.context, {...ref, metadata: live.metadata}, 'configured')
    } catch (error) {
      if (isConflict(error) && attempt < CONFLICT_RETRIES) {
        await conflictBackoff(attempt)
        continue
      }
      throw error
    }
  }
}
