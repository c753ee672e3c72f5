// Istio control-plane revisions. `istioctl install --revision canary` (or the charts with
// `revision: canary`) suffixes the names kubectl-mesh reads and writes: Deployment
// `istiod-canary`, ConfigMaps `istio-canary` (mesh config and meshNetworks) and
// `istio-sidecar-injector-canary`, ClusterRole/Binding `istio-reader-clusterrole-canary-<ns>`.
// The default revision has the plain names. Every istiod Deployment carries `app=istiod` and
// `istio.io/rev`; that is how the revisions of a cluster are found (pure functions here).
import type {KubeObject} from '../kube/resources.ts'
import {readerClusterRole} from './names.ts'

export const DEFAULT_REVISION = 'default'
export const ISTIOD_APP_SELECTOR = 'app=istiod'
export const REVISION_LABEL = 'istio.io/rev'

export interface RevisionNames {
  revision: string
  istiod: string
  meshConfigMap: string
  injectorConfigMap: string
  /** The ConfigMap of the install's Helm values (`values[-rev]`): what a remote-profile install has instead of an injector. */
  valuesConfigMap: string
  readerClusterRole: string
}

export function revisionNames(revision: string, istioNamespace: string): RevisionNames {
  const suffix = revision === DEFAULT_REVISION ? '' : `-${revision}`
  return {
    revision,
    istiod: `istiod${suffix}`,
    meshConfigMap: `istio${suffix}`,
    injectorConfigMap: `istio-sidecar-injector${suffix}`,
    valuesConfigMap: `values${suffix}`,
    readerClusterRole: revision === DEFAULT_REVISION ? readerClusterRole(istioNamespace) : `istio-reader-clusterrole-${revision}-${istioNamespace}`,
  }
}

/** The revision of an istiod Deployment: its istio.io/rev label, else its name's suffix. */
export function revisionOf(deploy: KubeObject): string {
  const label = deploy.metadata.labels?.[REVISION_LABEL]
  if (label) return label
  const m = /^istiod-(.+)$/.exec(deploy.metadata.name)
  return m ? m[1] : DEFAULT_REVISION
}

export interface RevisionChoice {
  /** The revision kubectl-mesh reads and writes: `default` when its istiod runs (or none runs), else the first by name. */
  names: RevisionNames
  /** Its istiod Deployment, when there is one. */
  istiod?: KubeObject
  /** The other revisions whose istiod runs here (a canary upgrade in progress), by name. */
  others: string[]
}

/** Choose among the istiod Deployments (label app=istiod) of one Istio namespace. */
export function chooseRevision(istiods: KubeObject[], istioNamespace: string): RevisionChoice {
  const byRevision = new Map<string, KubeObject>()
  for (const d of [...istiods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (!byRevision.has(revisionOf(d))) byRevision.set(revisionOf(d), d)
  }
  const revisions = [...byRevision.keys()].sort((a, b) => Number(b === DEFAULT_REVISION) - Number(a === DEFAULT_REVISION) || a.localeCompare(b))
  const chosen = revisions[0] ?? DEFAULT_REVISION
  return {names: revisionNames(chosen, istioNamespace), istiod: byRevision.get(chosen), others: revisions.slice(1)}
}
