import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {belongsTo, egressSni, egressSubset, importEgressObjects, routeKinds, type EgressTarget} from '../../src/exposure/egress.ts'
import {importServiceEntry, type ImportTarget} from '../../src/exposure/plan.ts'
import {egressGateways, egressPort, principal, trustDomainOf} from '../../src/istio/egress.ts'
import {optionalValue} from '../../src/flags.ts'
import type {KubeObject} from '../../src/kube/resources.ts'

const target: ImportTarget = {
  service: {name: 'httpbin', namespace: 'bar', ports: [{number: 8000, name: 'http'}, {number: 9000, name: 'tcp-echo'}, {number: 7000, name: 'legacy'}, {number: 53, name: 'dns', protocol: 'UDP'}]},
  fqdn: 'httpbin.bar.svc.cluster.local', host: 'httpbin.bar.remote', addresses: [],
}
const ctx = {fromId: 'cluster2', gatewayAddresses: ['127.0.0.12'], gatewayPort: 15443, version: '1.2.3'}
const egress: EgressTarget = {namespace: 'istio-system', name: 'istio-egressgateway', host: 'istio-egressgateway.istio-system.svc.cluster.local', selector: {istio: 'egressgateway'}, port: 443}

const svc = (ns: string, name: string, labels: Record<string, string>, ports: any[], selector: Record<string, string> = {istio: 'egressgateway'}): KubeObject =>
  ({apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: ns, labels}, spec: {selector, ports}})

describe('egress gateway read model', () => {
  test('the TLS port: named https or tls, else 443; UDP ports never', () => {
    assert.equal(egressPort(svc('istio-system', 'e', {}, [{name: 'http2', port: 80}, {name: 'https', port: 443}])), 443)
    assert.equal(egressPort(svc('istio-system', 'e', {}, [{name: 'http2', port: 80}, {name: 'tls-mesh', port: 15443}, {name: 'x', port: 443}])), 15443)
    assert.equal(egressPort(svc('istio-system', 'e', {}, [{name: 'web', port: 443}])), 443)
    assert.equal(egressPort(svc('istio-system', 'e', {}, [{name: 'http2', port: 80}])), undefined)
    assert.equal(egressPort(svc('istio-system', 'e', {}, [{name: 'https', port: 443, protocol: 'UDP'}])), undefined)
  })
  test('candidates: labelled istio=egressgateway, the Istio namespace first, then by namespace/name', () => {
    const list = [svc('a', 'egw', {istio: 'egressgateway'}, []), svc('istio-system', 'z', {istio: 'egressgateway'}, []), svc('istio-system', 'ew', {istio: 'eastwestgateway'}, [])]
    assert.deepEqual(egressGateways(list, 'istio-system').map((g) => g.ref), ['istio-system/z', 'a/egw'])
  })
  test('principal: the mesh trust domain (default cluster.local), the namespace and service account', () => {
    assert.equal(principal(trustDomainOf(undefined), 'istio-system', 'istio-egressgateway-service-account'), 'cluster.local/ns/istio-system/sa/istio-egressgateway-service-account')
    assert.equal(trustDomainOf({trustDomain: 'east.example'}), 'east.example')
  })
})

describe('service import --via-egress: the egress path', () => {
  const objs = importEgressObjects(target, ctx, egress)
  const byRef = new Map(objs.map((o) => [`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o]))

  test('objects and names: the egress rule in the egress gateway namespace, a Gateway + route per TCP port, the sidecars route last', () => {
    assert.deepEqual([...byRef.keys()], [
      'DestinationRule/istio-system/httpbin-cluster2.bar',
      'Gateway/bar/httpbin-cluster2-8000', 'VirtualService/bar/httpbin-cluster2-8000',
      'Gateway/bar/httpbin-cluster2-9000', 'VirtualService/bar/httpbin-cluster2-9000',
      'Gateway/bar/httpbin-cluster2-7000', 'VirtualService/bar/httpbin-cluster2-7000',
      'VirtualService/bar/httpbin-cluster2',
    ])
    for (const o of objs) {
      assert.equal(o.metadata.labels?.['kubectl-mesh/via'], 'egress')
      assert.equal(o.metadata.labels?.['kubectl-mesh/imported-from'], 'cluster2')
      assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'kubectl-mesh')
      assert.ok(belongsTo(o, 'httpbin', 'bar', 'cluster2'))
      assert.ok(!belongsTo(o, 'httpbin', 'foo', 'cluster2'))
      assert.ok(!belongsTo(o, 'httpbin', 'bar', 'cluster3'))
    }
  })
  test('sidecars → egress gateway: per port a subset with ISTIO_MUTUAL and SNI <port>.<host>; HTTP ports by http route, TCP by tcp, protocol-less by both', () => {
    const dr = byRef.get('DestinationRule/istio-system/httpbin-cluster2.bar')!
    assert.equal(dr.spec.host, egress.host)
    assert.deepEqual(dr.spec.subsets.map((s: any) => [s.name, s.trafficPolicy.tls]), [
      ['httpbin-bar-cluster2-8000', {mode: 'ISTIO_MUTUAL', sni: '8000.httpbin.bar.remote'}],
      ['httpbin-bar-cluster2-9000', {mode: 'ISTIO_MUTUAL', sni: '9000.httpbin.bar.remote'}],
      ['httpbin-bar-cluster2-7000', {mode: 'ISTIO_MUTUAL', sni: '7000.httpbin.bar.remote'}],
    ])
    const vs = byRef.get('VirtualService/bar/httpbin-cluster2')!
    assert.deepEqual(vs.spec.hosts, ['httpbin.bar.remote'])
    assert.deepEqual(vs.spec.gateways, ['mesh'])
    assert.deepEqual(vs.spec.http.map((r: any) => r.match[0].port), [8000, 7000])
    assert.deepEqual(vs.spec.tcp.map((r: any) => r.match[0].port), [9000, 7000])
    assert.deepEqual(vs.spec.http[0].route, [{destination: {host: egress.host, subset: 'httpbin-bar-cluster2-8000', port: {number: 443}}}])
    assert.deepEqual(routeKinds({number: 1, name: 'grpc-x'}), ['http'])
    assert.deepEqual(routeKinds({number: 1, name: 'https'}), ['tcp'])
  })
  test('egress gateway → the ServiceEntry host: per port an ISTIO_MUTUAL server for <port>.<host> on the TLS port, and a tcp route to host:port', () => {
    const gw = byRef.get('Gateway/bar/httpbin-cluster2-9000')!
    assert.deepEqual(gw.spec, {selector: {istio: 'egressgateway'}, servers: [{port: {number: 443, name: 'tls-9000', protocol: 'TLS'}, hosts: ['9000.httpbin.bar.remote'], tls: {mode: 'ISTIO_MUTUAL'}}]})
    const vs = byRef.get('VirtualService/bar/httpbin-cluster2-9000')!
    assert.deepEqual(vs.spec, {
      hosts: ['9000.httpbin.bar.remote'], gateways: ['httpbin-cluster2-9000'],
      tcp: [{match: [{gateways: ['httpbin-cluster2-9000'], port: 443}], route: [{destination: {host: 'httpbin.bar.remote', port: {number: 9000}}}]}],
    })
  })
  test('the ServiceEntry says it goes through the egress gateway; subset names stay DNS-1123 labels', () => {
    const se = importServiceEntry(target, ctx, {labels: {'kubectl-mesh/via': 'egress'}, annotations: {'kubectl-mesh/egress-gateway': 'istio-system/istio-egressgateway'}})
    assert.equal(se.metadata.labels?.['kubectl-mesh/via'], 'egress')
    assert.equal(se.metadata.annotations?.['kubectl-mesh/egress-gateway'], 'istio-system/istio-egressgateway')
    assert.equal(se.metadata.annotations?.['kubectl-mesh/version'], '1.2.3')
    const long = egressSubset('a'.repeat(40), 'b'.repeat(20), 'cluster2', 8443)
    assert.ok(long.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(long) && long.endsWith('-8443'), long)
    assert.notEqual(long, egressSubset('a'.repeat(40), 'b'.repeat(21), 'cluster2', 8443))
    assert.equal(egressSni(80, 'h.ns.global'), '80.h.ns.global')
  })
})

describe('optionalValue (--via-egress [NAMESPACE/NAME])', () => {
  const isRef = (v: string) => v.includes('/')
  test('bare flag → empty value; a NAMESPACE/NAME is taken; the positional argument is not', () => {
    assert.deepEqual(optionalValue(['--via-egress'], '--via-egress', isRef), ['--via-egress='])
    assert.deepEqual(optionalValue(['--via-egress', 'httpbin', '-n', 'bar'], '--via-egress', isRef), ['--via-egress=', 'httpbin', '-n', 'bar'])
    assert.deepEqual(optionalValue(['x', '--via-egress', 'ns/gw', '--dry-run'], '--via-egress', isRef), ['x', '--via-egress=ns/gw', '--dry-run'])
    assert.deepEqual(optionalValue(['--via-egress=ns/gw'], '--via-egress', isRef), ['--via-egress=ns/gw'])
  })
})

describe('explain: the two hops of an import through the egress gateway', async () => {
  const {egressHops} = await import('../../src/explain/service.ts')
  const {importDestinationRule, importServiceEntry} = await import('../../src/exposure/plan.ts')
  const {egressServiceEntryMeta} = await import('../../src/exposure/egress.ts')
  const two: ImportTarget = {...target, service: {...target.service, ports: target.service.ports.slice(0, 2)}}
  const se = importServiceEntry(two, ctx, egressServiceEntryMeta(egress))
  const objs = importEgressObjects(two, ctx, egress)
  test('per port: sidecar → egress gateway:443 (ISTIO_MUTUAL, <port>.<host>), egress gateway → the remote gateway:15443 (ISTIO_MUTUAL, the owner SNI)', () => {
    const h = egressHops(se, objs.filter((o) => o.kind === 'VirtualService'), [importDestinationRule(two, ctx), ...objs.filter((o) => o.kind === 'DestinationRule')], 'istio-system', 'cluster.local')
    assert.equal(h.gateway, 'istio-system/istio-egressgateway')
    assert.deepEqual(h.hops, [
      {port: 8000, sidecar: {to: 'egress', port: 443, subset: 'httpbin-bar-cluster2-8000', tls: 'ISTIO_MUTUAL', sni: '8000.httpbin.bar.remote'}, egress: {endpoints: ['127.0.0.12:15443'], tls: 'ISTIO_MUTUAL', sni: 'outbound_.8000_._.httpbin.bar.svc.cluster.local'}},
      {port: 9000, sidecar: {to: 'egress', port: 443, subset: 'httpbin-bar-cluster2-9000', tls: 'ISTIO_MUTUAL', sni: '9000.httpbin.bar.remote'}, egress: {endpoints: ['127.0.0.12:15443'], tls: 'ISTIO_MUTUAL', sni: 'outbound_.9000_._.httpbin.bar.svc.cluster.local'}},
    ])
    const none = egressHops(se, [], [], 'istio-system', 'cluster.local')
    assert.equal(none.hops[0].sidecar.to, 'none')
  })
})
