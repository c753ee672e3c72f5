// Primary-remote (Istio's `remote` profile, seed 002), the pure parts: the read model of a
// remote-profile install, link's validation and planning (the primary's istiod exposure, the
// controlPlaneClusters annotation), and verify's istio.control-plane over fixture facts.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {UsageError} from '../../src/errors.ts'
import type {KubeObject} from '../../src/kube/resources.ts'
import {ownedFieldsEqual} from '../../src/kube/apply.ts'
import {installFacts, istiodServiceAddresses} from '../../src/istio/install.ts'
import {passesIstiod} from '../../src/istio/gateway.ts'
import {deriveFacts, type LinkFacts} from '../../src/link/facts.ts'
import {validatePair, validatePrimaryRemote} from '../../src/link/validate.ts'
import {controlPlaneClusters, istiodGateway, planIstiodExposure, withControlPlane, withoutControlPlane} from '../../src/link/plan.ts'
import {runChecks} from '../../src/verify/runner.ts'
import type {VerifyFacts} from '../../src/verify/types.ts'
import {clusterFacts, find, gwIp, NOW, okProbe} from './verify-fixtures.ts'

const obj = (kind: string, name: string, rest: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): KubeObject =>
  ({apiVersion: kind === 'ConfigMap' || kind === 'Service' || kind === 'Namespace' ? 'v1' : 'x', kind, metadata: {name, namespace: 'istio-system', ...meta}, ...rest})
/** The `values` ConfigMap of Istio's remote profile render (configmap-values.yaml: original-values / merged-values as JSON). */
const valuesCm = (v: unknown) => obj('ConfigMap', 'values', {data: {'original-values': JSON.stringify({}), 'merged-values': JSON.stringify(v)}})
const REMOTE_VALUES = {global: {meshID: 'mesh1', multiCluster: {clusterName: 'cluster2'}, network: 'network2', remotePilotAddress: '127.0.0.11'}, istiodRemote: {enabled: true, injectionPath: '/inject/cluster/cluster2/net/network2'}}

const ew = {service: obj('Service', 'istio-eastwestgateway'), ref: 'istio-system/istio-eastwestgateway', namespace: 'istio-system', selector: {istio: 'eastwestgateway'}, addresses: ['127.0.0.11'], port: 15443, network: 'network1'}
const facts = (over: Partial<LinkFacts> = {}): LinkFacts => ({
  context: 'cluster1', istioNamespace: 'istio-system', server: 'https://127.0.0.1:6441', namespaceExists: true, clusterDomain: 'cluster.local', revision: 'default', otherRevisions: [], meshConfigMapName: 'istio', istiodService: 'istiod',
  clusterId: 'cluster1', clusterIdSource: 'istiod', network: 'network1', networkSource: 'namespace', meshId: 'mesh1',
  gateway: {service: ew.ref, address: '127.0.0.11', port: 15443, network: 'network1'}, ewGateway: ew, gateways: [],
  meshConfigMap: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: 'istio-system'}, data: {meshNetworks: 'networks: {}\n'}},
  remoteSecrets: [],
  ...over,
})
const remote = (over: Partial<LinkFacts> = {}) => facts({
  context: 'cluster2', clusterId: 'cluster2', clusterIdSource: 'values', network: 'network2', remoteProfile: true, remotePilotAddress: '127.0.0.11',
  gateway: {service: ew.ref, address: '127.0.0.12', port: 15443, network: 'network2'}, ewGateway: {...ew, addresses: ['127.0.0.12'], network: 'network2'}, ...over,
})

describe('the read model of a remote-profile install', () => {
  test('cluster ID, network and remotePilotAddress from the values ConfigMap; no istiod, no injector', () => {
    const f = installFacts({values: valuesCm(REMOTE_VALUES)})
    assert.equal(f.remoteProfile, true)
    assert.equal(f.clusterId, 'cluster2')
    assert.equal(f.clusterIdSource, 'values')
    assert.equal(f.network, 'network2')
    assert.equal(f.remotePilotAddress, '127.0.0.11')
    const d = deriveFacts({values: valuesCm(REMOTE_VALUES), services: []})
    assert.deepEqual([d.remoteProfile, d.clusterId, d.network], [true, 'cluster2', 'network2'])
  })

  test('a full install with its values ConfigMap (every render has one) is not a remote profile', () => {
    const injector = obj('ConfigMap', 'istio-sidecar-injector', {data: {values: JSON.stringify({global: {multiCluster: {clusterName: 'cluster1'}}})}})
    assert.equal(installFacts({injector, values: valuesCm(REMOTE_VALUES)}).remoteProfile, false)
    assert.equal(installFacts({injector, values: valuesCm(REMOTE_VALUES)}).clusterId, 'cluster1')
  })

  test('where the istiod Service points: EndpointSlice addresses of that Service, or an ExternalName', () => {
    const svc = obj('Service', 'istiod', {spec: {ports: [{port: 15012}]}})
    const slice = (name: string, service: string, addrs: string[]) => obj('EndpointSlice', name, {endpoints: [{addresses: addrs}]}, {labels: {'kubernetes.io/service-name': service}})
    assert.deepEqual(istiodServiceAddresses(svc, [slice('istiod', 'istiod', ['127.0.0.11']), slice('other', 'other', ['10.0.0.1'])]), ['127.0.0.11'])
    assert.deepEqual(istiodServiceAddresses(obj('Service', 'istiod', {spec: {type: 'ExternalName', externalName: 'istiod.example.com'}}), []), ['istiod.example.com'])
    assert.deepEqual(istiodServiceAddresses(undefined, []), [])
  })
})

describe('cluster link towards a remote-profile cluster: validation', () => {
  test('detected from WEST\'s install, or forced with --remote-profile; a full pair is not primary-remote', () => {
    assert.equal(validatePrimaryRemote(facts(), remote(), {}), true)
    assert.equal(validatePrimaryRemote(facts(), remote({remoteProfile: false}), {remoteProfile: true}), true)
    assert.equal(validatePrimaryRemote(facts(), remote({remoteProfile: false}), {}), false)
  })
  const usage = (fn: () => unknown, re: RegExp, hint: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message) && hint.test(e.hint ?? ''))
  test('--bidirectional towards it is a usage error with the command without it', () => {
    usage(() => validatePrimaryRemote(facts(), remote(), {bidirectional: true}), /"cluster2" runs Istio's remote profile.*--bidirectional/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2$/)
    usage(() => validatePrimaryRemote(facts(), remote({remoteProfile: false}), {bidirectional: true, remoteProfile: true}), /--remote-profile/, /--remote-profile$/)
  })
  test('a remote-profile EAST cannot discover: the hint links its primary to it', () => {
    usage(() => validatePrimaryRemote(remote(), facts(), {}), /"cluster2" runs Istio's remote profile.*cannot discover/, /--context <PRIMARY> --remote-context cluster2/)
  })
  test('the primary\'s cluster ID must be known (the annotation names it)', () => {
    usage(() => validatePrimaryRemote(facts({clusterId: undefined}), remote(), {}), /cannot tell the primary's cluster ID/, /clusterName/)
  })
  test('the pair resolves with the remote\'s ID and network from its values, across networks', () => {
    const {link} = validatePair(facts(), remote(), {})
    assert.deepEqual([link.id, link.westNetwork, link.crossNetwork, link.gateway], ['cluster2', 'network2', true, {address: '127.0.0.12', port: 15443}])
  })
})

describe('cluster link towards a remote-profile cluster: planning', () => {
  test('the istiod exposure: expose-istiod.yaml\'s Gateway (15012, 15017 PASSTHROUGH, hosts *) and VirtualService, stamped, recording the remote', () => {
    const p = planIstiodExposure(facts(), 'cluster2', true, '1.2.3')
    const gw = p.planned.gateway!
    assert.equal(gw.metadata.name, 'kubectl-mesh-istiod')
    assert.equal(gw.metadata.namespace, 'istio-system')
    assert.equal(gw.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(gw.metadata.annotations!['kubectl-mesh/exposed-for'], 'cluster2')
    assert.deepEqual(gw.spec, {selector: {istio: 'eastwestgateway'}, servers: [
      {port: {number: 15012, name: 'tls-istiod', protocol: 'TLS'}, tls: {mode: 'PASSTHROUGH'}, hosts: ['*']},
      {port: {number: 15017, name: 'tls-istiodwebhook', protocol: 'TLS'}, tls: {mode: 'PASSTHROUGH'}, hosts: ['*']},
    ]})
    const vs = p.planned.virtualService!
    assert.equal(vs.kind, 'VirtualService')
    assert.equal(vs.metadata.labels!['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.deepEqual(vs.spec, {hosts: ['*'], gateways: ['kubectl-mesh-istiod'], tls: [
      {match: [{port: 15012, sniHosts: ['*']}], route: [{destination: {host: 'istiod.istio-system.svc.cluster.local', port: {number: 15012}}}]},
      {match: [{port: 15017, sniHosts: ['*']}], route: [{destination: {host: 'istiod.istio-system.svc.cluster.local', port: {number: 443}}}]},
    ]})
    assert.ok(passesIstiod(gw, ew))
  })

  test('repeated: the planned Gateway equals the live one (no write); a second remote is added to it', () => {
    const live = {...istiodGateway({ew, ids: ['cluster2'], version: '1.2.3'}), metadata: {...istiodGateway({ew, ids: ['cluster2'], version: '1.2.3'}).metadata, resourceVersion: '7'}}
    const again = planIstiodExposure(facts({gateways: [live]}), 'cluster2', true, '1.2.3')
    assert.ok(ownedFieldsEqual(live, again.planned.gateway!))
    const more = planIstiodExposure(facts({gateways: [live]}), 'cluster3', true, '1.2.3')
    assert.equal(more.planned.gateway!.metadata.annotations!['kubectl-mesh/exposed-for'], 'cluster2,cluster3')
  })

  test('Istio\'s own istiod-gateway already passes 15012/15017: nothing is written', () => {
    const sample = obj('Gateway', 'istiod-gateway', {spec: {selector: {istio: 'eastwestgateway'}, servers: [
      {port: {name: 'tls-istiod', number: 15012, protocol: 'tls'}, tls: {mode: 'PASSTHROUGH'}, hosts: ['*']},
      {port: {name: 'tls-istiodwebhook', number: 15017, protocol: 'tls'}, tls: {mode: 'PASSTHROUGH'}, hosts: ['*']},
    ]}})
    const p = planIstiodExposure(facts({gateways: [sample]}), 'cluster2', true, '1.2.3')
    assert.equal(p.coveredBy, sample)
    assert.equal(p.planned.gateway, undefined)
    // only one port open: not covering
    const half = {...sample, spec: {...sample.spec, servers: [sample.spec.servers[0]]}}
    assert.equal(planIstiodExposure(facts({gateways: [half]}), 'cluster2', true, '1.2.3').coveredBy, undefined)
  })

  test('dropped: the last remote deletes the Gateway (and its VirtualService with it); another remote keeps it', () => {
    const one = istiodGateway({ew, ids: ['cluster2'], version: '1'})
    const p = planIstiodExposure(facts({gateways: [one]}), 'cluster2', false, '1')
    assert.equal(p.planned.gateway, null)
    assert.equal(p.planned.virtualService, null)
    const two = istiodGateway({ew, ids: ['cluster2', 'cluster3'], version: '1'})
    const q = planIstiodExposure(facts({gateways: [two]}), 'cluster2', false, '1')
    assert.equal(q.planned.gateway!.metadata.annotations!['kubectl-mesh/exposed-for'], 'cluster3')
    assert.equal(q.planned.virtualService, undefined)
    assert.equal(q.virtualServiceEdit(undefined), undefined)
  })

  test('no east-west gateway in the primary: a problem, nothing planned', () => {
    const p = planIstiodExposure(facts({ewGateway: undefined}), 'cluster2', true, '1')
    assert.match(p.problem!, /no east-west gateway/)
    assert.equal(p.planned.gateway, undefined)
  })

  test('controlPlaneClusters: added to what is there, unchanged when named (or *), removed to nothing', () => {
    const ns = (v?: string) => obj('Namespace', 'istio-system', {}, v === undefined ? {} : {annotations: {'topology.istio.io/controlPlaneClusters': v}})
    assert.equal(withControlPlane(ns(), 'cluster1'), 'cluster1')
    assert.equal(withControlPlane(ns('other'), 'cluster1'), 'other,cluster1')
    assert.equal(withControlPlane(ns('cluster1'), 'cluster1'), undefined)
    assert.equal(withControlPlane(ns('*'), 'cluster1'), undefined)
    assert.equal(withoutControlPlane(ns('cluster1'), 'cluster1'), null)
    assert.equal(withoutControlPlane(ns('other,cluster1'), 'cluster1'), 'other')
    assert.equal(withoutControlPlane(ns('other'), 'cluster1'), undefined)
    assert.deepEqual(controlPlaneClusters(ns(' a, b ')), ['a', 'b'])
  })
})

/** cluster1 primary, cluster2 a remote-profile cluster on network2, linked as `cluster link` does it. */
function primaryRemote(): VerifyFacts {
  const c1 = clusterFacts(1, [2])
  const c2 = clusterFacts(2, [])
  find(c1, 'Service', 'istio-eastwestgateway').spec.ports.push({name: 'tls-istiod', port: 15012}, {name: 'tls-webhook', port: 15017})
  c1.lists.Service!.push(obj('Service', 'istiod', {spec: {type: 'ClusterIP', selector: {app: 'istiod'}, ports: [{port: 15012}, {port: 443, targetPort: 15017}]}}))
  c1.lists.Gateway = [istiodGateway({ew, ids: ['cluster2'], version: '1'})]
  // as Istio's primary-remote guide installs the primary: its istiod leads the remote's controllers
  find(c1, 'Deployment', 'istiod').spec.template.spec.containers[0].env.push({name: 'EXTERNAL_ISTIOD', value: 'true'})
  c2.lists.Deployment = []
  c2.lists.ConfigMap = [valuesCm(REMOTE_VALUES)]
  c2.lists.Service!.push(obj('Service', 'istiod', {spec: {ports: [{port: 15012, name: 'tcp-istiod'}, {port: 443, targetPort: 15017, name: 'tcp-webhook'}]}}))
  c2.endpointSlices = [obj('EndpointSlice', 'istiod', {addressType: 'IPv4', endpoints: [{addresses: [gwIp(1)]}], ports: [{port: 15012}, {port: 15017}]}, {labels: {'kubernetes.io/service-name': 'istiod'}})]
  find(c2, 'Namespace', 'istio-system').metadata.annotations = {'topology.istio.io/controlPlaneClusters': 'cluster1'}
  return {clusters: [c1, c2], probes: [okProbe(1, 2)], now: NOW}
}

describe('verify istio.control-plane', () => {
  const cp = (f: VerifyFacts) => runChecks(f).checks.filter((c) => c.id === 'istio.control-plane')
  test('without an EndpointSlice (an API server that refuses it), the values\' remotePilotAddress is where the Service points', () => {
    const f = primaryRemote()
    f.clusters[1].endpointSlices = []
    const hit = cp(f).find((c) => c.cluster === 'cluster2')!
    assert.equal(hit.status, 'pass', hit.message)
    assert.match(hit.message, /127\.0\.0\.11 \(values global\.remotePilotAddress; no EndpointSlice\)/)
  })

  test('a linked remote-profile cluster passes, and nothing else fails because it has no istiod', () => {
    const r = runChecks(primaryRemote())
    assert.deepEqual(r.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.cluster}: ${c.message}`), [])
    const [c1, c2] = cp(primaryRemote())
    assert.equal(c1.status, 'skip')
    assert.equal(c2.status, 'pass')
    assert.match(c2.message, /control plane cluster1.*127\.0\.0\.11.*kubectl-mesh-istiod/)
    assert.equal(r.checks.find((c) => c.id === 'istio.installed' && c.cluster === 'cluster2')!.status, 'pass')
    assert.equal(r.clusters[1].clusterId, 'cluster2')
  })

  test('warns when the primary\'s istiod runs without EXTERNAL_ISTIOD and the remote has no istio-ca-root-cert; not when the root is there', () => {
    const f = primaryRemote()
    find(f.clusters[0], 'Deployment', 'istiod').spec.template.spec.containers[0].env = [{name: 'CLUSTER_ID', value: 'cluster1'}]
    const hit = cp(f).find((c) => c.cluster === 'cluster2')!
    assert.equal(hit.status, 'warn', hit.message)
    assert.match(hit.message, /cluster1 runs istiod without EXTERNAL_ISTIOD=true, and cluster2 has no ConfigMap istio-system\/istio-ca-root-cert/)
    assert.match(hit.hint, /istioctl install --context cluster1 --set values\.pilot\.env\.EXTERNAL_ISTIOD=true/)
    f.clusters[1].lists.ConfigMap!.push(obj('ConfigMap', 'istio-ca-root-cert', {data: {'root-cert.pem': 'x'}}))
    assert.equal(cp(f).find((c) => c.cluster === 'cluster2')!.status, 'pass')
  })

  const cases: Array<[string, (f: VerifyFacts) => void, RegExp, RegExp]> = [
    ['the istiod exposure removed by hand', (f) => { f.clusters[0].lists.Gateway = [] },
      /points at cluster1's east-west gateway istio-system\/istio-eastwestgateway \(127\.0\.0\.11\), but cluster1 does not pass istiod through/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2.*expose-istiod\.yaml/],
    ['the primary holds no remote secret for it', (f) => { f.clusters[0].lists.Secret = f.clusters[0].lists.Secret!.filter((s) => !s.metadata.name.startsWith('istio-remote')); f.probes = [] },
      /no verified cluster holds a remote secret for cluster2/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/],
    ['the annotation missing', (f) => { find(f.clusters[1], 'Namespace', 'istio-system').metadata.annotations = {} },
      /annotation topology\.istio\.io\/controlPlaneClusters is missing, but its control plane is cluster1/, /kubectl annotate namespace istio-system topology\.istio\.io\/controlPlaneClusters=cluster1 --overwrite --context cluster2/],
    ['no EndpointSlice, and the values\' remotePilotAddress is not the primary\'s', (f) => { f.clusters[1].endpointSlices = []; find(f.clusters[1], 'ConfigMap', 'values').data['merged-values'] = JSON.stringify({...REMOTE_VALUES, global: {...REMOTE_VALUES.global, remotePilotAddress: '10.1.1.1'}}) },
      /points at 10\.1\.1\.1 \(values global\.remotePilotAddress; no EndpointSlice\)/, /remotePilotAddress=127\.0\.0\.11/],
    ['the istiod Service points elsewhere', (f) => { f.clusters[1].endpointSlices![0].endpoints = [{addresses: ['10.9.9.9']}] },
      /Service istio-system\/istiod points at 10\.9\.9\.9, which is neither cluster1's east-west gateway \(127\.0\.0\.11\)/, /remotePilotAddress=127\.0\.0\.11/],
  ]
  for (const [name, breakIt, message, hint] of cases) {
    test(`fails, naming cluster and object with the fix: ${name}`, () => {
      const f = primaryRemote()
      breakIt(f)
      const hit = cp(f).find((c) => c.cluster === 'cluster2')!
      assert.equal(hit.status, 'fail', hit.message)
      assert.match(hit.message, message)
      assert.match(hit.hint, hint)
    })
  }
})
