// kubectl mesh verify against the test bed: the full journey is green; each break scenario is
// named by the right check, cluster and object with a hint, exits 1, and is green again once
// the hint is applied: a `kubectl mesh …` hint is run through the built CLI exactly as printed
// wherever it is runnable as-is. The journey itself is made and undone with the real commands.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {startApiServer, stopApiServer} from '../../testbed/testbed.ts'
import {FIELD_MANAGER} from '../../testbed/fixtures.ts'
import {kget, kubectl, mesh} from './harness.ts'
import {
  apply, CA_CWD, describeChecks, failures, FIX, gwIp, meshNetworksText, meshOk, NS,
  readerToken, remoteSecretObject, removeCaDir, runKubectlHint, runMeshHint, setMeshNetworks, setupJourney, teardownJourney, verifyJson,
} from './verify-journey.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64')

async function assertGreen(): Promise<void> {
  const v = await verifyJson()
  assert.equal(v.code, 0, `verify should be green:\n${describeChecks(v)}`)
  assert.deepEqual(failures(v), [])
}

/** verify exits 1 and `id` fails for `cluster` with a message naming `object` and a hint. */
async function assertBroken(id: string, cluster: string, object: RegExp, opts: {waitMs?: number} = {}) {
  let v = await verifyJson()
  // The API server caches token authentications for a few seconds: wait for a revoked token to be refused.
  const found = () => failures(v).some((c) => c.id === id && c.cluster === cluster)
  for (const until = Date.now() + (opts.waitMs ?? 0); !found() && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 1000))
    v = await verifyJson()
  }
  assert.equal(v.code, 1, `verify should fail:\n${describeChecks(v)}`)
  const hit = failures(v).find((c) => c.id === id && c.cluster === cluster)
  assert.ok(hit, `expected ${id} to fail for ${cluster}; got:\n${describeChecks(v)}`)
  assert.match(hit.message, object)
  assert.match(hit.message, new RegExp(`\\b${cluster}\\b`))
  assert.ok(hit.hint.length > 10, 'hint present')
  return hit
}

/** Run the hints of every failing check (each `kubectl mesh …` command once), as a user fixing a report would. */
async function runFailingHints(): Promise<void> {
  const v = await verifyJson()
  const hints = [...new Set(failures(v).map((c) => c.hint))]
  assert.ok(hints.length > 0, 'something to fix')
  const done = new Set<string>()
  for (const h of hints) {
    if (done.has(h)) continue
    done.add(h)
    await runMeshHint(h)
  }
}

describe('kubectl mesh verify', () => {
  before(async () => {
    await teardownJourney()
    await setupJourney()
  })
  after(async () => {
    await startApiServer('cluster2')
    // the real undo commands must leave nothing behind
    assert.deepEqual(await teardownJourney(), [])
    removeCaDir()
  })

  test('after the full journey: exit 0, nothing failed, read-only, objects listed once per kind', async () => {
    const v = await verifyJson()
    assert.equal(v.code, 0, describeChecks(v))
    assert.deepEqual(failures(v), [])
    assert.deepEqual(v.json.clusters.map((c) => c.clusterId), ['cluster1', 'cluster2'])
    assert.ok(v.json.summary.passed >= 40, JSON.stringify(v.json.summary))
    // the only warnings: the loopback servers of the test-bed remote secrets
    assert.deepEqual([...new Set(v.json.checks.filter((c) => c.status === 'warn').map((c) => c.id))], ['links.server-address'])
    // 11 reads per cluster, 1 list of istiod pods per cluster holding remote secrets (the test bed
    // without istiod has none: no port-forward), 6 probe reads per remote secret (2: each holds its own reader token)
    assert.equal(v.stats.byContext.cluster1.GET, 12)
    assert.equal(v.stats.byContext.cluster2.GET, 12)
    assert.equal(v.stats.requests, 2 * 12 + 2 * 6)
  })

  test('text output: problems first, one line per category, summary; --show-passed lists the passes', async () => {
    const r = await mesh(['verify', '--context', 'cluster1', '--context', 'cluster2'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const lines = r.stdout.split('\n')
    // Nothing fails on the journey: the warnings lead (the loopback servers), then the categories.
    assert.match(lines[2], /^⚠ cluster cluster[12]: Secret istio-system\/istio-remote-secret-cluster[12] \(key cluster[12]\): server https:\/\/127\.0\.0\.1:\d+ is a loopback address/)
    assert.match(lines[3], /^ {4}Hint: /)
    assert.match(r.stdout, /^✔ Trust +\d+ passed/m)
    assert.match(r.stdout, /^⚠ Links \(remote secrets\) +\d+ passed, 2 warnings/m)
    assert.doesNotMatch(r.stdout, /✔ cluster cluster1: shares root/)
    const json = (await verifyJson()).json.summary
    assert.match(r.stdout, new RegExp(`\\n${json.passed} passed, ${json.warnings} warnings, 0 failed, ${json.skipped} skipped\\n$`))
    for (const args of [['--show-passed'], ['-o', 'wide']]) {
      const w = await mesh(['verify', '--context', 'cluster1', '--context', 'cluster2', ...args])
      assert.equal(w.code, 0, w.stdout + w.stderr)
      assert.match(w.stdout, /^ {4}✔ cluster cluster1: shares root/m)
      assert.equal(w.stdout.split('\n').filter((l) => /^ {4}✔ /.test(l)).length, json.passed)
    }
  })

  test('without --context: the current context plus the clusters its remote secrets name', async () => {
    const v = await verifyJson(['--context', 'cluster1'])
    assert.deepEqual(v.json.clusters.map((c) => c.name), ['cluster1'])
    const cur = (await kubectl(['config', 'current-context'])).stdout.trim()
    const w = await verifyJson([])
    assert.ok(w.json.clusters.some((c) => c.name === cur))
    if (cur === 'cluster1') assert.deepEqual(w.json.clusters.map((c) => c.name).sort(), ['cluster1', 'cluster2'])
    assert.equal(w.code, 0, describeChecks(w))
  })

  test('a view-only context: secrets unreadable → a warning, trust checks skipped, no failure', async () => {
    const v = await verifyJson(['--context', 'cluster1-viewer'])
    assert.equal(v.code, 0, describeChecks(v))
    assert.equal(v.json.checks.find((c) => c.id === 'reachability.read-access')?.status, 'warn')
    assert.equal(v.json.checks.find((c) => c.id === 'trust.cacerts')?.status, 'skip')
  })

  // ---- break scenarios: one thing broken (with kubectl, or a real command misused), named, fixed by its hint, green again ----

  test('break 1: cacerts deleted in cluster2 → trust.cacerts', async () => {
    await kubectl(['-n', NS, 'delete', 'secret', 'cacerts'], {context: 'cluster2'})
    const hit = await assertBroken('trust.cacerts', 'cluster2', /no Secret istio-system\/cacerts/)
    assert.match(hit.hint, /kubectl mesh ca gen --cluster cluster2 --context cluster2/)
    await runMeshHint(hit.hint) // in the folder holding ./mesh-ca: same root, same intermediate
    await assertGreen()
  })

  test('break 2: cluster2 signed by another root → trust.shared-root', async () => {
    // a user bringing another root (--root-cert/--root-key) into cluster2 with --force
    await meshOk(['ca', 'gen', '--cluster', 'cluster2', '--dir', join(CA_CWD, 'other-ca'), '--root-cert', join(FIX, 'root-b-cert.pem'), '--root-key', join(FIX, 'root-b-key.pem'), '--key-size', '2048', '--context', 'cluster2', '--force'])
    const hit = await assertBroken('trust.shared-root', 'cluster1', /not trusted by cluster2/)
    assert.match(hit.hint, /kubectl mesh ca gen/)
    // the fix is cluster2's own hint: re-issue its intermediate from the mesh's root
    const other = failures(await verifyJson()).find((c) => c.id === 'trust.shared-root' && c.cluster === 'cluster2')
    assert.ok(other, 'cluster2 fails too')
    assert.match(other.hint, /kubectl mesh ca gen --cluster cluster2 --context cluster2 --force/)
    await runMeshHint(other.hint)
    await assertGreen()
  })

  test('break 3: ca-key.pem removed from cacerts → trust.cacerts (incomplete)', async () => {
    await kubectl(['-n', NS, 'patch', 'secret', 'cacerts', '--type=json', '-p', '[{"op":"remove","path":"/data/ca-key.pem"}]'], {context: 'cluster1'})
    const hit = await assertBroken('trust.cacerts', 'cluster1', /cacerts is invalid: incomplete: missing ca-key.pem/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test("break 4: Istio's public sample root in cacerts → trust.sample-ca", async () => {
    await kubectl(['-n', NS, 'patch', 'secret', 'cacerts', '--type=merge', '-p', JSON.stringify({data: {'root-cert.pem': b64(readFileSync(join(FIX, 'sample-root-cert.pem'), 'utf8'))}})], {context: 'cluster1'})
    const hit = await assertBroken('trust.sample-ca', 'cluster1', /cacerts root-cert.pem is Istio's public sample CA/)
    assert.match(hit.hint, /--force/)
    // The hint replaces the mesh's root in every cluster; here only cacerts was tampered with, so
    // re-installing cluster1's intermediate from the mesh's root (--force: cacerts holds another root) fixes it.
    await meshOk(['ca', 'gen', '--cluster', 'cluster1', '--context', 'cluster1', '--force'])
    await assertGreen()
  })

  test('break 5: remote secret lost its istio/multiCluster label → links.secret-label; the hint fixes it', async () => {
    await kubectl(['-n', NS, 'label', 'secret', 'istio-remote-secret-cluster2', 'istio/multiCluster-'], {context: 'cluster1'})
    const hit = await assertBroken('links.secret-label', 'cluster1', /Secret istio-system\/istio-remote-secret-cluster2 lacks the label/)
    await runKubectlHint(hit.hint)
    await assertGreen()
  })

  test("break 6: the peer's reader token Secret deleted → links.remote-access (401)", async () => {
    await kubectl(['-n', NS, 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token'], {context: 'cluster2'})
    // links.token-lifetime sees at once that the Secret which revokes the token is gone
    const revoked = await assertBroken('links.token-lifetime', 'cluster1', /link to cluster2: the long-lived token .* is revoked or expired/)
    assert.match(revoked.hint, /kubectl mesh cluster (rotate-credentials|link) --context cluster1 --remote-context cluster2/)
    // links.remote-access once the API server's token cache lets go of it
    const hit = await assertBroken('links.remote-access', 'cluster1', /istio-remote-secret-cluster2.*rejects the token/, {waitMs: 30_000})
    assert.match(hit.hint, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
    await runMeshHint(hit.hint) // a new token and remote secret
    await assertGreen()
  })

  test("break 7: the reader ClusterRoleBinding deleted in the peer → links.reader-rbac", async () => {
    const crb = await kget('cluster2', ['clusterrolebinding', 'istio-reader-clusterrole-istio-system'])
    await kubectl(['delete', 'clusterrolebinding', 'istio-reader-clusterrole-istio-system'], {context: 'cluster2'})
    const hit = await assertBroken('links.reader-rbac', 'cluster1', /may not list namespaces.*missing in cluster2: ClusterRoleBinding istio-reader-clusterrole-istio-system/)
    await runMeshHint(hit.hint) // re-creates the binding (as kubectl-mesh's)
    await assertGreen()
    // put back the test bed's own (Istio-made) binding, which unlink --prune-remote leaves in place
    await kubectl(['delete', 'clusterrolebinding', 'istio-reader-clusterrole-istio-system'], {context: 'cluster2'})
    await apply('cluster2', [{apiVersion: crb.apiVersion, kind: crb.kind, metadata: {name: crb.metadata.name, labels: crb.metadata.labels}, roleRef: crb.roleRef, subjects: crb.subjects}])
    await assertGreen()
  })

  test('break 8: one direction of the link removed → links.reverse', async () => {
    await kubectl(['-n', NS, 'delete', 'secret', 'istio-remote-secret-cluster1'], {context: 'cluster2'})
    const hit = await assertBroken('links.reverse', 'cluster1', /cluster2 has no remote secret for cluster1/)
    assert.match(hit.hint, /kubectl mesh cluster link --context cluster2 --remote-context cluster1/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 9: remote secret keyed with a wrong cluster ID → links.secret-key', async () => {
    // a user re-linking under a wrong name, overriding the check with --force
    await meshOk(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster2'])
    await meshOk(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--remote-name', 'wrong', '--force', '--expose', 'exported'])
    const hit = await assertBroken('links.secret-key', 'cluster1', /istio-remote-secret-wrong.*cluster ID is cluster2, not wrong/)
    assert.match(hit.hint, /unlink --context cluster1 --remote-name wrong.*link --context cluster1 --remote-context cluster2/)
    await runMeshHint(hit.hint) // unlink, then link
    await assertGreen()
  })

  test('break 10: exec credentials in a remote secret → links.kubeconfig-auth (and the plugin is never run)', async () => {
    const t = await readerToken('cluster2')
    await apply('cluster1', [remoteSecretObject('cluster2', t, {user: {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/false'}}})])
    const hit = await assertBroken('links.kubeconfig-auth', 'cluster1', /istio-remote-secret-cluster2.*exec/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 11: network label of istio-system disagrees → networks.labels; the hint fixes it', async () => {
    await kubectl(['label', 'namespace', NS, 'topology.istio.io/network=other', '--overwrite'], {context: 'cluster2'})
    const hit = await assertBroken('networks.labels', 'cluster2', /namespace istio-system label = other/)
    await runKubectlHint(hit.hint)
    await assertGreen()
  })

  test('break 12: east-west gateway lost its address → networks.gateway-address', async () => {
    await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":null}}}'], {context: 'cluster2'})
    try {
      const hit = await assertBroken('networks.gateway-address', 'cluster2', /Service istio-system\/istio-eastwestgateway has no address/)
      assert.match(hit.hint, /load-balancer controller.*externalIPs/)
    } finally {
      // what the load-balancer controller of the hint does (the API server refuses loopback externalIPs)
      await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge', '-p', JSON.stringify({status: {loadBalancer: {ingress: [{ip: gwIp('cluster2')}]}}})], {context: 'cluster2'})
    }
    await assertGreen()
  })

  test('break 13: east-west gateway lost port 15443 → networks.gateway-port; the hint fixes it', async () => {
    const svc = await kget('cluster2', ['-n', NS, 'service', 'istio-eastwestgateway'])
    const i = svc.spec.ports.findIndex((p: {port: number}) => p.port === 15443)
    await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--type=json', '-p', JSON.stringify([{op: 'remove', path: `/spec/ports/${i}`}])], {context: 'cluster2'})
    const hit = await assertBroken('networks.gateway-port', 'cluster2', /istio-eastwestgateway does not expose port 15443/)
    // One failure on the mesh: the text output prints it first, with its hint, before any warning or pass.
    assert.equal(failures(await verifyJson()).length, 1)
    const text = await mesh(['verify', '--context', 'cluster1', '--context', 'cluster2'])
    assert.equal(text.code, 1)
    const lines = text.stdout.split('\n')
    assert.match(lines[2], /^✖ cluster cluster2: Service istio-system\/istio-eastwestgateway does not expose port 15443.* \[networks\.gateway-port\]$/)
    assert.equal(lines[3], `    Hint: ${hit.hint}`)
    assert.match(text.stdout, /^✖ Networks and gateways +\d+ passed, 1 failed/m)
    await runKubectlHint(hit.hint)
    await assertGreen()
  })

  test('break 14: meshNetworks lists a stale gateway address → networks.mesh-networks', async () => {
    await setMeshNetworks('cluster1', meshNetworksText([{network: 'network2', registry: 'cluster2', gw: '127.0.0.99'}]))
    const hit = await assertBroken('networks.mesh-networks', 'cluster1', /meshNetworks: network network2 lists gateway 127\.0\.0\.99, but cluster2's east-west gateway is at 127\.0\.0\.12/)
    assert.match(hit.hint, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 15: the exports Gateway deleted → exports.gateway (and imports.exported)', async () => {
    await kubectl(['-n', NS, 'delete', 'gateway', 'kubectl-mesh-exports'], {context: 'cluster2'})
    const hit = await assertBroken('exports.gateway', 'cluster2', /Service bar\/httpbin is exported, but no Gateway/)
    assert.match(hit.hint, /kubectl mesh service export httpbin -n bar --context cluster2/)
    await assertBroken('imports.exported', 'cluster1', /ServiceEntry bar\/httpbin-cluster2/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 16: imported service deleted at the source → imports.remote-service', async () => {
    const svc = await kget('cluster2', ['-n', 'bar', 'service', 'httpbin'])
    await kubectl(['-n', 'bar', 'delete', 'service', 'httpbin'], {context: 'cluster2'})
    const hit = await assertBroken('imports.remote-service', 'cluster1', /ServiceEntry bar\/httpbin-cluster2 .*Service bar\/httpbin no longer exists in cluster2/)
    assert.match(hit.hint, /unimport httpbin -n bar --context cluster1 --from-name cluster2/)
    await runMeshHint(hit.hint) // drop the import of the vanished service
    await assertGreen()
    // the owner re-creates the Service (the test bed's, without the export label), exports it again, and it is imported again.
    // Server-side, as the test bed made it: a client-side `kubectl apply` would leave a last-applied-configuration
    // annotation on the shared Service, which a later file's `kubectl diff --server-side` (apply.test.ts --output-dir) reports.
    const {'kubectl-mesh/exported': _, ...labels} = svc.metadata.labels
    await kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], {context: 'cluster2',
      input: JSON.stringify({apiVersion: 'v1', kind: 'Service', metadata: {name: 'httpbin', namespace: 'bar', labels}, spec: {selector: svc.spec.selector, ports: svc.spec.ports}})})
    await meshOk(['export', 'httpbin', '-n', 'bar', '--context', 'cluster2'])
    await meshOk(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'])
    await assertGreen()
  })

  test('break 17: source service no longer labelled exported → imports.exported', async () => {
    await kubectl(['-n', 'bar', 'label', 'service', 'httpbin', 'kubectl-mesh/exported-'], {context: 'cluster2'})
    const hit = await assertBroken('imports.exported', 'cluster1', /imports Service bar\/httpbin from cluster2, which is not exported there/)
    assert.match(hit.hint, /kubectl mesh service export httpbin -n bar --context cluster2/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 18: remote service port changed → imports.ports', async () => {
    await kubectl(['-n', 'bar', 'patch', 'service', 'httpbin', '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":9000}]'], {context: 'cluster2'})
    const hit = await assertBroken('imports.ports', 'cluster1', /ServiceEntry bar\/httpbin-cluster2 has ports 8000\/http, but Service bar\/httpbin in cluster2 has 9000\/http/)
    assert.match(hit.hint, /kubectl mesh service import httpbin -n bar --from-context cluster2 --context cluster1/)
    await runMeshHint(hit.hint) // the import follows the new port
    await assertGreen()
    // back to the test bed's port: the import is stale again, and the same hint follows it back
    await kubectl(['-n', 'bar', 'patch', 'service', 'httpbin', '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":8000}]'], {context: 'cluster2'})
    await runMeshHint((await assertBroken('imports.ports', 'cluster1', /has ports 9000\/http, but Service bar\/httpbin in cluster2 has 8000\/http/)).hint)
    await assertGreen()
  })

  test('break 19: the source gateway moved → imports.gateway-address', async () => {
    await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.42"}]}}}'], {context: 'cluster2'})
    const hit = await assertBroken('imports.gateway-address', 'cluster1', /ServiceEntry bar\/httpbin-cluster2 sends traffic to 127\.0\.0\.12, but cluster2's east-west gateway is at 127\.0\.0\.42/)
    assert.match(hit.hint, /service import httpbin/)
    // the import hint, and the link hint for cluster1's meshNetworks entry (stale as well)
    await runFailingHints()
    await assertGreen()
    // back to the test bed's address: stale again, fixed again by the hints
    await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge', '-p', JSON.stringify({status: {loadBalancer: {ingress: [{ip: gwIp('cluster2')}]}}})], {context: 'cluster2'})
    await assertBroken('imports.gateway-address', 'cluster1', /sends traffic to 127\.0\.0\.42, but cluster2's east-west gateway is at 127\.0\.0\.12/)
    await runFailingHints()
    await assertGreen()
  })

  test('break 20: DestinationRule SNI wrong → imports.sni', async () => {
    await kubectl(['-n', 'bar', 'patch', 'destinationrule', 'httpbin-cluster2', '--type=json', '-p', '[{"op":"replace","path":"/spec/trafficPolicy/portLevelSettings/0/tls/sni","value":"outbound_.80_._.httpbin.bar.svc.cluster.local"}]'], {context: 'cluster1'})
    const hit = await assertBroken('imports.sni', 'cluster1', /DestinationRule bar\/httpbin-cluster2: port 8000 uses SNI outbound_\.80_/)
    await runMeshHint(hit.hint)
    await assertGreen()
  })

  test('break 21: another ServiceEntry claims the imported host → imports.host-conflict; the hint fixes it', async () => {
    await apply('cluster1', [{apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: {name: 'squatter', namespace: 'foo'}, spec: {hosts: ['httpbin.bar.global'], location: 'MESH_INTERNAL', resolution: 'DNS', ports: [{number: 80, name: 'http', protocol: 'HTTP'}]}}])
    const hit = await assertBroken('imports.host-conflict', 'cluster1', /ServiceEntry foo\/squatter both claim httpbin\.bar\.global/)
    await runKubectlHint(hit.hint)
    await assertGreen()
  })

  test("break 22: istiod's CLUSTER_ID disagrees with the injector → istio.cluster-id", async () => {
    await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', '-c', 'discovery', 'CLUSTER_ID=other'], {context: 'cluster2'})
    await assertBroken('istio.cluster-id', 'cluster2', /istiod has CLUSTER_ID=other but ConfigMap istio-system\/istio-sidecar-injector says global.multiCluster.clusterName=cluster2/)
    await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', '-c', 'discovery', 'CLUSTER_ID=cluster2'], {context: 'cluster2'})
    await assertGreen()
  })

  test('break 23: an API server down → reachability.api and links.remote-access fail fast, no hang', async () => {
    await stopApiServer('cluster2')
    try {
      const v = await verifyJson(['--context', 'cluster1', '--context', 'cluster2', '--request-timeout', '3s'])
      assert.equal(v.code, 1)
      assert.ok(v.ms < 15_000, `took ${v.ms} ms`)
      const api = failures(v).find((c) => c.id === 'reachability.api' && c.cluster === 'cluster2')
      assert.ok(api, describeChecks(v))
      assert.match(api.message, /cluster cluster2: cannot read the API server https:\/\/127\.0\.0\.1:\d+/)
      assert.ok(failures(v).some((c) => c.id === 'links.remote-access' && c.cluster === 'cluster1' && /does not answer/.test(c.message)), describeChecks(v))
    } finally {
      await startApiServer('cluster2')
    }
    await assertGreen()
  })

  test('DNS proxying off where imports exist → dns.capture warns (exit stays 0)', async () => {
    const cm = await kget('cluster1', ['-n', NS, 'configmap', 'istio'])
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh: 'defaultConfig: {}\n'}})], {context: 'cluster1'})
    try {
      const v = await verifyJson()
      assert.equal(v.code, 0)
      const w = v.json.checks.find((c) => c.id === 'dns.capture' && c.cluster === 'cluster1')
      assert.equal(w?.status, 'warn')
      assert.match(w!.hint, /ISTIO_META_DNS_CAPTURE=true/)
    } finally {
      await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh: cm.data.mesh}})], {context: 'cluster1'})
    }
  })
})
