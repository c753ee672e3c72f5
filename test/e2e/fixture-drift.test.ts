// The simulated install (testbed/fixtures/istio.yaml) stays for tests that break Istio's objects
// cheaply; this file keeps it honest: every field kubectl-mesh reads from an Istio install (grep
// src/ for the readers named below) must be what `istioctl manifest generate` of the pinned Istio
// renders for the same cluster (testbed/istio-install.ts renderIstio). No cluster needed.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {load, loadAll} from 'js-yaml'
import {clusterParams, renderIstioFixtures} from '../../testbed/fixtures.ts'
import {EASTWEST_GATEWAY, renderIstio} from '../../testbed/istio-install.ts'
import type {KubeDoc} from '../../testbed/istio-install.ts'
import {ensureIstioBuilt} from '../../testbed/istiod.ts'

const p = clusterParams(2)
ensureIstioBuilt((m) => process.stderr.write(`# ${m}\n`))
const real = renderIstio(p).objects
const fixture = (loadAll(renderIstioFixtures(p)) as KubeDoc[]).filter(Boolean)

function find(objs: KubeDoc[], kind: string, name: string): KubeDoc {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
  assert.ok(o, `${kind} ${name} missing`)
  return o
}
const both = (kind: string, name: string) => ({real: find(real, kind, name), fixture: find(fixture, kind, name)})
const discovery = (d: KubeDoc) => d.spec.template.spec.containers.find((c: any) => c.name === 'discovery') ?? d.spec.template.spec.containers[0]
const envOf = (d: KubeDoc, name: string) => discovery(d).env?.find((e: any) => e.name === name)?.value

test('istiod Deployment: found by label app=istiod, CLUSTER_ID, revision label, image version (src/link/facts.ts, src/verify/model.ts)', () => {
  const {real: r, fixture: f} = both('Deployment', 'istiod')
  assert.equal(f.metadata.labels?.app, r.metadata.labels?.app)
  assert.equal(f.metadata.labels?.['istio.io/rev'], r.metadata.labels?.['istio.io/rev'])
  assert.equal(envOf(f, 'CLUSTER_ID'), envOf(r, 'CLUSTER_ID'))
  assert.equal(envOf(r, 'CLUSTER_ID'), p.name)
  assert.equal(discovery(f).name, discovery(r).name)
  assert.equal(discovery(f).image.split(':').pop(), discovery(r).image.split(':').pop(), 'istiod image tag')
})

test('injector ConfigMap values: global.multiCluster.clusterName, network, meshID, tag (src/link/facts.ts deriveFacts, src/verify/model.ts)', () => {
  const {real: r, fixture: f} = both('ConfigMap', 'istio-sidecar-injector')
  const rv = JSON.parse(r.data.values)
  const fv = JSON.parse(f.data.values)
  for (const path of ['global.multiCluster.clusterName', 'global.network', 'global.meshID', 'global.tag', 'global.istioNamespace', 'revision']) {
    const get = (o: any) => path.split('.').reduce((a, k) => a?.[k], o)
    assert.deepEqual(get(fv), get(rv), `values.${path}`)
  }
  assert.equal(f.metadata.labels?.['istio.io/rev'], r.metadata.labels?.['istio.io/rev'])
})

test('mesh ConfigMap: keys mesh and meshNetworks, DNS capture in proxyMetadata, trust domain (src/verify/model.ts, src/exposure/plan.ts, src/link/service.ts)', () => {
  const {real: r, fixture: f} = both('ConfigMap', 'istio')
  assert.ok('meshNetworks' in r.data, 'render has meshNetworks')
  assert.ok('meshNetworks' in f.data)
  const rm = load(r.data.mesh) as any
  const fm = load(f.data.mesh) as any
  assert.equal(fm.defaultConfig?.proxyMetadata?.ISTIO_META_DNS_CAPTURE, rm.defaultConfig?.proxyMetadata?.ISTIO_META_DNS_CAPTURE)
  assert.equal(fm.trustDomain ?? 'cluster.local', rm.trustDomain ?? 'cluster.local')
  assert.equal(fm.defaultConfig?.discoveryAddress, rm.defaultConfig?.discoveryAddress)
  assert.deepEqual(load(f.data.meshNetworks), load(r.data.meshNetworks))
})

test('east-west gateway Service: labels istio=eastwestgateway and topology.istio.io/network, type LoadBalancer, port 15443 named tls (src/link/facts.ts findGateway)', () => {
  const {real: r, fixture: f} = both('Service', EASTWEST_GATEWAY)
  for (const l of ['istio', 'topology.istio.io/network', 'app']) assert.equal(f.metadata.labels?.[l], r.metadata.labels?.[l], `label ${l}`)
  assert.equal(f.spec.type, r.spec.type)
  const ports = (s: KubeDoc) => (s.spec.ports as any[]).map((x) => `${x.name}:${x.port}`).sort()
  assert.deepEqual(ports(f), ports(r))
  assert.deepEqual(f.spec.selector, r.spec.selector)
})

test('reader RBAC: ServiceAccount, ClusterRole and binding names, and the core resources istiod needs (src/link/plan.ts, src/verify/checks/links.ts)', () => {
  for (const [kind, name] of [['ServiceAccount', 'istio-reader-service-account'], ['ClusterRole', 'istio-reader-clusterrole-istio-system'], ['ClusterRoleBinding', 'istio-reader-clusterrole-istio-system']]) find(real, kind, name)
  const {real: r, fixture: f} = both('ClusterRole', 'istio-reader-clusterrole-istio-system')
  const core = (c: KubeDoc) => new Set((c.rules as any[]).filter((x) => (x.apiGroups ?? []).includes('')).flatMap((x) => x.resources))
  const rc = core(r)
  const fc = core(f)
  assert.deepEqual([...fc].sort(), [...rc].sort(), 'core resources of the reader ClusterRole')
})

test('istiod Service: name and ports (15012, 15017, 15014 for verify\'s debug port)', () => {
  const {real: r, fixture: f} = both('Service', 'istiod')
  const ports = (s: KubeDoc) => (s.spec.ports as any[]).map((x) => x.port).sort()
  assert.deepEqual(ports(f), ports(r))
})
