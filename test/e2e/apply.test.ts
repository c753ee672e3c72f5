// `kubectl mesh plan -f` / `kubectl mesh apply -f` against the 3-cluster test bed, checked with
// kubectl: one file links all three both ways, installs cacerts, exports and imports a service;
// verify is green at the end; a re-apply writes nothing; plan lists exactly what apply then does;
// --prune removes exactly the dropped links and keeps the rest and what kubectl-mesh did not make;
// bad files are exit 2 with nothing sent. Everything written is undone in after().
import {after, before, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {kget, kubectl, mesh, type RunResult, stats, tempDir, writes} from './harness.ts'
import {MANAGED, NS, setMeshNetworks, teardownJourney} from './verify-journey.ts'
import {matchSnapshot, shapeOf} from '../contract.ts'

const CLUSTERS = ['cluster1', 'cluster2', 'cluster3']
const dir = tempDir('apply-e2e-')
const CA = join(dir, 'mesh-ca')
/** Where the runs' outputs are kept for the docs and the report (APPLY_E2E_OUT). */
const OUT = process.env.APPLY_E2E_OUT

const FOREIGN_NETWORK = 'lab-net'
/** A second Service in cluster2's bar, made by this file (and removed in after()). */
const ECHO = 'apply-echo'

function meshFile(name: string, spec: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, dump({apiVersion: 'kubectl-mesh/v1alpha1', kind: 'Mesh', metadata: {name: 'e2e'}, spec}))
  return file
}

const FULL = {
  ca: {dir: './mesh-ca'},
  // Only exported services cross the networks (no kubectl-mesh-cross-network Gateway): the export's own Gateway passes httpbin through.
  expose: 'exported',
  clusters: CLUSTERS.map((context) => ({context})),
  links: 'all',
  exports: [{cluster: 'cluster2', namespace: 'bar', service: 'httpbin'}, {cluster: 'cluster2', namespace: 'bar', service: ECHO}],
  // Two imports from one cluster and namespace: one `service import` run.
  imports: [{cluster: 'cluster1', from: 'cluster2', namespace: 'bar', service: 'httpbin'}, {cluster: 'cluster1', from: 'cluster2', namespace: 'bar', service: ECHO}],
}
const ONE_PAIR = {...FULL, links: [{from: 'cluster1', to: 'cluster2', bidirectional: true}]}

interface JsonRun {r: RunResult; json: any; ms: number; stats: ReturnType<typeof stats>}

async function run(args: string[]): Promise<JsonRun> {
  const started = performance.now()
  const r = await mesh([...args, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}, cwd: dir})
  const ms = Math.round(performance.now() - started)
  let json
  try {
    json = JSON.parse(r.stdout)
  } catch {
    throw new Error(`kubectl mesh ${args.join(' ')} printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  return {r, json, ms, stats: stats(r.stderr)}
}

async function text(args: string[], name: string): Promise<RunResult> {
  const r = await mesh(args, {env: {KUBECTL_MESH_STATS: '1'}, cwd: dir})
  if (OUT) {
    mkdirSync(OUT, {recursive: true})
    writeFileSync(join(OUT, `${name}.txt`), `$ kubectl mesh ${args.join(' ')}\n${r.stdout}${r.stderr ? `--- stderr\n${r.stderr}` : ''}(exit ${r.code})\n`)
  }
  return r
}

/** The lines of a run that change something: `context kind/ns/name action`, sorted. */
const changed = (json: any): string[] => json.changes.filter((c: any) => c.action !== 'unchanged').map((c: any) => `${c.context} ${c.kind}/${c.namespace}/${c.name} ${c.action}`).sort()

/** resourceVersion of everything apply can write in a cluster, for "nothing was written". */
async function versions(ctx: string): Promise<string> {
  const parts = await Promise.all([
    kubectl(['get', '-n', NS, 'secrets,configmaps,serviceaccounts', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {end}'], {context: ctx}),
    kubectl(['get', 'gateways.networking.istio.io,serviceentries,destinationrules,services', '-A', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion} {end}'], {context: ctx}),
    kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {end}'], {context: ctx}),
  ])
  return parts.map((p) => p.stdout).join('|')
}
const allVersions = async (): Promise<Record<string, string>> => Object.fromEntries(await Promise.all(CLUSTERS.map(async (c) => [c, await versions(c)])))

/** Every object's resourceVersion is as it was; else the objects that changed, named. */
async function assertNothingWritten(before: Record<string, string>, what: string): Promise<void> {
  const now = await allVersions()
  const changedObjects = CLUSTERS.flatMap((c) => {
    const was = new Set(before[c].split(/[ |]/).filter(Boolean))
    return now[c].split(/[ |]/).filter((x) => x && !was.has(x)).map((x) => `${c} ${x}`)
  })
  assert.deepEqual(changedObjects, [], what)
  assert.deepEqual(now, before, what)
}

/** The cluster IDs each cluster holds a remote secret for. */
async function links(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const c of CLUSTERS) {
    const list = await kget(c, ['-n', NS, 'secret', '-l', `${MANAGED},istio/multiCluster=true`])
    out[c] = list.items.map((s: any) => s.metadata.annotations['networking.istio.io/cluster']).sort()
  }
  return out
}

async function networksOf(ctx: string): Promise<string[]> {
  const cm = await kget(ctx, ['-n', NS, 'configmap', 'istio'])
  return Object.keys((load(cm.data.meshNetworks ?? '') as any)?.networks ?? {}).sort()
}

before(async () => {
  await teardownJourney(CLUSTERS)
  // The CA, made once with the step command (2048-bit keys: quick); apply installs each cluster's cacerts from it.
  await kubectl(['apply', '--server-side', '--field-manager=apply-e2e', '-f', '-'], {context: 'cluster2', input: dump({apiVersion: 'v1', kind: 'Service', metadata: {name: ECHO, namespace: 'bar'}, spec: {clusterIP: 'None', selector: {app: ECHO}, ports: [{name: 'http', port: 8080}]}})})
  const r = await mesh(['ca', 'gen', ...CLUSTERS.flatMap((c) => ['--cluster', c]), '--dir', CA, '--key-size', '2048'])
  assert.equal(r.code, 0, r.stderr)
})

after(async () => {
  // Ours, not the commands': the foreign meshNetworks entry, and the reader token apply made in
  // cluster3, which --prune keeps by design (shared by every link to it) once nothing links to it.
  const cm = await kget('cluster1', ['-n', NS, 'configmap', 'istio'])
  const doc = load(cm?.data?.meshNetworks ?? '') as any
  if (doc?.networks?.[FOREIGN_NETWORK]) {
    delete doc.networks[FOREIGN_NETWORK]
    await setMeshNetworks('cluster1', dump(doc))
  }
  if (!(await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3'])) && !(await kget('cluster2', ['-n', NS, 'secret', 'istio-remote-secret-cluster3']))) {
    await kubectl(['-n', NS, 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token', '--ignore-not-found'], {context: 'cluster3'})
  }
  await mesh(['service', 'unimport', ECHO, '-n', 'bar', '--context', 'cluster1', '--from-name', 'cluster2'])
  await mesh(['service', 'unexport', ECHO, '-n', 'bar', '--context', 'cluster2'])
  await kubectl(['-n', 'bar', 'delete', 'service', ECHO, '--ignore-not-found'], {context: 'cluster2'})
  const problems = await teardownJourney(CLUSTERS)
  for (const c of CLUSTERS) {
    await kubectl(['-n', NS, 'delete', 'configmap', 'kubectl-mesh-addresses', '--ignore-not-found'], {context: c, allowFail: true})
    await setMeshNetworks(c, 'networks: {}\n')
  }
  assert.deepEqual(problems, [], 'the undo commands left nothing behind')
})

test('bad files are exit 2 before any request, nothing written', async () => {
  const before = await allVersions()
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unknown-cluster', {...FULL, links: [{from: 'cluster1', to: 'cluster9'}]}, /spec\.links\[0\]\.to "cluster9" is not a cluster of spec\.clusters/],
    ['orphan-import', {...FULL, exports: []}, /spec\.imports\[0\] imports bar\/httpbin from "cluster2", which no entry of spec\.exports exports/],
    ['duplicate', {...FULL, clusters: [...FULL.clusters, {context: 'cluster1'}]}, /spec\.clusters\[3\]\.context "cluster1" is listed twice/],
    ['schema', {...FULL, expose: 'some'}, /:\d+: spec\.expose must be one of "all", "exported", not "some"/],
  ]
  for (const [name, spec, message] of bad) {
    for (const cmd of [['apply', '--prune'], ['plan']]) {
      const r = await mesh([cmd[0], '-f', meshFile(name, spec), ...cmd.slice(1)], {env: {KUBECTL_MESH_STATS: '1'}, cwd: dir})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, message)
      assert.match(r.stderr, /^Hint: /m)
      assert.equal(stats(r.stderr).requests, 0, 'no request at all')
    }
  }
  await assertNothingWritten(before, 'bad files wrote nothing')
})

let planned: string[]

test('plan: every cluster, what apply would do; nothing persists', async () => {
  const file = meshFile('full', FULL)
  const before = await allVersions()
  const p = await run(['plan', '-f', file])
  assert.equal(p.r.code, 0, p.r.stderr)
  await assertNothingWritten(before, 'plan persisted nothing')
  matchSnapshot('json/plan', shapeOf(p.json))
  planned = changed(p.json)
  // Per cluster: cacerts, a remote secret for each of the two others, its meshNetworks, the reader in every cluster.
  for (const c of CLUSTERS) {
    assert.ok(planned.includes(`${c} Secret/${NS}/cacerts created`), planned.join('\n'))
    for (const o of CLUSTERS.filter((x) => x !== c)) assert.ok(planned.includes(`${c} Secret/${NS}/istio-remote-secret-${o} created`), planned.join('\n'))
    assert.ok(planned.includes(`${c} ConfigMap/${NS}/istio configured`))
    assert.ok(planned.includes(`${c} Secret/${NS}/istio-reader-service-account-istio-remote-secret-token created`), planned.join('\n'))
  }
  assert.ok(planned.includes('cluster2 Gateway/istio-system/kubectl-mesh-exports created'), planned.join('\n'))
  assert.ok(planned.includes('cluster2 Service/bar/httpbin configured'))
  assert.ok(planned.some((l) => /^cluster1 ServiceEntry\/bar\/httpbin-cluster2 created$/.test(l)))
  assert.ok(planned.some((l) => /^cluster1 DestinationRule\/bar\/httpbin-cluster2 created$/.test(l)))
  assert.ok(planned.includes(`cluster1 ServiceEntry/bar/${ECHO}-cluster2 created`), planned.join('\n'))
  assert.deepEqual(p.json.clusters.map((c: any) => c.context), CLUSTERS)
  assert.equal(p.json.dryRun, true)
  await text(['plan', '-f', file], 'plan-full')
})

test('--output-dir before any link: what can be written is, and the missing reader tokens are named', async () => {
  const out = join(dir, 'gitops-first')
  const before = await allVersions()
  const r = await mesh(['apply', '-f', meshFile('full', FULL), '--output-dir', out, '-o', 'json'], {cwd: dir})
  assert.equal(r.code, 0, r.stderr)
  await assertNothingWritten(before, 'nothing written to any cluster')
  const json = JSON.parse(r.stdout)
  assert.equal(json.missing.length, 3, 'one per bidirectional link')
  for (const m of json.missing) assert.match(m, /reader token in context .* does not exist until/)
  assert.match(r.stderr, /^Warning: not written: link "cluster1" ⇄ "cluster2": /m)
  for (const c of CLUSTERS) {
    const files = readdirSync(join(out, c))
    assert.ok(files.includes('secret.istio-system.cacerts.yaml'), files.join(' '))
    assert.ok(files.includes('secret.istio-system.istio-reader-service-account-istio-remote-secret-token.yaml'), files.join(' '))
    assert.ok(!files.some((f) => f.startsWith('secret.istio-system.istio-remote-secret-')), 'no remote secret without its token')
  }
  matchSnapshot('json/apply-output-dir', shapeOf(json))
})

test('apply: cacerts, links all ways, export, import; verify green; plan listed exactly what it did', async (t) => {
  const a = await run(['apply', '-f', meshFile('full', FULL)])
  assert.equal(a.r.code, 0, `${a.r.stderr}\n${JSON.stringify(a.json.verify, null, 1)}`)
  matchSnapshot('json/apply', shapeOf(a.json))
  assert.deepEqual(changed(a.json), planned, 'plan listed exactly what apply did')
  assert.equal(a.json.verify.summary.failed, 0)
  t.diagnostic(`apply: ${a.ms} ms, ${a.stats.requests} requests, ${writes(a.stats)} writes`)
  assert.deepEqual(await links(), {cluster1: ['cluster2', 'cluster3'], cluster2: ['cluster1', 'cluster3'], cluster3: ['cluster1', 'cluster2']})
  for (const c of CLUSTERS) {
    assert.ok(await kget(c, ['-n', NS, 'secret', 'cacerts']), `${c} has cacerts`)
    assert.deepEqual(await networksOf(c), CLUSTERS.filter((x) => x !== c).map((x) => x.replace('cluster', 'network')))
  }
  const gw = await kget('cluster2', ['-n', NS, 'gateways.networking.istio.io', 'kubectl-mesh-exports'])
  assert.deepEqual(gw.spec.servers[0].hosts, [`${ECHO}.bar.svc.cluster.local`, 'httpbin.bar.svc.cluster.local'])
  for (const svc of ['httpbin', ECHO]) assert.ok(await kget('cluster1', ['-n', 'bar', 'serviceentries', `${svc}-cluster2`]))
  // The verify that apply ran agrees with verify itself.
  const v = await mesh(['verify', ...CLUSTERS.flatMap((c) => ['--context', c])])
  assert.equal(v.code, 0, v.stdout)
})

test('--output-dir: one file per object under DIR/<context>/, which the API server finds equal to what apply made', async () => {
  const out = join(dir, 'gitops')
  const before = await allVersions()
  const r = await text(['apply', '-f', meshFile('full', FULL), '--output-dir', out], 'output-dir')
  assert.equal(r.code, 0, r.stderr)
  await assertNothingWritten(before, '--output-dir writes no object')
  assert.equal(writes(stats(r.stderr)), 0)
  for (const c of CLUSTERS) {
    const files = readdirSync(join(out, c)).sort()
    assert.ok(files.includes('secret.istio-system.cacerts.yaml'), files.join(' '))
    assert.ok(files.includes('configmap.istio-system.istio.yaml'), files.join(' '))
    for (const o of CLUSTERS.filter((x) => x !== c)) assert.ok(files.includes(`secret.istio-system.istio-remote-secret-${o}.yaml`), files.join(' '))
    assert.equal(statSync(join(out, c, 'secret.istio-system.cacerts.yaml')).mode & 0o777, 0o600)
    // The consumer: the API server compares the files with the live objects (server-side dry run).
    const diff = await kubectl(['diff', '--server-side', '--force-conflicts', '-f', join(out, c)], {context: c, allowFail: true})
    assert.equal(diff.code, 0, `${c}: the files differ from what apply made:\n${diff.stdout}${diff.stderr}`)
  }
  assert.ok(readdirSync(join(out, 'cluster1')).includes('serviceentry.bar.httpbin-cluster2.yaml'))
  assert.ok(readdirSync(join(out, 'cluster2')).includes('gateway.istio-system.kubectl-mesh-exports.yaml'))
})

test('re-apply: every object unchanged, no write, resourceVersions unchanged', async (t) => {
  const before = await allVersions()
  const a = await run(['apply', '-f', meshFile('full', FULL)])
  assert.equal(a.r.code, 0, a.r.stderr)
  assert.deepEqual(changed(a.json), [])
  assert.equal(writes(a.stats), 0, JSON.stringify(a.stats))
  await assertNothingWritten(before, 're-apply wrote nothing')
  t.diagnostic(`re-apply: ${a.ms} ms, ${a.stats.requests} requests, ${writes(a.stats)} writes`)
  await text(['apply', '-f', meshFile('full', FULL)], 'reapply-full')
  const p = await run(['plan', '-f', meshFile('full', FULL)])
  assert.deepEqual(changed(p.json), [], 'nothing to do')
  assert.equal(writes(p.stats), 0, 'a plan with nothing to do sends no (dry-run) write either')
})

test('--prune: shrinking the links to one pair removes exactly the dropped links, keeps the rest and what kubectl-mesh did not make', async () => {
  // Someone else's: a meshNetworks entry in cluster1, in the ConfigMap the prune of cluster1's link to cluster3 edits.
  const cm = await kget('cluster1', ['-n', NS, 'configmap', 'istio'])
  const doc = load(cm.data.meshNetworks) as any
  doc.networks[FOREIGN_NETWORK] = {endpoints: [{fromCidr: '10.99.0.0/16'}], gateways: [{address: '192.0.2.50', port: 15443}]}
  await setMeshNetworks('cluster1', dump(doc))

  const file = meshFile('one-pair', ONE_PAIR)
  // Without --prune, a shrunk file removes nothing.
  const kept = await run(['plan', '-f', file])
  assert.deepEqual(changed(kept.json), [])
  const before = await allVersions()
  const p = await run(['plan', '-f', file, '--prune'])
  assert.equal(p.r.code, 0, p.r.stderr)
  await assertNothingWritten(before, 'plan --prune deleted nothing')
  await text(['plan', '-f', file, '--prune'], 'plan-prune')
  const a = await run(['apply', '-f', file, '--prune'])
  assert.equal(a.r.code, 0, `${a.r.stderr}\n${JSON.stringify(a.json.verify, null, 1)}`)
  assert.deepEqual(changed(a.json), changed(p.json), 'plan --prune listed exactly what apply --prune did')
  assert.deepEqual(changed(a.json), [
    `cluster1 ConfigMap/${NS}/istio configured`, `cluster1 Secret/${NS}/istio-remote-secret-cluster3 deleted`,
    `cluster2 ConfigMap/${NS}/istio configured`, `cluster2 Secret/${NS}/istio-remote-secret-cluster3 deleted`,
    `cluster3 ConfigMap/${NS}/istio configured`, `cluster3 Secret/${NS}/istio-remote-secret-cluster1 deleted`, `cluster3 Secret/${NS}/istio-remote-secret-cluster2 deleted`,
  ])
  assert.deepEqual(await links(), {cluster1: ['cluster2'], cluster2: ['cluster1'], cluster3: []})
  assert.deepEqual(await networksOf('cluster1'), [FOREIGN_NETWORK, 'network2'])
  assert.deepEqual(await networksOf('cluster2'), ['network1'])
  assert.deepEqual(await networksOf('cluster3'), [])
  for (const c of CLUSTERS) assert.ok(await kget(c, ['-n', NS, 'secret', 'cacerts']))
  assert.ok(await kget('cluster1', ['-n', 'bar', 'serviceentries', 'httpbin-cluster2']), 'the declared import is kept')
  assert.ok(await kget('cluster3', ['-n', NS, 'serviceaccount', 'istio-reader-service-account']), 'the reader is not a link: kept')
  // Converged: again writes nothing.
  const again = await run(['apply', '-f', file, '--prune'])
  assert.deepEqual(changed(again.json), [])
  assert.equal(writes(again.stats), 0)
})

test('--prune of dropped imports and exports; --dry-run persists nothing', async () => {
  const file = meshFile('no-sharing', {...ONE_PAIR, exports: [], imports: []})
  const before = await allVersions()
  const d = await run(['apply', '-f', file, '--prune', '--dry-run'])
  assert.equal(d.r.code, 0, d.r.stderr)
  await assertNothingWritten(before, '--dry-run persisted nothing')
  assert.equal(d.json.verify, undefined, 'no verify after a dry run')
  const a = await run(['apply', '-f', file, '--prune'])
  assert.equal(a.r.code, 0, a.r.stderr)
  assert.deepEqual(changed(a.json), changed(d.json))
  const lines = changed(a.json)
  assert.ok(lines.includes('cluster1 ServiceEntry/bar/httpbin-cluster2 deleted'), lines.join('\n'))
  assert.ok(lines.includes('cluster1 DestinationRule/bar/httpbin-cluster2 deleted'))
  assert.ok(lines.includes('cluster2 Service/bar/httpbin configured'))
  assert.ok(lines.includes(`cluster2 Gateway/${NS}/kubectl-mesh-exports deleted`))
  const svc = await kget('cluster2', ['-n', 'bar', 'service', 'httpbin'])
  assert.equal(svc.metadata.labels?.['kubectl-mesh/exported'], undefined)
  assert.ok(await kget('cluster2', ['-n', 'bar', 'service', 'httpbin']), 'the Service itself is not ours: kept')
})

test('a failure part-way names what was applied before it; apply again converges', async () => {
  const bad = meshFile('bad-export', {...FULL, exports: [{cluster: 'cluster2', namespace: 'bar', service: 'nosuch'}], imports: []})
  const r = await mesh(['apply', '-f', bad], {cwd: dir})
  assert.equal(r.code, 1, r.stderr)
  const error = r.stderr.split('\n').find((l) => l.startsWith('Error: '))!
  assert.match(error, /^Error: export bar\/nosuch from "cluster2": context "cluster2": Service bar\/nosuch does not exist; applied before it: /)
  // The links the file adds back (cluster3's) were written before the export failed, and are named.
  assert.match(error, /cluster1 Secret\/istio-system\/istio-remote-secret-cluster3 created/)
  assert.match(error, /cluster3 Secret\/istio-system\/istio-remote-secret-cluster1 created/)
  assert.match(r.stderr, new RegExp(`^Hint: .*run \`kubectl mesh apply -f ${bad.replaceAll('/', '\\/')}\` again: it converges`, 'm'))
  assert.equal(r.stdout, '')
  assert.deepEqual((await links()).cluster3, ['cluster1', 'cluster2'])
  // The fixed file: what the failed run wrote is unchanged now, the rest is done.
  const fixed = await run(['apply', '-f', meshFile('fixed', {...FULL, imports: []})])
  assert.equal(fixed.r.code, 0, fixed.r.stderr)
  assert.ok(!changed(fixed.json).some((l) => l.includes('istio-remote-secret')), changed(fixed.json).join('\n'))
  assert.ok(changed(fixed.json).includes('cluster2 Service/bar/httpbin configured'))
})

test('expose: all — plan shows the export covered by the cross-network Gateway the links make, as apply then does', async () => {
  const shared = {...FULL, imports: []}
  const clean = await run(['apply', '-f', meshFile('no-exports', {...shared, exports: []}), '--prune'])
  assert.equal(clean.r.code, 0, clean.r.stderr)
  assert.equal(await kget('cluster2', ['-n', NS, 'gateways.networking.istio.io', 'kubectl-mesh-exports']), undefined)
  const file = meshFile('expose-all', {...shared, expose: 'all'})
  const p = await run(['plan', '-f', file])
  assert.equal(p.r.code, 0, p.r.stderr)
  const a = await run(['apply', '-f', file])
  assert.equal(a.r.code, 0, `${a.r.stderr}\n${JSON.stringify(a.json.verify, null, 1)}`)
  assert.deepEqual(changed(a.json), changed(p.json), 'plan listed exactly what apply did')
  for (const c of CLUSTERS) assert.ok(changed(a.json).includes(`${c} Gateway/${NS}/kubectl-mesh-cross-network created`), changed(a.json).join('\n'))
  assert.ok(!changed(a.json).some((l) => l.includes('kubectl-mesh-exports')), 'the export adds no host: the cross-network Gateway passes it through')
  assert.ok(changed(a.json).includes('cluster2 Service/bar/httpbin configured'))
})
