// Table tests of the read model (src/istio/install.ts, src/istio/gateway.ts): every fact link,
// export/import and verify derive about an Istio install, tested once here.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {allocatesAddresses, imageTag, installFacts, istiodVersion, parseIstioVersion, reloadsCacerts, type InstallObjects} from '../../src/istio/install.ts'
import {
  coveringGateway, eastWestGateway, eastWestGateways, exportedHost, gatewayAddresses, hostMatches, outboundSni, selectsGateway, serviceFqdn,
} from '../../src/istio/gateway.ts'
import type {KubeObject} from '../../src/kube/resources.ts'

const obj = (kind: string, name: string, extra: Partial<KubeObject> = {}): KubeObject => ({apiVersion: 'v1', kind, metadata: {name, namespace: 'istio-system', ...extra.metadata}, ...extra})
const istiod = (env: Record<string, string>, args: string[] = [], image = 'docker.io/istio/pilot:1.31.1') => obj('Deployment', 'istiod', {
  spec: {template: {spec: {containers: [{name: 'discovery', image, args, env: Object.entries(env).map(([name, value]) => ({name, value}))}]}}},
})
const injector = (values: unknown) => obj('ConfigMap', 'istio-sidecar-injector', {data: {values: JSON.stringify(values)}})
const mesh = (text: string) => obj('ConfigMap', 'istio', {data: {mesh: text}})
const ns = (labels: Record<string, string>) => obj('Namespace', 'istio-system', {metadata: {name: 'istio-system', labels}})

describe('install facts', () => {
  const cases: Array<[string, InstallObjects, {clusterDomain?: string}, Record<string, unknown>]> = [
    ['nothing installed', {}, {}, {clusterId: undefined, network: undefined, clusterDomain: 'cluster.local', clusterDomainSource: 'default', dnsCapture: false, remoteProfile: false}],
    ['cluster ID from istiod CLUSTER_ID before the values', {istiod: istiod({CLUSTER_ID: 'c1'}), injector: injector({global: {multiCluster: {clusterName: 'c2'}}})}, {},
      {clusterId: 'c1', clusterIdSource: 'istiod', istiodClusterId: 'c1', valuesClusterId: 'c2'}],
    ['cluster ID, network and mesh ID from the injector values', {injector: injector({global: {multiCluster: {clusterName: 'c2'}, network: 'n2', meshID: 'm'}})}, {},
      {clusterId: 'c2', clusterIdSource: 'injector', network: 'n2', networkSource: 'injector', meshId: 'm'}],
    ['the namespace label wins for the network', {namespace: ns({'topology.istio.io/network': 'n-label'}), injector: injector({global: {network: 'n2'}})}, {},
      {network: 'n-label', networkSource: 'namespace', namespaceNetwork: 'n-label', valuesNetwork: 'n2'}],
    ['mesh ID from the mesh config when the values have none', {meshConfigMap: mesh('defaultConfig:\n  meshId: m2\n')}, {}, {meshId: 'm2'}],
    ['DNS proxying on', {meshConfigMap: mesh('defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: "true"\n')}, {}, {dnsCapture: true}],
    ['DNS proxying off', {meshConfigMap: mesh('defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: "false"\n')}, {}, {dnsCapture: false}],
    ['unparsable mesh config', {meshConfigMap: mesh(': : :\n\t-')}, {}, {dnsCapture: false, mesh: undefined}],
    ['cluster domain from istiod --domain X', {istiod: istiod({}, ['discovery', '--domain', 'example.org']), injector: injector({global: {proxy: {clusterDomain: 'other.org'}}})}, {},
      {clusterDomain: 'example.org', clusterDomainSource: 'istiod'}],
    ['cluster domain from istiod --domain=X', {istiod: istiod({}, ['--domain=example.org'])}, {}, {clusterDomain: 'example.org', clusterDomainSource: 'istiod'}],
    ['cluster domain from the values', {injector: injector({global: {proxy: {clusterDomain: 'other.org'}}})}, {}, {clusterDomain: 'other.org', clusterDomainSource: 'values'}],
    ['--cluster-domain overrides the install', {istiod: istiod({}, ['--domain', 'example.org'])}, {clusterDomain: 'flag.org'}, {clusterDomain: 'flag.org', clusterDomainSource: 'flag'}],
    ['version from the istiod image', {istiod: istiod({}, [], 'docker.io/istio/pilot:1.31-eed52ebb66ad')}, {}, {version: {major: 1, minor: 31, text: '1.31'}}],
    ['version from the values tag when the image has none', {istiod: istiod({}, [], 'istio/pilot@sha256:abc'), injector: injector({global: {tag: '1.24.2'}})}, {}, {version: {major: 1, minor: 24, text: '1.24.2'}}],
    ['a remote-profile install: no istiod, no injector, a values ConfigMap', {values: obj('ConfigMap', 'values', {data: {'merged-values': JSON.stringify({global: {multiCluster: {clusterName: 'r1'}, network: 'n9'}})}})}, {},
      {remoteProfile: true, clusterId: 'r1', clusterIdSource: 'values', network: 'n9', networkSource: 'values'}],
  ]
  for (const [what, objects, overrides, want] of cases) {
    test(what, () => {
      const f = installFacts(objects, overrides) as unknown as Record<string, unknown>
      for (const [k, v] of Object.entries(want)) assert.deepEqual(f[k], v, `${what}: ${k}`)
    })
  }

  test('image tags and Istio versions', () => {
    const tags: Array<[string | undefined, string | undefined]> = [
      ['docker.io/istio/pilot:1.31.1', '1.31.1'], ['localhost:5000/istio/pilot:1.24-dev', '1.24-dev'], ['localhost:5000/istio/pilot', undefined],
      ['gcr.io/istio-release/pilot:1.25.0-distroless@sha256:abc', '1.25.0-distroless'], ['istio/pilot@sha256:abc', undefined], [undefined, undefined],
    ]
    for (const [image, tag] of tags) assert.equal(imageTag(image), tag, String(image))
    assert.deepEqual(parseIstioVersion('1.25.0-distroless'), {major: 1, minor: 25, text: '1.25.0'})
    assert.equal(parseIstioVersion('latest'), undefined)
    assert.equal(allocatesAddresses({major: 1, minor: 24}), false)
    assert.equal(allocatesAddresses({major: 1, minor: 25}), true)
    assert.equal(allocatesAddresses({major: 2, minor: 0}), true)
    assert.equal(allocatesAddresses(undefined), true)
  })

  test('istiod reloads a changed cacerts by itself from 1.18, or with AUTO_RELOAD_PLUGIN_CERTS', () => {
    assert.deepEqual(istiodVersion(istiod({}, [], 'docker.io/istio/pilot:1.17.8')), {major: 1, minor: 17, text: '1.17.8'})
    assert.equal(reloadsCacerts({env: {}, version: {major: 1, minor: 17}}), false)
    assert.equal(reloadsCacerts({env: {AUTO_RELOAD_PLUGIN_CERTS: 'true'}, version: {major: 1, minor: 17}}), true)
    assert.equal(reloadsCacerts({env: {}, version: {major: 1, minor: 18}}), true)
    assert.equal(reloadsCacerts({env: {}, version: undefined}), undefined)
  })
})

const svc = (name: string, labels: Record<string, string>, status?: unknown, spec: Record<string, unknown> = {selector: {istio: name}}) =>
  obj('Service', name, {metadata: {name, namespace: 'istio-system', labels}, spec, status})

describe('east-west gateway', () => {
  const list = [
    svc('istiod', {app: 'istiod'}, {loadBalancer: {ingress: [{ip: '10.9.9.9'}]}}),
    svc('other-net', {'topology.istio.io/network': 'n2'}, {loadBalancer: {ingress: [{ip: '10.0.0.2'}]}}),
    svc('ew', {istio: 'eastwestgateway', 'topology.istio.io/network': 'n1', 'networking.istio.io/gatewayPort': '16443'}, {loadBalancer: {ingress: [{hostname: 'ew.example.com'}]}}, {type: 'LoadBalancer', selector: {istio: 'ew'}, ports: [{port: 16443}]}),
    svc('plain', {istio: 'eastwestgateway'}, {}),
  ]
  test('ranked: own network, then network-labelled, then with an address, then by name; never a Service without the labels', () => {
    assert.deepEqual(eastWestGateways(list, 'n1').map((g) => g.ref), ['istio-system/ew', 'istio-system/other-net', 'istio-system/plain'])
    assert.deepEqual(eastWestGateways(list, 'n2').map((g) => g.ref), ['istio-system/other-net', 'istio-system/ew', 'istio-system/plain'])
    assert.equal(eastWestGateway([svc('istiod', {app: 'istiod'})]), undefined)
    const ew = eastWestGateway(list, 'n1')!
    assert.deepEqual([ew.addresses, ew.port, ew.network, ew.selector], [['ew.example.com'], 16443, 'n1', {istio: 'ew'}])
    assert.equal(eastWestGateway([svc('plain', {istio: 'eastwestgateway'})])!.port, 15443)
  })
  test('addresses in one order: load-balancer IPs, then hostnames; externalIPs only without a load-balancer address', () => {
    const s = (status: unknown, spec: Record<string, unknown> = {}) => svc('g', {istio: 'eastwestgateway'}, status, spec)
    assert.deepEqual(gatewayAddresses(s({loadBalancer: {ingress: [{hostname: 'gw.example.com'}, {ip: '127.0.0.12'}, {ip: '127.0.0.12'}]}}, {externalIPs: ['10.0.0.1']})), ['127.0.0.12', 'gw.example.com'])
    assert.deepEqual(gatewayAddresses(s({loadBalancer: {}}, {externalIPs: ['10.0.0.1', '10.0.0.2']})), ['10.0.0.1', '10.0.0.2'])
    assert.deepEqual(gatewayAddresses(s({})), [])
  })
})

describe('hosts', () => {
  test('FQDNs, SNIs and the host export recorded', () => {
    assert.equal(serviceFqdn('httpbin', 'bar', 'example.org'), 'httpbin.bar.svc.example.org')
    assert.equal(outboundSni(8000, 'httpbin.bar.svc.cluster.local'), 'outbound_.8000_._.httpbin.bar.svc.cluster.local')
    const s = (annotations?: Record<string, string>) => obj('Service', 'sleep', {metadata: {name: 'sleep', namespace: 'foo', annotations}})
    assert.equal(exportedHost(s({'kubectl-mesh/exported-host': 'sleep.foo.svc.example.org'}), 'cluster.local'), 'sleep.foo.svc.example.org')
    assert.equal(exportedHost(s(), 'cluster.local'), 'sleep.foo.svc.cluster.local')
  })

  // [entry, service namespace, gateway namespace, matches]
  const fqdn = 'httpbin.bar.svc.cluster.local'
  const cases: Array<[string, string, string, boolean]> = [
    ['*.local', 'bar', 'istio-system', true],
    ['*', 'bar', 'istio-system', true],
    ['*/*', 'bar', 'istio-system', true],
    ['bar/*', 'bar', 'istio-system', true],
    ['foo/*', 'bar', 'istio-system', false],
    ['./*', 'bar', 'istio-system', false],
    ['./*', 'bar', 'bar', true],
    ['./httpbin.bar.svc.cluster.local', 'bar', 'bar', true],
    ['*/*.bar.svc.cluster.local', 'bar', 'istio-system', true],
    ['*.svc.example.org', 'bar', 'istio-system', false],
    [fqdn, 'bar', 'istio-system', true],
    ['HTTPBIN.bar.svc.cluster.local', 'bar', 'istio-system', true],
    ['other.bar.svc.cluster.local', 'bar', 'istio-system', false],
    ['*.global', 'bar', 'istio-system', false],
    ['*cluster.local', 'bar', 'istio-system', false],
  ]
  for (const [entry, svcNs, gwNs, want] of cases) {
    test(`Gateway host ${entry} (Gateway in ${gwNs}) ${want ? 'matches' : 'does not match'} ${fqdn}`, () => assert.equal(hostMatches(entry, fqdn, svcNs, gwNs), want))
  }

  const ew = eastWestGateway([svc('istio-eastwestgateway', {istio: 'eastwestgateway'}, {}, {selector: {istio: 'eastwestgateway', app: 'istio-eastwestgateway'}})])!
  const gw = (name: string, hosts: string[], extra: {selector?: Record<string, string>; port?: number; mode?: string; namespace?: string} = {}) =>
    obj('Gateway', name, {
      apiVersion: 'networking.istio.io/v1', metadata: {name, namespace: extra.namespace ?? 'istio-system'},
      spec: {selector: extra.selector ?? {istio: 'eastwestgateway'}, servers: [{port: {number: extra.port ?? 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: extra.mode ?? 'AUTO_PASSTHROUGH'}, hosts}]},
    })
  test('which Gateway passes a host through: selector a subset of the gateway pods\' labels, its port, AUTO_PASSTHROUGH, a matching host', () => {
    assert.ok(selectsGateway(gw('x', []), ew))
    assert.ok(!selectsGateway(gw('x', [], {selector: {}}), ew))
    assert.ok(!selectsGateway(gw('x', [], {selector: {istio: 'ingressgateway'}}), ew))
    assert.equal(coveringGateway([gw('cross-network-gateway', ['*.local'])], ew, fqdn, 'bar')?.metadata.name, 'cross-network-gateway')
    assert.equal(coveringGateway([gw('cross-network-gateway', ['*.local'], {selector: {istio: 'eastwestgateway', app: 'istio-eastwestgateway'}})], ew, fqdn, 'bar')?.metadata.name, 'cross-network-gateway')
    assert.equal(coveringGateway([gw('x', ['*.local'], {mode: 'PASSTHROUGH'})], ew, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['*.local'], {port: 443})], ew, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['*.global'])], ew, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['./*'])], ew, fqdn, 'bar'), undefined)
    assert.equal(coveringGateway([gw('x', ['./*'], {namespace: 'bar'})], ew, fqdn, 'bar')?.metadata.name, 'x')
    assert.equal(coveringGateway([gw('x', ['bar/*'])], ew, fqdn, 'bar')?.metadata.name, 'x')
  })
})
