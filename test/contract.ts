// The public contract (STYLE.md §12): committed snapshots under test/contract/ of every command's
// flags and of the `-o json` shapes. A snapshot that is missing or differs FAILS; only
// `npm run contract:update` (UPDATE_CONTRACT=1) writes them, so a change is a visible decision in the diff.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {Command, Interfaces} from '@oclif/core'

export const REPO = join(import.meta.dirname, '..')
export const CONTRACT_DIR = join(REPO, 'test', 'contract')
export const updating = () => Boolean(process.env.UPDATE_CONTRACT)

const UPDATE_HINT = 'if the change is intended, run `npm run contract:update` (or `npm run contract:update:e2e` for shapes recorded against the test bed) and commit test/contract/'

/** Compare `value` with test/contract/<name>.json; with UPDATE_CONTRACT=1, write it instead. */
export function matchSnapshot(name: string, value: unknown): void {
  const file = join(CONTRACT_DIR, `${name}.json`)
  const text = `${JSON.stringify(value, null, 2)}\n`
  if (updating()) {
    mkdirSync(dirname(file), {recursive: true})
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text)
    return
  }
  if (!existsSync(file)) assert.fail(`contract snapshot test/contract/${name}.json is missing; ${UPDATE_HINT}`)
  assert.deepEqual(value, JSON.parse(readFileSync(file, 'utf8')), `the contract changed: test/contract/${name}.json; ${UPDATE_HINT}`)
}

/** The snapshot names in test/contract/<folder>/ (without .json). */
export function snapshotNames(folder: string): string[] {
  const dir = join(CONTRACT_DIR, folder)
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : []
}

/** Snapshots in test/contract/<folder>/ that name nothing any more: a failure, or deleted when updating. */
export function assertNoStale(folder: string, expected: string[]): void {
  const stale = snapshotNames(folder).filter((n) => !expected.includes(n))
  if (updating()) {
    for (const n of stale) rmSync(join(CONTRACT_DIR, folder, `${n}.json`))
    return
  }
  assert.deepEqual(stale, [], `snapshots without a command in test/contract/${folder}/; ${UPDATE_HINT}`)
}

// ---------------------------------------------------------------- shapes

/**
 * The shape of a JSON value: its recursive key/type structure. Objects map each key to its shape
 * (a key absent from some elements of an array is marked `key?`); arrays hold the merged shape of
 * their elements (`[]` when empty); scalars are their type, several types joined with `|`.
 */
export type Shape = string | Shape[] | {[key: string]: Shape}

export function shapeOf(value: unknown): Shape {
  if (value === null) return 'null'
  if (Array.isArray(value)) {
    if (value.length === 0) return []
    return [value.map(shapeOf).reduce(mergeShapes)]
  }
  if (typeof value === 'object') {
    return Object.fromEntries(Object.keys(value as object).sort().map((k) => [k, shapeOf((value as Record<string, unknown>)[k])]))
  }
  return typeof value
}

const bare = (k: string) => (k.endsWith('?') ? k.slice(0, -1) : k)

export function mergeShapes(a: Shape, b: Shape): Shape {
  if (JSON.stringify(a) === JSON.stringify(b)) return a
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length === 0) return b
    if (b.length === 0) return a
    return [mergeShapes(a[0], b[0])]
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)].map(bare))].sort()
    return Object.fromEntries(keys.map((k) => {
      const x = a[k] ?? a[`${k}?`]
      const y = b[k] ?? b[`${k}?`]
      const optional = x === undefined || y === undefined || `${k}?` in a || `${k}?` in b
      return [optional ? `${k}?` : k, x === undefined ? y : y === undefined ? x : mergeShapes(x, y)]
    }))
  }
  const names = (s: Shape) => (typeof s === 'string' ? s.split('|') : [isObject(s) ? 'object' : 'array'])
  return [...new Set([...names(a), ...names(b)])].sort().join('|')
}

const isObject = (s: Shape): s is {[key: string]: Shape} => typeof s === 'object' && !Array.isArray(s)

// ---------------------------------------------------------------- commands

let routed = false
/**
 * Under `node --test` the file's test runner reports to the parent through this process's stdout
 * (binary chunks), also while a command runs; runCommand's capture would swallow those reports.
 * So stdout.write routes: strings (the CLI's output) to whatever capture is installed, binary
 * chunks to the real stream.
 */
export function routeRunnerOutput(): void {
  if (routed) return
  routed = true
  const real = process.stdout.write.bind(process.stdout)
  let capture: typeof process.stdout.write | undefined
  const router = ((chunk: unknown, ...rest: unknown[]) =>
    (typeof chunk === 'string' && capture ? capture : real)(chunk as string, ...(rest as []))) as typeof process.stdout.write
  Object.defineProperty(process.stdout, 'write', {
    configurable: true,
    get: () => router,
    set: (fn: typeof process.stdout.write) => { capture = fn === router ? undefined : fn },
  })
}

/** Load options for oclif that take the commands from src/ (no build, no oclif.manifest.json). */
export function srcLoadOptions(): Interfaces.LoadOptions {
  const pjson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'))
  return {root: REPO, ignoreManifest: true, pjson: {...pjson, oclif: {...pjson.oclif, commands: './src/commands'}}}
}

/** A command's public contract from the oclif manifest: aliases, args and every flag's name, char, type, default, options, multiple, required. */
export function commandContract(c: Command.Cached): unknown {
  return {
    id: c.id.replaceAll(':', ' '),
    aliases: [...(c.aliases ?? [])].map((a) => a.replaceAll(':', ' ')).sort(),
    hidden: Boolean(c.hidden),
    args: Object.values(c.args ?? {}).map((a: Command.Arg.Cached) => ({name: a.name, required: Boolean(a.required)})),
    flags: Object.values(c.flags ?? {}).sort((x: Command.Flag.Cached, y: Command.Flag.Cached) => x.name.localeCompare(y.name)).map((f: Command.Flag.Cached) => ({
      name: f.name,
      char: f.char ?? null,
      type: f.type,
      default: f.default ?? null,
      options: f.type === 'option' ? (f.options ?? null) : null,
      multiple: f.type === 'option' ? Boolean(f.multiple) : false,
      required: Boolean(f.required),
    })),
  }
}

/** test/contract/flags/<name>.json for a command id (`service:export` → `service-export`). */
export const flagsSnapshotName = (id: string) => id.replaceAll(':', '-').replaceAll(' ', '-')
