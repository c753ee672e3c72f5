// The options and result of service export / unexport (src/exposure/export.ts), on their own so the
// ambient variant (src/exposure/ambient.ts) shares them without importing export.ts back.
import type {Change} from '../kube/apply.ts'
import type {KubeObject} from '../kube/resources.ts'
import type {StepRunner} from '../steps.ts'

export interface ExportOptions {
  name: string
  namespace: string
  context?: string
  istioNamespace: string
  /** --cluster-domain; default: the install's (src/istio/install.ts). */
  clusterDomain?: string
  mcs: boolean
  dryRun: boolean
  version: string
  /** Shows the steps (src/ui/progress.ts); quiet by default. */
  progress?: StepRunner
  /** Gateways an earlier operation of the same dry run makes (`apply --dry-run`, `plan`: not persisted), counted as if they were there. */
  plannedGateways?: KubeObject[]
}

export interface ExportResult {
  context: string
  changes: Change[]
  host: string
  /** An ambient mesh: the Service (and its waypoint) labelled istio.io/global=true (src/exposure/ambient.ts). */
  meshKind?: 'ambient'
  /** Lines for the user (mesh kind, waypoints, a missing serviceScopeConfigs entry). */
  notes?: string[]
  /** A Gateway other than ours that already passes the host through. */
  coveredBy?: string
  /** -o yaml: the desired objects, nothing written. */
  plan?: KubeObject[]
}

export type UnexportOptions = Omit<ExportOptions, 'mcs' | 'plannedGateways'> & {
  /** Hosts an earlier unexport of the same dry run removed from the Gateway (`apply --prune --dry-run`, `plan --prune`: not persisted), removed here too. */
  removedHosts?: string[]
}
