// -o json: {"clusters":[…],"checks":[{"id","category","cluster","status","message","hint"}],"summary":{…}}.
import type {VerifyReport} from './runner.ts'

export function renderJson(report: VerifyReport): string {
  return `${JSON.stringify({
    clusters: report.clusters,
    checks: report.checks.map((c) => ({id: c.id, category: c.category, cluster: c.cluster, status: c.status, message: c.message, hint: c.hint})),
    summary: report.summary,
  }, null, 2)}\n`
}
