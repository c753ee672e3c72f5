// Readers the exposure commands need beyond the read model (src/istio/read.ts): the Service itself
// and whether the MCS API is served.
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, resourcePath} from '../kube/resources.ts'

export async function readService(client: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return client.getOptional<KubeObject>(resourcePath(RESOURCES.Service, namespace, name))
}

/** True when the API server serves `serviceexports` in multicluster.x-k8s.io/v1alpha1. */
export async function mcsServed(client: KubeClient): Promise<boolean> {
  const {apiVersion, plural} = RESOURCES.ServiceExport
  const list = await client.getOptional<{resources?: Array<{name: string}>}>(`/apis/${apiVersion}`)
  return Boolean(list?.resources?.some((r) => r.name === plural))
}
