// The read model of a cluster's egress gateway (pure): which Service is it (Istio's own component
// is labelled istio=egressgateway), the port imports use on it, its host, and the SPIFFE identity
// its Pods present. `service import --via-egress`, verify and explain all use these.
import type {KubeObject} from '../kube/resources.ts'
import {DEFAULT_TRUST_DOMAIN, EASTWEST_GATEWAY_LABEL, EGRESS_GATEWAY_LABEL_VALUE} from './names.ts'
import {serviceFqdn} from './gateway.ts'

export interface EgressGateway {
  service: KubeObject
  /** namespace/name of the Service. */
  ref: string
  namespace: string
  name: string
  /** The pod labels the Service selects (what the egress Gateway's selector must match). */
  selector: Record<string, string>
  /** The Service port sidecars send imported hosts to (mTLS): the one named https or tls, else 443. */
  port?: number
}

/** True for a Service labelled istio=egressgateway. */
export const isEgressGateway = (svc: KubeObject) => svc.metadata.labels?.[EASTWEST_GATEWAY_LABEL] === EGRESS_GATEWAY_LABEL_VALUE

/** The TLS port of an egress gateway Service: named https/tls (or https-…/tls-…), else number 443. */
export function egressPort(svc: KubeObject): number | undefined {
  const ports: any[] = (svc.spec?.ports ?? []).filter((p: any) => (p.protocol ?? 'TCP') === 'TCP')
  const named = ports.find((p) => /^(https|tls)(-|$)/.test(String(p.name ?? '')))
  return (named ?? ports.find((p) => p.port === 443))?.port
}

export function describeEgress(svc: KubeObject): EgressGateway {
  return {
    service: svc, ref: `${svc.metadata.namespace}/${svc.metadata.name}`, namespace: svc.metadata.namespace ?? '', name: svc.metadata.name,
    selector: {...svc.spec?.selector}, port: egressPort(svc),
  }
}

/** The egress gateway candidates among Services (labelled istio=egressgateway): in the Istio namespace first, then by namespace/name. */
export function egressGateways(services: KubeObject[], istioNamespace: string): EgressGateway[] {
  return services.filter(isEgressGateway).map(describeEgress)
    .sort((a, b) => Number(b.namespace === istioNamespace) - Number(a.namespace === istioNamespace) || a.ref.localeCompare(b.ref))
}

/** The egress gateway's host (what sidecars route to). */
export const egressHost = (gw: {name: string; namespace: string}, clusterDomain: string) => serviceFqdn(gw.name, gw.namespace, clusterDomain)

/** True when the Pod is Running with its Ready condition true (what puts it in the Service's ready endpoints). */
export function podReady(pod: KubeObject): boolean {
  return pod.status?.phase === 'Running' && (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
}

/** True when every key of the selector is a label of the object with that value. */
export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const keys = Object.keys(selector)
  return keys.length > 0 && keys.every((k) => labels?.[k] === selector[k])
}

/** The mesh's trust domain (meshConfig.trustDomain, else cluster.local). */
export const trustDomainOf = (mesh: any) => (typeof mesh?.trustDomain === 'string' && mesh.trustDomain) || DEFAULT_TRUST_DOMAIN

/** The SPIFFE principal of a service account, as AuthorizationPolicy `source.principals` writes it (no spiffe:// prefix). */
export const principal = (trustDomain: string, namespace: string, serviceAccount: string) => `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`
