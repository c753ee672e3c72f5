// The change lines of a run of several step operations: one line per object (the first time an
// object is touched fixes its place), its action the net one; grouped by cluster. Pure.
import type {Action, Change} from '../kube/apply.ts'

export interface ChangeSummary {created: number; configured: number; deleted: number; unchanged: number}

/**
 * Net action of several actions on one object, in order: created stays created (a later edit
 * edits what this run created), a delete after a create is nothing to report (unchanged), a
 * delete is deleted, otherwise configured if any step configured it, else unchanged.
 */
export function netAction(actions: Action[]): Action {
  const last = actions[actions.length - 1]
  if (actions.includes('created')) return last === 'deleted' ? 'unchanged' : 'created'
  if (last === 'deleted' || (actions.includes('deleted') && !actions.includes('configured'))) return 'deleted'
  if (actions.includes('configured')) return 'configured'
  return 'unchanged'
}

/** Merge changes by object; contexts in `order` first (in that order), then any others as they came. */
export function mergeChanges(changes: Change[], order: string[] = []): Change[] {
  const byKey = new Map<string, {change: Change; actions: Action[]}>()
  for (const c of changes) {
    const key = `${c.context}\0${c.kind}\0${c.namespace}\0${c.name}`
    const e = byKey.get(key)
    if (e) e.actions.push(c.action)
    else byKey.set(key, {change: c, actions: [c.action]})
  }
  const merged = [...byKey.values()].map((e) => ({...e.change, action: netAction(e.actions)}))
  const rank = (ctx: string) => {
    const i = order.indexOf(ctx)
    return i < 0 ? order.length : i
  }
  return merged.map((c, i) => ({c, i})).sort((a, b) => rank(a.c.context) - rank(b.c.context) || a.i - b.i).map((x) => x.c)
}

export function summarize(changes: Change[]): ChangeSummary {
  const s: ChangeSummary = {created: 0, configured: 0, deleted: 0, unchanged: 0}
  for (const c of changes) s[c.action]++
  return s
}

/** `3 to create, 1 to configure, 0 to delete, 12 unchanged` (plan), `3 created, …` (apply). */
export function summaryText(s: ChangeSummary, planned: boolean): string {
  return planned
    ? `${s.created} to create, ${s.configured} to configure, ${s.deleted} to delete, ${s.unchanged} unchanged`
    : `${s.created} created, ${s.configured} configured, ${s.deleted} deleted, ${s.unchanged} unchanged`
}
