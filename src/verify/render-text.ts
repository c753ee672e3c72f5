// Text output: grouped by category, one line per result with ✔ ⚠ ✖ (and - for skipped), hints
// under warnings and failures, and the summary line.
import {CATEGORIES, type CheckResult} from './types.ts'
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

export function renderText(report: VerifyReport, p: Painter = plain, opts: {showSkipped?: boolean} = {}): string {
  const lines: string[] = []
  const where = report.clusters.map((c) => `${c.name}${c.source === 'remote-secret' ? ` (via ${c.via})` : ''}${c.reachable ? '' : ' (unreachable)'}`)
  lines.push(p.bold(`Verifying ${report.clusters.length} cluster(s): ${where.join(', ')}`))
  for (const cat of CATEGORIES) {
    const rows = report.checks.filter((r) => r.category === cat && (opts.showSkipped !== false || r.status !== 'skip'))
    if (rows.length === 0) continue
    lines.push('', p.bold(TITLES[cat] ?? cat))
    for (const r of rows) lines.push(...row(r, p))
  }
  lines.push('', summaryLine(report.summary))
  return `${lines.join('\n')}\n`
}

function row(r: CheckResult, p: Painter): string[] {
  const mark = r.status === 'pass' ? p.green('✔') : r.status === 'warn' ? p.yellow('⚠') : r.status === 'fail' ? p.red('✖') : p.dim('-')
  const out = [`  ${mark} ${r.message} ${p.dim(`[${r.id}]`)}`]
  if (r.hint && r.status !== 'pass') out.push(`      ${p.dim('Hint:')} ${r.hint}`)
  return out
}
