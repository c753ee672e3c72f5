// The one executor of a plan (STYLE.md §16): a writing command plans its whole change set as a
// value (the writes in order and the access they need), then hands it here. The executor checks
// every access first (SelfSubjectAccessReviews: nothing is written when one is denied), performs
// the writes in order through the one read-modify-write of ./apply.ts (editObject, createOrUpdate,
// editAnnotation, editConfigMapYaml), shows each as a progress step, and journals what was written
// (./journal.ts), so a failure names exactly what was written and what got no answer.
import {OperationError} from '../errors.ts'
import {type Change, changeOf, editAnnotation, type Edit, editObject, isUpToDate} from './apply.ts'
import type {KubeClient} from './client.ts'
import {editConfigMapYaml} from './configmap-yaml.ts'
import {type Outcome, recordWrite} from './journal.ts'
import {type KubeObject, RESOURCES, resourceFor, resourcePath} from './resources.ts'
import {runStep, type StepRunner} from '../steps.ts'

type Ref = {apiVersion?: string; kind: string; metadata: {name: string; namespace?: string}}

/** Values a write produces for later ones (a token issued before the Secret that carries it). */
export type PlanValues = Map<string, unknown>

/** One write of a plan, as data: what to write, where, and how it is compared with the live object. */
export type PlannedOp =
  /** Create or update `object` (a function of the values earlier writes produced); `live`: as read (null: absent; undefined: GET first). */
  | {op: 'apply'; context: string; object: KubeObject | ((v: PlanValues) => KubeObject); ref?: Ref; live?: KubeObject | null; upToDate?: (live: KubeObject, desired: KubeObject) => boolean}
  /** The read-modify-write of one object (editObject); `read`: the object as listed (null: absent), used instead of the first GET. */
  | {op: 'edit'; context: string; ref: Ref; edit: Edit; read?: KubeObject | null; upToDate?: (live: KubeObject, desired: KubeObject) => boolean}
  /** One annotation of an object someone else owns (editAnnotation: a merge patch of that key alone). */
  | {op: 'annotate'; context: string; ref: Ref; key: string; edit: (live: KubeObject) => string | null | undefined}
  /** YAML held in one ConfigMap key (editConfigMapYaml). */
  | {op: 'yaml'; context: string; namespace: string; name: string; key: string; edit: (doc: any) => any}
  /** Nothing to write: the object is reported `unchanged`. */
  | {op: 'unchanged'; context: string; ref: Ref}
  /** A step of the command's own (issuing a token): its changes; it may set values for later writes. */
  | {op: 'step'; context: string; title: string; ref?: Ref; run: (client: KubeClient, v: PlanValues) => Promise<Change[]>}

/** One SelfSubjectAccessReview the plan needs before its first write. */
export interface AccessCheck {
  context: string
  verb: string
  group: string
  resource: string
  subresource?: string
  namespace?: string
  name?: string
  /** Why the plan needs it, appended to the refusal (", which a bound token needs"). */
  why?: string
}

export interface ExecuteOptions {
  clientFor: (context: string) => KubeClient
  dryRun?: boolean
  progress?: StepRunner
}

/** A write failed: the changes made before it and the journal of what was written or may have been. */
export class ExecutionError extends Error {
  readonly cause: unknown
  readonly changes: Change[]
  readonly journal: Outcome[]
  /** The write that failed (its index in the plan's writes). */
  readonly index: number
  constructor(cause: unknown, changes: Change[], journal: Outcome[], index: number) {
    super((cause as Error)?.message ?? String(cause))
    this.cause = cause
    this.changes = changes
    this.journal = journal
    this.index = index
  }
}

/** The access a write of `obj` needs: create when absent, update (or patch) when it exists. */
export function accessFor(context: string, obj: Ref & {apiVersion: string}, exists: boolean, patch = false): AccessCheck {
  const type = resourceFor(obj)
  const group = type.apiVersion.includes('/') ? type.apiVersion.split('/')[0] : ''
  return {context, verb: patch ? 'patch' : exists ? 'update' : 'create', group, resource: type.plural,
    namespace: type.namespaced ? obj.metadata.namespace : undefined, name: exists ? obj.metadata.name : undefined}
}

/** Every access check, concurrently; the first denied one (in plan order) is an error naming it. */
export async function checkAccess(checks: AccessCheck[], clientFor: (context: string) => KubeClient): Promise<void> {
  if (checks.length === 0) return
  const allowed = await Promise.all(checks.map(async (a) => {
    const review = await clientFor(a.context).request<{status?: {allowed?: boolean}}>({
      method: 'POST', path: resourcePath(RESOURCES.SelfSubjectAccessReview),
      body: {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {resourceAttributes: {verb: a.verb, group: a.group, resource: a.resource, subresource: a.subresource, namespace: a.namespace, name: a.name}}},
    })
    return review?.status?.allowed === true
  }))
  const denied = checks.find((_, i) => !allowed[i])
  if (!denied) return
  const what = `${denied.verb} ${denied.resource}${denied.subresource ? `/${denied.subresource}` : ''}${denied.name && !denied.subresource ? ` ${denied.namespace ? `${denied.namespace}/` : ''}${denied.name}` : denied.namespace ? ` in namespace ${denied.namespace}` : ''}`
  throw new OperationError(`context "${denied.context}": forbidden to ${what}${denied.why ?? ''}; nothing was written in either cluster`,
    `use a context allowed to ${denied.verb} ${denied.resource}${denied.subresource ? `/${denied.subresource}` : ''}, or grant it; check with \`kubectl --context ${denied.context} auth can-i ${denied.verb} ${denied.resource}${denied.subresource ? ` --subresource=${denied.subresource}` : ''}${denied.namespace ? ` -n ${denied.namespace}` : ''}\``)
}

const sameObject = (a: Change, b: Change) => a.context === b.context && a.kind === b.kind && a.namespace === b.namespace && a.name === b.name

/** The ref a write names (for its progress title and its journal entry). */
function refOf(w: PlannedOp, values: PlanValues): Ref | undefined {
  switch (w.op) {
    case 'apply': return w.ref ?? (typeof w.object === 'function' ? w.object(values) : w.object)
    case 'yaml': return {kind: 'ConfigMap', metadata: {name: w.name, namespace: w.namespace}}
    case 'step': return w.ref
    default: return w.ref
  }
}

async function perform(w: PlannedOp, client: KubeClient, values: PlanValues, dryRun?: boolean): Promise<Change[]> {
  const opts = {dryRun}
  switch (w.op) {
    case 'apply': {
      const desired = typeof w.object === 'function' ? w.object(values) : w.object
      const upToDate = w.upToDate ?? isUpToDate
      if (w.live && upToDate(w.live, desired)) return [changeOf(client.context, desired, 'unchanged')]
      // a listed object whose resourceVersion is stale loses the precondition and is read again
      const c = await editObject(client, desired, () => desired, opts, upToDate, w.live)
      return c ? [c] : []
    }
    case 'edit': {
      const c = await editObject(client, {apiVersion: 'v1', ...w.ref}, w.edit, opts, w.upToDate, w.read)
      return c ? [c] : []
    }
    case 'annotate': {
      const c = await editAnnotation(client, {apiVersion: w.ref.apiVersion ?? 'v1', ...w.ref}, w.key, w.edit, opts)
      return c ? [c] : []
    }
    case 'yaml': return [await editConfigMapYaml(client, {namespace: w.namespace, name: w.name, key: w.key, edit: w.edit}, opts)]
    case 'unchanged': return [changeOf(w.context, w.ref, 'unchanged')]
    case 'step': return w.run(client, values)
  }
}

/**
 * Check the access, then perform the writes in order: each a progress step `Write <Kind> <name> in
 * "<context>"` (a command's own steps under their title), journaled. An object two writes touch is
 * reported once (its first change that is not `unchanged`, else `unchanged`). A failed write throws
 * ExecutionError with what was written before it.
 */
export async function executePlan(plan: {access: AccessCheck[]; writes: PlannedOp[]}, o: ExecuteOptions & {accessTitle?: string}): Promise<Change[]> {
  await runStep(o.progress, o.accessTitle ?? 'Check write permissions', () => checkAccess(plan.access, o.clientFor))
  const values: PlanValues = new Map()
  const changes: Change[] = []
  const journal: Outcome[] = []
  for (const [seq, w] of plan.writes.entries()) {
    let made: Change[] = []
    try {
      const ref = refOf(w, values)
      const planned = {seq, context: w.context, kind: ref?.kind ?? '', namespace: ref?.metadata.namespace ?? '', name: ref?.metadata.name ?? ''}
      const title = w.op === 'step' ? w.title : `Write ${planned.kind} ${planned.name} in "${w.context}"`
      const client = o.clientFor(w.context)
      if (w.op === 'unchanged') made = await perform(w, client, values, o.dryRun)
      else {
        await runStep(o.progress, title, () => recordWrite(journal, planned, async () => {
          made = await perform(w, client, values, o.dryRun)
          if (w.op !== 'step') return made[0]
          // a step's own writes are journaled one by one
          for (const c of made) if (c.action !== 'unchanged') journal.push({...planned, ...c})
          return undefined
        }))
      }
    } catch (error) {
      throw new ExecutionError(error, changes, journal, seq)
    }
    for (const c of made) {
      const at = changes.findIndex((x) => sameObject(x, c))
      if (at < 0) changes.push(c)
      else if (changes[at].action === 'unchanged' && c.action !== 'unchanged') changes[at] = c
    }
  }
  return changes
}
