// -o json: {"clusters":[…],"checks":[{"id","category","cluster","status","message","hint"}],"summary":{…}}
// and, with --wait only, "wait": {"healthy","elapsedMs","rounds":[{"round","elapsedMs","requests","failed"}]}.
import type {VerifyReport} from './runner.ts'
import type {WaitResult} from './service.ts'

export function renderJson(report: VerifyReport, wait?: Omit<WaitResult, 'report'>): string {
  return `${JSON.stringify({
    clusters: report.clusters,
    checks: report.checks.map((c) => ({id: c.id, category: c.category, cluster: c.cluster, status: c.status, message: c.message, hint: c.hint})),
    summary: report.summary,
    ...(wait ? {wait: {healthy: wait.healthy, elapsedMs: Math.round(wait.elapsedMs), rounds: wait.rounds.map((r) => ({round: r.round, elapsedMs: Math.round(r.elapsedMs), requests: r.requests, failed: r.summary.failed}))}} : {}),
  }, null, 2)}\n`
}

/** verify --wait's closing line (stderr): the outcome, how long it took, the requests of each round. */
export function waitSummary(wait: Omit<WaitResult, 'report'>, waitMs: number): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  const n = wait.rounds.length
  const requests = `requests per round: ${wait.rounds.map((r) => r.requests).join(', ')}`
  const last = wait.rounds.at(-1)
  return wait.healthy
    ? `verify --wait: no check fails, after ${n} round(s) in ${s(wait.elapsedMs)} (${requests})\n`
    : `verify --wait: ${last?.summary.failed ?? 0} check(s) still fail at the deadline (${s(waitMs)}), after ${n} round(s) in ${s(wait.elapsedMs)} (${requests})\n`
}

/** verify --wait's progress line of one round (stderr, on a terminal). */
export function roundLine(r: WaitResult['rounds'][number]): string {
  const shown = r.failing.slice(0, 4).join(', ')
  return `round ${r.round} at ${(r.elapsedMs / 1000).toFixed(1)} s: ${r.failing.length === 0 ? 'nothing fails' : `${r.failing.length} failing: ${shown}${r.failing.length > 4 ? `, … ${r.failing.length - 4} more` : ''}`} (${r.requests} requests)\n`
}
