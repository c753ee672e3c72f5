// The kube layer through the built CLI (hidden `plumbing apply`), checked with kubectl.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {after, describe, test} from 'node:test'
import {load, dump} from 'js-yaml'
import {ensureHostExecutable} from '../../scripts/package.ts'
import {kget, kubectl, KUBECONFIG, logSpawn, mesh, stats, tempDir, writes} from './harness.ts'

const NS = 'plumbing-e2e'
const dir = tempDir()
const objects = join(dir, 'objects.yaml')
writeFileSync(objects, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'plumbing', namespace: NS, labels: {test: 'plumbing'}}, data: {a: '1'}}))

describe('kube layer through the CLI', () => {
  after(async () => {
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=120s'], {context: 'cluster1'})
  })

  test('apply twice: created, then unchanged with no write and the same resourceVersion', async () => {
    await kubectl(['create', 'namespace', NS], {context: 'cluster1'})
    const first = await mesh(['plumbing', 'apply', '-f', objects, '--context', 'cluster1'])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, new RegExp(`^cluster1\\s+ConfigMap/${NS}/plumbing\\s+created$`, 'm'))
    const rv1 = (await kget('cluster1', ['configmap', 'plumbing', '-n', NS])).metadata.resourceVersion

    const second = await mesh(['plumbing', 'apply', '-f', objects, '--context', 'cluster1', '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(JSON.parse(second.stdout), {changes: [{context: 'cluster1', kind: 'ConfigMap', namespace: NS, name: 'plumbing', action: 'unchanged'}]})
    assert.equal(writes(stats(second.stderr)), 0)
    const rv2 = (await kget('cluster1', ['configmap', 'plumbing', '-n', NS])).metadata.resourceVersion
    assert.equal(rv2, rv1)
  })

  test('a changed object is configured, keeping what others wrote', async () => {
    await kubectl(['label', 'configmap', 'plumbing', '-n', NS, 'someone=else'], {context: 'cluster1'})
    writeFileSync(objects, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'plumbing', namespace: NS, labels: {test: 'plumbing'}}, data: {a: '2'}}))
    const r = await mesh(['plumbing', 'apply', '-f', objects, '--context', 'cluster1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /configured$/m)
    const cm = await kget('cluster1', ['configmap', 'plumbing', '-n', NS])
    assert.equal(cm.data.a, '2')
    assert.equal(cm.metadata.labels.someone, 'else')
  })

  test('--dry-run sends the write with dryRun=All and nothing persists', async () => {
    const other = join(dir, 'dry.yaml')
    writeFileSync(other, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'dry', namespace: NS}, data: {}}))
    const r = await mesh(['plumbing', 'apply', '-f', other, '--context', 'cluster1', '--dry-run'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /ConfigMap\/plumbing-e2e\/dry\s+created/)
    assert.equal(await kget('cluster1', ['configmap', 'dry', '-n', NS]), undefined)
  })

  test('a write through the view-only context exits 1 with a permission error naming the context', async () => {
    const changed = join(dir, 'viewer.yaml')
    writeFileSync(changed, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'plumbing', namespace: NS}, data: {a: 'viewer'}}))
    const r = await mesh(['plumbing', 'apply', '-f', changed, '--context', 'cluster1-viewer'])
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.trim().split('\n')
    assert.match(lines[0], /^Error: context "cluster1-viewer": forbidden to update configmaps plumbing-e2e\/plumbing/)
    assert.match(lines[1], /^Hint: /)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    assert.equal((await kget('cluster1', ['configmap', 'plumbing', '-n', NS])).data.a, '2', 'nothing written')
  })

  test('an unknown --context exits 2 and lists the contexts that exist', async () => {
    const r = await mesh(['plumbing', 'apply', '-f', objects, '--context', 'nope'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^Error: context "nope" not found in kubeconfig/)
    assert.match(r.stderr, /Hint: contexts that exist: .*cluster1.*cluster2/)
  })

  test('a KUBECONFIG list of two files resolves contexts from both', async () => {
    const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
    const split = (ctx: string) => {
      const c = full.contexts.find((x: any) => x.name === ctx)
      return dump({
        apiVersion: 'v1', kind: 'Config', 'current-context': ctx,
        contexts: [c],
        clusters: full.clusters.filter((x: any) => x.name === c.context.cluster),
        users: full.users.filter((x: any) => x.name === c.context.user),
      })
    }
    const f1 = join(dir, 'one.yaml')
    const f2 = join(dir, 'two.yaml')
    writeFileSync(f1, split('cluster1'))
    writeFileSync(f2, split('cluster2'))
    const env = {KUBECONFIG: [f1, f2].join(delimiter)}
    for (const ctx of ['cluster1', 'cluster2']) {
      const r = await mesh(['plumbing', 'apply', '-f', objects, '--context', ctx, '--dry-run'], {env})
      assert.equal(r.code, ctx === 'cluster2' ? 1 : 0, r.stderr) // cluster2 has no namespace plumbing-e2e: the API server answers, proving the context resolved
      if (ctx === 'cluster2') assert.match(r.stderr, /context "cluster2": not found|namespaces "plumbing-e2e" not found/)
    }
    // the current context comes from the first file
    const cur = await mesh(['plumbing', 'apply', '-f', objects, '--dry-run'], {env})
    assert.equal(cur.code, 0, cur.stderr)
    assert.match(cur.stdout, /^cluster1\s/m)
  })

  /** A kubeconfig whose only user gets its token from an exec credential plugin (sh + printf). */
  async function execKubeconfig(): Promise<string> {
    if (!(await kget('cluster1', ['serviceaccount', 'exec-user', '-n', NS]))) {
      await kubectl(['create', 'serviceaccount', 'exec-user', '-n', NS], {context: 'cluster1'})
      await kubectl(['create', 'rolebinding', 'exec-user-edit', '--clusterrole=edit', `--serviceaccount=${NS}:exec-user`, '-n', NS], {context: 'cluster1'})
    }
    const token = (await kubectl(['create', 'token', 'exec-user', '-n', NS], {context: 'cluster1'})).stdout.trim()
    const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
    const c1 = full.contexts.find((x: any) => x.name === 'cluster1')
    const credential = JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: {token}})
    const kc = join(dir, 'exec.yaml')
    writeFileSync(kc, dump({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'exec',
      clusters: full.clusters.filter((x: any) => x.name === c1.context.cluster),
      users: [{name: 'exec', user: {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', `printf '%s' '${credential}'`], interactiveMode: 'Never'}}}],
      contexts: [{name: 'exec', context: {cluster: c1.context.cluster, user: 'exec', namespace: NS}}],
    }))
    return kc
  }

  test('an exec-plugin user works (credentials through @kubernetes/client-node)', async () => {
    const kc = await execKubeconfig()
    const obj = join(dir, 'exec-obj.yaml')
    writeFileSync(obj, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'from-exec', namespace: NS}, data: {}}))
    const r = await mesh(['plumbing', 'apply', '-f', obj], {env: {KUBECONFIG: kc}})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^exec\s+ConfigMap\/plumbing-e2e\/from-exec\s+created$/m)
    assert.ok(await kget('cluster1', ['configmap', 'from-exec', '-n', NS]))
  })

  test('the single executable: the same exec-plugin user, through its client-node part', async () => {
    const exe = await ensureHostExecutable()
    const kc = await execKubeconfig()
    const obj = join(dir, 'exec-sea-obj.yaml')
    writeFileSync(obj, dump({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'from-exec-sea', namespace: NS}, data: {}}))
    // No Node on PATH: only `sh`, for the credential plugin.
    const bin = join(dir, 'bin-sh-only')
    mkdirSync(bin, {recursive: true})
    if (!existsSync(join(bin, 'sh'))) symlinkSync('/bin/sh', join(bin, 'sh'))
    const r = logSpawn(['plumbing', 'apply', '-f', obj], spawnSync(exe, ['plumbing', 'apply', '-f', obj], {encoding: 'utf8', env: {PATH: bin, HOME: dir, NO_COLOR: '1', KUBECONFIG: kc, KUBECTL_MESH_DEBUG_STARTUP: '1'}}))
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^exec\s+ConfigMap\/plumbing-e2e\/from-exec-sea\s+created$/m)
    // The executable compiled all three parts, client-node last (scripts/sea/loader.cjs).
    assert.deepEqual([...r.stderr.matchAll(/^\[startup\] (\S+): compiled/gm)].map((m) => m[1]), ['core', 'commands', 'client-node'])
    assert.ok(await kget('cluster1', ['configmap', 'from-exec-sea', '-n', NS]))
  })
})
