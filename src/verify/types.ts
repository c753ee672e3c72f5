// The data every verify check works on and produces. Pure types, no I/O.
import type {ClusterSnapshot} from '../cluster/snapshot.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {IstiodProbe} from '../cluster/istiod.ts'

export type {IstiodProbe}

export type Status = 'pass' | 'warn' | 'fail' | 'skip'

export const CATEGORIES = ['reachability', 'istio', 'trust', 'links', 'networks', 'exports', 'imports', 'dns', 'ambient'] as const
export type Category = (typeof CATEGORIES)[number]

/** One line of the verify report. */
export interface CheckResult {
  id: string
  category: Category
  cluster: string
  status: Status
  message: string
  hint: string
}

/** What a check returns: the runner adds id and category. */
export type Finding = Omit<CheckResult, 'id' | 'category'>

export {LISTED_KINDS, type ListedKind, type ListFailure} from '../cluster/snapshot.ts'
/** The cluster snapshot (src/cluster/snapshot.ts), under the name verify's checks use. */
export type ClusterFacts = ClusterSnapshot

/** The outcome of reading a peer's API with a remote secret's own kubeconfig. */
export interface SecretProbe {
  /** The cluster holding the secret (report name). */
  cluster: string
  secret: string
  key: string
  outcome: 'ok' | 'not-probed' | 'unreachable' | 'tls' | 'unauthorized' | 'forbidden'
  detail: string
  /** The reads the token was denied ("list pods", …). */
  denied: string[]
}

export interface VerifyFacts {
  clusters: ClusterFacts[]
  probes: SecretProbe[]
  /** One per cluster; absent when istiod was not asked (unit fixtures). */
  istiod?: IstiodProbe[]
  /**
   * Every EndpointSlice of each cluster another verified cluster's istiod holds a shard of (one
   * list each, links.istiod-stale), by report name: the slices, or why they could not be read.
   */
  serviceSlices?: Record<string, {slices?: KubeObject[]; error?: string}>
  /**
   * links.istiod-stale's settling: the differences found by a first comparison (keys of
   * src/verify/checks/stale.ts) and how long verify waited before reading istiod and the
   * EndpointSlices again; only a difference seen in both reads fails. Absent: one read only.
   */
  staleRecheck?: {graceMs: number; earlier: string[]}
  now: Date
  /** What DNS answers for every gateway hostname (A and AAAA; src/istio/gateway-dns.ts), as istiod resolves them; absent: not resolved. */
  dns?: Record<string, string[]>
}
