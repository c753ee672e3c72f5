// A healthy two-cluster mesh as verify facts, built from the object shapes in DESIGN.md:
// cluster1 and cluster2 linked both ways (networks network1/network2), cluster2 exports
// bar/httpbin, cluster1 imports it. Tests break one thing and run the checks.
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump} from 'js-yaml'
import type {KubeObject} from '../../src/kube/resources.ts'
import type {ClusterFacts, SecretProbe, VerifyFacts} from '../../src/verify/types.ts'

export const FIX = join(import.meta.dirname, '..', 'fixtures', 'verify')
export const pem = (p: string) => readFileSync(join(FIX, p), 'utf8')
export const b64 = (s: string) => Buffer.from(s).toString('base64')
/** A fixed "now": 30 days after the test certificates were issued (they are valid 10 years). */
export const NOW = new Date(new X509Certificate(pem('root-a/cluster1/ca-cert.pem')).validFrom)
NOW.setUTCDate(NOW.getUTCDate() + 30)

export function cacertsData(root: 'root-a' | 'root-b', cluster: string): Record<string, string> {
  const d: Record<string, string> = {}
  for (const k of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) d[k] = b64(pem(`${root}/${cluster}/${k}`))
  return d
}

const obj = (apiVersion: string, kind: string, namespace: string | undefined, name: string, rest: Record<string, unknown> = {}, labels?: Record<string, string>, annotations?: Record<string, string>): KubeObject =>
  ({apiVersion, kind, metadata: {name, ...(namespace ? {namespace} : {}), ...(labels ? {labels} : {}), ...(annotations ? {annotations} : {})}, ...rest})

export const server = (n: number) => `https://127.0.0.1:${6440 + n}`
export const gwIp = (n: number) => `127.0.0.1${n}`

export function remoteSecret(peer: number, opts: {key?: string; user?: Record<string, unknown>; server?: string} = {}): KubeObject {
  const key = opts.key ?? `cluster${peer}`
  const kubeconfig = {
    apiVersion: 'v1', kind: 'Config', 'current-context': key,
    clusters: [{name: key, cluster: {server: opts.server ?? server(peer), 'certificate-authority-data': b64('ca')}}],
    contexts: [{name: key, context: {cluster: key, user: key}}],
    users: [{name: key, user: opts.user ?? {token: 'token'}}],
  }
  return obj('v1', 'Secret', 'istio-system', `istio-remote-secret-${key}`, {type: 'Opaque', data: {[key]: b64(dump(kubeconfig))}},
    // the fixture mesh shares only exported services across its two networks (cluster link --expose exported)
    {'istio/multiCluster': 'true', 'app.kubernetes.io/managed-by': 'kubectl-mesh'}, {'networking.istio.io/cluster': key, 'kubectl-mesh/expose': 'exported'})
}

/** The Gateway cluster link --expose all makes on a cross-network peer's east-west gateway (Istio's cross-network-gateway). */
export function crossNetworkGateway(hosts = ['*.cluster.local']): KubeObject {
  return obj('networking.istio.io/v1', 'Gateway', 'istio-system', 'kubectl-mesh-cross-network', {spec: {
    selector: {istio: 'eastwestgateway'},
    servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts}],
  }}, {'app.kubernetes.io/managed-by': 'kubectl-mesh'})
}

export function meshNetworks(entries: Record<string, {registry: string; gw: string; port?: number}>): string {
  const networks: Record<string, unknown> = {}
  for (const [net, e] of Object.entries(entries)) networks[net] = {endpoints: [{fromRegistry: e.registry}], gateways: [{address: e.gw, port: e.port ?? 15443}]}
  return dump({networks})
}

export function importedEntry(from: number, opts: {ports?: Array<{number: number; name: string; protocol: string}>; gw?: string} = {}): KubeObject[] {
  const ports = opts.ports ?? [{number: 8000, name: 'http', protocol: 'HTTP'}]
  const labels = {'kubectl-mesh/imported-from': `cluster${from}`, 'kubectl-mesh/service': 'httpbin', 'app.kubernetes.io/managed-by': 'kubectl-mesh'}
  const se = obj('networking.istio.io/v1', 'ServiceEntry', 'bar', `httpbin-cluster${from}`, {spec: {
    hosts: ['httpbin.bar.global'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports,
    endpoints: [{address: opts.gw ?? gwIp(from), ports: Object.fromEntries(ports.map((p) => [p.name, 15443]))}],
  }}, labels)
  const dr = obj('networking.istio.io/v1', 'DestinationRule', 'bar', `httpbin-cluster${from}`, {spec: {
    host: 'httpbin.bar.global',
    trafficPolicy: {tls: {mode: 'ISTIO_MUTUAL'}, portLevelSettings: ports.map((p) => ({port: {number: p.number}, tls: {mode: 'ISTIO_MUTUAL', sni: `outbound_.${p.number}_._.httpbin.bar.svc.cluster.local`}}))},
  }}, labels)
  return [se, dr]
}

export function exportsGateway(hosts: string[]): KubeObject {
  return obj('networking.istio.io/v1', 'Gateway', 'istio-system', 'kubectl-mesh-exports', {spec: {
    selector: {istio: 'eastwestgateway'},
    servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts}],
  }}, {'app.kubernetes.io/managed-by': 'kubectl-mesh'})
}

export function clusterFacts(n: number, peers: number[], opts: {exports?: boolean; importsFrom?: number[]} = {}): ClusterFacts {
  const name = `cluster${n}`
  const values = {global: {meshID: 'mesh1', multiCluster: {clusterName: name, enabled: true}, network: `network${n}`, tag: '1.31.1'}}
  const services: KubeObject[] = [
    obj('v1', 'Service', 'istio-system', 'istio-eastwestgateway', {
      spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{name: 'status-port', port: 15021}, {name: 'tls', port: 15443}]},
      status: {loadBalancer: {ingress: [{ip: gwIp(n)}]}},
    }, {istio: 'eastwestgateway', 'topology.istio.io/network': `network${n}`}),
    obj('v1', 'Service', 'bar', 'httpbin', {spec: {ports: [{name: 'http', port: 8000, targetPort: 8080, protocol: 'TCP'}]}}, opts.exports ? {app: 'httpbin', 'kubectl-mesh/exported': 'true'} : {app: 'httpbin'}),
    obj('v1', 'Service', 'foo', 'sleep', {spec: {ports: [{name: 'http', port: 80}]}}, {app: 'sleep'}),
  ]
  const nets: Record<string, {registry: string; gw: string}> = {}
  for (const p of peers) nets[`network${p}`] = {registry: `cluster${p}`, gw: gwIp(p)}
  const imports = (opts.importsFrom ?? []).flatMap((f) => importedEntry(f))
  return {
    name, context: name, source: 'context', server: server(n), istioNamespace: 'istio-system', failures: {},
    lists: {
      Namespace: [obj('v1', 'Namespace', undefined, 'istio-system', {}, {'topology.istio.io/network': `network${n}`}), obj('v1', 'Namespace', undefined, 'bar'), obj('v1', 'Namespace', undefined, 'foo')],
      Secret: [obj('v1', 'Secret', 'istio-system', 'cacerts', {type: 'Opaque', data: cacertsData('root-a', name)}), ...peers.map((p) => remoteSecret(p))],
      ConfigMap: [
        obj('v1', 'ConfigMap', 'istio-system', 'istio', {data: {mesh: dump({defaultConfig: {proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'true'}}, trustDomain: 'cluster.local'}), meshNetworks: meshNetworks(nets)}}),
        obj('v1', 'ConfigMap', 'istio-system', 'istio-sidecar-injector', {data: {values: JSON.stringify(values)}}),
      ],
      Service: services,
      Deployment: [obj('apps/v1', 'Deployment', 'istio-system', 'istiod', {spec: {template: {spec: {containers: [{name: 'discovery', image: 'docker.io/istio/pilot:1.31.1', env: [{name: 'CLUSTER_ID', value: name}]}]}}}})],
      ServiceAccount: [obj('v1', 'ServiceAccount', 'istio-system', 'istio-reader-service-account')],
      Gateway: opts.exports ? [exportsGateway(['httpbin.bar.svc.cluster.local'])] : [],
      ServiceEntry: imports.filter((o) => o.kind === 'ServiceEntry'),
      DestinationRule: imports.filter((o) => o.kind === 'DestinationRule'),
    },
    readerClusterRole: obj('rbac.authorization.k8s.io/v1', 'ClusterRole', undefined, 'istio-reader-clusterrole-istio-system'),
    readerClusterRoleBinding: obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', undefined, 'istio-reader-clusterrole-istio-system'),
  }
}

export function okProbe(cluster: number, peer: number): SecretProbe {
  return {cluster: `cluster${cluster}`, secret: `istio-remote-secret-cluster${peer}`, key: `cluster${peer}`, outcome: 'ok', detail: '', denied: []}
}

/** cluster1 ⇄ cluster2, cluster2 exports bar/httpbin, cluster1 imports it. */
export function healthyMesh(): VerifyFacts {
  return {
    clusters: [clusterFacts(1, [2], {importsFrom: [2]}), clusterFacts(2, [1], {exports: true})],
    probes: [okProbe(1, 2), okProbe(2, 1)],
    now: NOW,
  }
}

export const find = (facts: ClusterFacts, kind: keyof ClusterFacts['lists'], name: string, namespace?: string) =>
  facts.lists[kind]!.find((o) => o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace))!
