// The data every verify check works on and produces. Pure types, no I/O.
import type {KubeObject} from '../kube/resources.ts'
import type {EndpointShardz, NetworkGatewayEntry} from './istiod.ts'

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

/** The object kinds collected once per cluster. */
export const LISTED_KINDS = ['Namespace', 'Secret', 'ConfigMap', 'Service', 'Deployment', 'ServiceAccount', 'Gateway', 'ServiceEntry', 'DestinationRule'] as const
export type ListedKind = (typeof LISTED_KINDS)[number]

/** Why a kind could not be listed: forbidden, not served (CRD missing), or another error. */
export interface ListFailure {
  reason: 'forbidden' | 'unauthorized' | 'notfound' | 'error'
  message: string
}

/** Everything read from one cluster, in one round of list requests. */
export interface ClusterFacts {
  /** How the cluster is named in the report: the context, or the cluster ID from a remote secret. */
  name: string
  context?: string
  /** 'context': read with the user's kubeconfig; 'remote-secret': read with a remote secret's own credentials. */
  source: 'context' | 'remote-secret'
  /** For source 'remote-secret': "<cluster>/<namespace>/<secret>". */
  via?: string
  /** The API server URL used. */
  server: string
  istioNamespace: string
  /** Set when the API server could not be reached at all (every read failed without an HTTP answer). */
  unreachable?: {message: string; hint: string}
  /** The listed objects by kind; a kind is absent when its list failed (see failures). */
  lists: Partial<Record<ListedKind, KubeObject[]>>
  failures: Partial<Record<ListedKind | 'ClusterRole' | 'ClusterRoleBinding', ListFailure>>
  /** The reader ClusterRole's name for the Istio revision in use. */
  readerClusterRoleName?: string
  /** The reader ClusterRole and binding (null: not found; undefined: not readable). */
  readerClusterRole?: KubeObject | null
  readerClusterRoleBinding?: KubeObject | null
  /** A remote-profile install only: the EndpointSlices of the Istio namespace (where its istiod Service points). */
  endpointSlices?: KubeObject[]
  /** The DaemonSets and Gateway API Gateways of the Istio namespace (ambient: ztunnel, istio-east-west); empty when not served. */
  ambientObjects?: {daemonSets: KubeObject[]; kubeGateways: KubeObject[]}
}

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

/**
 * istiod's /debug/clusterz of one cluster (src/verify/istiod.ts). 'not-asked': no remote secrets,
 * or read through a remote secret without --istiod-debug-url; 'no-pod': no running istiod pod to
 * port-forward to; 'forbidden': the user may not list or port-forward to istiod's pods.
 */
export interface IstiodProbe {
  /** report name of the cluster */
  cluster: string
  /** what was asked: the URL, or "pod NS/NAME port 15014 (port-forward)" */
  url?: string
  outcome: 'ok' | 'error' | 'not-asked' | 'no-pod' | 'forbidden'
  detail: string
  clusterz?: Array<{id: string; secretName: string; syncStatus: string}>
  /** /debug/networkz (read after clusterz answered): the gateways istiod knows per network. */
  networkz?: NetworkGatewayEntry[]
  networkzError?: string
  /** /debug/endpointShardz: the endpoint shards istiod holds per host and namespace. */
  endpointShardz?: EndpointShardz
  endpointShardzError?: string
}

export interface VerifyFacts {
  clusters: ClusterFacts[]
  probes: SecretProbe[]
  /** One per cluster; absent when istiod was not asked (unit fixtures). */
  istiod?: IstiodProbe[]
  now: Date
}
