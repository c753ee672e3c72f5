// A revisioned Istio install (`istioctl install --revision canary`): cluster3 is turned into one
// (istiod-canary, ConfigMaps istio-canary and istio-sidecar-injector-canary, reader ClusterRole
// and binding istio-reader-clusterrole-canary-istio-system; no default-revision objects), then
// link, verify, export/import, unlink and ca gen run against it and cluster1. Checked with kubectl.
// after() puts cluster3's default install back (the test bed's fixtures).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {load} from 'js-yaml'
import {kget, kubectl, mesh, tempDir} from './harness.ts'
import {applyIstioFixtures} from '../../testbed/fixtures.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C3 = 'cluster3'
const REV = 'canary'
const READER_REV = `istio-reader-clusterrole-${REV}-${NS}`
const READER_PLAIN = `istio-reader-clusterrole-${NS}`
const MANAGED = 'app.kubernetes.io/managed-by=kubectl-mesh'
let c1Istio: Record<string, string> = {}

/** A copy of a live object under another name, without server-set fields. */
function renamed(o: any, name: string, labels: Record<string, string> = {}): any {
  const {uid, resourceVersion, creationTimestamp, managedFields, generation, annotations, ...meta} = o.metadata
  const {status, ...rest} = o
  return {...rest, metadata: {...meta, name, labels: {...meta.labels, ...labels}}}
}

async function revisionedInstall(ctx: string): Promise<void> {
  const deploy = await kget(ctx, ['-n', NS, 'deployment', 'istiod'])
  const canaryDeploy = renamed(deploy, `istiod-${REV}`, {'istio.io/rev': REV})
  canaryDeploy.spec.selector.matchLabels = {...canaryDeploy.spec.selector.matchLabels, 'istio.io/rev': REV}
  canaryDeploy.spec.template.metadata.labels = {...canaryDeploy.spec.template.metadata.labels, 'istio.io/rev': REV}
  const mesh = renamed(await kget(ctx, ['-n', NS, 'configmap', 'istio']), `istio-${REV}`, {'istio.io/rev': REV})
  const injector = renamed(await kget(ctx, ['-n', NS, 'configmap', 'istio-sidecar-injector']), `istio-sidecar-injector-${REV}`, {'istio.io/rev': REV})
  const role = renamed(await kget(ctx, ['clusterrole', READER_PLAIN]), READER_REV, {'istio.io/rev': REV})
  const binding = renamed(await kget(ctx, ['clusterrolebinding', READER_PLAIN]), READER_REV, {'istio.io/rev': REV})
  binding.roleRef = {...binding.roleRef, name: READER_REV}
  await kubectl(['apply', '-f', '-'], {context: ctx, input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: [canaryDeploy, mesh, injector, role, binding]})})
  await kubectl(['-n', NS, 'delete', 'deployment/istiod', 'configmap/istio', 'configmap/istio-sidecar-injector'], {context: ctx})
  await kubectl(['delete', `clusterrolebinding/${READER_PLAIN}`, `clusterrole/${READER_PLAIN}`], {context: ctx})
}

async function defaultInstall(ctx: string): Promise<void> {
  await kubectl(['-n', NS, 'delete', '--ignore-not-found', `deployment/istiod-${REV}`, `configmap/istio-${REV}`, `configmap/istio-sidecar-injector-${REV}`], {context: ctx})
  await kubectl(['delete', '--ignore-not-found', `clusterrolebinding/${READER_REV}`, `clusterrole/${READER_REV}`], {context: ctx})
  await applyIstioFixtures(ctx)
}

const meshNetworksOf = async (ctx: string, cm: string) => load((await kget(ctx, ['-n', NS, 'configmap', cm])).data.meshNetworks ?? '') as any

before(async () => {
  c1Istio = (await kget(C1, ['-n', NS, 'configmap', 'istio'])).data
  for (const ctx of [C1, C3]) await kubectl(['-n', NS, 'delete', 'secret', `istio-remote-secret-${ctx === C1 ? C3 : C1}`, '--ignore-not-found'], {context: ctx})
  await revisionedInstall(C3)
})

after(async () => {
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-context', C3, '--bidirectional', '--prune-remote'])
  await defaultInstall(C3)
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: c1Istio})], {context: C1})
})

describe('a revisioned Istio install (istiod-canary, istio-canary, …)', () => {
  test('link --bidirectional: the cluster ID from istiod-canary, meshNetworks in istio-canary, the revision\'s reader ClusterRole kept', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C3, '--bidirectional'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^${C1}\\s+Secret/${NS}/istio-remote-secret-${C3}\\s+created$`, 'm'))
    assert.match(r.stdout, new RegExp(`^${C3}\\s+ConfigMap/${NS}/istio-${REV}\\s+configured$`, 'm'))
    assert.match(r.stdout, new RegExp(`^${C3}\\s+ClusterRole/${READER_REV}\\s+unchanged$`, 'm'))
    assert.match(r.stdout, new RegExp(`^${C3}\\s+ClusterRoleBinding/${READER_REV}\\s+unchanged$`, 'm'))
    assert.equal(await kget(C3, ['-n', NS, 'configmap', 'istio']), undefined, 'no default-revision ConfigMap made')
    assert.equal(await kget(C3, ['clusterrole', READER_PLAIN]), undefined, 'no extra reader ClusterRole made')
    assert.deepEqual((await meshNetworksOf(C3, `istio-${REV}`)).networks.network1, {endpoints: [{fromRegistry: C1}], gateways: [{address: '127.0.0.11', port: 15443}]})
    assert.deepEqual((await meshNetworksOf(C1, 'istio')).networks.network3, {endpoints: [{fromRegistry: C3}], gateways: [{address: '127.0.0.13', port: 15443}]})
    const again = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C3, '--bidirectional', '-o', 'json'])
    assert.equal(again.code, 0, again.stderr)
    assert.ok(JSON.parse(again.stdout).changes.every((c: any) => c.action === 'unchanged'), again.stdout)
  })

  test('verify: the revision\'s objects are the ones checked; nothing fails', async () => {
    const r = await mesh(['verify', '--context', C1, '--context', C3, '-o', 'json'])
    const checks = JSON.parse(r.stdout).checks as Array<{id: string; cluster: string; status: string; message: string}>
    assert.deepEqual(checks.filter((c) => c.status === 'fail'), [], r.stdout)
    const of = (id: string) => checks.find((c) => c.id === id && c.cluster === C3)!
    assert.equal(of('istio.installed').status, 'pass')
    assert.match(of('istio.cluster-id').message, /cluster ID cluster3/)
    assert.match(of('networks.mesh-networks').message, new RegExp(`ConfigMap ${NS}/istio-${REV} key meshNetworks valid and current`))
    assert.equal(checks.find((c) => c.id === 'links.reader-rbac' && c.cluster === C1)?.status, 'pass')
  })

  test('import into the revisioned cluster reads its istiod and mesh config; unimport and unexport leave nothing', async () => {
    const e = await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C1])
    assert.equal(e.code, 0, e.stderr)
    const i = await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C1, '--context', C3])
    assert.equal(i.code, 0, i.stderr)
    // both facts come from the revision's objects: istiod-canary's image, istio-canary's mesh config
    assert.doesNotMatch(i.stderr, /cannot read the Istio version/)
    assert.doesNotMatch(i.stderr, /DNS proxying/)
    const se = await kget(C3, ['-n', 'bar', 'serviceentries.networking.istio.io', `httpbin-${C1}`])
    assert.equal(se.spec.hosts[0], 'httpbin.bar.global')
    assert.equal(se.spec.addresses, undefined, 'Istio 1.25+: no address (the version came from istiod-canary)')
    assert.equal((await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C3])).code, 0)
    assert.equal((await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C1])).code, 0)
  })

  test('ca gen --context: the restart hint names deployment/istiod-canary', async () => {
    const dir = tempDir('revision-ca-')
    const r = await mesh(['ca', 'gen', '--cluster', C3, '--context', C3, '--dir', dir, '--key-size', '2048', '--force', '--dry-run'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`rollout restart deployment/istiod-${REV}\``))
  })

  test('unlink --bidirectional: the network leaves istio-canary; nothing kubectl-mesh made is left', async () => {
    const r = await mesh(['cluster', 'unlink', '--context', C1, '--remote-context', C3, '--bidirectional', '--prune-remote'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^${C3}\\s+ConfigMap/${NS}/istio-${REV}\\s+configured$`, 'm'))
    assert.equal((await meshNetworksOf(C3, `istio-${REV}`))?.networks?.network1, undefined)
    assert.equal(await kget(C3, ['-n', NS, 'configmap', 'istio']), undefined)
    assert.ok(await kget(C3, ['clusterrole', READER_REV]), "the install's reader ClusterRole stays")
    const left = await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', MANAGED, '-o', 'name'], {context: C3})
    assert.equal(left.stdout, '')
  })

  test('a canary upgrade in progress (default and canary both run): the default revision is used, with a warning naming the other', async () => {
    await applyIstioFixtures(C3) // the default revision back, beside canary
    const r = await mesh(['cluster', 'link', '--context', C3, '--remote-context', C1])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`context "${C3}" runs istiod revisions default, ${REV}: meshNetworks is edited in ConfigMap ${NS}/istio \\(revision default\\) only; the other revisions' istiods do not learn network network1 from it`))
    assert.match(r.stdout, new RegExp(`^${C3}\\s+ConfigMap/${NS}/istio\\s+configured$`, 'm'))
    assert.equal((await meshNetworksOf(C3, `istio-${REV}`))?.networks?.network1, undefined)
    const u = await mesh(['cluster', 'unlink', '--context', C3, '--remote-context', C1, '--prune-remote'])
    assert.equal(u.code, 0, u.stderr)
    assert.equal((await meshNetworksOf(C3, 'istio'))?.networks?.network1, undefined)
  })
})
