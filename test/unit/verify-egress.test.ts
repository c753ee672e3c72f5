// verify's checks of imports through the egress gateway, on the fixture mesh with cluster1's
// import of bar/httpbin rewritten as `service import --via-egress` writes it (the real planner).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks, type VerifyReport} from '../../src/verify/runner.ts'
import {egressServiceEntryMeta, importEgressObjects, type EgressTarget} from '../../src/exposure/egress.ts'
import {importDestinationRule, importServiceEntry, type ImportTarget} from '../../src/exposure/plan.ts'
import type {KubeObject} from '../../src/kube/resources.ts'
import type {VerifyFacts} from '../../src/verify/types.ts'
import {healthyMesh} from './verify-fixtures.ts'

const EGRESS_IDS = ['imports.egress-gateway', 'imports.egress-server', 'imports.egress-route', 'imports.egress-only']
const egress: EgressTarget = {namespace: 'istio-system', name: 'istio-egressgateway', host: 'istio-egressgateway.istio-system.svc.cluster.local', selector: {istio: 'egressgateway'}, port: 443}
const target: ImportTarget = {service: {name: 'httpbin', namespace: 'bar', ports: [{number: 8000, name: 'http'}, {number: 9000, name: 'tcp-echo'}]}, fqdn: 'httpbin.bar.svc.cluster.local', host: 'httpbin.bar.remote', addresses: []}
const ctx = {fromId: 'cluster2', gatewayAddresses: ['127.0.0.12'], gatewayPort: 15443, version: '1.0.0'}

function egressMesh(): VerifyFacts {
  const facts = healthyMesh()
  const c1 = facts.clusters[0]
  const c2 = facts.clusters[1]
  c2.lists.Service!.find((s) => s.metadata.name === 'httpbin')!.spec.ports.push({name: 'tcp-echo', port: 9000, protocol: 'TCP'})
  const se = importServiceEntry(target, ctx, egressServiceEntryMeta(egress))
  const objs = importEgressObjects(target, ctx, egress)
  c1.lists.ServiceEntry = [se]
  c1.lists.DestinationRule = [importDestinationRule(target, ctx), ...objs.filter((o) => o.kind === 'DestinationRule')]
  c1.lists.Gateway = objs.filter((o) => o.kind === 'Gateway')
  c1.lists.VirtualService = objs.filter((o) => o.kind === 'VirtualService').map((o) => ({...o, metadata: {...o.metadata, creationTimestamp: '2026-12-07T20:00:00Z'}}))
  c1.lists.Service!.push({apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-egressgateway', namespace: 'istio-system', labels: {istio: 'egressgateway'}},
    spec: {selector: {istio: 'egressgateway'}, ports: [{name: 'http2', port: 80, targetPort: 8080}, {name: 'https', port: 443, targetPort: 8443}]}})
  c1.lists.Deployment!.push({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'istio-egressgateway', namespace: 'istio-system'}, spec: {replicas: 1, template: {metadata: {labels: {istio: 'egressgateway', app: 'istio-egressgateway'}}}}})
  c1.egressPods = {'istio-system/istio-egressgateway': [pod(true)]}
  c2.lists.VirtualService = []
  return facts
}

const pod = (ready: boolean): KubeObject => ({apiVersion: 'v1', kind: 'Pod', metadata: {name: 'istio-egressgateway-0', namespace: 'istio-system', labels: {istio: 'egressgateway'}},
  spec: {serviceAccountName: 'istio-egressgateway-service-account'}, status: {phase: 'Running', conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}]}})

const egressFailures = (r: VerifyReport) => r.checks.filter((c) => c.status === 'fail')
const only = (r: VerifyReport, ids: string[], message: RegExp) => {
  const f = egressFailures(r)
  assert.deepEqual([...new Set(f.map((x) => x.id))].sort(), [...ids].sort(), f.map((x) => `${x.id}: ${x.message}`).join('\n'))
  for (const x of f) {
    assert.equal(x.cluster, 'cluster1')
    assert.ok(x.hint.length > 10)
  }
  assert.match(f.map((x) => x.message).join('\n'), message)
  return f
}

describe('verify: imports through the egress gateway', () => {
  test('as import --via-egress writes them: every egress check passes, nothing fails', () => {
    const r = runChecks(egressMesh())
    assert.deepEqual(egressFailures(r).map((x) => `${x.id}: ${x.message}`), [])
    for (const id of EGRESS_IDS) assert.equal(r.checks.find((c) => c.id === id && c.cluster === 'cluster1')?.status, 'pass', id)
  })
  test('the egress gateway scaled to zero (its Pod not ready): imports.egress-gateway, with the scale command', () => {
    const facts = egressMesh()
    facts.clusters[0].egressPods = {'istio-system/istio-egressgateway': [pod(false)]}
    facts.clusters[0].lists.Deployment!.find((d) => d.metadata.name === 'istio-egressgateway')!.spec.replicas = 0
    const [f] = only(runChecks(facts), ['imports.egress-gateway'], /no ready Pod .*scaled to zero/)
    assert.match(f.hint, /scale deployment istio-egressgateway --replicas=1/)
  })
  test('the egress gateway Service gone: imports.egress-gateway', () => {
    const facts = egressMesh()
    facts.clusters[0].lists.Service = facts.clusters[0].lists.Service!.filter((s) => s.metadata.name !== 'istio-egressgateway')
    only(runChecks(facts), ['imports.egress-gateway'], /istio-system\/istio-egressgateway, but that Service does not exist/)
  })
  test("a port's Gateway deleted: imports.egress-server names the host and the Gateway", () => {
    const facts = egressMesh()
    facts.clusters[0].lists.Gateway = facts.clusters[0].lists.Gateway!.filter((g) => g.metadata.name !== 'httpbin-cluster2-9000')
    const f = only(runChecks(facts), ['imports.egress-server'], /9000\.httpbin\.bar\.remote/)
    assert.match(f.find((x) => x.id === 'imports.egress-server')!.message, /expected Gateway bar\/httpbin-cluster2-9000/)
  })
  test("the sidecars' route removed: imports.egress-route and imports.egress-only (the direct path is open)", () => {
    const facts = egressMesh()
    facts.clusters[0].lists.VirtualService = facts.clusters[0].lists.VirtualService!.filter((v) => v.metadata.name !== 'httpbin-cluster2')
    const f = only(runChecks(facts), ['imports.egress-route', 'imports.egress-only'], /direct path is open/)
    assert.match(f.find((x) => x.id === 'imports.egress-route')!.message, /expected VirtualService bar\/httpbin-cluster2/)
  })
  test("the egress gateway's route for one port removed, or its subset's SNI changed: imports.egress-route", () => {
    let facts = egressMesh()
    facts.clusters[0].lists.VirtualService = facts.clusters[0].lists.VirtualService!.filter((v) => v.metadata.name !== 'httpbin-cluster2-8000')
    only(runChecks(facts), ['imports.egress-route'], /routes it to httpbin\.bar\.remote:8000.*expected VirtualService bar\/httpbin-cluster2-8000/)
    facts = egressMesh()
    facts.clusters[0].lists.DestinationRule!.find((d) => d.metadata.namespace === 'istio-system')!.spec.subsets[1].trafficPolicy.tls.sni = 'httpbin.bar.remote'
    only(runChecks(facts), ['imports.egress-route'], /SNI httpbin\.bar\.remote, not ISTIO_MUTUAL with 9000\.httpbin\.bar\.remote/)
  })
  test('an older mesh route for the host (Istio takes the oldest) sends it straight on: imports.egress-only', () => {
    const facts = egressMesh()
    const vs = facts.clusters[0].lists.VirtualService!.find((v) => v.metadata.name === 'httpbin-cluster2')!
    facts.clusters[0].lists.VirtualService!.unshift({...vs, metadata: {name: 'mine', namespace: 'foo', creationTimestamp: '2020-01-01T00:00:00Z'}, spec: {hosts: ['httpbin.bar.remote'], tcp: [{route: [{destination: {host: 'httpbin.bar.remote'}}]}]}})
    only(runChecks(facts), ['imports.egress-only'], /VirtualService foo\/mine sends port 9000 of httpbin\.bar\.remote to httpbin\.bar\.remote, not through the egress gateway/)
  })
})
