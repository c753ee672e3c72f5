// Output of plan / apply: the change lines (src/ui/output.ts printChanges), the summary, and after
// apply the verify result (its summary, and the checks that warn or fail).
import {note, printChanges, printJson, stdoutPainter, warn} from '../ui/output.ts'
import {renderText, summaryLine} from '../verify/render-text.ts'
import {summaryText} from './changes.ts'
import type {MeshRunResult, OutputDirResult} from './service.ts'

export function renderMeshRun(r: MeshRunResult, o: {output: 'text' | 'json'; planned: boolean}): void {
  for (const w of r.warnings) warn(w)
  for (const n of r.notes) note(n)
  const problems = r.verify?.checks.filter((c) => c.status === 'fail' || c.status === 'warn') ?? []
  if (o.output === 'json') {
    printJson({
      changes: r.changes, summary: r.summary, clusters: r.clusters, dryRun: o.planned,
      ...(r.verify ? {verify: {summary: r.verify.summary, checks: problems.map((c) => ({id: c.id, category: c.category, cluster: c.cluster, status: c.status, message: c.message, hint: c.hint}))}} : {}),
    })
    return
  }
  printChanges(r.changes, 'text')
  process.stdout.write(`${o.planned ? 'Plan' : 'Applied'}: ${summaryText(r.summary, o.planned)} (${r.clusters.length} cluster${r.clusters.length === 1 ? '' : 's'})\n`)
  if (!r.verify) return
  if (problems.length === 0) {
    process.stdout.write(`Verify: ${summaryLine(r.verify.summary)}\n`)
    return
  }
  process.stdout.write(`\n${renderText({...r.verify, checks: problems}, stdoutPainter, {categories: false}).replace(/\n[^\n]*\n$/, `\nVerify: ${summaryLine(r.verify.summary)}\n`)}`)
}

/** --output-dir: the files written, one line each (`<context>  <path>`), and what could not be written. */
export function renderOutputDir(r: OutputDirResult, output: 'text' | 'json'): void {
  for (const w of r.warnings) warn(w)
  for (const n of r.notes) note(n)
  for (const m of r.missing) warn(`not written: ${m}`)
  if (output === 'json') {
    printJson({files: r.files, missing: r.missing, clusters: r.clusters})
    return
  }
  const width = Math.max(0, ...r.files.map((f) => f.context.length))
  for (const f of r.files) process.stdout.write(`${f.context.padEnd(width)}  ${f.path}\n`)
  process.stdout.write(`Wrote ${r.files.length} file${r.files.length === 1 ? '' : 's'} for ${r.clusters.length} cluster${r.clusters.length === 1 ? '' : 's'}${r.missing.length > 0 ? `; ${r.missing.length} operation${r.missing.length === 1 ? '' : 's'} could not be written in full (see the warnings)` : ''}\n`)
}
