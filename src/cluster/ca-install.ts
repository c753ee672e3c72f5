// What `ca gen --context` reads of a cluster before it installs `cacerts` there: the Istio
// namespace, the live Secret `cacerts` (whose roots src/cluster/trust.ts reads), and the istiod
// Deployments (which of them reload a changed cacerts by themselves). A single `ca gen` sends GETs
// and one selective list; apply -f's cacerts steps read them from the run's lists (RunLists), the
// same lists verify and the other steps read, so they cost no request of their own.
import type {KubeClient} from '../kube/client.ts'
import {listObjects} from '../kube/apply.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'
import {CACERTS_SECRET} from '../istio/names.ts'
import {ISTIOD_APP_SELECTOR} from '../istio/revision.ts'
import {allInOrder} from '../settle.ts'
import type {RunLists} from './snapshot.ts'

export interface CaInstallFacts {
  /** The Istio namespace exists. */
  namespace: boolean
  /** The live Secret `cacerts` (undefined: absent). */
  cacerts?: KubeObject
  /** Every istiod Deployment (label app=istiod) of the Istio namespace: every revision reads cacerts. */
  istiods: KubeObject[]
}

const isIstiod = (d: KubeObject) => `app=${d.metadata.labels?.app}` === ISTIOD_APP_SELECTOR

/** The facts above, through the run's lists when given (kinds of the Istio namespace listed as the snapshot lists them), else by GETs. */
export async function readCaInstallFacts(client: KubeClient, istioNamespace: string, lists?: RunLists): Promise<CaInstallFacts> {
  const ns = istioNamespace
  const [namespace, cacerts, istiods] = await allInOrder(lists
    ? [
        lists.find(client, 'Namespace', undefined, ns),
        lists.list(client, 'Secret', ns).then((all) => all.find((s) => s.metadata.name === CACERTS_SECRET)),
        lists.list(client, 'Deployment', ns).then((all) => all.filter(isIstiod)),
      ]
    : [
        client.getOptional<KubeObject>(resourcePath(RESOURCES.Namespace, undefined, ns)),
        client.getOptional<KubeObject>(resourcePath(RESOURCES.Secret, ns, CACERTS_SECRET)),
        listObjects(client, RESOURCES.Deployment, {namespace: ns, labelSelector: ISTIOD_APP_SELECTOR}),
      ])
  return {namespace: Boolean(namespace), cacerts: cacerts ?? undefined, istiods}
}
