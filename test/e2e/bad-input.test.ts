// Bad input, across every command (ca gen, cluster link/unlink, verify, service
// export/unexport/import/unimport), as one table: each case asserts the exit code, one `Error:`
// line naming the problem, a `Hint:` line, no stack trace, an empty stdout, and — comparing a
// snapshot of every writable object of every test bed cluster and of the CA folder before and
// after — that nothing was written. Cluster-state cases set the state up first and undo it after.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kubectl, mesh, tempDir} from './harness.ts'
import {assertUnchanged, snapshot} from './snapshot.ts'

const NS = 'istio-system'
const CONTEXTS = ['cluster1', 'cluster2', 'cluster3']
const tmp = tempDir('bad-input-e2e-')
const CA_DIR = join(tmp, 'mesh-ca')
const f = (name: string) => join(tmp, name)

interface Case {
  name: string
  args: string[]
  env?: Record<string, string>
  code?: 1 | 2
  error: RegExp
  setup?: () => Promise<void>
  undo?: () => Promise<void>
  /** stdout may carry something (the -o yaml recipe prints the reader objects). */
  stdout?: boolean
}

/** Every command, with arguments that would be valid, and the required flag that can be dropped. */
const COMMANDS: Array<{cmd: string[]; args: string[]; required?: string; outputs: string; ctxFlag: string}> = [
  {cmd: ['ca', 'gen'], args: ['--cluster', 'bad-input', '--dir', CA_DIR, '--key-size', '2048', '--context', 'cluster3'], required: '--cluster', outputs: 'text, yaml, json', ctxFlag: '--context'},
  {cmd: ['cluster', 'link'], args: ['--context', 'cluster1', '--remote-context', 'cluster3'], required: '--remote-context', outputs: 'text, yaml, json', ctxFlag: '--remote-context'},
  {cmd: ['cluster', 'unlink'], args: ['--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3', '--prune-remote'], outputs: 'text, json', ctxFlag: '--context'},
  {cmd: ['verify'], args: ['--context', 'cluster1', '--context', 'cluster3'], outputs: 'text, json', ctxFlag: '--context'},
  {cmd: ['service', 'export'], args: ['httpbin', '-n', 'bar', '--context', 'cluster2'], outputs: 'text, yaml, json', ctxFlag: '--context'},
  {cmd: ['service', 'unexport'], args: ['httpbin', '-n', 'bar', '--context', 'cluster2'], outputs: 'text, yaml, json', ctxFlag: '--context'},
  {cmd: ['service', 'import'], args: ['httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'], required: '--from-context', outputs: 'text, yaml, json', ctxFlag: '--from-context'},
  {cmd: ['service', 'unimport'], args: ['httpbin', '-n', 'bar', '--context', 'cluster1'], outputs: 'text, json', ctxFlag: '--context'},
]

/** Replace the value of flag (its first occurrence) in args. */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag)
  return i < 0 ? [...args, flag, value] : [...args.slice(0, i + 1), value, ...args.slice(i + 2)]
}
function without(args: string[], flag: string): string[] {
  const i = args.indexOf(flag)
  return [...args.slice(0, i), ...args.slice(i + 2)]
}

function cases(): Case[] {
  const out: Case[] = []
  for (const c of COMMANDS) {
    const name = (s: string) => `${c.cmd.join(' ')}: ${s}`
    const run = (args: string[]) => [...c.cmd, ...args]
    out.push(
      {name: name('an unknown flag'), args: run([...c.args, '--bogus']), error: /Nonexistent flag: --bogus/},
      {name: name('an invalid -o value'), args: run([...c.args, '-o', 'xml']), error: new RegExp(`Expected --output=xml to be one of: ${c.outputs}`)},
      {name: name('a --request-timeout that is not a duration'), args: run([...c.args, '--request-timeout', 'soon']), error: /invalid duration "soon"/},
      {name: name('a negative --request-timeout'), args: run([...c.args, '--request-timeout=-5s']), error: /invalid duration "-5s"/},
      {name: name('a stray argument'), args: run([...c.args, 'extra']), error: /Unexpected argument: extra|unknown command "kubectl mesh .*extra"/},
      {name: name('a kubeconfig that is not YAML'), args: run([...c.args, '--kubeconfig', f('broken.yaml')]), error: /kubeconfig .*broken\.yaml is not valid YAML/},
      {name: name('a kubeconfig that is a YAML list (KUBECONFIG)'), args: run(c.args), env: {KUBECONFIG: f('list.yaml')}, error: /kubeconfig .*list\.yaml is not a kubeconfig/},
      {name: name('a kubeconfig whose clusters is not a list'), args: run([...c.args, '--kubeconfig', f('clusters-scalar.yaml')]), error: /"clusters" must be a list/},
      {name: name('a --kubeconfig that does not exist'), args: run([...c.args, '--kubeconfig', f('nope.yaml')]), error: /cannot read kubeconfig .*nope\.yaml: ENOENT/},
      {name: name('a --kubeconfig that is a folder'), args: run([...c.args, '--kubeconfig', tmp]), error: /cannot read kubeconfig .*: EISDIR/},
      {name: name('a context that names a missing cluster'), args: run(withFlag(c.args, c.ctxFlag, 'ghost')), env: {KUBECONFIG: `${KUBECONFIG}:${f('ghost.yaml')}`}, error: /context "ghost" names cluster "nowhere", which is not in the kubeconfig/},
      {name: name('a context whose server is not a URL'), args: run(withFlag(c.args, c.ctxFlag, 'badserver')), env: {KUBECONFIG: `${KUBECONFIG}:${f('badserver.yaml')}`}, error: /context "badserver": the server of cluster "badserver", "not a url", is not an http\(s\) URL/},
      {name: name('an unknown context'), args: run(withFlag(c.args, c.ctxFlag, 'nope')), error: /context "nope" not found in kubeconfig/},
    )
    if (c.required) out.push({name: name(`without the required ${c.required}`), args: run(without(c.args, c.required)), error: new RegExp(`Missing required flag ${c.required.slice(2)}`)})
  }
  out.push(
    {name: 'an unknown command', args: ['mesh-up'], error: /unknown command "kubectl mesh mesh-up"/},
    {name: 'an unknown subcommand', args: ['cluster', 'join', '--context', 'cluster1'], error: /unknown command "kubectl mesh cluster join"/},
    // ca gen
    {name: 'ca gen: a cluster name that is not a DNS-1123 label', args: ['ca', 'gen', '--cluster', 'East_1', '--dir', CA_DIR], error: /cluster name "East_1" is not a DNS-1123 label/},
    {name: 'ca gen: the same cluster twice', args: ['ca', 'gen', '--cluster', 'a', '--cluster', 'a', '--dir', CA_DIR], error: /cluster "a" is named twice/},
    {name: 'ca gen: --context with two clusters', args: ['ca', 'gen', '--cluster', 'a', '--cluster', 'b', '--dir', CA_DIR, '--context', 'cluster3'], error: /--context installs one cluster's CA, but 2 clusters/},
    {name: 'ca gen: an unsupported --key-size', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--key-size', '1024'], error: /key size 1024 is not supported/},
    {name: 'ca gen: a --key-size that is not a number', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--key-size', 'big'], error: /Expected an integer but received: big/},
    {name: 'ca gen: --days 0', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--days', '0'], error: /--days must be a positive number of days/},
    {name: 'ca gen: --root-days past year 9999', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--root-days', '99999999'], error: /--root-days 99999999 is too large/},
    {name: 'ca gen: --root-cert without --root-key', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--root-cert', f('root-cert.pem')], error: /--root-cert was given without --root-key/},
    {name: 'ca gen: a --root-cert that is not PEM', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--root-cert', f('broken.yaml'), '--root-key', f('root-key.pem')], error: /is not a PEM certificate/},
    {name: 'ca gen: a --root-key that does not match', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--root-cert', f('root-cert.pem'), '--root-key', f('other-key.pem')], error: /match/},
    {name: 'ca gen: a --root-cert that is not a CA', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--root-cert', f('leaf-cert.pem'), '--root-key', f('leaf-key.pem')], error: /not a CA/},
    {name: 'ca gen: a --dir that is a file', args: ['ca', 'gen', '--cluster', 'a', '--dir', f('broken.yaml')], error: /--dir .* cannot be written: .* is not a directory/},
    {name: 'ca gen: an empty --org', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--org', ''], error: /--org must not be empty/},
    {name: 'ca gen: an Istio namespace that does not exist', args: ['ca', 'gen', '--cluster', 'a', '--dir', CA_DIR, '--key-size', '2048', '--context', 'cluster3', '--istio-namespace', 'no-istio'], error: /context "cluster3": namespace no-istio does not exist/},
    {
      name: 'ca gen: cacerts in the cluster holds another root', args: ['ca', 'gen', '--cluster', 'cluster3', '--dir', CA_DIR, '--key-size', '2048', '--context', 'cluster3'], error: /another root|different root/,
      setup: async () => { await kubectl(['-n', NS, 'create', 'secret', 'generic', 'cacerts', `--from-file=root-cert.pem=${f('root-cert.pem')}`], {context: 'cluster3'}) },
      undo: async () => { await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: 'cluster3'}) },
    },
    // cluster link
    {name: 'link: the same context twice', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster1'], error: /both "cluster1"/},
    {name: 'link: a --remote-name that is not a DNS-1123 label', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--remote-name', 'West.1'], error: /--remote-name "West\.1" is not a DNS-1123 label/},
    {name: 'link: a --remote-name that is not the cluster ID', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--remote-name', 'west'], error: /west/},
    {name: 'link: an http --server', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--server', 'http://10.0.0.1:6443'], error: /--server "http:\/\/10\.0\.0\.1:6443" is not an https URL/},
    {name: 'link: a --server that is not a URL', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--server', 'west:6443:x'], error: /--server "west:6443:x" is not/},
    {name: 'link: a --gateway port out of range', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--gateway', '203.0.113.7:70000'], error: /invalid --gateway "203\.0\.113\.7:70000": port must be 1-65535/},
    {name: 'link: a --network that is not a label value', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--network', 'net work'], error: /--network "net work" is not a valid network name/},
    {name: 'link: an empty --tls-server-name', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--tls-server-name', ''], error: /--tls-server-name is empty/},
    {name: 'link: an Istio namespace that does not exist', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--istio-namespace', 'no-istio'], error: /namespace no-istio does not exist/},
    {
      name: "link: EAST's meshNetworks is not valid YAML", args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'], code: 1, error: /meshNetworks is not valid YAML .*nothing was written/,
      setup: () => setMeshNetworks('cluster1', 'networks: [unclosed\n'),
      undo: () => setMeshNetworks('cluster1', savedMeshNetworks),
    },
    {
      name: 'link: equal cluster IDs', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'], error: /same cluster ID "cluster1"/,
      setup: async () => { await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'CLUSTER_ID=cluster1'], {context: 'cluster3'}) },
      undo: async () => { await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'CLUSTER_ID=cluster3'], {context: 'cluster3'}) },
    },
    {name: 'link: -o yaml before the token exists (the two-step recipe)', args: ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '-o', 'yaml'], error: /reader token .* does not exist/, stdout: true},
    // cluster unlink
    {name: 'unlink: a --remote-name that is not a DNS-1123 label', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'Cluster_3'], error: /--remote-name "Cluster_3" is not a DNS-1123 label/},
    {name: 'unlink: neither --remote-name nor --remote-context', args: ['cluster', 'unlink', '--context', 'cluster1'], error: /pass --remote-name or --remote-context/},
    {name: 'unlink: --bidirectional without --remote-context', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--bidirectional'], error: /--bidirectional needs --remote-context/},
    {name: 'unlink: --remote-context whose cluster ID cannot be told', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-context', 'cluster3', '--istio-namespace', 'no-istio'], error: /context "cluster3": cannot tell the cluster ID/},
    {name: 'unlink: --prune-remote without --remote-context', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--prune-remote'], error: /--prune-remote needs --remote-context/},
    {name: 'unlink: the same context twice', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster1', '--prune-remote'], error: /both "cluster1"/},
    {name: 'unlink: -o yaml (not offered)', args: ['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '-o', 'yaml'], error: /Expected --output=yaml to be one of: text, json/},
    // service export / unexport / import / unimport
    {name: 'export: without the service NAME', args: ['service', 'export', '-n', 'bar', '--context', 'cluster2'], error: /Missing 1 required arg: name/},
    {name: 'export (alias): a Service that does not exist', args: ['export', 'nosuch', '-n', 'bar', '--context', 'cluster2'], error: /context "cluster2": Service bar\/nosuch does not exist/},
    {name: 'export: a namespace that does not exist', args: ['service', 'export', 'httpbin', '-n', 'no-ns', '--context', 'cluster2'], error: /Service no-ns\/httpbin does not exist/},
    {name: 'export: --mcs without the MCS CRD', args: ['service', 'export', 'httpbin', '-n', 'bar', '--context', 'cluster2', '--mcs'], error: /--mcs needs the MCS ServiceExport CRD/},
    {name: 'unimport: without the service NAME', args: ['service', 'unimport', '-n', 'bar', '--context', 'cluster1'], error: /Missing 1 required arg: name/},
    {name: 'unimport: a --from-name that is not a DNS-1123 label', args: ['service', 'unimport', 'httpbin', '-n', 'bar', '--context', 'cluster1', '--from-name', 'Bad_X'], error: /--from-name "Bad_X" is not a DNS-1123 label/},
    {name: 'import: without NAME and without --all-exported', args: ['service', 'import', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'], error: /missing the service NAME/},
    {name: 'import: a Service that is not exported', args: ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'], error: /Service bar\/httpbin is not exported/},
    {name: 'import: a Service that does not exist', args: ['service', 'import', 'nosuch', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'], error: /Service bar\/nosuch does not exist/},
    {name: 'import: the same context on both sides', args: ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster1', '--context', 'cluster1'], error: /both name "cluster1"/},
    {name: 'import: an --address that is not an IP', args: ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1', '--address', '999.1.1.1'], error: /--address "999\.1\.1\.1" is not auto, none or an IP address/},
    {name: 'import: a --host that is not a DNS name', args: ['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1', '--host', 'Bad Host'], error: /--host "Bad Host" is not a valid DNS name/},
    // verify
    {name: 'verify: a stray argument after --context', args: ['verify', '--context', 'cluster1', 'cluster3'], error: /Unexpected argument: cluster3/},
    {name: 'verify: no current context and no --context', args: ['verify'], env: {KUBECONFIG: f('no-current.yaml')}, error: /no --context given and no current-context set/},
    {name: 'verify: an --istiod-debug-url without CLUSTER=', args: ['verify', '--context', 'cluster1', '--istiod-debug-url', 'http://127.0.0.1:15014'], error: /--istiod-debug-url "http:\/\/127\.0\.0\.1:15014": expected CLUSTER=http:\/\/HOST:PORT/},
    {name: 'verify: an --istiod-debug-url that is not http', args: ['verify', '--context', 'cluster1', '--istiod-debug-url', 'cluster1=127.0.0.1:15014'], error: /--istiod-debug-url "cluster1=127\.0\.0\.1:15014": expected CLUSTER=http:\/\/HOST:PORT/},
  )
  return out
}

let savedMeshNetworks = ''
async function setMeshNetworks(ctx: string, value: string): Promise<void> {
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: value}})], {context: ctx})
}

before(async () => {
  writeFileSync(f('broken.yaml'), 'apiVersion: v1\nclusters: [\n  - name: x\n')
  writeFileSync(f('list.yaml'), '- a\n- b\n')
  writeFileSync(f('clusters-scalar.yaml'), 'apiVersion: v1\nkind: Config\nclusters: 5\n')
  writeFileSync(f('ghost.yaml'), dump({apiVersion: 'v1', kind: 'Config', contexts: [{name: 'ghost', context: {cluster: 'nowhere', user: 'ghost'}}], users: [{name: 'ghost', user: {token: 'x'}}]}))
  writeFileSync(f('badserver.yaml'), dump({apiVersion: 'v1', kind: 'Config', clusters: [{name: 'badserver', cluster: {server: 'not a url'}}], contexts: [{name: 'badserver', context: {cluster: 'badserver', user: 'badserver'}}], users: [{name: 'badserver', user: {token: 'x'}}]}))
  const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
  writeFileSync(f('no-current.yaml'), dump({...full, 'current-context': undefined}))
  const openssl = (args: string[]) => execFileSync('openssl', args, {cwd: tmp, stdio: 'ignore'})
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-subj', '/O=Istio/CN=Other Root', '-days', '2', '-addext', 'basicConstraints=critical,CA:true'])
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other-key.pem'])
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf-key.pem', '-out', 'leaf-cert.pem', '-subj', '/CN=leaf', '-days', '2', '-addext', 'basicConstraints=critical,CA:false'])
  mkdirSync(CA_DIR)
  savedMeshNetworks = (await kubectl(['-n', NS, 'get', 'configmap', 'istio', '-o', 'jsonpath={.data.meshNetworks}'], {context: 'cluster1'})).stdout
  // No link from cluster1 to cluster3 and no cacerts in cluster3, so that every case starts clean.
  await kubectl(['-n', NS, 'delete', 'secret', 'istio-remote-secret-cluster3', 'istio-reader-service-account-istio-remote-secret-token', '--ignore-not-found'], {context: 'cluster1'})
  await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', 'istio-reader-service-account-istio-remote-secret-token', '--ignore-not-found'], {context: 'cluster3'})
})

after(async () => {
  await setMeshNetworks('cluster1', savedMeshNetworks)
})

describe('bad input: exit code, one line with a hint, no stack trace, nothing written', () => {
  const all = cases()
  test(`the table has at least 40 cases (${all.length})`, () => assert.ok(all.length >= 40))
  for (const c of all) {
    test(c.name, async () => {
      await c.setup?.()
      try {
        const before = await snapshot(CONTEXTS, [CA_DIR])
        const r = await mesh(c.args, {env: c.env, cwd: tmp})
        const expected = c.code ?? 2
        assert.equal(r.code, expected, `exit ${expected} expected, got ${r.code}:\n${r.stderr}`)
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('Error:'))
        assert.equal(errors.length, 1, `one Error: line:\n${r.stderr}`)
        assert.match(errors[0], c.error)
        assert.match(r.stderr, /^Hint: \S.{5,}/m, `a hint:\n${r.stderr}`)
        assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)|\n\s+at file:/, 'no stack trace')
        assert.doesNotMatch(r.stderr, / › |unexpected error/, 'no raw oclif or unexpected error')
        if (!c.stdout) assert.equal(r.stdout, '', 'nothing on stdout')
        assertUnchanged(before, await snapshot(CONTEXTS, [CA_DIR]))
      } finally {
        await c.undo?.()
      }
    })
  }
})
