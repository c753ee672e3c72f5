// What a run of several writes did before one failed, for the error that must say exactly what was
// written and how to finish or undo it: the writes that were answered, and the writes that were
// sent but never answered (the server may have applied them before it went away).
import type {Action, Change} from './apply.ts'
import {mayHaveApplied} from './errors.ts'

export interface ObjectRef {
  context: string
  kind: string
  namespace: string
  name: string
}

/** One planned write: `seq` orders it in the plan, `undo` is the command that removes it (none: nothing to undo by hand). */
export type PlannedWrite = ObjectRef & {seq: number; undo?: string}

/** A write that changed something (`action`), or that got no answer (no `action`). */
export type Outcome = PlannedWrite & {action?: Action}

/**
 * Run one write and note its outcome in `journal`: the change when it changed something; the
 * planned write alone when the request got no answer (reset, timeout), so it may have happened.
 */
export async function recordWrite<T extends Change | undefined>(journal: Outcome[], planned: PlannedWrite, write: () => Promise<T>): Promise<T> {
  try {
    const change = await write()
    if (change && change.action !== 'unchanged') journal.push({...planned, action: change.action})
    return change
  } catch (error) {
    if (mayHaveApplied(error)) journal.push(planned)
    throw error
  }
}

const ref = (o: ObjectRef) => `${o.context} ${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`

/**
 * `; already written: <context> <kind>/<ns>/<name> <action>, …; sent without an answer (may have
 * been written): …`, in plan order (changes without `seq` keep theirs); '' when nothing was written.
 */
export function writtenSuffix(outcomes: Array<ObjectRef & {action?: Action; seq?: number}>): string {
  const sorted = [...outcomes].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
  const written = sorted.filter((o) => o.action && o.action !== 'unchanged').map((o) => `${ref(o)} ${o.action}`)
  const unanswered = sorted.filter((o) => !o.action).map(ref)
  return `${written.length > 0 ? `; already written: ${written.join(', ')}` : ''}${unanswered.length > 0 ? `; sent without an answer (may have been written): ${unanswered.join(', ')}` : ''}`
}

/** The commands that undo these outcomes, each once, in reverse plan order (the last write is undone first). */
export function undoCommands(outcomes: Outcome[]): string[] {
  return [...new Set([...outcomes].sort((a, b) => b.seq - a.seq).flatMap((o) => (o.undo ? [o.undo] : [])))]
}
