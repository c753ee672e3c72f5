// verify on links wired by an istio-remote Gateway (cluster link --network-config gateway where
// EAST's istiod cannot discover WEST's gateway by its label): the pure model (src/verify/model.ts
// remoteWiring) and links.istiod-gateways on fixture facts. The Gateways are the ones link writes
// (src/link/remote-gateway.ts remoteGateway), read by the one reader (src/istio/gateway.ts).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks} from '../../src/verify/runner.ts'
import {remoteWiring} from '../../src/verify/model.ts'
import {remoteGatewayDeclarations} from '../../src/istio/gateway.ts'
import {remoteGateway} from '../../src/link/remote-gateway.ts'
import {NETWORK_CONFIG_ANNOTATION} from '../../src/istio/names.ts'
import type {IstiodProbe, VerifyFacts} from '../../src/verify/types.ts'
import {healthyMesh} from './verify-fixtures.ts'

const declared = (address: string, network = 'network2', port = 15443) =>
  remoteGatewayDeclarations([remoteGateway({namespace: 'istio-system', id: 'cluster2', network, gateways: [{address, port}], version: '0.1.0'})])

describe('verify model: remoteWiring', () => {
  const current = [{address: '127.0.0.12', port: 15443}]
  test('a Gateway naming the peer network at its gateway\'s current address: ok', () => {
    const r = remoteWiring({declarations: declared('127.0.0.12'), network: 'network2', current, needsNone: false, wiring: 'gateway'})
    assert.equal(r.kind, 'ok')
    assert.deepEqual(r.kind === 'ok' && r.gateways.map((g) => g.ref), ['istio-system/kubectl-mesh-remote-cluster2'])
  })
  test('the peer\'s gateway moved: moved, naming the Gateway and the stale address', () => {
    const r = remoteWiring({declarations: declared('127.0.0.99'), network: 'network2', current, needsNone: false, wiring: 'gateway'})
    assert.equal(r.kind, 'moved')
    assert.deepEqual(r.kind === 'moved' && [r.gateway.ref, r.stale], ['istio-system/kubectl-mesh-remote-cluster2', [{address: '127.0.0.99', port: 15443}]])
  })
  test('another port than the gateway\'s: moved', () => {
    assert.equal(remoteWiring({declarations: declared('127.0.0.12', 'network2', 15444), network: 'network2', current, needsNone: false}).kind, 'moved')
  })
  test('a hostname compared by its DNS answers, as istiod resolves it', () => {
    const d = declared('gw.example')
    assert.equal(remoteWiring({declarations: d, network: 'network2', current, needsNone: false, dns: {'gw.example': ['127.0.0.12']}}).kind, 'ok')
    assert.equal(remoteWiring({declarations: d, network: 'network2', current, needsNone: false, dns: {'gw.example': ['127.0.0.13']}}).kind, 'moved')
  })
  test('the peer\'s gateway unknown (no address read): ok, nothing to compare', () => {
    assert.equal(remoteWiring({declarations: declared('127.0.0.99'), network: 'network2', current: [], needsNone: false}).kind, 'ok')
  })
  test('no Gateway for the network: missing when a gateway-wired link relies on it; none when istiod discovers the gateway by its label or the link is meshnetworks', () => {
    assert.equal(remoteWiring({declarations: [], network: 'network2', current, needsNone: false, wiring: 'gateway'}).kind, 'missing')
    assert.equal(remoteWiring({declarations: declared('127.0.0.12', 'network3'), network: 'network2', current, needsNone: false, wiring: 'gateway'}).kind, 'missing')
    assert.equal(remoteWiring({declarations: [], network: 'network2', current, needsNone: true, wiring: 'gateway'}).kind, 'none')
    assert.equal(remoteWiring({declarations: [], network: 'network2', current, needsNone: false, wiring: 'meshnetworks'}).kind, 'none')
    assert.equal(remoteWiring({declarations: [], network: 'network2', current, needsNone: false}).kind, 'none')
  })
})

describe('verify: links.istiod-gateways on a link wired by an istio-remote Gateway', () => {
  const probe = (self: number, peer: number, networkz: Array<{network: string; cluster: string; addr: string; port: number}>): IstiodProbe => ({
    cluster: `cluster${self}`, url: 'u', outcome: 'ok', detail: '',
    clusterz: [{id: `cluster${self}`, secretName: '', syncStatus: 'synced'}, {id: `cluster${peer}`, secretName: `istio-system/istio-remote-secret-cluster${peer}`, syncStatus: 'synced'}],
    networkz,
  })
  /** cluster1 linked to cluster2 with --network-config gateway; cluster2's gateway Service not labelled with its network. */
  function mesh(o: {gatewayAt?: string; networkz: Array<{network: string; cluster: string; addr: string; port: number}>}): VerifyFacts {
    const f = healthyMesh()
    const [c1, c2] = f.clusters
    const secret = c1.lists.Secret!.find((s) => s.metadata.name === 'istio-remote-secret-cluster2')!
    secret.metadata.annotations = {...secret.metadata.annotations, [NETWORK_CONFIG_ANNOTATION]: 'gateway'}
    const svc = c2.lists.Service!.find((s) => s.metadata.name === 'istio-eastwestgateway')!
    delete svc.metadata.labels!['topology.istio.io/network']
    c1.lists.KubeGateway = o.gatewayAt ? [remoteGateway({namespace: 'istio-system', id: 'cluster2', network: 'network2', gateways: [{address: o.gatewayAt, port: 15443}], version: '0.1.0'})] : []
    f.istiod = [probe(1, 2, o.networkz), probe(2, 1, [{network: 'network1', cluster: 'cluster1', addr: '127.0.0.11', port: 15443}])]
    return f
  }
  const of = (f: VerifyFacts) => runChecks(f).checks.find((c) => c.id === 'links.istiod-gateways' && c.cluster === 'cluster1')!

  test('istiod lists the Gateway\'s address: pass, saying the link is wired by it', () => {
    const r = of(mesh({gatewayAt: '127.0.0.12', networkz: [{network: 'network2', cluster: 'cluster1', addr: '127.0.0.12', port: 15443}]}))
    assert.equal(r.status, 'pass', r.message)
    assert.match(r.message, /cluster2 wired by istio-remote Gateway istio-system\/kubectl-mesh-remote-cluster2 \(127\.0\.0\.12:15443\)/)
    const f = mesh({gatewayAt: '127.0.0.12', networkz: []})
    const mn = runChecks(f).checks.find((c) => c.id === 'networks.mesh-networks' && c.cluster === 'cluster1')!
    assert.match(mn.message, /cluster2 via gateway \(istio-remote Gateway istio-system\/kubectl-mesh-remote-cluster2\)/, mn.message)
  })
  test('the Gateway deleted: fails naming it, the fix re-runs link with --network-config gateway', () => {
    const r = of(mesh({networkz: []}))
    assert.equal(r.status, 'fail')
    assert.match(r.message, /relies on istio-remote Gateway istio-system\/kubectl-mesh-remote-cluster2 naming network network2/)
    assert.match(r.hint, /^`kubectl mesh cluster link --context cluster1 --remote-context cluster2( --expose exported)? --network-config gateway`/)
  })
  test('the peer\'s gateway moved: fails naming the Gateway, both addresses', () => {
    const r = of(mesh({gatewayAt: '127.0.0.99', networkz: [{network: 'network2', cluster: 'cluster1', addr: '127.0.0.99', port: 15443}]}))
    assert.equal(r.status, 'fail')
    assert.match(r.message, /istio-remote Gateway istio-system\/kubectl-mesh-remote-cluster2 names network network2 at 127\.0\.0\.99:15443, but cluster2's east-west gateway istio-system\/istio-eastwestgateway \(lb-ip\) is at 127\.0\.0\.12:15443/)
    assert.match(r.hint, /--network-config gateway/)
  })
  test('istiod does not list the declared address: fails', () => {
    const r = of(mesh({gatewayAt: '127.0.0.12', networkz: []}))
    assert.equal(r.status, 'fail')
    assert.match(r.message, /istio-remote Gateway istio-system\/kubectl-mesh-remote-cluster2 names network network2 of cluster cluster2 at 127\.0\.0\.12:15443, but istiod knows no gateway/)
  })
  test('Gateway API not read (undefined): the label checks as before', () => {
    const f = mesh({networkz: []})
    delete f.clusters[0].lists.KubeGateway
    assert.doesNotMatch(of(f).message, /istio-remote/)
  })
})
