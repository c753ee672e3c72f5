// `kubectl mesh verify`: collect, run every check, return the report. Never writes.
// `--wait`: rounds of the same until nothing fails or the deadline passes (verifyUntil).
import type {Session} from '../kube/session.ts'
import type {KubeClient} from '../kube/client.ts'
import {requestLog} from '../kube/client.ts'
import {collectFacts, readServiceSlices} from './facts.ts'
import {runChecks, type VerifyReport} from './runner.ts'
import {CheckContext} from './check.ts'
import {probeIstiods} from '../cluster/istiod.ts'
import {RunLists} from '../cluster/snapshot.ts'
import {compareShards, STALE_GRACE_MS} from './checks/stale.ts'
import {linkedPeers} from './checks/istiod.ts'
import {ListCache} from './list-cache.ts'
import type {ClusterFacts, VerifyFacts} from './types.ts'
import {runStep, type StepRunner} from '../steps.ts'

export interface VerifyOptions {
  contexts: string[]
  istioNamespace: string
  /** istiod debug base URLs by cluster (context or cluster ID): the hidden --istiod-debug-url. */
  istiodDebugUrls?: Record<string, string>
  /** --cluster-domain: every cluster's DNS domain (default: each install's own, else cluster.local). */
  clusterDomain?: string
  /** Also build the graph (verify -o dot|mermaid|svg). */
  graph?: boolean
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** links.istiod-stale's settling wait before the re-read (default STALE_GRACE_MS; tests may shorten it). */
  staleGraceMs?: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function verify(session: Session, opts: VerifyOptions): Promise<VerifyReport> {
  return (await verifyRound(session, opts)).report
}

/** One round: every cluster read (lists through `cache` when given), istiod's views, the peers' EndpointSlices, the checks. */
async function verifyRound(session: Session, opts: VerifyOptions, cache?: ListCache): Promise<{report: VerifyReport}> {
  const {facts, lists, clientOf, close} = await collectFacts(session, {...opts, lists: cache})
  try {
    const ids = new CheckContext(facts)
    const probeOf = (only?: Set<string>) => probeIstiods(only ? facts.clusters.filter((c) => only.has(c.name)) : facts.clusters, {
      urls: opts.istiodDebugUrls ?? {},
      clusterIdOf: (c) => ids.id(c).clusterId,
      hasRemoteSecrets: (c) => ids.secrets(c).some((e) => e.key !== ids.clusterIdOf(c)),
      clientOf: (c) => (c.context ? session.client(c.context) : undefined),
      timeoutMs: session.timeoutMs,
      view: true,
    })
    facts.istiod = await runStep(opts.progress, "Read istiod's sync status", () => probeOf())
    await readPeerSlices(facts, ids, clientOf, lists)
    // links.istiod-stale: a difference may be an event still on its way to istiod; read both sides again after the grace
    const first = compareShards(new CheckContext(facts, {clusterDomain: opts.clusterDomain})).diffs
    if (first.length > 0) {
      const graceMs = opts.staleGraceMs ?? STALE_GRACE_MS
      await runStep(opts.progress, `istiod and the EndpointSlices differ (${first.length} address(es)): read both again in ${graceMs / 1000} s`, async () => {
        await sleep(graceMs)
        const clusters = new Set(first.map((d) => d.cluster))
        const again = await probeOf(clusters)
        facts.istiod = facts.istiod!.map((p) => again.find((a) => a.cluster === p.cluster) ?? p)
        const peers = new Set(first.map((d) => d.key))
        const fresh = new RunLists()
        await Promise.all(facts.clusters.filter((c) => peers.has(ids.clusterIdOf(c)) || peers.has(c.name)).map(async (c) => {
          const client = clientOf(c)
          if (client) facts.serviceSlices![c.name] = await readServiceSlices(client, fresh)
        }))
        facts.staleRecheck = {graceMs, earlier: first.map((d) => d.id)}
      })
    }
    return {report: runChecks(facts, undefined, {clusterDomain: opts.clusterDomain, graph: opts.graph})}
  } finally {
    close()
  }
}

/** The EndpointSlices of every reachable cluster that a cluster whose istiod answered is linked to (one list each). */
async function readPeerSlices(facts: VerifyFacts, ids: CheckContext, clientOf: (c: ClusterFacts) => KubeClient | undefined, lists: RunLists): Promise<void> {
  facts.serviceSlices = {}
  const peers = new Set<ClusterFacts>()
  for (const c of facts.clusters) {
    const probe = facts.istiod?.find((p) => p.cluster === c.name)
    if (probe?.outcome !== 'ok' || !probe.endpointShardz) continue
    for (const {peer} of linkedPeers(ids, c)) if (peer && !peer.unreachable) peers.add(peer)
  }
  await Promise.all([...peers].map(async (c) => {
    const client = clientOf(c)
    if (client) facts.serviceSlices![c.name] = await readServiceSlices(client, lists)
  }))
}

export interface WaitRound {
  round: number
  /** since the wait began */
  elapsedMs: number
  /** API requests this round sent (src/kube/client.ts requestLog) */
  requests: number
  /** `id cluster` of every failing check */
  failing: string[]
  summary: VerifyReport['summary']
}

export interface WaitResult {
  report: VerifyReport
  rounds: WaitRound[]
  elapsedMs: number
  /** true when the last round had no failing check */
  healthy: boolean
}

/**
 * verify --wait: rounds until no check fails or `waitMs` has passed (the last round starts at the
 * deadline at the latest, so the answer is the state at the deadline). Between rounds the listed kinds are followed with watches
 * (src/verify/list-cache.ts) so a round re-reads only what changed; probes of remote secrets and
 * istiod's views are read again every round.
 */
export async function verifyUntil(session: Session, opts: VerifyOptions & {waitMs: number; intervalMs?: number; onRound?: (r: WaitRound) => void}): Promise<WaitResult> {
  const started = performance.now()
  const deadline = started + opts.waitMs
  const interval = opts.intervalMs ?? 2000
  const cache = new ListCache()
  const rounds: WaitRound[] = []
  try {
    // a round's requests: those sent since the previous round ended (the watches opened in between count for the next)
    let mark = requestLog.length
    for (let n = 1; ; n++) {
      const {report} = await verifyRound(session, {...opts, progress: n === 1 ? opts.progress : undefined}, cache)
      const round: WaitRound = {
        round: n, elapsedMs: performance.now() - started, requests: requestLog.length - mark,
        failing: report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.cluster}`.trim()), summary: report.summary,
      }
      rounds.push(round)
      opts.onRound?.(round)
      const healthy = report.summary.failed === 0
      mark = requestLog.length
      const left = deadline - performance.now()
      if (healthy || left <= 0) return {report, rounds, elapsedMs: performance.now() - started, healthy}
      cache.follow()
      // the last round starts at the deadline at the latest
      await sleep(Math.min(interval, left))
    }
  } finally {
    cache.close()
  }
}
