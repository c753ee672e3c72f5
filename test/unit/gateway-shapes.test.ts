// The east-west gateway reader against istiod's rules (src/istio/gateway.ts): one row per shape,
// each row what istiod would hold for that object (Istio 1.31 source cited in the reader).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {describeKubeGateway, describeService, eastWestGateway, gatewayHostnames, istiodTargets, needsKubeGateways, needsNodes, registryServiceGateways, remoteGatewayDeclarations} from '../../src/istio/gateway.ts'
import {addNetworkEntry} from '../../src/link/plan.ts'
import type {KubeObject} from '../../src/kube/resources.ts'
import {type IstioInstall, peerGateway} from '../../src/istio/read.ts'
import {revisionNames} from '../../src/istio/revision.ts'
import {UsageError} from '../../src/errors.ts'

const NET = {'topology.istio.io/network': 'network2'}
const svc = (spec: Record<string, unknown>, status: unknown = {}, labels: Record<string, string> = NET, annotations?: Record<string, string>): KubeObject =>
  ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: 'istio-system', labels: {istio: 'eastwestgateway', ...labels}, annotations}, spec: {selector: {istio: 'eastwestgateway'}, ...spec}, status})
const TLS = [{name: 'tls', port: 15443, nodePort: 31443}, {name: 'status-port', port: 15021, nodePort: 31021}]
const node = (name: string, labels: Record<string, string>, addresses: Array<[string, string]>): KubeObject =>
  ({apiVersion: 'v1', kind: 'Node', metadata: {name, labels}, status: {addresses: addresses.map(([type, address]) => ({type, address}))}})
const NODES = [
  node('a', {'example.test/eastwest': 'true'}, [['InternalIP', '10.0.0.1'], ['ExternalIP', '127.0.0.31'], ['ExternalIP', '127.0.0.99']]),
  node('b', {'example.test/eastwest': 'true'}, [['ExternalIP', '127.0.0.32']]),
  node('c', {}, [['ExternalIP', '127.0.0.33']]),
  node('d', {'example.test/eastwest': 'true'}, [['InternalIP', '10.0.0.4']]),
]
const SEL = {'traffic.istio.io/nodeSelector': '{"example.test/eastwest":"true"}'}

describe('east-west gateway shapes, as istiod reads them', () => {
  // [what, Service, nodes, shape, targets (address:port), skipped?]
  const rows: Array<[string, KubeObject, KubeObject[], string, string[], boolean?]> = [
    ['LoadBalancer IP', svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}), [], 'lb-ip', ['127.0.0.12:15443']],
    ['LoadBalancer hostname (kept as a name: istiod resolves it)', svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{hostname: 'gw.example.test'}]}}), [], 'lb-hostname', ['gw.example.test:15443']],
    ['LoadBalancer IP and hostname, in the load balancer\'s order, plus externalIPs', svc({type: 'LoadBalancer', ports: TLS, externalIPs: ['127.0.0.40']}, {loadBalancer: {ingress: [{hostname: 'gw.example.test'}, {ip: '127.0.0.12'}]}}), [], 'lb-hostname', ['gw.example.test:15443', '127.0.0.12:15443', '127.0.0.40:15443']],
    ['NodePort + nodeSelector: first ExternalIP of each matching node × nodePort (no InternalIP)', svc({type: 'NodePort', ports: TLS}, {}, NET, SEL), NODES, 'nodeport', ['127.0.0.31:31443', '127.0.0.32:31443']],
    ['NodePort + an invalid nodeSelector: every node with an ExternalIP', svc({type: 'NodePort', ports: TLS}, {}, NET, {'traffic.istio.io/nodeSelector': 'not json'}), NODES, 'nodeport', ['127.0.0.31:31443', '127.0.0.32:31443', '127.0.0.33:31443']],
    ['NodePort without the annotation: no address (externalIPs only)', svc({type: 'NodePort', ports: TLS}), NODES, 'none', []],
    ['externalIPs on a ClusterIP Service', svc({type: 'ClusterIP', ports: TLS, externalIPs: ['127.0.0.41']}), [], 'external-ip', ['127.0.0.41:15443']],
    ['LoadBalancer still pending, with externalIPs', svc({type: 'LoadBalancer', ports: TLS, externalIPs: ['127.0.0.41']}), [], 'external-ip', ['127.0.0.41:15443']],
    ['gatewayPort label on another port', svc({type: 'LoadBalancer', ports: [{port: 16443}]}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}, {...NET, 'networking.istio.io/gatewayPort': '16443'}), [], 'lb-ip', ['127.0.0.12:16443']],
    ['gatewayPort label that does not parse: 15443', svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}, {...NET, 'networking.istio.io/gatewayPort': 'tls'}), [], 'lb-ip', ['127.0.0.12:15443']],
    ['HBONE 15008 only (ambient)', svc({type: 'LoadBalancer', ports: [{port: 15008}]}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}), [], 'lb-ip', ['127.0.0.12:15008']],
    ['labelled but listening on neither port: skipped', svc({type: 'LoadBalancer', ports: [{port: 443}]}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}), [], 'lb-ip', [], true],
  ]
  for (const [what, s, nodes, shape, targets, skipped] of rows) {
    test(what, () => {
      const g = eastWestGateway([s], 'network2', {nodes})!
      assert.equal(g.shape, shape)
      assert.deepEqual(g.targets.map((t) => `${t.address}:${t.port}`), targets)
      assert.equal(Boolean(g.skipped), Boolean(skipped))
      if (skipped) assert.match(g.skipped!, /does not listen neither on port 15443 nor on port 15008/)
      assert.equal(g.discovered, !skipped)
    })
  }

  test('a Service with only istio=eastwestgateway is a candidate (export uses its selector) but not discovered by istiod', () => {
    const g = describeService(svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}, {}))
    assert.equal(g.discovered, false)
    assert.equal(g.network, undefined)
  })

  test('Nodes and Gateway API Gateways are read only when needed', () => {
    assert.equal(needsNodes([svc({type: 'LoadBalancer', ports: TLS})]), false)
    assert.equal(needsNodes([svc({type: 'NodePort', ports: TLS}, {}, NET, SEL)]), true)
    assert.equal(needsKubeGateways([svc({type: 'LoadBalancer', ports: TLS})], 'network2'), false)
    assert.equal(needsKubeGateways([], 'network2'), true)
    assert.equal(needsKubeGateways([], undefined), false, 'one network: no gateway needed, none looked for')
  })

  const kgw = (spec: Record<string, unknown>, labels: Record<string, string> = NET): KubeObject =>
    ({apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: {name: 'eastwest', namespace: 'istio-system', labels}, spec})
  const listeners = [{name: 'mesh', port: 15443, protocol: 'TLS', tls: {mode: 'Passthrough', options: {'gateway.istio.io/listener-protocol': 'auto-passthrough'}}}, {name: 'http', port: 80, protocol: 'HTTP'}]
  test('Gateway API: spec.addresses of type IPAddress/Hostname × auto-passthrough and HBONE listeners (handleGatewayResource)', () => {
    const g = describeKubeGateway(kgw({gatewayClassName: 'istio', addresses: [{type: 'IPAddress', value: '127.0.0.13'}, {value: '127.0.0.14'}, {type: 'NamedAddress', value: 'x'}], listeners: [...listeners, {name: 'hbone', port: 15008, protocol: 'HBONE'}]}), false)!
    assert.equal(g.shape, 'gateway-api')
    assert.deepEqual(g.targets.map((t) => `${t.address}:${t.port}`), ['127.0.0.13:15443', '127.0.0.13:15008'])
    assert.equal(describeKubeGateway(kgw({listeners}, {}), true), undefined, 'no network label: not a network gateway')
    const plain = describeKubeGateway(kgw({addresses: [{type: 'Hostname', value: 'gw.example.test'}], listeners: [{name: 'tls', port: 15443, protocol: 'TLS', tls: {mode: 'Passthrough'}}]}), true)!
    assert.deepEqual(plain.targets, [{address: 'gw.example.test', port: 15443, hostname: true}], 'a TLS listener on 15443 of a network-labelled Gateway is auto-passthrough')
  })
  test('istio-remote: only from the config cluster; not a candidate for the cluster\'s own gateway', () => {
    const remote = kgw({gatewayClassName: 'istio-remote', addresses: [{type: 'IPAddress', value: '127.0.0.12'}], listeners})
    assert.equal(describeKubeGateway(remote, false), undefined)
    assert.equal(remoteGatewayDeclarations([remote])[0].shape, 'istio-remote')
    assert.equal(eastWestGateway([], 'network1', {kubeGateways: [remote]}), undefined)
  })

  test('Gateway API: the Service istiod makes for a network-labelled Gateway (its labels, its ownerReference) is a gateway-api gateway at its load balancer', () => {
    const made: KubeObject = {apiVersion: 'v1', kind: 'Service',
      metadata: {name: 'eastwestgateway-istio', namespace: 'istio-system', labels: {...NET, 'gateway.networking.k8s.io/gateway-name': 'eastwestgateway', 'gateway.networking.k8s.io/gateway-class-name': 'istio'},
        ownerReferences: [{apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'eastwestgateway', uid: 'u'}]} as any,
      spec: {type: 'LoadBalancer', selector: {'gateway.networking.k8s.io/gateway-name': 'eastwestgateway'}, ports: [{name: 'status-port', port: 15021}, {name: 'cross-network', port: 15443}]},
      status: {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}}
    const g = eastWestGateway([made], 'network2')!
    assert.equal(g.shape, 'gateway-api')
    assert.equal(g.kubeGateway, 'istio-system/eastwestgateway')
    assert.equal(g.discovered, true)
    assert.deepEqual(g.targets.map((t) => `${t.address}:${t.port}`), ['127.0.0.12:15443'])
    assert.deepEqual(g.selector, {'gateway.networking.k8s.io/gateway-name': 'eastwestgateway'})
    const pending = eastWestGateway([{...made, status: {}}], 'network2')!
    assert.equal(pending.shape, 'none', 'no load-balancer address yet: no address istiod could use')
  })

  test('meshNetworks registryServiceName: the fromRegistry registry\'s Service by hostname, its addresses × the entry\'s port (nodePort mapped); a labelled Service wins', () => {
    const doc = {networks: {
      network2: {endpoints: [{fromRegistry: 'cluster2'}], gateways: [{registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443}, {address: '192.0.2.9', port: 15443}]},
      network3: {endpoints: [{fromRegistry: 'cluster3'}], gateways: [{registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443}]},
    }}
    const unlabelled = svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}, {})
    const [r] = registryServiceGateways(doc, 'cluster2', [unlabelled], 'cluster.local')
    assert.equal(r.network, 'network2')
    assert.equal(r.unused, undefined)
    assert.equal(r.gateway!.network, 'network2')
    assert.deepEqual(r.gateway!.targets.map((t) => `${t.address}:${t.port}`), ['127.0.0.12:15443'])
    assert.deepEqual(registryServiceGateways(doc, 'cluster1', [unlabelled], 'cluster.local'), [], 'another registry: not its entry')
    assert.match(registryServiceGateways(doc, 'cluster2', [unlabelled], 'example.org')[0].unused!, /no Service istio-eastwestgateway\.istio-system\.svc\.cluster\.local in registry cluster2/, 'the hostname is in istiod\'s domain')
    assert.match(registryServiceGateways(doc, 'cluster2', [svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}})], 'cluster.local')[0].unused!, /labelled topology\.istio\.io\/network=network2: istiod takes it as a label gateway/)
    const np = registryServiceGateways(doc, 'cluster2', [svc({type: 'NodePort', ports: TLS}, {}, {}, SEL)], 'cluster.local', NODES)[0]
    assert.deepEqual(np.gateway!.targets.map((t) => `${t.address}:${t.port}`), ['127.0.0.31:31443', '127.0.0.32:31443'])
    assert.match(registryServiceGateways(doc, 'cluster2', [svc({type: 'LoadBalancer', ports: TLS}, {}, {})], 'cluster.local')[0].unused!, /has no external address/)
  })

  test('istiod\'s targets: hostnames replaced by their DNS answers (A and AAAA), none when it does not resolve', () => {
    const g = eastWestGateway([svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{hostname: 'gw.example.test'}, {ip: '127.0.0.12'}]}})], 'network2')!
    assert.deepEqual(gatewayHostnames([g, undefined]), ['gw.example.test'])
    assert.deepEqual(istiodTargets(g, {'gw.example.test': ['127.0.0.20', '::1']}), [{address: '127.0.0.20', port: 15443, via: 'gw.example.test'}, {address: '::1', port: 15443, via: 'gw.example.test'}, {address: '127.0.0.12', port: 15443}])
    assert.deepEqual(istiodTargets(g, {}), [{address: '127.0.0.12', port: 15443}])
  })
})

describe('meshNetworks gets every address istiod uses', () => {
  test('a NodePort gateway: one gateway per node ExternalIP with the nodePort; a node that left is dropped; the same again is unchanged', () => {
    const two = addNetworkEntry(undefined, 'network2', 'cluster2', [{address: '127.0.0.31', port: 31443}, {address: '127.0.0.32', port: 31443}])
    assert.deepEqual(two.networks!.network2!.gateways, [{address: '127.0.0.31', port: 31443}, {address: '127.0.0.32', port: 31443}])
    assert.deepEqual(addNetworkEntry(structuredClone(two), 'network2', 'cluster2', [{address: '127.0.0.31', port: 31443}, {address: '127.0.0.32', port: 31443}]), two)
    const one = addNetworkEntry(structuredClone(two), 'network2', 'cluster2', [{address: '127.0.0.32', port: 31443}])
    assert.deepEqual(one.networks!.network2!.gateways, [{address: '127.0.0.32', port: 31443}])
  })
  test('a hostname is written as the hostname (istiod resolves it)', () => {
    assert.deepEqual(addNetworkEntry(undefined, 'network2', 'cluster2', {address: 'gw.example.test', port: 15443}).networks!.network2!.gateways, [{address: 'gw.example.test', port: 15443}])
  })
})

describe('peerGateway: import\'s gateway of the peer as the discovering istiod knows it (issue 27)', () => {
  const unlabelled = svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.12'}]}}, {})
  const bare = {...unlabelled, metadata: {...unlabelled.metadata, labels: {}}}
  const install = (services: KubeObject[], meshNetworks?: string): IstioInstall => ({
    context: 'c', istioNamespace: 'istio-system', names: revisionNames('default', 'istio-system'), services,
    facts: {clusterDomain: 'cluster.local', network: 'network2'} as IstioInstall['facts'], gateway: eastWestGateway(services, 'network2'),
    meshConfigMap: meshNetworks === undefined ? undefined : {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: 'istio-system'}, data: {meshNetworks}},
  })
  const entry = 'networks:\n  network2:\n    endpoints: [{fromRegistry: cluster2}]\n    gateways: [{registryServiceName: istio-eastwestgateway.istio-system.svc.cluster.local, port: 15443}]\n'

  test('named by the discoverer\'s meshNetworks: the Service at the entry\'s port', () => {
    const g = peerGateway(install([bare]), install([], entry), 'cluster2')
    assert.deepEqual(g.targets.map((t) => `${t.address}:${t.port}`), ['127.0.0.12:15443'])
    assert.equal(g.registryServiceName, 'istio-eastwestgateway.istio-system.svc.cluster.local')
  })

  test('not named (no entry, another registry): requireGateway\'s refusal, naming the unlabelled 15443 Service and the label that marks it', () => {
    for (const d of [install([]), install([], entry.replace('cluster2', 'cluster9'))]) {
      assert.throws(() => peerGateway(install([bare]), d, 'cluster2'), (e: Error) => e instanceof UsageError && /Service istio-eastwestgateway listens on 15443 but carries neither label/.test(e.message)
        && /label service istio-eastwestgateway istio=eastwestgateway/.test((e as UsageError).hint ?? ''))
    }
  })

  test('a label-discovered gateway wins', () => {
    const labelled = svc({type: 'LoadBalancer', ports: TLS}, {loadBalancer: {ingress: [{ip: '127.0.0.50'}]}})
    assert.deepEqual(peerGateway(install([labelled]), install([], entry), 'cluster2').targets.map((t) => t.address), ['127.0.0.50'])
  })
})
