// The Mesh file (src/mesh): schema, positions, the file's own checks, the desired-state builder
// and the merging of change lines. Pure code, no cluster.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {dump, load} from 'js-yaml'
import {OperationError, UsageError} from '../../src/errors.ts'
import {parseMesh, type Mesh} from '../../src/mesh/file.ts'
import {MESH_SCHEMA} from '../../src/mesh/mesh-schema.ts'
import {validateSchema, formatPath} from '../../src/mesh/schema.ts'
import {declaredByCluster, describeStep, desiredSteps, directedLinks} from '../../src/mesh/desired.ts'
import {mergeChanges, netAction, summarize, summaryText} from '../../src/mesh/changes.ts'
import type {Change} from '../../src/kube/apply.ts'
import {fileNameOf, fileTextOf, mergeDocs, mergeMeshNetworks} from '../../src/mesh/output-dir.ts'

const EXAMPLE = `apiVersion: kubectl-mesh/v1alpha1
kind: Mesh
metadata: {name: prod}
spec:
  ca: {dir: ./mesh-ca}
  clusters:
  - context: east
  - context: west
    server: https://west-api.example.com:6443
    gateway: 203.0.113.7
  links: all
  exports: [{cluster: west, namespace: bar, service: httpbin}]
  imports: [{cluster: east, from: west, namespace: bar, service: httpbin, host: httpbin.bar.global}]
`

/** The UsageError a text gives (fails when it parses). */
function problem(text: string): UsageError {
  try {
    parseMesh(text, '/tmp/m/mesh.yaml')
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error))
    assert.equal(error.exitCode, 2)
    assert.ok(error.hint)
    return error
  }
  assert.fail('the file was accepted')
}

/** EXAMPLE with its spec changed. */
const withSpec = (edit: (spec: any) => void): string => {
  const spec: any = {clusters: [{context: 'east'}, {context: 'west'}, {context: 'north'}], links: 'all', exports: [{cluster: 'west', namespace: 'bar', service: 'httpbin'}], imports: []}
  edit(spec)
  return dump({apiVersion: 'kubectl-mesh/v1alpha1', kind: 'Mesh', spec})
}

test('schema/mesh.schema.json is the compiled-in schema (npm run schema:update writes it)', () => {
  const file = JSON.parse(readFileSync(new URL('../../schema/mesh.schema.json', import.meta.url), 'utf8'))
  assert.deepEqual(file, MESH_SCHEMA)
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  assert.ok(pkg.files.includes('schema'), 'the schema is shipped')
})

test('the example of DESIGN.md parses; ca.dir is relative to the file, defaults filled in', () => {
  const m = parseMesh(EXAMPLE, '/tmp/m/mesh.yaml')
  assert.equal(m.caDir, resolve('/tmp/m/mesh-ca'))
  assert.equal(m.istioNamespace, 'istio-system')
  assert.equal(m.expose, 'all')
  assert.equal(m.links, 'all')
  assert.deepEqual(m.clusters[1], {context: 'west', server: 'https://west-api.example.com:6443', gateway: '203.0.113.7'})
  assert.equal(m.imports[0].host, 'httpbin.bar.global')
})

test('schema errors name the file, line and field', () => {
  const unknown = problem(EXAMPLE.replace('  - context: east\n', '  - context: east\n    contxt: typo\n'))
  assert.match(unknown.message, /^\/tmp\/m\/mesh\.yaml:8: spec\.clusters\[0\]\.contxt is not a known field/)
  assert.match(problem(EXAMPLE.replace('kind: Mesh', 'kind: Mash')).message, /mesh\.yaml:2: kind must be "Mesh", not "Mash"/)
  assert.match(problem(EXAMPLE.replace('links: all', 'links: some')).message, /mesh\.yaml:11: spec\.links must be "all" or an array/)
  assert.match(problem(EXAMPLE.replace('links: all', 'links: [{from: east}]')).message, /mesh\.yaml:11: spec\.links\[0\]\.to is required/)
  assert.match(problem(EXAMPLE.replace('server: https://', 'server: http://')).message, /mesh\.yaml:9: spec\.clusters\[1\]\.server "http:\/\/west-api/)
  assert.match(problem(EXAMPLE.replace('apiVersion: kubectl-mesh/v1alpha1\n', '')).message, /mesh\.yaml:1: apiVersion is required/)
  assert.match(problem('spec: [').message, /^\/tmp\/m\/mesh\.yaml:1:\d+: not valid YAML/)
  assert.match(problem('').message, /mesh\.yaml: not valid YAML: .*empty/)
  assert.match(problem('- a\n').message, /mesh\.yaml:1: \(document\) must be an object, not an array/)
})

test('more than one problem: the first, and how many more', () => {
  const e = problem(EXAMPLE.replace('kind: Mesh', 'kind: Mash').replace('links: all', 'links: some'))
  assert.match(e.message, /kind must be "Mesh".*\(and 1 more: spec\.links \(line 11\) must be/)
})

test('unknown clusters, duplicates and contradictions, with their lines', () => {
  assert.match(problem(withSpec((s) => (s.links = [{from: 'east', to: 'south'}]))).message, /spec\.links\[0\]\.to "south" is not a cluster of spec\.clusters/)
  assert.match(problem(withSpec((s) => s.clusters.push({context: 'east'}))).message, /spec\.clusters\[3\]\.context "east" is listed twice/)
  assert.match(problem(withSpec((s) => (s.links = [{from: 'east', to: 'west', bidirectional: true}, {from: 'west', to: 'east'}]))).message,
    /spec\.links\[1\] the link west → east is also declared by spec\.links\[0\]/)
  assert.match(problem(withSpec((s) => (s.links = [{from: 'east', to: 'east'}]))).message, /links "east" to itself/)
  assert.match(problem(withSpec((s) => s.exports.push({cluster: 'west', namespace: 'bar', service: 'httpbin'}))).message, /spec\.exports\[1\] exports bar\/httpbin from "west" a second time/)
  assert.match(problem(withSpec((s) => s.exports.push({cluster: 'mars', namespace: 'bar', service: 'x'}))).message, /spec\.exports\[1\]\.cluster "mars" is not a cluster/)
  const orphan = problem(withSpec((s) => s.imports.push({cluster: 'east', from: 'north', namespace: 'bar', service: 'httpbin'})))
  assert.match(orphan.message, /:\d+: spec\.imports\[0\] imports bar\/httpbin from "north", which no entry of spec\.exports exports/)
  assert.match(problem(withSpec((s) => s.imports.push({cluster: 'east', from: 'east', namespace: 'bar', service: 'httpbin'}))).message, /imports into "east" from itself/)
  assert.match(problem(withSpec((s) => {
    s.exports.push({cluster: 'north', namespace: 'bar', service: 'httpbin'})
    s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin'}, {cluster: 'east', from: 'north', namespace: 'bar', service: 'httpbin'})
  })).message, /spec\.imports\[1\]\.service imports host httpbin\.bar\.global into "east", as spec\.imports\[0\] does/)
})

test('with ca.dir, each cluster needs a DNS-1123 name for its folder', () => {
  const e = problem(EXAMPLE.replace('- context: east', '- context: arn:aws:eks:east'))
  assert.match(e.message, /spec\.clusters\[0\]\.context "arn:aws:eks:east" is not a DNS-1123 label.*set name/)
  const ok = parseMesh(EXAMPLE.replace('- context: east', '- {context: "arn:aws:eks:east", name: east}').replace(/cluster: east/, 'cluster: "arn:aws:eks:east"'), '/tmp/m/mesh.yaml')
  assert.deepEqual(desiredSteps(ok)[0], {kind: 'cacerts', context: 'arn:aws:eks:east', caName: 'east'})
  assert.match(problem(EXAMPLE.replace('- context: east', '- {context: east, name: west}')).message, /CA name "west" is also cluster 0's/)
})

const mesh = (text: string): Mesh => parseMesh(text, '/tmp/m/mesh.yaml')

test('desired steps: cacerts, then links (a pair both ways is one bidirectional link), exports, imports', () => {
  const m = mesh(withSpec((s) => {
    s.ca = {dir: 'ca'}
    s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin'})
  }))
  assert.deepEqual(desiredSteps(m).map((s) => s.kind === 'link' ? `link ${s.context}${s.bidirectional ? '<->' : '->'}${s.remoteContext}` : `${s.kind} ${s.context}`), [
    'cacerts east', 'cacerts west', 'cacerts north',
    'link east<->west', 'link east<->north', 'link west<->north',
    'export west', 'import east',
  ])
  assert.equal(directedLinks(m).length, 6)
})

test('imports with via: egress are service import --via-egress (their egressGateway, else the default); they group apart from direct ones', () => {
  const m = mesh(withSpec((s) => {
    s.exports.push({cluster: 'west', namespace: 'bar', service: 'echo'}, {cluster: 'west', namespace: 'bar', service: 'tcp'})
    s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin', via: 'egress'},
      {cluster: 'east', from: 'west', namespace: 'bar', service: 'echo', via: 'egress'},
      {cluster: 'east', from: 'west', namespace: 'bar', service: 'tcp', via: 'direct'},
      {cluster: 'north', from: 'west', namespace: 'bar', service: 'httpbin', host: 'httpbin.bar.remote', via: 'egress', egressGateway: 'egress/gw'})
  }))
  assert.deepEqual(desiredSteps(m).filter((s) => s.kind === 'import' || s.kind === 'imports'), [
    {kind: 'imports', context: 'east', fromContext: 'west', namespace: 'bar', services: ['httpbin', 'echo'], viaEgress: ''},
    {kind: 'import', context: 'east', fromContext: 'west', namespace: 'bar', service: 'tcp'},
    {kind: 'import', context: 'north', fromContext: 'west', namespace: 'bar', service: 'httpbin', host: 'httpbin.bar.remote', viaEgress: 'egress/gw'},
  ])
  assert.throws(() => mesh(withSpec((s) => s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin', via: 'sideways'}))), /via must be one of "direct", "egress"/)
  assert.throws(() => mesh(withSpec((s) => s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin', egressGateway: 'a/b'}))), /egressGateway names the egress gateway of via: egress/)
})

test('link overrides go to the side that is the remote of the call; both sides with overrides: two one-way links', () => {
  const one = mesh(withSpec((s) => {
    s.clusters[0].server = 'https://east.example.com'
    s.links = [{from: 'east', to: 'west', bidirectional: true}]
  }))
  assert.deepEqual(desiredSteps(one).filter((s) => s.kind === 'link'), [{kind: 'link', context: 'west', remoteContext: 'east', bidirectional: true, overrides: {server: 'https://east.example.com'}, options: {}}])
  const both = mesh(withSpec((s) => {
    s.clusters[0].server = 'https://east.example.com'
    s.clusters[1].gateway = '203.0.113.7'
    s.links = [{from: 'east', to: 'west', bidirectional: true}, {from: 'north', to: 'east'}]
  }))
  assert.deepEqual(desiredSteps(both).filter((s) => s.kind === 'link'), [
    {kind: 'link', context: 'east', remoteContext: 'west', bidirectional: false, overrides: {gateway: '203.0.113.7'}, options: {}},
    {kind: 'link', context: 'west', remoteContext: 'east', bidirectional: false, overrides: {server: 'https://east.example.com'}, options: {}},
    {kind: 'link', context: 'north', remoteContext: 'east', bidirectional: false, overrides: {server: 'https://east.example.com'}, options: {}},
  ])
})

test('spec.links[].networkConfig and createGateway go to cluster link; bad values and contradictions are exit 2 with the line', () => {
  const m = mesh(withSpec((s) => {
    s.links = [{from: 'east', to: 'west', bidirectional: true, networkConfig: 'gateway'}, {from: 'north', to: 'east', createGateway: true}]
  }))
  assert.deepEqual(m.links, [{from: 'east', to: 'west', bidirectional: true, networkConfig: 'gateway'}, {from: 'north', to: 'east', createGateway: true}])
  assert.deepEqual(desiredSteps(m).filter((s) => s.kind === 'link'), [
    {kind: 'link', context: 'east', remoteContext: 'west', bidirectional: true, overrides: {}, options: {networkConfig: 'gateway'}},
    {kind: 'link', context: 'north', remoteContext: 'east', bidirectional: false, overrides: {}, options: {createGateway: true}},
  ])
  assert.match(describeStep(desiredSteps(m).find((s) => s.kind === 'link')!), /link "east" ⇄ "west" \(network config gateway\)/)
  // both ways declared apart with different options: two one-way links, each with its own
  const apart = mesh(withSpec((s) => {
    s.links = [{from: 'east', to: 'west', networkConfig: 'gateway'}, {from: 'west', to: 'east', networkConfig: 'meshnetworks'}]
  }))
  assert.deepEqual(desiredSteps(apart).filter((s) => s.kind === 'link').map((s) => s.kind === 'link' && [s.context, s.bidirectional, s.options.networkConfig]), [['east', false, 'gateway'], ['west', false, 'meshnetworks']])
  const same = mesh(withSpec((s) => {
    s.links = [{from: 'east', to: 'west', networkConfig: 'gateway'}, {from: 'west', to: 'east', networkConfig: 'gateway'}]
  }))
  assert.deepEqual(desiredSteps(same).filter((s) => s.kind === 'link').map((s) => s.kind === 'link' && [s.context, s.bidirectional, s.options.networkConfig]), [['east', true, 'gateway']])

  const text = (links: string) => EXAMPLE.replace('  links: all\n', `  links:\n${links}`)
  const bad = problem(text('  - {from: east, to: west, networkConfig: label}\n'))
  assert.match(bad.message, /^\/tmp\/m\/mesh\.yaml:12: spec\.links\[0\]\.networkConfig must be one of "meshnetworks", "gateway", not "label"$/)
  assert.match(problem(text('  - {from: east, to: west, createGateway: "yes"}\n')).message, /:12: spec\.links\[0\]\.createGateway must be a boolean/)
  const both = problem(text('  - from: east\n    to: west\n    createGateway: true\n    networkConfig: meshnetworks\n'))
  assert.match(both.message, /:15: spec\.links\[0\]\.networkConfig is meshnetworks, but createGateway writes an ambient east-west Gateway/)
})

test('what each cluster declares (the keys --prune compares)', () => {
  const m = mesh(withSpec((s) => {
    s.links = [{from: 'east', to: 'west'}]
    s.imports.push({cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin'})
  }))
  const d = declaredByCluster(m)
  assert.deepEqual([...d.get('east')!.linksTo], ['west'])
  assert.deepEqual([...d.get('west')!.linksTo], [])
  assert.deepEqual([...d.get('west')!.exports], ['bar/httpbin'])
  assert.deepEqual([...d.get('east')!.imports], ['west/bar/httpbin'])
  assert.deepEqual(desiredSteps(mesh(withSpec((s) => delete s.links))).filter((s) => s.kind === 'link'), [])
})

test('change lines: one per object with its net action, grouped by cluster in file order', () => {
  assert.equal(netAction(['created', 'configured']), 'created')
  assert.equal(netAction(['unchanged', 'configured', 'unchanged']), 'configured')
  assert.equal(netAction(['unchanged', 'unchanged']), 'unchanged')
  assert.equal(netAction(['deleted']), 'deleted')
  assert.equal(netAction(['configured', 'deleted']), 'deleted')
  const c = (context: string, kind: string, name: string, action: Change['action']): Change => ({context, kind, namespace: 'istio-system', name, action})
  const merged = mergeChanges([
    c('west', 'ServiceAccount', 'reader', 'created'), c('east', 'Secret', 'istio-remote-secret-west', 'created'), c('east', 'ConfigMap', 'istio', 'configured'),
    c('east', 'ServiceAccount', 'reader', 'created'), c('east', 'ConfigMap', 'istio', 'configured'), c('west', 'ServiceAccount', 'reader', 'unchanged'),
  ], ['local', 'east', 'west'])
  assert.deepEqual(merged.map((x) => `${x.context} ${x.kind} ${x.action}`), [
    'east Secret created', 'east ConfigMap configured', 'east ServiceAccount created', 'west ServiceAccount created',
  ])
  const s = summarize(merged)
  assert.deepEqual(s, {created: 3, configured: 1, deleted: 0, unchanged: 0})
  assert.equal(summaryText(s, true), '3 to create, 1 to configure, 0 to delete, 0 unchanged')
  assert.equal(summaryText(s, false), '3 created, 1 configured, 0 deleted, 0 unchanged')
})

test('the schema validator: types, required, unknown fields, patterns, oneOf', () => {
  const schema = {type: 'object' as const, required: ['a'], additionalProperties: false, properties: {a: {type: 'array' as const, minItems: 1, items: {type: 'string' as const, pattern: '^x'}}, b: {oneOf: [{const: 'all'}, {type: 'array' as const}]}}}
  assert.deepEqual(validateSchema(schema, {a: ['x1']}), [])
  const p = validateSchema(schema, {a: ['y', 3], c: 1, b: 'some'}).map((x) => `${formatPath(x.path)} ${x.message}`)
  assert.deepEqual(p, ['a[0] "y" does not match ^x', 'a[1] must be a string, not an integer', 'c is not a known field (known: a, b)', 'b must be "all" or an array'])
  assert.deepEqual(validateSchema(schema, {}).map((x) => formatPath(x.path)), ['a'])
  assert.deepEqual(validateSchema(schema, {a: []}).map((x) => x.message), ['must have at least 1 item'])
})

test('the e2e and docs example files are valid', () => {
  for (const f of ['docs/apply.md']) {
    const text = readFileSync(join(import.meta.dirname, '..', '..', f), 'utf8')
    const block = /```yaml\n(apiVersion: kubectl-mesh[\s\S]*?)```/.exec(text)
    assert.ok(block, `${f} has an example Mesh file`)
    parseMesh(block[1], join('/tmp', 'mesh.yaml'))
  }
})

test('--output-dir: objects several operations write are merged; stable file names; server fields dropped', () => {
  const cm = (nets: unknown) => ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: 'istio-system'}, data: {meshNetworks: dump({networks: nets})}})
  const lab = {endpoints: [{fromCidr: '10.99.0.0/16'}], gateways: [{address: '192.0.2.50', port: 15443}]}
  const gw = (name: string, extra: Record<string, unknown>) => ({apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name, namespace: 'istio-system', ...extra}, spec: {servers: [{port: {number: 15443}, hosts: ['a']}]}})
  const merged = mergeDocs([
    {context: 'east', object: cm({lab, network2: {endpoints: [{fromRegistry: 'west'}], gateways: [{address: '127.0.0.12', port: 15443}]}})},
    {context: 'west', object: gw('kubectl-mesh-cross-network', {annotations: {'kubectl-mesh/exposed-for': 'east'}})},
    {context: 'east', object: cm({lab, network3: {endpoints: [{fromRegistry: 'north'}], gateways: [{address: '127.0.0.13', port: 15443}]}})},
    {context: 'west', object: gw('kubectl-mesh-cross-network', {annotations: {'kubectl-mesh/exposed-for': 'north'}})},
    {context: 'west', object: {...gw('kubectl-mesh-exports', {}), spec: {servers: [{hosts: ['b.bar.svc.cluster.local']}]}}},
    {context: 'west', object: {...gw('kubectl-mesh-exports', {}), spec: {servers: [{hosts: ['a.bar.svc.cluster.local']}]}}},
  ])
  assert.equal(merged.length, 3)
  assert.deepEqual(Object.keys((load(merged[0].object.data.meshNetworks) as any).networks), ['lab', 'network2', 'network3'])
  assert.deepEqual((load(merged[0].object.data.meshNetworks) as any).networks.lab, lab, 'an entry both carry is kept once')
  assert.equal(merged[1].object.metadata.annotations!['kubectl-mesh/exposed-for'], 'east,north')
  assert.deepEqual(merged[2].object.spec.servers[0].hosts, ['a.bar.svc.cluster.local', 'b.bar.svc.cluster.local'])
  assert.equal(fileNameOf(merged[0].object), 'configmap.istio-system.istio.yaml')
  assert.equal(fileNameOf({apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'istio-reader-clusterrole-istio-system'}}), 'clusterrole.istio-reader-clusterrole-istio-system.yaml')
  const text = fileTextOf({apiVersion: 'v1', kind: 'Secret', metadata: {name: 's', namespace: 'n', resourceVersion: '7', uid: 'u'}, status: {}})
  assert.deepEqual(load(text), {apiVersion: 'v1', kind: 'Secret', metadata: {name: 's', namespace: 'n'}})
  assert.deepEqual(mergeMeshNetworks(undefined, {networks: {a: lab}}), {networks: {a: lab}})
})

test('a failure part-way: what was applied before it, and that apply again converges', async () => {
  const {partialFailure} = await import('../../src/mesh/service.ts')
  const applied: Change[] = [
    {context: 'east', kind: 'Secret', namespace: 'istio-system', name: 'cacerts', action: 'created'},
    {context: 'west', kind: 'Secret', namespace: 'istio-system', name: 'cacerts', action: 'unchanged'},
  ]
  const e = partialFailure(new OperationError('context "west": connection refused', 'is the API server up?'), 'link "east" ⇄ "west"', applied, {file: 'mesh.yaml', dryRun: false, prune: true}) as OperationError
  assert.equal(e.exitCode, 1)
  assert.equal(e.message, 'link "east" ⇄ "west": context "west": connection refused; applied before it: east Secret/istio-system/cacerts created')
  assert.equal(e.hint, 'is the API server up?; then run `kubectl mesh apply -f mesh.yaml --prune` again: it converges (it writes only what is missing)')
  // A usage problem a step finds before anything was written stays exit 2; after a write it is a failure (exit 1).
  const usage = new UsageError('context "west": Service bar/httpbin does not exist', 'check the name')
  assert.equal((partialFailure(usage, 'export bar/httpbin from "west"', applied.slice(1), {file: 'm.yaml', dryRun: false, prune: false}) as UsageError).exitCode, 2)
  assert.equal((partialFailure(usage, 'export bar/httpbin from "west"', applied, {file: 'm.yaml', dryRun: false, prune: false}) as OperationError).exitCode, 1)
  assert.match(partialFailure(usage, 'x', applied, {file: 'm.yaml', dryRun: true, prune: false}).message, /nothing was written \(dry run\)$/)
})

test('imports into one cluster from one cluster and namespace are one import run; a host of its own stays alone', () => {
  const m = mesh(withSpec((s) => {
    s.exports.push({cluster: 'west', namespace: 'bar', service: 'echo'}, {cluster: 'west', namespace: 'foo', service: 'sleep'}, {cluster: 'west', namespace: 'bar', service: 'web'})
    s.imports.push(
      {cluster: 'east', from: 'west', namespace: 'bar', service: 'httpbin'},
      {cluster: 'east', from: 'west', namespace: 'foo', service: 'sleep'},
      {cluster: 'east', from: 'west', namespace: 'bar', service: 'echo'},
      {cluster: 'east', from: 'west', namespace: 'bar', service: 'web', host: 'web.example.global'},
      {cluster: 'north', from: 'west', namespace: 'bar', service: 'echo'},
    )
  }))
  assert.deepEqual(desiredSteps(m).filter((s) => s.kind === 'import' || s.kind === 'imports'), [
    {kind: 'imports', context: 'east', fromContext: 'west', namespace: 'bar', services: ['httpbin', 'echo']},
    {kind: 'import', context: 'east', fromContext: 'west', namespace: 'foo', service: 'sleep'},
    {kind: 'import', context: 'east', fromContext: 'west', namespace: 'bar', service: 'web', host: 'web.example.global'},
    {kind: 'import', context: 'north', fromContext: 'west', namespace: 'bar', service: 'echo'},
  ])
})
