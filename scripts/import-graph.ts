// The import graph of src/: every module's relative imports (static and `await import(...)`), the
// cycles among them, and the imports of one folder into another. Run:
//   node scripts/import-graph.ts            cycles and folder → folder edges
//   node scripts/import-graph.ts cluster    what src/cluster/ imports (it must stay below the commands)
//   node scripts/import-graph.ts --closure commands/cluster/link.ts   the modules a command loads
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

const root = resolve(import.meta.dirname, '..', 'src')
const files: string[] = []
const walk = (d: string) => {
  for (const n of readdirSync(d)) {
    const p = join(d, n)
    if (statSync(p).isDirectory()) walk(p)
    else if (p.endsWith('.ts')) files.push(p)
  }
}
walk(root)
const edges = new Map<string, string[]>()
for (const f of files) {
  const text = readFileSync(f, 'utf8')
  const deps = [...text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)].map((m) => resolve(dirname(f), m[1]))
  edges.set(f, [...new Set(deps)])
}
const rel = (f: string) => relative(root, f)
const folder = (f: string) => (rel(f).includes('/') ? rel(f).split('/')[0] : '.')
const only = process.argv[2]
if (only === '--closure') {
  const seen = new Set<string>()
  const visit = (f: string) => {
    if (seen.has(f)) return
    seen.add(f)
    for (const d of edges.get(f) ?? []) visit(d)
  }
  visit(resolve(root, process.argv[3]))
  const list = [...seen].map(rel).sort()
  console.log(`${process.argv[3]} loads ${list.length} modules of src/`)
  for (const f of list) console.log(`  ${f}`)
} else if (only) {
  for (const [f, deps] of edges) if (folder(f) === only) for (const d of deps) if (folder(d) !== only) console.log(`${rel(f)} → ${rel(d)}`)
} else {
  const cycles: string[] = []
  const state = new Map<string, number>()
  const stack: string[] = []
  const visit = (f: string) => {
    state.set(f, 1)
    stack.push(f)
    for (const d of edges.get(f) ?? []) {
      if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' → '))
      else if (!state.get(d)) visit(d)
    }
    stack.pop()
    state.set(f, 2)
  }
  for (const f of edges.keys()) if (!state.get(f)) visit(f)
  console.log(`cycles: ${cycles.length}`)
  for (const c of cycles) console.log(`  ${c}`)
  const pairs = new Map<string, number>()
  for (const [f, deps] of edges) for (const d of deps) if (folder(f) !== folder(d)) pairs.set(`${folder(f)} → ${folder(d)}`, (pairs.get(`${folder(f)} → ${folder(d)}`) ?? 0) + 1)
  console.log('folder → folder (imports):')
  for (const [k, n] of [...pairs].sort()) console.log(`  ${k} ${n}`)
}
