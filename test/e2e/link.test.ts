// `cluster link` / `cluster unlink` against the test bed, checked with kubectl.
// Uses cluster1 (EAST), cluster2 and cluster3 (WEST). Everything written is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile, execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh, type RunResult, stats, tempDir, whileApiServerDown, writes} from './harness.ts'
import {kubectlBin, startApiServer} from '../../testbed/testbed.ts'
import {applyIstioFixtures} from '../../testbed/fixtures.ts'

const NS = 'istio-system'
const TOKEN = 'istio-reader-service-account-istio-remote-secret-token'
const MANAGED = 'app.kubernetes.io/managed-by=kubectl-mesh'
const tmp = tempDir('link-e2e-')
const run = promisify(execFile)

/** The `istio` ConfigMap data of each cluster as the test found it, restored in after(). */
const original: Record<string, Record<string, string>> = {}
/** The meshNetworks every cluster starts with here: a network of someone else's, which must survive. */
const BASE_NETWORKS = 'networks:\n  lab-net:\n    endpoints:\n      - fromCidr: 10.99.0.0/16\n    gateways:\n      - address: 192.0.2.50\n        port: 15443\n'
const base = () => (load(BASE_NETWORKS) as any).networks

async function meshNetworks(ctx: string): Promise<any> {
  const cm = await kget(ctx, ['-n', NS, 'configmap', 'istio'])
  return load(cm.data.meshNetworks)
}

/** Resource versions of everything link could write in a cluster, for "nothing was written". */
async function snapshot(ctx: string): Promise<string> {
  const r = await kubectl(['get', '-n', NS, 'secrets,configmaps,serviceaccounts', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {end}'], {context: ctx})
  const c = await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', 'app=istio-reader', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {end}'], {context: ctx})
  return `${r.stdout}|${c.stdout}`
}

function assertUsage(r: RunResult, re: RegExp) {
  assert.equal(r.code, 2, `exit 2 expected:\n${r.stderr}`)
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('Error:'))
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], re)
  assert.match(r.stderr, /^Hint: \S/m)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
}

/** Write the kubeconfig held in a remote secret to a file; returns its path. */
async function remoteKubeconfigFile(ctx: string, id: string): Promise<{file: string; doc: any}> {
  const s = await kget(ctx, ['-n', NS, 'secret', `istio-remote-secret-${id}`])
  const text = Buffer.from(s.data[id], 'base64').toString()
  const file = join(tmp, `kubeconfig-${ctx}-${id}`)
  writeFileSync(file, text, {mode: 0o600})
  return {file, doc: load(text)}
}

async function asReader(file: string, args: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  try {
    const r = await run(kubectlBin(), ['--kubeconfig', file, ...args])
    return {code: 0, stdout: r.stdout, stderr: r.stderr}
  } catch (error) {
    const e = error as {code: number; stdout: string; stderr: string}
    return {code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout, stderr: e.stderr}
  }
}

async function unlinkAll() {
  for (const ctx of ['cluster1', 'cluster2', 'cluster3']) {
    await kubectl(['-n', NS, 'delete', 'secret', '-l', `${MANAGED},istio/multiCluster=true`, '--ignore-not-found'], {context: ctx, allowFail: true})
    await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: ctx, allowFail: true})
    await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: ctx, allowFail: true})
    // what a cross-network link makes in WEST (its exposure Gateway)
    await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'kubectl-mesh-cross-network', '--ignore-not-found'], {context: ctx, allowFail: true})
  }
}

before(async () => {
  await unlinkAll()
  for (const ctx of ['cluster1', 'cluster2', 'cluster3']) {
    original[ctx] = (await kget(ctx, ['-n', NS, 'configmap', 'istio'])).data
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: BASE_NETWORKS}})], {context: ctx})
  }
})

after(async () => {
  await startApiServer('cluster2').catch(() => {})
  await startApiServer('cluster3').catch(() => {})
  await unlinkAll()
  // Put cluster3's fixtures back (one test removes its reader account, another its gateway address).
  await applyIstioFixtures('cluster3')
  await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'CLUSTER_ID=cluster3'], {context: 'cluster3', allowFail: true})
  for (const [ctx, data] of Object.entries(original)) {
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data})], {context: ctx})
  }
})

describe('cluster link', () => {
  let first: RunResult
  let firstMs = 0

  test('first link writes the reader token in WEST, the remote secret and meshNetworks in EAST', async (t) => {
    const started = performance.now()
    first = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2'], {env: {KUBECTL_MESH_STATS: '1'}})
    firstMs = performance.now() - started
    assert.equal(first.code, 0, first.stderr)
    t.diagnostic(`first link: ${Math.round(firstMs)} ms, ${JSON.stringify(stats(first.stderr))}`)
    const lines = first.stdout.trim().split('\n')
    assert.ok(lines.some((l) => /^cluster2\s+Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token\s+created$/.test(l)), first.stdout)
    assert.ok(lines.some((l) => /^cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster2\s+created$/.test(l)), first.stdout)
    assert.ok(lines.some((l) => /^cluster1\s+ConfigMap\/istio-system\/istio\s+configured$/.test(l)), first.stdout)
    assert.match(first.stderr, /loopback/, 'warns that the test bed server is a loopback address')
    assert.match(first.stderr, /root CA/, 'warns that the roots are unknown')

    const secret = await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster2'])
    assert.equal(secret.metadata.labels['istio/multiCluster'], 'true')
    assert.equal(secret.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.ok(secret.metadata.annotations['kubectl-mesh/version'])
    assert.equal(secret.metadata.annotations['networking.istio.io/cluster'], 'cluster2')
    assert.deepEqual(Object.keys(secret.data), ['cluster2'])

    const nets = await meshNetworks('cluster1')
    assert.deepEqual(nets, {networks: {...base(), network2: {endpoints: [{fromRegistry: 'cluster2'}], gateways: [{address: '127.0.0.12', port: 15443}]}}})
    const cm = await kget('cluster1', ['-n', NS, 'configmap', 'istio'])
    assert.equal(cm.data.mesh, original.cluster1.mesh, 'the mesh key is byte-for-byte as it was')
    assert.deepEqual(Object.keys(cm.data).sort(), Object.keys(original.cluster1).sort())

    const token = await kget('cluster2', ['-n', NS, 'secret', TOKEN])
    assert.equal(token.type, 'kubernetes.io/service-account-token')
    assert.equal(token.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    // The test bed's reader account and RBAC came with the Istio install: left alone.
    const sa = await kget('cluster2', ['-n', NS, 'serviceaccount', 'istio-reader-service-account'])
    assert.equal(sa.metadata.labels?.['app.kubernetes.io/managed-by'], undefined)
  })

  test("the remote secret's kubeconfig reads WEST cluster-wide and cannot write", async () => {
    const {file, doc} = await remoteKubeconfigFile('cluster1', 'cluster2')
    const user = doc.users[0].user
    assert.deepEqual(Object.keys(user), ['token'], 'token only: no exec, no files, no client certificates')
    assert.ok(doc.clusters[0].cluster['certificate-authority-data'])
    assert.equal(doc.clusters[0].cluster['certificate-authority'], undefined)
    const who = await asReader(file, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])
    assert.equal(who.code, 0, who.stderr)
    assert.equal(who.stdout, 'system:serviceaccount:istio-system:istio-reader-service-account')
    // It is cluster2's API server (its istiod says so), not another one.
    const istiod = await asReader(file, ['-n', NS, 'get', 'deployment', 'istiod', '-o', 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="CLUSTER_ID")].value}'])
    assert.notEqual(istiod.code, 0, 'deployments are not in the reader role')
    const ns = await asReader(file, ['get', 'namespace', NS, '-o', 'jsonpath={.metadata.labels.topology\\.istio\\.io/network}'])
    assert.equal(ns.stdout, 'network2')
    for (const res of ['services', 'endpointslices', 'pods', 'namespaces', 'nodes']) {
      const r = await asReader(file, ['get', res, '-A'])
      assert.equal(r.code, 0, `list ${res}: ${r.stderr}`)
      assert.equal((await asReader(file, ['auth', 'can-i', 'list', res, '-A'])).stdout.trim(), 'yes')
    }
    for (const verb of ['create', 'update', 'patch', 'delete']) {
      for (const res of ['pods', 'services', 'secrets', 'configmaps', 'namespaces', 'nodes', 'endpointslices', 'deployments', 'serviceaccounts', 'clusterrolebindings']) {
        const r = await asReader(file, ['auth', 'can-i', verb, res, '-A'])
        assert.equal(r.stdout.trim(), 'no', `${verb} ${res}`)
      }
    }
    const write = await asReader(file, ['-n', 'default', 'create', 'configmap', 'link-e2e-probe'])
    assert.notEqual(write.code, 0)
    assert.match(write.stderr, /forbidden/i)
  })

  test('a second run reports every object unchanged and sends no write', async (t) => {
    const rv = async () => [
      (await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster2'])).metadata.resourceVersion,
      (await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).metadata.resourceVersion,
      (await kget('cluster2', ['-n', NS, 'secret', TOKEN])).metadata.resourceVersion,
    ]
    const before = await rv()
    const started = performance.now()
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2'], {env: {KUBECTL_MESH_STATS: '1'}})
    const ms = performance.now() - started
    assert.equal(r.code, 0, r.stderr)
    const s = stats(r.stderr)
    t.diagnostic(`repeat link: ${Math.round(ms)} ms, ${JSON.stringify(s)} (first: ${Math.round(firstMs)} ms, ${JSON.stringify(stats(first.stderr))})`)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, first.stdout.trim().split('\n').length)
    for (const l of lines) assert.match(l, /\sunchanged$/)
    assert.equal(writes(s), 0)
    assert.deepEqual(await rv(), before)
  })

  test('-o json lists the changes and the link', async () => {
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '-o', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    assert.ok(j.changes.every((c: any) => c.action === 'unchanged' && c.context && c.kind && c.name))
    assert.deepEqual(j.links, [{context: 'cluster1', remoteContext: 'cluster2', clusterId: 'cluster2', network: 'network2', crossNetwork: true, gateway: '127.0.0.12:15443', expose: 'all', exposedBy: 'istio-system/kubectl-mesh-cross-network'}])
  })

  test('-o yaml prints the objects per context (token included, with a warning) and writes nothing', async () => {
    const before = [await snapshot('cluster1'), await snapshot('cluster2')]
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(writes(stats(r.stderr)), 0)
    assert.match(r.stderr, /token/)
    const docs = r.stdout.split(/^---$/m)
    for (const d of docs) assert.match(d.trimStart(), /^# context: cluster[12]\n/)
    const objs = docs.map((d) => load(d) as any)
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'istio-remote-secret-cluster2')
    const live = await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster2'])
    assert.equal(secret.data.cluster2, live.data.cluster2, 'the printed secret is the one link writes')
    assert.ok(objs.some((o) => o.kind === 'Secret' && o.metadata.name === TOKEN))
    assert.deepEqual([await snapshot('cluster1'), await snapshot('cluster2')], before)
  })

  test('-o yaml before the token exists: exit 2 with the two-step recipe, nothing written', async () => {
    const before = [await snapshot('cluster1'), await snapshot('cluster3')]
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '-o', 'yaml'])
    assertUsage(r, /reader token .*"cluster3".* does not exist/)
    assert.match(r.stderr, /two steps/)
    // The reader objects that step 1 applies were printed, for cluster3 only.
    assert.match(r.stdout, /^# context: cluster3\n/)
    assert.doesNotMatch(r.stdout, /# context: cluster1/)
    assert.deepEqual([await snapshot('cluster1'), await snapshot('cluster3')], before)
  })

  test('--dry-run: the API server validates, nothing persists', async () => {
    const before = [await snapshot('cluster1'), await snapshot('cluster3')]
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--dry-run'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster3\s+created/)
    assert.match(r.stdout, /cluster1\s+ConfigMap\/istio-system\/istio\s+configured/)
    assert.deepEqual([await snapshot('cluster1'), await snapshot('cluster3')], before)
  })

  test('unlink works while WEST is down; --prune-remote then removes what link made in WEST', async () => {
    const r = await whileApiServerDown('cluster2', () => mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster2']))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster2\s+deleted/)
    assert.equal(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster2']), undefined)
    assert.deepEqual(await meshNetworks('cluster1'), {networks: base()})
    assert.equal((await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).data.mesh, original.cluster1.mesh)

    const p = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster2', '--remote-context', 'cluster2', '--prune-remote'])
    assert.equal(p.code, 0, p.stderr)
    assert.match(p.stdout, /cluster2\s+Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token\s+deleted/)
    for (const ctx of ['cluster1', 'cluster2']) {
      const left = await kubectl(['get', 'secrets,configmaps,serviceaccounts', '-n', NS, '-l', MANAGED, '-o', 'name'], {context: ctx})
      const leftCluster = await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', MANAGED, '-o', 'name'], {context: ctx})
      assert.equal(left.stdout + leftCluster.stdout, '', `${ctx}: nothing kubectl-mesh made is left`)
    }
    // The Istio install's reader account and RBAC stay.
    assert.ok(await kget('cluster2', ['-n', NS, 'serviceaccount', 'istio-reader-service-account']))
    assert.ok(await kget('cluster2', ['clusterrole', 'istio-reader-clusterrole-istio-system']))
  })

  test('--bidirectional links both ways; link creates a missing reader account and RBAC, and prune removes them', async () => {
    // cluster3 without the Istio-made reader account: link makes it (stamped), prune removes it.
    for (const what of [['-n', NS, 'serviceaccount', 'istio-reader-service-account'], ['clusterrolebinding', 'istio-reader-clusterrole-istio-system'], ['clusterrole', 'istio-reader-clusterrole-istio-system']]) {
      await kubectl(['delete', ...what], {context: 'cluster3'})
    }
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--bidirectional'])
    assert.equal(r.code, 0, r.stderr)
    for (const re of [/cluster3\s+ServiceAccount\/istio-system\/istio-reader-service-account\s+created/, /cluster3\s+ClusterRole\/istio-reader-clusterrole-istio-system\s+created/,
      /cluster3\s+ClusterRoleBinding\/istio-reader-clusterrole-istio-system\s+created/, /cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster3\s+created/,
      /cluster3\s+Secret\/istio-system\/istio-remote-secret-cluster1\s+created/, /cluster1\s+ServiceAccount\/istio-system\/istio-reader-service-account\s+unchanged/]) {
      assert.match(r.stdout, re)
    }
    assert.deepEqual((await meshNetworks('cluster3')).networks.network1, {endpoints: [{fromRegistry: 'cluster1'}], gateways: [{address: '127.0.0.11', port: 15443}]})
    assert.deepEqual((await meshNetworks('cluster1')).networks.network3, {endpoints: [{fromRegistry: 'cluster3'}], gateways: [{address: '127.0.0.13', port: 15443}]})
    // Both kubeconfigs work against the other side.
    for (const [ctx, id] of [['cluster1', 'cluster3'], ['cluster3', 'cluster1']]) {
      const {file} = await remoteKubeconfigFile(ctx, id)
      const ns = await asReader(file, ['get', 'namespace', NS, '-o', 'jsonpath={.metadata.labels.topology\\.istio\\.io/network}'])
      assert.equal(ns.stdout, id.replace('cluster', 'network'), ns.stderr)
    }
    const again = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--bidirectional', '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(again.code, 0, again.stderr)
    assert.ok(JSON.parse(again.stdout).changes.every((c: any) => c.action === 'unchanged'))
    assert.equal(writes(stats(again.stderr)), 0)

    // One unlink undoes it: the cluster IDs are read from both sides, as link read them.
    const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-context', 'cluster3', '--bidirectional', '--prune-remote'])
    assert.equal(u.code, 0, u.stderr)
    for (const re of [/^cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster3\s+deleted$/m, /^cluster3\s+Secret\/istio-system\/istio-remote-secret-cluster1\s+deleted$/m,
      /^cluster1\s+ConfigMap\/istio-system\/istio\s+configured$/m, /^cluster3\s+ConfigMap\/istio-system\/istio\s+configured$/m,
      /^cluster3\s+ServiceAccount\/istio-system\/istio-reader-service-account\s+deleted$/m, /^cluster1\s+Secret\/istio-system\/istio-reader-service-account-istio-remote-secret-token\s+deleted$/m]) {
      assert.match(u.stdout, re)
    }
    const twice = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-context', 'cluster3', '--bidirectional', '--prune-remote', '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(twice.code, 0, twice.stderr)
    assert.deepEqual(JSON.parse(twice.stdout).changes, [])
    assert.equal(writes(stats(twice.stderr)), 0)
    for (const ctx of ['cluster1', 'cluster3']) {
      const left = await kubectl(['get', 'secrets,serviceaccounts', '-n', NS, '-l', MANAGED, '-o', 'name'], {context: ctx})
      const leftCluster = await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', MANAGED, '-o', 'name'], {context: ctx})
      assert.equal(left.stdout + leftCluster.stdout, '', `${ctx}: nothing kubectl-mesh made is left`)
      assert.deepEqual(await meshNetworks(ctx), {networks: base()})
    }
    assert.equal(await kget('cluster3', ['-n', NS, 'serviceaccount', 'istio-reader-service-account']), undefined)
    await applyIstioFixtures('cluster3')
  })

  test('same network on both sides: meshNetworks is not touched', async () => {
    const rv = (await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).metadata.resourceVersion
    const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--network', 'network1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster3\s+created/)
    assert.doesNotMatch(r.stdout, /ConfigMap/)
    assert.equal((await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).metadata.resourceVersion, rv)
    const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'])
    assert.equal(u.code, 0, u.stderr)
    assert.equal((await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).metadata.resourceVersion, rv)
  })

  test('8 concurrent links into one cluster: no lost meshNetworks update', async () => {
    const ids = Array.from({length: 8}, (_, i) => `remote-${i + 1}`)
    const results = await Promise.all(ids.map((id, i) => mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--remote-name', id, '--network', `net-${i + 1}`, '--force'])))
    for (const r of results) assert.equal(r.code, 0, r.stderr)
    const nets = (await meshNetworks('cluster1')).networks
    for (const [i, id] of ids.entries()) {
      assert.deepEqual(nets[`net-${i + 1}`], {endpoints: [{fromRegistry: id}], gateways: [{address: '127.0.0.12', port: 15443}]}, `entry of ${id}`)
      assert.ok(await kget('cluster1', ['-n', NS, 'secret', `istio-remote-secret-${id}`]))
    }
    assert.deepEqual(nets['lab-net'], base()['lab-net'])
    assert.equal((await kget('cluster1', ['-n', NS, 'configmap', 'istio'])).data.mesh, original.cluster1.mesh)
    // Exactly one token Secret, created by one of them; the others found it.
    assert.equal(results.filter((r) => /istio-remote-secret-token\s+created/.test(r.stdout)).length, 1)
    const un = await Promise.all(ids.map((id) => mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', id])))
    for (const r of un) assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await meshNetworks('cluster1'), {networks: base()})
  })
})

describe('cluster link refuses bad input before writing anything', () => {
  async function refused(args: string[], re: RegExp, code = 2, contexts = ['cluster1', 'cluster3']): Promise<RunResult> {
    const before = await Promise.all(contexts.map(snapshot))
    const r = await mesh(['cluster', 'link', ...args])
    if (code === 2) assertUsage(r, re)
    else {
      assert.equal(r.code, code, r.stderr)
      assert.match(r.stderr, re)
      assert.match(r.stderr, /^Hint: /m)
    }
    assert.deepEqual(await Promise.all(contexts.map(snapshot)), before, 'nothing written')
    return r
  }

  test('the same context on both sides', async () => { await refused(['--context', 'cluster1', '--remote-context', 'cluster1'], /both "cluster1"/, 2, ['cluster1']) })
  test('a remote name that is not a DNS-1123 label', async () => { await refused(['--context', 'cluster1', '--remote-context', 'cluster3', '--remote-name', 'Cluster_3'], /not a DNS-1123 label/) })
  test('an unknown context', async () => { await refused(['--context', 'cluster1', '--remote-context', 'nope'], /context "nope" not found/, 2, ['cluster1']) })

  test('equal cluster IDs', async () => {
    await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'CLUSTER_ID=cluster1'], {context: 'cluster3'})
    try {
      await refused(['--context', 'cluster1', '--remote-context', 'cluster3'], /same cluster ID "cluster1"/)
    } finally {
      await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'CLUSTER_ID=cluster3'], {context: 'cluster3'})
    }
  })

  test('different roots of trust; --force links with a warning', async () => {
    for (const ctx of ['cluster1', 'cluster3']) {
      const dir = tempDir(`link-root-${ctx}-`)
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'root-key.pem'), '-out', join(dir, 'root-cert.pem'), '-subj', `/O=Istio/CN=Root CA ${ctx}`, '-days', '2'], {stdio: 'ignore'})
      const pem = readFileSync(join(dir, 'root-cert.pem'), 'utf8')
      await kubectl(['-n', NS, 'create', 'secret', 'generic', 'cacerts', `--from-literal=root-cert.pem=${pem}`], {context: ctx})
    }
    try {
      await refused(['--context', 'cluster1', '--remote-context', 'cluster3'], /different root CAs/)
      const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--force'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /Warning: --force: .*different root CAs/)
      assert.ok(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3']))
      const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'])
      assert.equal(u.code, 0, u.stderr)
    } finally {
      for (const ctx of ['cluster1', 'cluster3']) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: ctx})
    }
  })

  test("different networks while WEST's gateway has no address; --gateway supplies one", async () => {
    await kubectl(['-n', NS, 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":null}}}'], {context: 'cluster3'})
    try {
      await refused(['--context', 'cluster1', '--remote-context', 'cluster3'], /network "network3".*has no address/)
      const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--gateway', '127.0.0.99:15443'])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual((await meshNetworks('cluster1')).networks.network3.gateways, [{address: '127.0.0.99', port: 15443}])
      const u = await mesh(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'])
      assert.equal(u.code, 0, u.stderr)
    } finally {
      await applyIstioFixtures('cluster3')
    }
  })

  test('WEST unreachable', async () => {
    const before = await snapshot('cluster1')
    const r = await whileApiServerDown('cluster3', () => mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3']))
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^Error: context "cluster3": cannot reach the API server https:\/\/127\.0\.0\.1:\d+ to .*; nothing was written in either cluster$/m)
    assert.equal(await snapshot('cluster1'), before)
  })

  test('a context that may read but not write: refused before the first write in either cluster', async () => {
    // A read-only identity in cluster3 (a ServiceAccount bound to a read-everything ClusterRole),
    // added to the kubeconfig as context cluster3-reader.
    const role = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'link-e2e-read-all'}, rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch']}]}
    const binding = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {name: 'link-e2e-read-all'}, roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'link-e2e-read-all'}, subjects: [{kind: 'ServiceAccount', name: 'link-e2e-reader', namespace: 'default'}]}
    await kubectl(['apply', '-f', '-'], {context: 'cluster3', input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: [role, binding, {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'link-e2e-reader', namespace: 'default'}}]})})
    try {
      const token = (await kubectl(['-n', 'default', 'create', 'token', 'link-e2e-reader', '--duration=10m'], {context: 'cluster3'})).stdout.trim()
      const extra = join(tmp, 'reader-kubeconfig')
      writeFileSync(extra, JSON.stringify({apiVersion: 'v1', kind: 'Config', contexts: [{name: 'cluster3-reader', context: {cluster: 'cluster3', user: 'link-e2e-reader'}}], users: [{name: 'link-e2e-reader', user: {token}}]}), {mode: 0o600})
      const before = [await snapshot('cluster1'), await snapshot('cluster3')]
      const r = await mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3-reader'], {env: {KUBECONFIG: `${KUBECONFIG}:${extra}`, KUBECTL_MESH_STATS: '1'}})
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /^Error: context "cluster3-reader": forbidden to create secrets in namespace istio-system; nothing was written in either cluster$/m)
      assert.match(r.stderr, /^Hint: .*auth can-i create secrets/m)
      assert.deepEqual(stats(r.stderr).byContext.cluster1?.PUT, undefined)
      assert.deepEqual([await snapshot('cluster1'), await snapshot('cluster3')], before)
    } finally {
      await kubectl(['delete', 'clusterrole/link-e2e-read-all', 'clusterrolebinding/link-e2e-read-all', '--ignore-not-found'], {context: 'cluster3'})
      await kubectl(['-n', 'default', 'delete', 'serviceaccount', 'link-e2e-reader', '--ignore-not-found'], {context: 'cluster3'})
    }
  })

  test('a context without permission: exit 1 naming the verb and resource', async () => {
    // The view role may read neither secrets nor clusterroles. The lists run concurrently, but
    // the first refusal in read order is named on every run: the Istio namespace's Secrets.
    const named = /^Error: context "cluster1-viewer": forbidden to read secrets in namespace istio-system: /m
    const r = await refused(['--context', 'cluster1-viewer', '--remote-context', 'cluster3'], named, 1)
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('Error:')).length, 1)
    await refused(['--context', 'cluster3', '--remote-context', 'cluster1-viewer'], named, 1)
  })
})
