// The public contract, locked (STYLE.md §12): every command's flags, from the oclif manifest of the
// commands in src/, and the `-o json` shapes that can be produced in process. Each is compared with
// its committed snapshot in test/contract/; a missing or different snapshot fails. Update them with
// `npm run contract:update` (docs/DEVELOPING.md). The shapes of commands that need clusters are
// locked by test/e2e/contract.test.ts against the test bed.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Config} from '@oclif/core'
import {runCommand} from '@oclif/test'
import {runChecks} from '../../src/verify/runner.ts'
import {renderJson} from '../../src/verify/render-json.ts'
import {assertNoStale, commandContract, flagsSnapshotName, matchSnapshot, mergeShapes, routeRunnerOutput, shapeOf, srcLoadOptions} from '../contract.ts'
import {healthyMesh} from './verify-fixtures.ts'
import {renderJson as renderExplainJson} from '../../src/explain/render.ts'
import {predictPort} from '../../src/explain/predict.ts'

routeRunnerOutput()

describe('contract: flags of every command (test/contract/flags/)', async () => {
  const config = await Config.load(srcLoadOptions())
  // oclif lists each alias as a command of its own: the alias is part of its command's snapshot.
  const aliases = new Set(config.commands.flatMap((c) => c.aliases))
  const commands = config.commands.filter((c) => !aliases.has(c.id)).sort((a, b) => a.id.localeCompare(b.id))

  test('the commands are found', () => {
    assert.ok(commands.some((c) => c.id === 'cluster:link') && commands.some((c) => c.id === 'service:export'), commands.map((c) => c.id).join(', '))
  })
  for (const c of commands) {
    test(c.id.replaceAll(':', ' '), () => matchSnapshot(`flags/${flagsSnapshotName(c.id)}`, commandContract(c)))
  }
  test('no snapshot without a command', () => assertNoStale('flags', commands.map((c) => flagsSnapshotName(c.id))))
})

describe('contract: -o json shapes produced in process (test/contract/json/)', () => {
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'kubectl-mesh-contract-')) })
  after(() => rmSync(dir, {recursive: true, force: true}))

  test('ca gen -o json (a real run: new root, two intermediates)', async () => {
    process.exitCode = undefined
    const r = await runCommand(['ca', 'gen', '--cluster', 'east', '--cluster', 'west', '--dir', join(dir, 'ca'), '--key-size', '2048', '-o', 'json'], srcLoadOptions(), {testNodeEnv: 'production'})
    assert.equal(process.exitCode ?? 0, 0, r.stderr)
    process.exitCode = undefined
    matchSnapshot('json/ca-gen', shapeOf(JSON.parse(r.stdout)))
  })

  test('verify -o json (the renderer over a healthy mesh and a broken one)', () => {
    const healthy = JSON.parse(renderJson(runChecks(healthyMesh())))
    const broken = healthyMesh()
    broken.clusters[1].unreachable = {message: 'connection refused', hint: 'start it'}
    matchSnapshot('json/verify', mergeShapes(shapeOf(healthy), shapeOf(JSON.parse(renderJson(runChecks(broken))))))
  })

  test('explain -o json (the renderer over a prediction from istiod-shaped shards; test/e2e/explain.test.ts checks a real run against it)', () => {
    const ep = (cluster: string, address: string, network: string) => ({address, port: 8080, servicePortName: 'http', network, tlsMode: 'istio', healthStatus: 1, cluster})
    const port = predictPort({ports: [{name: 'http', port: 8000}], proxy: {cluster: 'cluster1', network: 'network1'}, gateways: [{network: 'network2', cluster: 'cluster2', addr: '127.0.0.12', port: 15443}],
      shards: {'Kubernetes/cluster1': [ep('cluster1', '10.244.1.10', 'network1')], 'Kubernetes/cluster2': [ep('cluster2', '10.244.2.10', 'network2')]}}, {name: 'http', port: 8000})
    const out = renderExplainJson({service: 'httpbin.bar.svc.cluster.local', from: {context: 'cluster1', namespace: 'foo'},
      endpoints: port.endpoints.map((e) => ({cluster: e.cluster, address: e.address, port: e.port, servicePort: e.servicePort, via: e.via})),
      dropped: [{cluster: 'cluster3', reason: 'not linked: cluster1 holds no remote secret for cluster cluster3', hint: 'kubectl mesh cluster link --context cluster1 --remote-context cluster3'}],
      detail: {proxy: {cluster: 'cluster1', network: 'network1'}, ports: [port], istiod: 'pod istio-system/istiod-0', gateways: []}})
    matchSnapshot('json/explain', shapeOf(JSON.parse(out)))
  })
})

describe('shapeOf', () => {
  test('keys and types, recursively; array elements merged; keys missing in some elements optional', () => {
    assert.deepEqual(shapeOf({b: [{x: 1, y: 'a'}, {x: 2}], a: null, c: [], d: [1, 'x']}), {a: 'null', b: [{x: 'number', 'y?': 'string'}], c: [], d: ['number|string']})
    assert.deepEqual(mergeShapes({a: 'string'}, {a: 'null', b: 'boolean'}), {a: 'null|string', 'b?': 'boolean'})
  })
})
