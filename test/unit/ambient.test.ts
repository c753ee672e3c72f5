// The ambient rules (src/istio/ambient.ts) as istiod applies them: matchServiceScope, the
// east-west Gateway as remote istiods read it, the data plane, and kubectl-mesh's incremental
// serviceScopeConfigs edits (every other entry kept).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {
  ambientEastWestGateway, ambientFacts, ambientGateways, ambientOnlyService, globalScopeEntry, isGlobalScopeEntry, serviceScope, waypointOf, withGlobalScope, withoutGlobalScope,
} from '../../src/istio/ambient.ts'
import {addScopeEdit, removeScopeEdit} from '../../src/link/ambient.ts'
import {globalPatch, localPatch} from '../../src/exposure/ambient.ts'
import {load} from 'js-yaml'

const obj = (kind: string, name: string, extra: any = {}) => ({apiVersion: 'v1', kind, metadata: {name, namespace: 'istio-system', ...extra.metadata}, ...extra})

describe('serviceScope (services.go matchServiceScope)', () => {
  const entry = globalScopeEntry()
  test('LOCAL by default; GLOBAL when both selectors match; empty selectors match everything', () => {
    assert.equal(serviceScope({}, {}, {'istio.io/global': 'true'}), 'LOCAL')
    assert.equal(serviceScope({serviceScopeConfigs: [entry]}, {}, {'istio.io/global': 'true'}), 'GLOBAL')
    assert.equal(serviceScope({serviceScopeConfigs: [entry]}, {}, {'istio.io/global': 'false'}), 'LOCAL')
    assert.equal(serviceScope({serviceScopeConfigs: [{scope: 'GLOBAL'}]}, {}, {}), 'GLOBAL')
    assert.equal(serviceScope({serviceScopeConfigs: [{namespaceSelector: {matchLabels: {team: 'a'}}, scope: 'GLOBAL'}]}, {team: 'b'}, {}), 'LOCAL')
    assert.equal(serviceScope({serviceScopeConfigs: [{servicesSelector: {matchExpressions: [{key: 'x', operator: 'DoesNotExist'}]}, scope: 'GLOBAL'}]}, {}, {}), 'GLOBAL')
  })
  test('kubectl-mesh entry recognised whatever the key order', () => {
    assert.ok(isGlobalScopeEntry({scope: 'GLOBAL', servicesSelector: {matchExpressions: [{values: ['true'], operator: 'In', key: 'istio.io/global'}]}}))
    assert.ok(!isGlobalScopeEntry({scope: 'GLOBAL'}))
  })
})

describe('serviceScopeConfigs edits keep every other entry', () => {
  const foreign = {namespaceSelector: {matchLabels: {team: 'payments'}}, scope: 'GLOBAL'}
  test('with/without', () => {
    const m = withGlobalScope({trustDomain: 'cluster.local', serviceScopeConfigs: [foreign]})
    assert.deepEqual(m.serviceScopeConfigs, [foreign, globalScopeEntry()])
    assert.deepEqual(withGlobalScope(m), m, 'idempotent')
    assert.deepEqual(withoutGlobalScope(m), {trustDomain: 'cluster.local', serviceScopeConfigs: [foreign]})
    assert.deepEqual(withoutGlobalScope(withGlobalScope({})), {})
  })
  test('ConfigMap edits: added is recorded; removed only when recorded; unchanged when present', () => {
    const cm = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: 'istio-system'}, data: {mesh: 'serviceScopeConfigs:\n- scope: GLOBAL\n  namespaceSelector:\n    matchLabels:\n      team: payments\n', meshNetworks: 'networks: {}'}}
    const added = addScopeEdit(cm)!
    assert.equal(added.metadata.annotations?.['kubectl-mesh/service-scope'], 'added')
    assert.equal(added.data.meshNetworks, 'networks: {}')
    assert.equal((load(added.data.mesh) as any).serviceScopeConfigs.length, 2)
    assert.equal(addScopeEdit(added), added, 'present: nothing to do')
    const removed = removeScopeEdit(added)!
    assert.deepEqual((load(removed.data.mesh) as any).serviceScopeConfigs, [{scope: 'GLOBAL', namespaceSelector: {matchLabels: {team: 'payments'}}}])
    const userMade = {...cm, data: {mesh: 'serviceScopeConfigs:\n- scope: GLOBAL\n  servicesSelector:\n    matchExpressions:\n    - key: istio.io/global\n      operator: In\n      values: ["true"]\n'}}
    assert.equal(addScopeEdit(userMade), userMade, 'the user already has it: not ours')
    assert.equal(removeScopeEdit(userMade), userMade, 'not ours: never removed')
  })
})

describe('the east-west Gateway (networks.go remoteK8sGatewayToNetworkGateways)', () => {
  test('as gen-eastwest-gateway.sh --ambient prints it', () => {
    const g = ambientEastWestGateway('network2', 'istio-system')
    assert.deepEqual(g.spec.listeners, [{name: 'mesh', port: 15008, protocol: 'HBONE', tls: {mode: 'Terminate', options: {'gateway.istio.io/tls-terminate-mode': 'ISTIO_MUTUAL'}}}])
    assert.equal(g.spec.gatewayClassName, 'istio-east-west')
    assert.equal(g.metadata.labels?.['topology.istio.io/network'], 'network2')
  })
  test('addresses from status; HBONE needs TLS Terminate; other classes ignored', () => {
    const g = ambientEastWestGateway('network2', 'istio-system')
    const programmed = {...g, status: {addresses: [{type: 'IPAddress', value: '127.0.0.12'}], conditions: [{type: 'Programmed', status: 'True'}]}}
    const [d] = ambientGateways([programmed, {...g, spec: {...g.spec, gatewayClassName: 'istio'}}], 'network2')
    assert.deepEqual({addresses: d.addresses, hbone: d.hbone, port: d.hbonePort, programmed: d.programmed}, {addresses: ['127.0.0.12'], hbone: true, port: 15008, programmed: true})
    assert.equal(ambientGateways([{...g, spec: {...g.spec, listeners: [{name: 'mesh', port: 15008, protocol: 'HBONE'}]}}])[0].hbone, false)
  })
  test('an ambient-only gateway Service (#57878)', () => {
    assert.ok(ambientOnlyService(obj('Service', 'gw', {spec: {ports: [{port: 15021}, {port: 15008}]}}), 15443))
    assert.ok(!ambientOnlyService(obj('Service', 'gw', {spec: {ports: [{port: 15443}, {port: 15008}]}}), 15443))
  })
})

describe('the data plane', () => {
  test('ztunnel DaemonSet, profile, namespaces, the flag', () => {
    const istiod = obj('Deployment', 'istiod', {spec: {template: {spec: {containers: [{name: 'discovery', env: [{name: 'PILOT_ENABLE_AMBIENT', value: 'true'}, {name: 'AMBIENT_ENABLE_MULTI_NETWORK', value: 'true'}]}]}}}})
    const f = ambientFacts({istiod, daemonSets: [obj('DaemonSet', 'ztunnel')], namespaces: [{apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'bar', labels: {'istio.io/dataplane-mode': 'ambient'}}}]})
    assert.deepEqual({kind: f.kind, zt: f.ztunnel, mn: f.multiNetwork, ns: f.ambientNamespaces}, {kind: 'ambient', zt: 'istio-system/ztunnel', mn: true, ns: ['bar']})
    const side = ambientFacts({istiod: obj('Deployment', 'istiod', {spec: {template: {spec: {containers: [{name: 'discovery', env: []}]}}}})})
    assert.equal(side.kind, 'sidecar')
    assert.equal(ambientFacts({}).kind, 'none')
  })
  test('the waypoint a Service uses', () => {
    const svc = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'a', namespace: 'bar', labels: {'istio.io/use-waypoint': 'wp'}}}
    assert.deepEqual(waypointOf(svc, undefined), {namespace: 'bar', name: 'wp'})
    assert.equal(waypointOf({...svc, metadata: {...svc.metadata, labels: {'istio.io/use-waypoint': 'none'}}}, undefined), undefined)
    assert.deepEqual(waypointOf({...svc, metadata: {name: 'a', namespace: 'bar'}}, {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'bar', labels: {'istio.io/use-waypoint': 'w2'}}}), {namespace: 'bar', name: 'w2'})
  })
})

describe('export labels (src/exposure/ambient.ts)', () => {
  const svc = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'wp', namespace: 'bar', labels, annotations}})
  test('global for several; local when the last one goes; a label the user set stays', () => {
    const p = globalPatch(svc(), 'bar/a')
    assert.deepEqual(p, {metadata: {labels: {'istio.io/global': 'true'}, annotations: {'kubectl-mesh/global-for': 'bar/a'}}})
    const s1 = svc({'istio.io/global': 'true'}, {'kubectl-mesh/global-for': 'bar/a'})
    assert.equal(globalPatch(s1, 'bar/a'), null, 'again: nothing to do')
    assert.deepEqual(globalPatch(s1, 'bar/b'), {metadata: {labels: {}, annotations: {'kubectl-mesh/global-for': 'bar/a,bar/b'}}})
    const s2 = svc({'istio.io/global': 'true'}, {'kubectl-mesh/global-for': 'bar/a,bar/b'})
    assert.deepEqual(localPatch(s2, 'bar/a'), {metadata: {labels: {}, annotations: {'kubectl-mesh/global-for': 'bar/b'}}})
    assert.deepEqual(localPatch(s1, 'bar/a'), {metadata: {labels: {'istio.io/global': null}, annotations: {'kubectl-mesh/global-for': null}}})
    const user = svc({'istio.io/global': 'true'})
    assert.equal(globalPatch(user, 'bar/a'), null)
    assert.equal(localPatch(user, 'bar/a'), null)
  })
})

describe('verify ambient checks over fixtures (pure)', async () => {
  const {runChecks} = await import('../../src/verify/runner.ts')
  const {find, healthyMesh} = await import('./verify-fixtures.ts')
  const ztunnel = {apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {name: 'ztunnel', namespace: 'istio-system'}}
  const ambientCluster = (f: any) => {
    f.ambientObjects = {daemonSets: [ztunnel], kubeGateways: []}
    const gw = find(f, 'Service', 'istio-eastwestgateway')
    gw.spec.ports = [{name: 'status-port', port: 15021}, {name: 'mesh', port: 15008}]
  }
  const byId = (r: any, id: string, cluster: string) => r.checks.find((c: any) => c.id === id && c.cluster === cluster)

  test('a sidecar cluster linked to an ambient-only east-west gateway fails (#57878); a 15443 gateway too passes', () => {
    const f = healthyMesh()
    ambientCluster(f.clusters[1])
    const r = runChecks(f)
    const c = byId(r, 'ambient.sidecar-gateway', 'cluster1')
    assert.equal(c.status, 'fail', c.message)
    assert.match(c.message, /57878/)
    assert.equal(byId(r, 'networks.gateway-port', 'cluster2').status, 'pass', 'istiod takes a 15008-only gateway (getGatewayDetails)')
    find(f.clusters[1], 'Service', 'istio-eastwestgateway').spec.ports.push({name: 'tls', port: 15443})
    assert.equal(byId(runChecks(f), 'ambient.sidecar-gateway', 'cluster1').status, 'pass')
  })

  test('an exported Service whose waypoint is LOCAL fails ambient.waypoint; labelled, it passes', () => {
    const f = healthyMesh()
    ambientCluster(f.clusters[1])
    const c2 = f.clusters[1]
    const svc = find(c2, 'Service', 'httpbin', 'bar')
    svc.metadata.labels = {...svc.metadata.labels, 'istio.io/use-waypoint': 'wp', 'istio.io/global': 'true'}
    c2.lists.Service!.push({apiVersion: 'v1', kind: 'Service', metadata: {name: 'wp', namespace: 'bar', labels: {}}, spec: {ports: [{port: 15008}]}})
    const mesh = c2.lists.ConfigMap!.find((m) => m.metadata.name === 'istio')!
    mesh.data = {...mesh.data, mesh: 'serviceScopeConfigs:\n- scope: GLOBAL\n  servicesSelector:\n    matchExpressions:\n    - {key: istio.io/global, operator: In, values: ["true"]}\n'}
    const bad = byId(runChecks(f), 'ambient.waypoint', 'cluster2')
    assert.equal(bad.status, 'fail', bad.message)
    assert.match(bad.message, /waypoint bar\/wp is LOCAL/)
    find(c2, 'Service', 'wp', 'bar').metadata.labels = {'istio.io/global': 'true'}
    assert.equal(byId(runChecks(f), 'ambient.waypoint', 'cluster2').status, 'pass')
  })
})

describe('verify ambient.eastwest-gateway over fixtures (pure)', async () => {
  const {runChecks} = await import('../../src/verify/runner.ts')
  const {healthyMesh} = await import('./verify-fixtures.ts')
  test('a linked ambient cluster whose istio-east-west Gateway has no status address fails, naming the Service; with one it passes', () => {
    const f = healthyMesh()
    const gw = ambientEastWestGateway('network2', 'istio-system')
    f.clusters[1].ambientObjects = {daemonSets: [{apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {name: 'ztunnel', namespace: 'istio-system'}}], kubeGateways: [gw]}
    const get = () => runChecks(f).checks.find((c) => c.id === 'ambient.eastwest-gateway' && c.cluster === 'cluster2')!
    assert.equal(get().status, 'fail')
    assert.match(get().message, /Gateway istio-system\/istio-eastwestgateway has no address in its status/)
    assert.match(get().hint, /Service istio-system\/istio-eastwestgateway a load-balancer address/)
    // LoadBalancer pending: istiod reports the Service's ClusterIP (conversion.go reportGatewayStatus), which no other network reaches
    f.clusters[1].lists.Service = [...f.clusters[1].lists.Service!.filter((s) => s.metadata.name !== 'istio-eastwestgateway'),
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: 'istio-system'}, spec: {type: 'LoadBalancer', clusterIP: '10.96.2.95', clusterIPs: ['10.96.2.95'], ports: [{port: 15008}]}}]
    f.clusters[1].ambientObjects.kubeGateways = [{...gw, status: {addresses: [{type: 'IPAddress', value: '10.96.2.95'}], conditions: [{type: 'Programmed', status: 'False', reason: 'AddressNotAssigned', message: 'address pending'}]}}]
    assert.equal(get().status, 'fail')
    assert.match(get().message, /only 10\.96\.2\.95, the in-cluster address of its Service \(Programmed False, AddressNotAssigned/)
    assert.match(get().hint, /EXTERNAL-IP <pending>/)
    f.clusters[1].ambientObjects.kubeGateways = [{...gw, status: {addresses: [{type: 'IPAddress', value: '127.0.0.12'}], conditions: [{type: 'Programmed', status: 'True'}]}}]
    assert.equal(get().status, 'pass', get().message)
  })
})

describe('service import in an ambient mesh (pure parts)', async () => {
  const {importedService, importRecord} = await import('../../src/exposure/ambient-import.ts')
  test('the Service import creates: selectorless, the exporter ports, GLOBAL, recorded for its source', () => {
    const west = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'echo', namespace: 'bar', labels: {'istio.io/global': 'true'}},
      spec: {selector: {app: 'echo'}, clusterIP: '10.96.2.9', ports: [{name: 'http', port: 9000, targetPort: 8080, protocol: 'TCP'}, {port: 9001, appProtocol: 'grpc'}]}}
    const s = importedService(west, 'cluster2', '1.2.3')
    assert.equal(s.spec.selector, undefined)
    assert.equal(s.spec.clusterIP, undefined)
    assert.deepEqual(s.spec.ports, [{name: 'http', port: 9000, targetPort: 8080, protocol: 'TCP'}, {port: 9001, protocol: 'TCP', appProtocol: 'grpc'}])
    assert.equal(s.metadata.labels!['istio.io/global'], 'true')
    assert.equal(s.metadata.labels!['kubectl-mesh/imported-from'], 'cluster2')
    assert.equal(s.metadata.annotations!['kubectl-mesh/global-for'], importRecord('cluster2'))
  })
  test('an import record next to an export record: globalPatch adds it once, and the user-set label stays theirs', () => {
    const svc = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'httpbin', namespace: 'bar', labels: {'istio.io/global': 'true'}, annotations: {'kubectl-mesh/global-for': 'bar/httpbin'}}}
    const p = globalPatch(svc, importRecord('cluster2'))
    assert.deepEqual(p, {metadata: {labels: {}, annotations: {'kubectl-mesh/global-for': 'bar/httpbin,import:cluster2'}}})
    const user = {...svc, metadata: {...svc.metadata, annotations: {}}}
    assert.equal(globalPatch(user, importRecord('cluster2')), null)
  })
})
