// One runner: every check over the same facts, results in catalogue order, and the summary.
import {CheckContext, type CheckDef} from './check.ts'
import {CHECKS} from './checks/index.ts'
import type {CheckResult, VerifyFacts} from './types.ts'
import {buildGraph, type MeshGraph} from './graph.ts'

export interface Summary {
  passed: number
  warnings: number
  failed: number
  skipped: number
}

export interface ClusterInfo {
  name: string
  context: string | null
  source: 'context' | 'remote-secret'
  via: string | null
  server: string
  reachable: boolean
  clusterId: string | null
  network: string | null
  meshId: string | null
}

export interface VerifyReport {
  clusters: ClusterInfo[]
  checks: CheckResult[]
  summary: Summary
  /** The mesh as a graph (verify -o dot|mermaid|svg), when asked for. */
  graph?: MeshGraph
}

export function runChecks(facts: VerifyFacts, checks: CheckDef[] = CHECKS, opts: {clusterDomain?: string; graph?: boolean} = {}): VerifyReport {
  const ctx = new CheckContext(facts, opts)
  const results: CheckResult[] = []
  for (const check of checks) {
    let findings
    try {
      findings = check.run(ctx)
    } catch (error) {
      findings = [{cluster: '', status: 'fail' as const, message: `check ${check.id} crashed: ${(error as Error).message}`, hint: 'this is a bug in kubectl-mesh; run with --verbose and report it'}]
    }
    for (const f of findings) results.push({id: check.id, category: check.category, ...f})
  }
  return {
    clusters: facts.clusters.map((c) => {
      const id = ctx.id(c)
      return {
        name: c.name, context: c.context ?? null, source: c.source, via: c.via ?? null, server: c.server, reachable: !c.unreachable,
        clusterId: id.clusterId ?? null, network: id.network ?? null, meshId: id.meshId ?? null,
      }
    }),
    checks: results,
    summary: summarize(results),
    ...(opts.graph ? {graph: buildGraph(ctx, results)} : {}),
  }
}

export function summarize(results: CheckResult[]): Summary {
  const count = (s: string) => results.filter((r) => r.status === s).length
  return {passed: count('pass'), warnings: count('warn'), failed: count('fail'), skipped: count('skip')}
}
