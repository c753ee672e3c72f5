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

// ---------------------------------------------------------------- routes (read as Istio reads them)

/** What each protocol gets on the sidecar: HTTP, HTTP2, GRPC → an http route; none (detected) → both; any other → tcp. */
export function routeKindsOf(protocol: string | undefined): Array<'http' | 'tcp'> {
  const p = protocol?.toUpperCase()
  if (!p) return ['http', 'tcp']
  return ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'].includes(p) ? ['http'] : ['tcp']
}

const gatewaysOf = (vs: KubeObject): string[] => (vs.spec?.gateways?.length ? vs.spec.gateways : ['mesh'])

/** Does a Gateway reference (in a VirtualService of namespace ns) name this Gateway? */
export const namesGateway = (ref: string, ns: string, gw: KubeObject) => ref === gw.metadata.name ? ns === gw.metadata.namespace : ref === `${gw.metadata.namespace}/${gw.metadata.name}`

/** The first route of a VirtualService that a connection to port P from a gateway (`gateway(ref)`) takes, for one route kind. */
export function routeFor(vs: KubeObject, kind: 'http' | 'tcp', port: number, gateway: (ref: string) => boolean): any {
  for (const r of vs.spec?.[kind] ?? []) {
    const matches: any[] = r.match?.length ? r.match : [{}]
    if (matches.some((m) => (m.port === undefined || m.port === port) && (m.gateways?.length ? m.gateways : gatewaysOf(vs)).some(gateway))) return r
  }
  return undefined
}

export const destinations = (route: any): any[] => (route?.route ?? []).map((d: any) => d.destination ?? {})

/** The mesh-bound VirtualServices for a host, oldest first (for one host, sidecars take the oldest). */
export function meshRoutes(routes: KubeObject[], host: string): KubeObject[] {
  return routes.filter((vs) => (vs.spec?.hosts ?? []).includes(host) && gatewaysOf(vs).includes('mesh'))
    .sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')))
}

export interface SidecarHop {
  /** egress: the route sends the port to the egress gateway; elsewhere: to another destination; none: no route (straight to the ServiceEntry's endpoints). */
  to: 'egress' | 'elsewhere' | 'none'
  subset?: string
  port?: number
  vs?: KubeObject
  dest?: string
}

/** Where a sidecar's route sends port P of `host`, given the cluster's VirtualServices and the egress gateway. */
export function sidecarHop(routes: KubeObject[], host: string, gw: {namespace: string; name: string; host: string}, p: {number: number; protocol?: string}): SidecarHop {
  for (const vs of meshRoutes(routes, host)) {
    for (const kind of routeKindsOf(p.protocol)) {
      const r = routeFor(vs, kind, p.number, (g) => g === 'mesh')
      if (!r) continue
      const d = destinations(r)
      const toEgress = d.length > 0 && d.every((x) => [gw.host, `${gw.name}.${gw.namespace}`, `${gw.name}.${gw.namespace}.svc`].includes(x.host))
      return toEgress ? {to: 'egress', subset: d[0].subset, vs, port: d[0].port?.number} : {to: 'elsewhere', vs, dest: d.map((x) => x.host).join(', ')}
    }
  }
  return {to: 'none'}
}

/** The TLS a subset of the egress gateway's host sets on its port (port-level before the subset's own), from the rules sidecars find (its namespace, the root namespace). */
export function subsetTls(rules: KubeObject[], gw: {namespace: string; host: string}, rootNamespace: string, subset: string | undefined, port: number | undefined): {found: boolean; mode?: string; sni?: string} {
  const s = rules.filter((d) => d.spec?.host === gw.host && [gw.namespace, rootNamespace].includes(d.metadata.namespace ?? ''))
    .flatMap((d) => d.spec?.subsets ?? []).find((x: any) => x.name === subset)
  if (!s) return {found: false}
  const tls = s.trafficPolicy?.portLevelSettings?.find((x: any) => x.port?.number === port)?.tls ?? s.trafficPolicy?.tls
  return {found: true, mode: tls?.mode, sni: tls?.sni}
}
