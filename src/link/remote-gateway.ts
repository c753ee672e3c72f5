// `cluster link --network-config gateway` where EAST's istiod cannot discover WEST's east-west
// gateway by its label (the Service is not labelled with WEST's network, is not one istiod
// discovers, or the address is one only --gateway knows): a Gateway API Gateway of class
// `istio-remote` in EAST's Istio namespace declares WEST's network's gateway by address
// (DESIGN.md "East-west gateways"). istiod reads it in
// pilot/pkg/serviceregistry/kube/controller/network.go `handleGatewayResource`: only from its
// config cluster (`discoverRemoteGatewayResources` = options.ConfigCluster, so EAST's own Gateway),
// only with the label topology.istio.io/network; one NetworkGateway per spec.addresses entry of
// type IPAddress or Hostname × each auto-passthrough listener (kube/conversion.go
// `IsAutoPassthrough`: the TLS option gateway.istio.io/listener-protocol: auto-passthrough, or the
// port 15443) and each HBONE listener. Nothing is deployed for it (classinfo.go: istio-remote is
// unmanaged). Shape as Istio's pilot/pkg/config/kube/gateway/testdata/eastwest-remote.yaml.
import {isIP} from 'node:net'
import type {Edit} from '../kube/apply.ts'
import type {KubeObject} from '../kube/resources.ts'
import {NETWORK_LABEL, REMOTE_GATEWAY_CLASS, stamp} from '../istio/names.ts'
import {HBONE_PORT} from '../istio/ambient.ts'
import {isManaged} from './plan.ts'

/** The name of the istio-remote Gateway link writes for WEST's cluster ID. */
export const remoteGatewayName = (id: string) => `kubectl-mesh-remote-${id}`

export function remoteGatewayRef(namespace: string, id: string): {apiVersion: string; kind: string; metadata: {name: string; namespace: string}} {
  return {apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: {name: remoteGatewayName(id), namespace}}
}

/** The istio-remote Gateway naming `network`'s gateway at these addresses × ports (15008: HBONE; others: TLS auto-passthrough). */
export function remoteGateway(o: {namespace: string; id: string; network: string; gateways: Array<{address: string; port: number}>; version: string}): KubeObject {
  const s = stamp(o.version, {[NETWORK_LABEL]: o.network})
  const addresses = [...new Set(o.gateways.map((g) => g.address))].map((value) => ({type: isIP(value) ? 'IPAddress' : 'Hostname', value}))
  const ports = [...new Set(o.gateways.map((g) => g.port))].sort((a, b) => a - b)
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
    metadata: {name: remoteGatewayName(o.id), namespace: o.namespace, labels: s.labels, annotations: s.annotations},
    spec: {
      gatewayClassName: REMOTE_GATEWAY_CLASS,
      addresses,
      listeners: ports.map((port) => (port === HBONE_PORT
        ? {name: `hbone-${port}`, port, protocol: 'HBONE'}
        : {name: `cross-network-${port}`, port, protocol: 'TLS', tls: {mode: 'Passthrough', options: {'gateway.istio.io/listener-protocol': 'auto-passthrough'}}})),
    },
  }
}

/** The edit that writes it (ours only: a Gateway of that name someone else made is left alone). */
export function remoteGatewayEdit(o: Parameters<typeof remoteGateway>[0]): Edit {
  return (live) => (live && !isManaged(live) ? undefined : remoteGateway(o))
}

/** The edit that deletes ours (unlink, or a link whose wiring no longer needs it). */
export const dropRemoteGateway: Edit = (live) => (live && isManaged(live) ? null : undefined)
