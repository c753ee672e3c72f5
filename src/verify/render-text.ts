// Text output, leading with what needs attention (DESIGN.md "verify"): the clusters verified, then
// every failure, then every warning, each with its hint; then one line per category with its
// counts (marked by its worst status); then the summary line. `showPassed` (--show-passed,
// -o wide) lists each category's passes and skips under its line.
import {CATEGORIES, type Category, type CheckResult, type Status} from './types.ts'
import type {VerifyReport} from './runner.ts'

export interface Painter {
  green(s: string): string
  yellow(s: string): string
  red(s: string): string
  dim(s: string): string
  bold(s: string): string
}

export const plain: Painter = {green: (s) => s, yellow: (s) => s, red: (s) => s, dim: (s) => s, bold: (s) => s}

const TITLES: Record<string, string> = {
  reachability: 'Reachability and permissions', istio: 'Istio presence and identity', trust: 'Trust', links: 'Links (remote secrets)',
  networks: 'Networks and gateways', exports: 'Exports', imports: 'Imports', dns: 'DNS', ambient: 'Ambient (ztunnel)',
}

export function summaryLine(s: VerifyReport['summary']): string {
  return `${s.passed} passed, ${s.warnings} warnings, ${s.failed} failed, ${s.skipped} skipped`
}

export interface TextOptions {
  /** List every pass (and skip) under its category line. */
  showPassed?: boolean
  /** Print the per-category count lines (default true). */
  categories?: boolean
}

export function renderText(report: VerifyReport, p: Painter = plain, opts: TextOptions = {}): string {
  const lines: string[] = []
  const where = report.clusters.map((c) => `${c.name}${c.source === 'remote-secret' ? ` (via ${c.via})` : ''}${c.reachable ? '' : ' (unreachable)'}`)
  lines.push(p.bold(`Verifying ${report.clusters.length} cluster(s): ${where.join(', ')}`))
  const failures = report.checks.filter((r) => r.status === 'fail')
  const warnings = report.checks.filter((r) => r.status === 'warn')
  if (failures.length + warnings.length > 0) {
    lines.push('')
    for (const r of [...byCategory(failures), ...byCategory(warnings)]) lines.push(...row(r, p, ''))
  }
  if (opts.categories !== false) {
    const present = CATEGORIES.filter((cat) => report.checks.some((r) => r.category === cat))
    const width = Math.max(0, ...present.map((cat) => title(cat).length))
    if (present.length > 0) lines.push('')
    for (const cat of present) {
      const rows = report.checks.filter((r) => r.category === cat)
      lines.push(`${mark(worst(rows), p)} ${p.bold(title(cat).padEnd(width))}  ${counts(rows)}`)
      if (opts.showPassed) for (const r of rows.filter((x) => x.status === 'pass' || x.status === 'skip')) lines.push(...row(r, p, '    '))
    }
  }
  lines.push('', summaryLine(report.summary))
  return `${lines.join('\n')}\n`
}

const title = (cat: Category) => TITLES[cat] ?? cat

/** Stable sort by category order (the checks' own order within a category). */
function byCategory(rows: CheckResult[]): CheckResult[] {
  return CATEGORIES.flatMap((cat) => rows.filter((r) => r.category === cat))
}

const RANK: Record<Status, number> = {skip: 0, pass: 1, warn: 2, fail: 3}
function worst(rows: CheckResult[]): Status {
  return rows.reduce<Status>((w, r) => (RANK[r.status] > RANK[w] ? r.status : w), 'skip')
}

function counts(rows: CheckResult[]): string {
  const n = (s: Status) => rows.filter((r) => r.status === s).length
  const parts = [
    [n('pass'), 'passed'],
    [n('warn'), n('warn') === 1 ? 'warning' : 'warnings'],
    [n('fail'), 'failed'],
    [n('skip'), 'skipped'],
  ] as const
  return parts.filter(([k]) => k > 0).map(([k, w]) => `${k} ${w}`).join(', ')
}

function mark(s: Status, p: Painter): string {
  return s === 'pass' ? p.green('✔') : s === 'warn' ? p.yellow('⚠') : s === 'fail' ? p.red('✖') : p.dim('-')
}

function row(r: CheckResult, p: Painter, indent: string): string[] {
  const out = [`${indent}${mark(r.status, p)} ${r.message} ${p.dim(`[${r.id}]`)}`]
  if (r.hint && r.status !== 'pass') out.push(`${indent}    ${p.dim('Hint:')} ${r.hint}`)
  return out
}
