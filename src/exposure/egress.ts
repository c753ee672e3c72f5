// service import --via-egress (DESIGN.md "Through the egress gateway"): the objects that make every
// sidecar of EAST send an imported host to EAST's egress gateway over ISTIO_MUTUAL, and the egress
// gateway forward it to WEST's east-west gateway with the owner's SNI. Pure: facts in, objects out.
//
// Per port P of the import (host H, egress gateway Service G on its TLS port E):
//   - VirtualService NAME-<ID> (NS, gateways [mesh]): port P → G:E, subset for P (http route for
//     HTTP ports, tcp route for TCP ports, both for ports without a protocol);
//   - DestinationRule NAME-<ID>.NS (G's namespace, where every sidecar finds a rule for G: Istio
//     looks in the client's namespace, the service's, then the root namespace): per P a subset whose
//     tls is ISTIO_MUTUAL with sni P.H — the egress gateway tells the ports apart by that SNI;
//   - Gateway NAME-<ID>-P (NS, G's selector): one server on E, TLS, ISTIO_MUTUAL, hosts [P.H]: the
//     egress gateway terminates the sidecar's mTLS (it sees the caller's identity here);
//   - VirtualService NAME-<ID>-P (NS, gateways [NAME-<ID>-P]): tcp route → H:P, whose cluster the
//     import's own DestinationRule gives ISTIO_MUTUAL and the owner's SNI outbound_.P_._.<owner FQDN>,
//     with the ServiceEntry's endpoints at WEST's east-west gateway on 15443.
// One Gateway per port because a terminated TLS server picks its tcp route by the VirtualService's
// hosts and the route's gateway+port match (pilot/pkg/networking/core/gateway.go
// buildGatewayNetworkFiltersFromTCPRoutes): servers of one Gateway on E could not be told apart.
import {
  EGRESS_GATEWAY_ANNOTATION, IMPORT_VIA_EGRESS, IMPORT_VIA_LABEL, IMPORTED_FROM_LABEL, IMPORTED_NAMESPACE_LABEL, IMPORTED_SERVICE_LABEL, stamp,
} from '../istio/names.ts'
import type {KubeObject} from '../kube/resources.ts'
import {crossablePorts, type ImportContext, importLabels, importName, type ImportTarget, istioProtocol, type RemotePort} from './plan.ts'
import {createHash} from 'node:crypto'
import {routeKindsOf} from '../istio/egress.ts'

/** The egress gateway an import goes through, as the planner needs it. */
export interface EgressTarget {
  /** The Service. */
  namespace: string
  name: string
  /** Its host in EAST (NAME.NS.svc.<EAST's domain>). */
  host: string
  /** Its pod selector (the Gateways' selector). */
  selector: Record<string, string>
  /** The Service port sidecars reach it on (its TLS port). */
  port: number
}

/** What each protocol gets: HTTP routing at the sidecar (http route) and/or TCP (tcp route). */
export function routeKinds(p: RemotePort): Array<'http' | 'tcp'> {
  return routeKindsOf(istioProtocol(p))
}

/** The SNI (and Gateway host) of port P of host H between the sidecars and the egress gateway. */
export const egressSni = (port: number, host: string) => `${port}.${host}`

/** Names of the per-port objects (Gateway and its VirtualService) of an import. */
export const egressPortName = (name: string, fromId: string, port: number) => `${importName(name, fromId)}-${port}`

/** The egress gateway's DestinationRule of an import (in the egress gateway's namespace): NAME-<ID>.NS (names and namespaces have no dots, so it is unambiguous). */
export const egressRuleName = (name: string, fromId: string, namespace: string) => `${importName(name, fromId)}.${namespace}`

/** A subset name (a DNS-1123 label, unique among every import's subsets of the egress gateway): NAME-NS-ID-P, hashed when longer than 63. */
export function egressSubset(name: string, namespace: string, fromId: string, port: number): string {
  const full = `${name}-${namespace}-${fromId}-${port}`
  if (full.length <= 63) return full
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10)
  return `${full.slice(0, 63 - 12 - String(port).length).replace(/-+$/, '')}-${hash}-${port}`
}

export function egressLabels(t: ImportTarget, fromId: string): Record<string, string> {
  return {...importLabels(t.service.name, fromId), [IMPORT_VIA_LABEL]: IMPORT_VIA_EGRESS}
}

/** Labels and annotation an egress import adds to its ServiceEntry. */
export function egressServiceEntryMeta(egress: EgressTarget): {labels: Record<string, string>; annotations: Record<string, string>} {
  return {labels: {[IMPORT_VIA_LABEL]: IMPORT_VIA_EGRESS}, annotations: {[EGRESS_GATEWAY_ANNOTATION]: `${egress.namespace}/${egress.name}`}}
}

/** Every object of the egress path of one import, in write order: the egress gateway's rule, the per-port Gateways and routes, then the sidecars' route. */
export function importEgressObjects(t: ImportTarget, ctx: ImportContext, egress: EgressTarget): KubeObject[] {
  const ports = crossablePorts(t.service.ports)
  const {name, namespace} = t.service
  const labels = egressLabels(t, ctx.fromId)
  const meta = (objName: string, ns: string, extra: Record<string, string> = {}) => ({name: objName, namespace: ns, ...stamp(ctx.version, {...labels, ...extra})})
  const rule: KubeObject = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: meta(egressRuleName(name, ctx.fromId, namespace), egress.namespace, {[IMPORTED_NAMESPACE_LABEL]: namespace}),
    spec: {
      host: egress.host,
      subsets: ports.map((p) => ({
        name: egressSubset(name, namespace, ctx.fromId, p.number),
        trafficPolicy: {tls: {mode: 'ISTIO_MUTUAL', sni: egressSni(p.number, t.host)}},
      })),
    },
  }
  const perPort = ports.flatMap((p): KubeObject[] => {
    const gwName = egressPortName(name, ctx.fromId, p.number)
    return [{
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: meta(gwName, namespace),
      spec: {
        selector: {...egress.selector},
        servers: [{port: {number: egress.port, name: `tls-${p.number}`, protocol: 'TLS'}, hosts: [egressSni(p.number, t.host)], tls: {mode: 'ISTIO_MUTUAL'}}],
      },
    }, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: meta(gwName, namespace),
      spec: {
        hosts: [egressSni(p.number, t.host)],
        gateways: [gwName],
        tcp: [{match: [{gateways: [gwName], port: egress.port}], route: [{destination: {host: t.host, port: {number: p.number}}}]}],
      },
    }]
  })
  const toEgress = (p: RemotePort) => ({
    match: [{gateways: ['mesh'], port: p.number}],
    route: [{destination: {host: egress.host, subset: egressSubset(name, namespace, ctx.fromId, p.number), port: {number: egress.port}}}],
  })
  const http = ports.filter((p) => routeKinds(p).includes('http')).map(toEgress)
  const tcp = ports.filter((p) => routeKinds(p).includes('tcp')).map(toEgress)
  const mesh: KubeObject = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta(importName(name, ctx.fromId), namespace),
    spec: {hosts: [t.host], gateways: ['mesh'], ...(http.length > 0 ? {http} : {}), ...(tcp.length > 0 ? {tcp} : {})},
  }
  return [rule, ...perPort, mesh]
}

/** The labels of an import's egress objects (one service, or every service from fromId; null: the label present, any value). */
export function egressSelection(fromId: string | undefined, name?: string): Record<string, string | null> {
  return {[IMPORT_VIA_LABEL]: IMPORT_VIA_EGRESS, [IMPORTED_FROM_LABEL]: fromId || null, ...(name ? {[IMPORTED_SERVICE_LABEL]: name} : {})}
}

/** True when the live object belongs to the import of NAME in NS from fromId (the egress rule lives in another namespace: its namespace label says). */
export function belongsTo(obj: KubeObject, name: string, namespace: string, fromId: string): boolean {
  const l = obj.metadata.labels ?? {}
  if (l[IMPORTED_FROM_LABEL] !== fromId || l[IMPORTED_SERVICE_LABEL] !== name || l[IMPORT_VIA_LABEL] !== IMPORT_VIA_EGRESS) return false
  return (l[IMPORTED_NAMESPACE_LABEL] ?? obj.metadata.namespace) === namespace
}

/** The identity line: whom the owner's workloads see, and the AuthorizationPolicy principal that admits it. */
export function identityLine(o: {westContext: string; eastContext: string; principal: string}): string {
  return `identity: the owner's workloads in "${o.westContext}" see "${o.eastContext}"'s egress gateway, ${o.principal}, not the calling workload; admit it there with an AuthorizationPolicy rule from.source.principals: ["${o.principal}"]`
}
