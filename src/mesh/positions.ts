// Where each field of a YAML document is: its path (as in src/mesh/schema.ts) → 1-based line and
// column, from js-yaml's event stream (the parsed value carries no positions). Pure.
import {EVENT_ID, getScalarValue, parseEvents, type Event} from 'js-yaml'
import type {Path} from './schema.ts'

export interface Position {line: number; column: number}

export const pathKey = (path: Path) => JSON.stringify(path)

/** Positions of every node of the first document: a mapping value at its key, a sequence item at its start. */
export function positionsOf(source: string): Map<string, Position> {
  const out = new Map<string, Position>()
  let events: Event[]
  try {
    events = parseEvents(source, {})
  } catch {
    return out
  }
  const lineStarts = [0]
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1)
  const pos = (offset: number): Position => {
    let lo = 0
    let hi = lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (lineStarts[mid] <= offset) lo = mid
      else hi = mid - 1
    }
    return {line: lo + 1, column: offset - lineStarts[lo] + 1}
  }
  const startOf = (e: Event): number => ('valueStart' in e ? e.valueStart : 'start' in e ? e.start : 'anchorStart' in e ? e.anchorStart : -1)
  let i = 0
  // Walks one node at events[i] recorded under `path`; returns after its last event.
  const node = (path: Path, at?: number): void => {
    const e = events[i++]
    if (!e) return
    const offset = at ?? startOf(e)
    if (offset >= 0 && !out.has(pathKey(path))) out.set(pathKey(path), pos(offset))
    if (e.type === EVENT_ID.MAPPING) {
      while (events[i] && events[i].type !== EVENT_ID.POP) {
        const k = events[i]
        const key = k.type === EVENT_ID.SCALAR ? getScalarValue(source, k) : String(i)
        const keyStart = startOf(k)
        i++
        node([...path, key], keyStart)
      }
      i++
    } else if (e.type === EVENT_ID.SEQUENCE) {
      let n = 0
      while (events[i] && events[i].type !== EVENT_ID.POP) node([...path, n++])
      i++
    }
  }
  while (i < events.length && events[i].type !== EVENT_ID.DOCUMENT) i++
  i++
  if (i < events.length) node([])
  return out
}

/** The position of a path, else of its nearest parent that has one. */
export function positionOf(positions: Map<string, Position>, path: Path): Position | undefined {
  for (let n = path.length; n >= 0; n--) {
    const p = positions.get(pathKey(path.slice(0, n)))
    if (p) return p
  }
  return undefined
}
