// Command tests (STYLE.md §11), in process through @oclif/test's runCommand with the commands from
// src/ (no build): flag parsing, defaults, aliases and usage errors. No cluster: the kubeconfig
// points at a closed loopback port, every case fails (or is stopped) before any API request, and
// that is asserted.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Command} from '@oclif/core'
import {runCommand} from '@oclif/test'
import {requestLog} from '../../src/kube/client.ts'
import {routeRunnerOutput, srcLoadOptions} from '../contract.ts'

const LOAD = srcLoadOptions()
routeRunnerOutput()
let dir: string
const saved = {KUBECONFIG: process.env.KUBECONFIG, NO_COLOR: process.env.NO_COLOR}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubectl-mesh-commands-'))
  const kubeconfig = join(dir, 'kubeconfig')
  // Port 1 on loopback: nothing listens, so a request that slipped through would fail, not hang.
  const cluster = (name: string) => ({name, cluster: {server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true}})
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'east',
    clusters: [cluster('east'), cluster('west')],
    users: [{name: 'u', user: {token: 'not-a-real-token'}}],
    contexts: [{name: 'east', context: {cluster: 'east', user: 'u', namespace: 'foo'}}, {name: 'west', context: {cluster: 'west', user: 'u'}}],
  }))
  process.env.KUBECONFIG = kubeconfig
  process.env.NO_COLOR = '1'
})

after(() => {
  rmSync(dir, {recursive: true, force: true})
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
})

interface Run {code: number; stdout: string; stderr: string; requests: number}


/** `kubectl mesh ARGS` in process; the exit code the command set (or oclif's for an error it threw). */
async function mesh(args: string): Promise<Run> {
  const before = requestLog.length
  process.exitCode = undefined
  // NODE_ENV as in a user's shell (not "test"): oclif's development-only warnings stay off.
  const r = await runCommand(args, LOAD, {testNodeEnv: 'production'})
  const code = Number(process.exitCode ?? (r.error ? (r.error.oclif?.exit ?? 1) : 0))
  process.exitCode = undefined
  return {code, stdout: r.stdout, stderr: r.stderr, requests: requestLog.length - before}
}

const STOP = 'stopped after parsing'
/** Parse `kubectl mesh ARGS` as the command does, and stop before its service runs. */
async function parsed(args: string): Promise<{command: string; flags: Record<string, unknown>; args: Record<string, unknown>; requests: number}> {
  const proto = Command.prototype as unknown as {parse: (...a: unknown[]) => Promise<{flags: Record<string, unknown>; args: Record<string, unknown>}>}
  const parse = proto.parse
  let seen: {command: string; flags: Record<string, unknown>; args: Record<string, unknown>} | undefined
  proto.parse = async function (this: Command, ...a: unknown[]) {
    const out = await parse.apply(this, a)
    seen = {command: this.constructor.name, flags: out.flags, args: out.args}
    // exit 0: MeshCommand's handler ends the run quietly.
    throw Object.assign(new Error(STOP), {oclif: {exit: 0}})
  }
  try {
    const r = await mesh(args)
    assert.ok(seen, `not parsed: exit ${r.code}\n${r.stderr}`)
    return {...seen, requests: r.requests}
  } finally {
    proto.parse = parse
  }
}

/** exit 2, nothing on stdout, stderr exactly `Error: …` and `Hint: …`, and no API request sent. */
function assertUsage(r: Run, message: RegExp, hint?: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`)
  assert.equal(r.stdout, '')
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 2, r.stderr)
  assert.match(lines[0], /^Error: /)
  assert.match(lines[0], message)
  assert.match(lines[1], /^Hint: /)
  if (hint) assert.match(lines[1], hint)
  assert.equal(r.requests, 0, 'no API request before a usage error')
}

const KUBE_DEFAULTS = {'istio-namespace': 'istio-system', 'request-timeout': '10s', verbose: undefined}

describe('defaults', () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['ca gen --cluster east', 'CaGen', {cluster: ['east'], dir: './mesh-ca', 'key-size': 4096, 'root-days': 3650, days: 3650, org: 'Istio', force: undefined, output: 'text', 'dry-run': undefined, context: undefined, ...KUBE_DEFAULTS}],
    ['cluster link --remote-context west', 'ClusterLink', {'remote-context': 'west', context: undefined, bidirectional: undefined, force: undefined, expose: 'all', output: 'text', 'dry-run': undefined, 'remote-name': undefined, server: undefined, gateway: undefined, network: undefined, ...KUBE_DEFAULTS}],
    ['cluster unlink --remote-name west', 'ClusterUnlink', {'remote-name': 'west', bidirectional: undefined, 'prune-remote': undefined, output: 'text', 'dry-run': undefined, ...KUBE_DEFAULTS}],
    ['service export httpbin', 'ServiceExport', {namespace: undefined, mcs: undefined, 'cluster-domain': undefined, output: 'text', 'dry-run': undefined, ...KUBE_DEFAULTS}],
    ['service unexport httpbin', 'ServiceUnexport', {namespace: undefined, 'cluster-domain': undefined, output: 'text', 'dry-run': undefined, ...KUBE_DEFAULTS}],
    ['service import httpbin --from-context west', 'ServiceImport', {'from-context': 'west', address: 'auto', 'all-exported': undefined, 'create-namespace': undefined, 'cluster-domain': undefined, host: undefined, 'from-name': undefined, 'via-egress': undefined, output: 'text', 'dry-run': undefined, ...KUBE_DEFAULTS}],
    ['service unimport httpbin', 'ServiceUnimport', {'from-name': undefined, output: 'text', 'dry-run': undefined, ...KUBE_DEFAULTS}],
    ['verify', 'Verify', {context: undefined, 'cluster-domain': undefined, wait: undefined, output: 'text', ...KUBE_DEFAULTS}],
    ['explain httpbin', 'Explain', {context: undefined, namespace: undefined, from: undefined, port: undefined, 'peer-context': undefined, output: 'text', ...KUBE_DEFAULTS}],
    ['plan -f mesh.yaml', 'Plan', {file: 'mesh.yaml', prune: undefined, output: 'text', 'request-timeout': '10s', kubeconfig: undefined}],
    ['apply -f mesh.yaml', 'Apply', {file: 'mesh.yaml', prune: undefined, 'dry-run': undefined, 'output-dir': undefined, output: 'text', 'request-timeout': '10s', kubeconfig: undefined}],
  ]
  for (const [args, command, want] of cases) {
    test(args, async () => {
      const p = await parsed(args)
      assert.equal(p.command, command)
      for (const [k, v] of Object.entries(want)) assert.deepEqual(p.flags[k], v, `--${k}`)
      assert.equal(p.requests, 0)
    })
  }
})

describe('flag parsing', () => {
  test('repeatable flags collect every value, in order', async () => {
    assert.deepEqual((await parsed('ca gen --cluster east --cluster west')).flags.cluster, ['east', 'west'])
    assert.deepEqual((await parsed('verify --context east --context west')).flags.context, ['east', 'west'])
    assert.deepEqual((await parsed('explain httpbin --peer-context east --peer-context west')).flags['peer-context'], ['east', 'west'])
  })
  test('short chars, --flag=value, integers and the argument', async () => {
    const p = await parsed('service export httpbin -n bar -o json --context=east --request-timeout=2s')
    assert.deepEqual(p.args, {name: 'httpbin'})
    assert.deepEqual([p.flags.namespace, p.flags.output, p.flags.context, p.flags['request-timeout']], ['bar', 'json', 'east', '2s'])
    assert.equal((await parsed('ca gen --cluster east --key-size=2048 --days 30')).flags['key-size'], 2048)
  })
  test('flags after the argument, booleans', async () => {
    const p = await parsed('cluster link --remote-context west --bidirectional --force --dry-run --context east')
    assert.deepEqual([p.flags.bidirectional, p.flags.force, p.flags['dry-run'], p.flags.context], [true, true, true, 'east'])
  })
  test('service import --via-egress takes an optional NAMESPACE/NAME: alone (before the argument, before a flag, last) it is "" (the default gateway)', async () => {
    for (const args of ['service import --via-egress httpbin --from-context west', 'service import httpbin --via-egress --from-context west', 'service import httpbin --from-context west --via-egress']) {
      const p = await parsed(args)
      assert.equal(p.flags['via-egress'], '', args)
      assert.deepEqual(p.args, {name: 'httpbin'}, args)
    }
    assert.equal((await parsed('service import httpbin --via-egress mesh-egress/egw --from-context west')).flags['via-egress'], 'mesh-egress/egw')
    assert.equal((await parsed('service import httpbin --via-egress=mesh-egress/egw --from-context west')).flags['via-egress'], 'mesh-egress/egw')
  })
  test('cluster link --remote-profile (primary-remote) is a boolean, off by default', async () => {
    assert.equal((await parsed('cluster link --remote-context west --remote-profile')).flags['remote-profile'], true)
    assert.equal((await parsed('cluster link --remote-context west')).flags['remote-profile'], undefined)
  })
})

describe('aliases', () => {
  test('`kubectl mesh export` is `kubectl mesh service export`', async () => {
    const a = await parsed('export httpbin -n bar --context west --mcs')
    const b = await parsed('service export httpbin -n bar --context west --mcs')
    assert.equal(a.command, 'ServiceExport')
    assert.deepEqual(a, b)
  })
  test('the alias reports usage errors as the command does', async () => {
    const a = await mesh('export')
    const b = await mesh('service export')
    assertUsage(a, /name/i)
    assert.deepEqual(a, b)
  })
})

describe('usage errors: exit 2, one line and a Hint, before any API request', () => {
  const cases: Array<[string, RegExp, RegExp?]> = [
    ['service export httpbin --bogus', /Nonexistent flag: --bogus/, /kubectl mesh service export --help/],
    ['service export', /Missing 1 required arg/],
    ['cluster link --context east', /Missing required flag remote-context/, /kubectl mesh cluster link --help/],
    ['cluster link --remote-context west -o xml', /Expected --output=xml to be one of: text, yaml, json/],
    ['verify -o yaml', /Expected --output=yaml to be one of: text, json/],
    ['ca gen', /Missing required flag cluster/],
    ['ca gen --cluster east --key-size big', /Parsing --key-size/],
    ['ca gen --cluster east --key-size 1000', /key size|key-size/i],
    ['ca gen --cluster East_1', /not a DNS-1123 label/],
    ['ca gen --cluster east --cluster west --context east', /--context installs one cluster's CA/],
    ['cluster link --remote-context west --request-timeout 0', /invalid duration "0"/],
    ['cluster link --context east --remote-context nosuch', /context "nosuch" not found/],
    ['cluster unlink', /--remote-name or --remote-context/],
    ['cluster unlink --remote-name west --prune-remote', /--prune-remote needs --remote-context/],
    ['service import --from-context west', /missing the service NAME/],
    ['service import httpbin --from-context west --address nope', /--address "nope"/],
    ['service import httpbin --from-context west --all-exported', /either a service NAME or --all-exported/],
    ['service unimport httpbin --from-name Bad_Name', /--from-name "Bad_Name" is not a DNS-1123 label/],
    ['service import httpbin --from-context west --via-egress Egress/GW', /--via-egress "Egress\/GW" is not NAMESPACE\/NAME/, /istio=egressgateway/],
    ['verify --istiod-debug-url nonsense', /./, /--istiod-debug-url CLUSTER=/],
    ['verify --wait soon', /invalid duration "soon"/, /500ms, 10s, 1m/],
    ['verify --wait 0s', /invalid duration "0s": must be positive/],
    ['explain', /Missing 1 required arg/, /kubectl mesh explain --help/],
    ['explain httpbin -o yaml', /Expected --output=yaml to be one of: text, json/],
    ['explain httpbin --port 0', /--port/],
    ['explain httpbin --port http', /Parsing --port/],
    ['explain httpbin --context nosuch', /context "nosuch" not found/],
    ['explain httpbin --peer-context nosuch', /context "nosuch" not found/],
  ]
  for (const [args, message, hint] of cases) {
    test(args, async () => assertUsage(await mesh(args), message, hint))
  }
})

describe('plan / apply -f: a bad file is exit 2 before any request', () => {
  const file = (name: string, spec: string) => {
    const path = join(dir, name)
    writeFileSync(path, `apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nspec:\n${spec}`)
    return path
  }
  const cases: Array<[string, string, RegExp, RegExp?]> = [
    ['unknown-field', '  clusters: [{context: east}]\n  linkz: all\n', /unknown-field\.yaml:5: spec\.linkz is not a known field/, /schema\/mesh\.schema\.json/],
    ['unknown-cluster', '  clusters: [{context: east}, {context: west}]\n  links:\n  - {from: east, to: north}\n', /unknown-cluster\.yaml:6: spec\.links\[0\]\.to "north" is not a cluster of spec\.clusters/],
    ['no-export', '  clusters: [{context: east}, {context: west}]\n  imports: [{cluster: east, from: west, namespace: bar, service: httpbin}]\n', /no-export\.yaml:5: spec\.imports\[0\] imports bar\/httpbin from "west", which no entry of spec\.exports exports/],
    ['no-context', '  clusters: [{context: east}, {context: nosuch}]\n  links: all\n', /context "nosuch" not found/],
  ]
  for (const [name, spec, message, hint] of cases) {
    test(name, async () => {
      const path = file(`${name}.yaml`, spec)
      assertUsage(await mesh(`plan -f ${path}`), message, hint)
      assertUsage(await mesh(`apply -f ${path} --prune`), message, hint)
    })
  }
  test('a missing file, and -f missing', async () => {
    assertUsage(await mesh(`apply -f ${join(dir, 'nosuch.yaml')}`), /cannot read .*nosuch\.yaml: ENOENT/, /-f/)
    assertUsage(await mesh('plan'), /Missing required flag file/)
    assertUsage(await mesh('apply -f x.yaml -o yaml'), /Expected --output=yaml to be one of: text, json/)
    const ok = file('ok.yaml', '  clusters: [{context: east}, {context: west}]\n  links: all\n')
    assertUsage(await mesh(`apply -f ${ok} --output-dir ${join(dir, 'out')} --prune`), /--output-dir writes files instead of applying: it takes neither --prune nor --dry-run/)
  })
})
