// `kubectl mesh verify`: collect, run every check, return the report. Never writes.
import type {Session} from '../kube/session.ts'
import {collectFacts} from './facts.ts'
import {runChecks, type VerifyReport} from './runner.ts'
import {CheckContext} from './check.ts'
import {probeIstiods} from '../cluster/istiod.ts'
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
}

export async function verify(session: Session, opts: VerifyOptions): Promise<VerifyReport> {
  const {facts, close} = await collectFacts(session, opts)
  try {
    const ids = new CheckContext(facts)
    facts.istiod = await runStep(opts.progress, "Read istiod's sync status", () => probeIstiods(facts.clusters, {
      urls: opts.istiodDebugUrls ?? {},
      clusterIdOf: (c) => ids.id(c).clusterId,
      hasRemoteSecrets: (c) => ids.secrets(c).some((e) => e.key !== ids.clusterIdOf(c)),
      clientOf: (c) => (c.context ? session.client(c.context) : undefined),
      timeoutMs: session.timeoutMs,
      view: true,
    }))
    return runChecks(facts, undefined, {clusterDomain: opts.clusterDomain, graph: opts.graph})
  } finally {
    close()
  }
}
