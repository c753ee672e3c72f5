// explain's predictor (src/explain/predict.ts) against Istio's network-filter rules
// (pilot/pkg/xds/endpoints: EndpointsByNetworkFilter, filterIstioEndpoint), and the reasons a peer
// contributes nothing (src/explain/reasons.ts). Table tests on istiod-shaped data.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {discoveryOf, predictPort, weightScaleFactor, type PredictInput} from '../../src/explain/predict.ts'
import {peerReason, type ExplainTarget, type IstiodView, type PeerView} from '../../src/explain/reasons.ts'
import {parseEndpointShardz, parseNetworkz, type ShardEndpoint} from '../../src/cluster/istiod.ts'
import {renderJson, renderText} from '../../src/explain/render.ts'
import {destinationRuleTls} from '../../src/explain/service.ts'

const PORT = {name: 'http', port: 8000}
const ep = (cluster: string, address: string, network: string, o: Partial<ShardEndpoint> = {}): ShardEndpoint =>
  ({address, port: 8080, servicePortName: 'http', network, tlsMode: 'istio', healthStatus: 1, cluster, ...o})
const gw = (network: string, cluster: string, addr: string, port = 15443) => ({network, cluster, addr, port})
const input = (shards: Record<string, ShardEndpoint[]>, gateways = [gw('network2', 'cluster2', '127.0.0.12')], o: Partial<PredictInput> = {}): PredictInput =>
  ({ports: [PORT], proxy: {cluster: 'cluster1', network: 'network1'}, gateways, shards, ...o})
const seen = (i: PredictInput) => predictPort(i, PORT).endpoints.map((e) => `${e.cluster} ${e.address}:${e.port} ${e.via}${e.crossNetworkPod ? ' cross' : ''} w${e.weight}`)

describe('explain: the predictor follows Istio\'s network filter', () => {
  const local = ep('cluster1', '10.244.1.10', 'network1')
  const remote = ep('cluster2', '10.244.2.10', 'network2')
  const cases: Array<[string, PredictInput, string[]]> = [
    ['same network: pod address', input({'Kubernetes/cluster1': [local]}), ['cluster1 10.244.1.10:8080 pod w1']],
    ['other network with a gateway: replaced by the gateway', input({'Kubernetes/cluster1': [local], 'Kubernetes/cluster2': [remote]}),
      ['cluster1 10.244.1.10:8080 pod w1', 'cluster2 127.0.0.12:15443 gateway w1']],
    ['two endpoints behind one gateway: one gateway endpoint, weight = count', input({'Kubernetes/cluster2': [remote, {...remote, address: '10.244.2.11'}]}),
      ['cluster2 127.0.0.12:15443 gateway w2']],
    ['other network without a sidecar: dropped', input({'Kubernetes/cluster2': [{...remote, tlsMode: 'disabled'}]}), []],
    ['same network without a sidecar: still sent', input({'Kubernetes/cluster1': [{...local, tlsMode: 'disabled'}]}), ['cluster1 10.244.1.10:8080 pod w1']],
    ['no gateway known for that network (multi-network on): the pod IP is sent', input({'Kubernetes/cluster3': [ep('cluster3', '10.244.3.10', 'network3')]}),
      ['cluster3 10.244.3.10:8080 pod cross w1']],
    ['no gateway known at all (multi-network off): every endpoint as is, sidecar or not', input({'Kubernetes/cluster2': [{...remote, tlsMode: 'disabled'}]}, []),
      ['cluster2 10.244.2.10:8080 pod cross w1']],
    ['an empty network on either side counts as the same network', input({'Kubernetes/cluster2': [{...remote, network: ''}]}), ['cluster2 10.244.2.10:8080 pod w1']],
    ['unhealthy and draining endpoints are not sent', input({'Kubernetes/cluster1': [{...local, healthStatus: 2}, {...local, address: '10.244.1.11', healthStatus: 3}]}), []],
    ['terminating endpoints are not sent', input({'Kubernetes/cluster1': [{...local, healthStatus: 4}]}), []],
    ['a proxy without a network still goes through the gateway of an endpoint\'s network (forceGateway)', input({'Kubernetes/cluster2': [remote]}, undefined, {proxy: {cluster: 'cluster1'}}),
      ['cluster2 127.0.0.12:15443 gateway w1']],
    ['a gateway without an mTLS port (ambient only) is no gateway for a sidecar', input({'Kubernetes/cluster2': [remote]}, [gw('network2', 'cluster2', '127.0.0.12', 0), gw('network3', 'cluster3', '127.0.0.13')]),
      ['cluster2 10.244.2.10:8080 pod cross w1']],
    ['a DestinationRule with ISTIO_MUTUAL lets endpoints without a sidecar cross', input({'Kubernetes/cluster2': [{...remote, tlsMode: 'disabled'}]}, undefined, {drTlsMode: {8000: 'ISTIO_MUTUAL'}}),
      ['cluster2 127.0.0.12:15443 gateway w1']],
    ['a DestinationRule with DISABLE keeps sidecar endpoints from crossing', input({'Kubernetes/cluster2': [remote]}, undefined, {drTlsMode: {8000: 'DISABLE'}}), []],
    ['another port name is not this port', input({'Kubernetes/cluster1': [{...local, servicePortName: 'grpc'}]}), []],
    ['an import of a hostname gateway (resolution DNS, a STRICT_DNS cluster): the hostname stays, in the load assignment', input({'External/cluster1': [ep('cluster1', 'eastwest.cluster2.example', '', {port: 15443, tlsMode: ''})]}, [], {importedFrom: 'cluster2', discovery: 'STRICT_DNS'}),
      ['cluster2 eastwest.cluster2.example:15443 gateway w1']],
    ['the same endpoint over EDS (resolution STATIC) is not an IP: not sent', input({'External/cluster1': [ep('cluster1', 'eastwest.cluster2.example', '', {port: 15443, tlsMode: ''})]}, [], {importedFrom: 'cluster2'}), []],
    ['an import\'s External shard stands for the owner\'s gateway', input({'External/cluster1': [ep('cluster1', '127.0.0.12', 'network1', {port: 15443, tlsMode: ''})]}, [], {importedFrom: 'cluster2'}),
      ['cluster2 127.0.0.12:15443 gateway w1']],
  ]
  for (const [name, i, want] of cases) {
    test(name, () => assert.deepEqual(seen(i), want))
  }

  test('the Envoy cluster type of a ServiceEntry\'s resolution (cluster.go convertResolution)', () => {
    assert.deepEqual(['STATIC', undefined, 'DNS', 'DNS_ROUND_ROBIN'].map(discoveryOf), ['EDS', 'EDS', 'STRICT_DNS', 'LOGICAL_DNS'])
  })

  test('the endpoint\'s cluster picks its gateways on the network; else every gateway of the network (weights scaled, split)', () => {
    const i = input({'Kubernetes/cluster2': [remote], 'Kubernetes/cluster4': [ep('cluster4', '10.244.4.10', 'network2')]},
      [gw('network2', 'cluster2', '127.0.0.12'), gw('network2', '', '127.0.0.99', 443)])
    // scale factor: lcm(2 per network, 1 per network+cluster) = 2
    assert.equal(weightScaleFactor(i.gateways), 2)
    assert.deepEqual(seen(i), ['cluster2,cluster4 127.0.0.12:15443 gateway w3', 'cluster4 127.0.0.99:443 gateway w1'])
  })

  test('drop causes are recorded per endpoint', () => {
    const p = predictPort(input({'Kubernetes/cluster2': [{...remote, tlsMode: 'disabled'}], 'Kubernetes/cluster1': [{...local, healthStatus: 2}]}), PORT)
    assert.deepEqual(p.dropped.map((d) => `${d.cluster} ${d.cause}`), ['cluster1 unhealthy', 'cluster2 no-sidecar'])
    assert.deepEqual(p.held, {cluster1: 1, cluster2: 1})
  })
})

describe('explain: istiod\'s debug answers parsed', () => {
  test('networkz and endpointShardz as istiod marshals them', () => {
    assert.deepEqual(parseNetworkz([{Network: 'network2', Cluster: 'cluster2', Addr: '127.0.0.12', Port: 15443, HBONEPort: 15008}]), [gw('network2', 'cluster2', '127.0.0.12')])
    const z = parseEndpointShardz({'httpbin.bar.svc.cluster.local': {bar: {Shards: {'Kubernetes/cluster2': [
      {Addresses: ['10.244.2.10'], EndpointPort: 8080, ServicePortName: 'http', Network: 'network2', TLSMode: 'istio', HealthStatus: 1, Locality: {Label: '', ClusterID: 'cluster2'}},
    ]}, ServiceAccounts: {}}}})
    assert.deepEqual(z['httpbin.bar.svc.cluster.local'].bar['Kubernetes/cluster2'], [ep('cluster2', '10.244.2.10', 'network2')])
    assert.deepEqual(parseEndpointShardz(null), {})
  })
})

describe('explain: why a peer contributes nothing', () => {
  const t: ExplainTarget = {host: 'httpbin.bar.svc.cluster.local', name: 'httpbin', namespace: 'bar', context: 'cluster1', clusterId: 'cluster1', network: 'network1'}
  const view = (o: Partial<IstiodView> = {}): IstiodView => ({clusterz: [{id: 'cluster1', syncStatus: 'synced'}, {id: 'cluster2', syncStatus: 'synced'}], gateways: [gw('network2', 'cluster2', '127.0.0.12')], shardClusters: ['cluster1', 'cluster2'], ...o})
  const read = (o: Partial<NonNullable<PeerView['read']>> = {}) => ({hasService: true, network: 'network2', gateway: {ref: 'istio-system/istio-eastwestgateway', addresses: ['127.0.0.12'], port: 15443, network: 'network2'}, passedBy: 'istio-system/kubectl-mesh-cross-network', ...o})
  const peer = (o: Partial<PeerView> = {}): PeerView => ({id: 'cluster2', context: 'cluster2', linked: true, read: read(), ...o})
  const ports = (shards: Record<string, ShardEndpoint[]>, gateways = [gw('network2', 'cluster2', '127.0.0.12')]) => [predictPort(input(shards, gateways), PORT)]
  const healthy = {'Kubernetes/cluster2': [ep('cluster2', '10.244.2.10', 'network2')]}
  const cases: Array<[string, PeerView, IstiodView, ReturnType<typeof ports>, RegExp | undefined, RegExp?]> = [
    ['healthy: nothing to say', peer(), view(), ports(healthy), undefined],
    ['not linked', peer({linked: false}), view(), ports({}), /^not linked: cluster1 holds no remote secret for cluster cluster2/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/],
    ['not synced', peer(), view({clusterz: [{id: 'cluster2', syncStatus: 'timeout'}]}), ports({}), /^not synced: .*"timeout"/, /kubectl mesh verify/],
    ['istiod does not list it', peer(), view({clusterz: []}), ports({}), /^not synced: .*does not list cluster cluster2/],
    ['service absent there', peer({read: read({hasService: false})}), view(), ports({}), /^service bar\/httpbin absent/],
    ['no endpoints held', peer(), view({shardClusters: ['cluster1']}), ports({}), /^no endpoints: .*no ready pod/, /endpointslices/],
    ['no sidecar across networks', peer(), view(), ports({'Kubernetes/cluster2': [ep('cluster2', '10.244.2.10', 'network2', {tlsMode: 'disabled'})]}), /^endpoints without a sidecar cannot cross networks/, /istio-injection=enabled/],
    ['no gateway known for its network', peer({read: read({gateway: {ref: 'istio-system/istio-eastwestgateway', addresses: [], port: 15443, network: 'network2'}})}), view({gateways: [gw('network3', 'cluster3', '127.0.0.13')]}),
      ports(healthy, [gw('network3', 'cluster3', '127.0.0.13')]), /^no gateway known for its network network2: .*10\.244\.2\.10:8080/, /has no address/],
    ['not passed through the remote gateway', peer({read: read({passedBy: null})}), view(), ports(healthy), /^not passed through the remote gateway/, /kubectl mesh service export httpbin -n bar --context cluster2/],
    ['gateway without address (istiod still sends a meshNetworks gateway)', peer({read: read({gateway: {ref: 'istio-system/istio-eastwestgateway', addresses: [], port: 15443, network: 'network2'}})}), view(), ports(healthy), /^gateway without address: .*127\.0\.0\.12:15443/, /load-balancer address/],
    ['gateway moved', peer({read: read({gateway: {ref: 'istio-system/istio-eastwestgateway', addresses: ['127.0.0.99'], port: 15443, network: 'network2'}})}), view(), ports(healthy), /^gateway moved: .*127\.0\.0\.12:15443.*127\.0\.0\.99:15443/],
  ]
  for (const [name, p, v, pp, reason, hint] of cases) {
    test(name, () => {
      const d = peerReason(t, p, v, pp)
      if (!reason) return assert.equal(d, undefined)
      assert.ok(d, 'a reason')
      assert.equal(d.cluster, 'cluster2')
      assert.match(d.reason, reason)
      if (hint) assert.match(d.hint, hint)
    })
  }

  test('an import: not exported on the owner, or pointing at a moved gateway', () => {
    const ti = {...t, host: 'httpbin.bar.global', importedFrom: 'cluster2', ownerHost: 'httpbin.bar.svc.cluster.local'}
    const pp = [predictPort(input({'External/cluster1': [ep('cluster1', '127.0.0.12', 'network1', {port: 15443})]}, [], {importedFrom: 'cluster2'}), PORT)]
    assert.equal(peerReason(ti, peer(), view(), pp), undefined)
    assert.match(peerReason(ti, peer({read: read({passedBy: null})}), view(), pp)!.reason, /not passed through the remote gateway: .*not exported/)
    assert.match(peerReason(ti, peer({read: read({gateway: {ref: 'istio-system/istio-eastwestgateway', addresses: ['127.0.0.99'], port: 15443}})}), view(), pp)!.hint, /kubectl mesh service import httpbin -n bar --from-context cluster2 --context cluster1/)
  })
})

describe('explain: renderers', () => {
  test('-o json has exactly the DESIGN.md keys; text names each endpoint and reason', () => {
    const p = predictPort(input({'Kubernetes/cluster1': [ep('cluster1', '10.244.1.10', 'network1')], 'Kubernetes/cluster2': [ep('cluster2', '10.244.2.10', 'network2')]}), PORT)
    const r = {service: 'httpbin.bar.svc.cluster.local', from: {context: 'cluster1', namespace: 'foo'},
      endpoints: p.endpoints.map((e) => ({cluster: e.cluster, address: e.address, port: e.port, servicePort: e.servicePort, via: e.via})),
      dropped: [{cluster: 'cluster3', reason: 'not linked: x', hint: 'y'}],
      detail: {proxy: {cluster: 'cluster1', network: 'network1'}, ports: [p], istiod: 'pod istio-system/istiod-0', gateways: [gw('network2', 'cluster2', '127.0.0.12')]}}
    const j = JSON.parse(renderJson(r))
    assert.deepEqual(Object.keys(j), ['service', 'from', 'endpoints', 'dropped'])
    assert.deepEqual(j.endpoints[1], {cluster: 'cluster2', address: '127.0.0.12', port: 15443, servicePort: 8000, via: 'gateway'})
    const text = renderText(r)
    assert.match(text, /port 8000 \(http\): 2 endpoints/)
    assert.match(text, /127\.0\.0\.12:15443\s+via gateway/)
    assert.match(text, /✖ cluster3: not linked: x\n\s+Hint: y/)
  })
})

describe('explain: the DestinationRule that decides mTLS', () => {
  const dr = (ns: string, host: string, spec: Record<string, unknown>) => ({apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: {name: host.replace(/\W/g, '-'), namespace: ns}, spec: {host, ...spec}})
  const ports = [{name: 'http', port: 8000}, {name: 'grpc', port: 9000}]
  test('exact host (short names qualified) over wildcards; port-level over the rule\'s own', () => {
    const rules = [dr('istio-system', '*.local', {trafficPolicy: {tls: {mode: 'ISTIO_MUTUAL'}}}), dr('bar', 'httpbin', {trafficPolicy: {tls: {mode: 'DISABLE'}, portLevelSettings: [{port: {number: 9000}, tls: {mode: 'ISTIO_MUTUAL'}}]}})]
    assert.deepEqual(destinationRuleTls(rules, 'httpbin.bar.svc.cluster.local', 'cluster.local', ports), {8000: 'DISABLE', 9000: 'ISTIO_MUTUAL'})
    assert.deepEqual(destinationRuleTls(rules, 'sleep.foo.svc.cluster.local', 'cluster.local', ports), {8000: 'ISTIO_MUTUAL', 9000: 'ISTIO_MUTUAL'})
    assert.equal(destinationRuleTls(rules, 'httpbin.bar.global', 'cluster.local', ports), undefined)
  })
})
