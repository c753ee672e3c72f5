// Security: key files 0600 and folders 0700; no private key or token in text output, JSON
// output, warnings or error messages (only `-o yaml` may carry them, with a warning on stderr);
// the remote secret's account cannot write anything (SelfSubjectAccessReview / RulesReview against
// the real API server); a WEST context with an exec plugin or file paths is never copied into a
// cluster. The same rule for every e2e file is checked after the whole run by the global teardown
// (test/setup.ts scans the run log with test/leak-scan.ts, whose matcher this file uses too).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import https from 'node:https'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {dump, load} from 'js-yaml'
import {CLI, KUBECONFIG, kget, kubectl, logRun, mesh, type RunResult, tempDir} from './harness.ts'
import {leaksOf} from '../leak-scan.ts'

const NS = 'istio-system'
const TOKEN = 'istio-reader-service-account-istio-remote-secret-token'
const tmp = tempDir('security-e2e-')
const run = promisify(execFile)
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

/** Everything the CLI printed in this file. */
const outputs: Array<{args: string[]; r: RunResult}> = []
/** Every reader token seen in the clusters during this file. */
const tokens = new Set<string>()

async function m(args: string[], env?: Record<string, string>): Promise<RunResult> {
  const r = await mesh(args, {env, cwd: tmp})
  outputs.push({args, r})
  return r
}

async function rememberToken(ctx: string): Promise<void> {
  const s = await kget(ctx, ['-n', NS, 'secret', TOKEN])
  if (s?.data?.token) tokens.add(Buffer.from(s.data.token, 'base64').toString('utf8'))
}

async function cleanup(): Promise<void> {
  await kubectl(['-n', NS, 'delete', 'secret', 'istio-remote-secret-cluster3', 'cacerts', '--ignore-not-found'], {context: 'cluster1'})
  await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: 'cluster3'})
  await kubectl(['delete', 'clusterrolebinding', 'security-e2e-exec', '--ignore-not-found'], {context: 'cluster3'})
  await kubectl(['-n', 'default', 'delete', 'serviceaccount', 'security-e2e-exec', '--ignore-not-found'], {context: 'cluster3'})
}

let savedMeshNetworks = ''
before(async () => {
  savedMeshNetworks = (await kubectl(['-n', NS, 'get', 'configmap', 'istio', '-o', 'jsonpath={.data.meshNetworks}'], {context: 'cluster1'})).stdout
  await cleanup()
})
after(async () => {
  await cleanup()
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: savedMeshNetworks}})], {context: 'cluster1'})
})

describe('files', () => {
  test('ca gen: keys 0600, folders 0700, certificates 0644, even with umask 000', async () => {
    const dir = join(tmp, 'deep', 'mesh-ca')
    const args = ['ca', 'gen', '--cluster', 'east', '--cluster', 'west', '--key-size', '2048', '--dir', dir]
    logRun(args, {code: 0, ...await run('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, CLI, ...args], {cwd: tmp})})
    assert.equal(mode(join(tmp, 'deep')), '700')
    assert.equal(mode(dir), '700')
    assert.equal(mode(join(dir, 'root-key.pem')), '600')
    assert.equal(mode(join(dir, 'root-cert.pem')), '644')
    for (const c of ['east', 'west']) {
      assert.equal(mode(join(dir, c)), '700')
      assert.equal(mode(join(dir, c, 'ca-key.pem')), '600')
      for (const f of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) assert.equal(mode(join(dir, c, f)), '644')
    }
  })
})

describe('no private key or token in text or JSON output, warnings or errors', () => {
  const dir = join(tmp, 'mesh-ca')

  test('ca gen text, json, --dry-run, install, and -o yaml (key only on stdout, with a warning)', async () => {
    for (const args of [
      ['ca', 'gen', '--cluster', 'cluster1', '--key-size', '2048', '--dir', dir],
      ['ca', 'gen', '--cluster', 'cluster1', '--cluster', 'cluster3', '--key-size', '2048', '--dir', dir, '-o', 'json'],
      ['ca', 'gen', '--cluster', 'cluster1', '--key-size', '2048', '--dir', dir, '--context', 'cluster1', '--dry-run'],
      ['ca', 'gen', '--cluster', 'cluster1', '--key-size', '2048', '--dir', dir, '--context', 'cluster1'],
      ['ca', 'gen', '--cluster', 'cluster1', '--key-size', '2048', '--dir', dir, '--context', 'cluster1', '-o', 'json', '--force'],
      ['ca', 'gen', '--cluster', 'cluster1', '--dir', dir, '--context', 'cluster1', '-o', 'yaml'],
    ]) {
      const r = await m(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    }
    const yaml = outputs.at(-1)!.r
    assert.match(yaml.stdout, /ca-key\.pem/, 'the yaml holds the key by design')
    assert.match(yaml.stderr, /^Warning: .*private key/m)
  })

  test('errors that read key files or kubeconfigs do not echo them', async () => {
    // A private key passed where a certificate is expected.
    const r1 = await m(['ca', 'gen', '--cluster', 'x', '--dir', join(tmp, 'other'), '--root-cert', join(dir, 'root-key.pem'), '--root-key', join(dir, 'root-key.pem')])
    assert.equal(r1.code, 2, r1.stderr)
    // A broken kubeconfig whose bad line holds a token and a key.
    const key = readFileSync(join(dir, 'root-key.pem'), 'utf8')
    const bad = join(tmp, 'broken-kubeconfig.yaml')
    writeFileSync(bad, `apiVersion: v1\nusers:\n- name: u\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6eCJ9.c2lnbmF0dXJlc2lnbmF0dXJl\n   client-key-data: ${Buffer.from(key).toString('base64')}\n  : [\n`, {mode: 0o600})
    const r2 = await m(['verify', '--kubeconfig', bad])
    assert.equal(r2.code, 2, r2.stderr)
    const r3 = await m(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--kubeconfig', bad, '--verbose'])
    assert.equal(r3.code, 2, r3.stderr)
  })

  test('link text, json, --dry-run, verify text and json; -o yaml carries the token with a warning', async () => {
    for (const args of [
      ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--dry-run'],
      ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3'],
      ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '-o', 'json'],
      ['verify', '--context', 'cluster1', '--context', 'cluster3'],
      ['verify', '--context', 'cluster1', '--context', 'cluster3', '-o', 'json', '--verbose'],
      ['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '-o', 'yaml'],
    ]) {
      const r = await m(args)
      assert.ok(r.code === 0 || (args[0] === 'verify' && r.code === 1), `${args.join(' ')}: ${r.stderr}`)
      await rememberToken('cluster3')
    }
    assert.ok(tokens.size > 0)
    const yaml = outputs.at(-1)!.r
    const docs = yaml.stdout.split(/^---$/m).map((d) => load(d) as any)
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === 'istio-remote-secret-cluster3')
    const kc = load(Buffer.from(secret.data.cluster3, 'base64').toString('utf8')) as any
    assert.ok(tokens.has(kc.users[0].user.token), 'the yaml holds the token by design')
    assert.match(yaml.stderr, /^Warning: .*token.*secret/m)
  })
})

describe("the remote secret's account", () => {
  /** The kubeconfig that cluster1's remote secret for cluster3 holds. */
  async function remoteKubeconfig(): Promise<any> {
    const s = await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3'])
    return load(Buffer.from(s.data.cluster3, 'base64').toString('utf8'))
  }

  function asReader(kc: any, method: string, path: string, body: unknown): Promise<any> {
    const cluster = kc.clusters[0].cluster
    const url = new URL(cluster.server)
    const data = JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const req = https.request({hostname: url.hostname, port: url.port, path, method, ca: Buffer.from(cluster['certificate-authority-data'], 'base64'),
        headers: {Authorization: `Bearer ${kc.users[0].user.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data)}}, (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => (res.statusCode === 201 || res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))))
      })
      req.on('error', reject)
      req.end(data)
    })
  }

  test('may not write anything: SelfSubjectAccessReview of every write verb, and its rules are read-only', async () => {
    const kc = await remoteKubeconfig()
    const denied: string[] = []
    const writeVerbs = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate', 'approve', 'sign']
    const targets = [
      {group: '*', resource: '*'}, {group: '', resource: 'secrets'}, {group: '', resource: 'configmaps'}, {group: '', resource: 'pods'},
      {group: '', resource: 'serviceaccounts', subresource: 'token'}, {group: '', resource: 'pods', subresource: 'exec'},
      {group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings'}, {group: 'networking.istio.io', resource: 'serviceentries'},
    ]
    const reviews = []
    for (const verb of writeVerbs) {
      for (const t of targets) {
        for (const namespace of [undefined, NS, 'default']) {
          reviews.push(asReader(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {resourceAttributes: {verb, ...t, namespace}}})
            .then((r) => { if (r.status.allowed) denied.push(`${verb} ${t.group}/${t.resource}${t.subresource ? `/${t.subresource}` : ''} in ${namespace ?? 'the cluster'}`) }))
        }
      }
    }
    await Promise.all(reviews)
    assert.deepEqual(denied, [], 'allowed writes')
    // The reader can read (otherwise the checks above prove nothing).
    const can = await asReader(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {resourceAttributes: {verb: 'list', resource: 'services'}}})
    assert.equal(can.status.allowed, true)
    // Every rule it holds, per namespace: only get/list/watch, apart from the reviews (create
    // persists nothing: self-reviews every user has, and Istio's tokenreviews/subjectaccessreviews)
    // and Istio's own reader rule for MCS auto-export (serviceexports create/delete), which
    // istiod needs in remote clusters and which `cluster link` copies from Istio's reader role.
    const REVIEWS = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews', 'tokenreviews', 'subjectaccessreviews'])
    const writes = new Set<string>()
    for (const namespace of [NS, 'default', 'kube-system']) {
      const rr = await asReader(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: {namespace}})
      for (const rule of rr.status.resourceRules) {
        if (rule.resources.every((r: string) => REVIEWS.has(r))) continue
        for (const v of rule.verbs) if (!['get', 'list', 'watch'].includes(v)) writes.add(`${v} ${rule.apiGroups.join(',')}/${rule.resources.join(',')}`)
      }
    }
    assert.deepEqual([...writes].sort(), ['create multicluster.x-k8s.io/serviceexports', 'delete multicluster.x-k8s.io/serviceexports'])
  })
})

describe('a WEST context with an exec plugin or file paths is never written into a cluster', () => {
  async function linkAndInspect(context: string, kubeconfigFile: string, forbidden: string[]): Promise<void> {
    const r = await m(['cluster', 'link', '--context', 'cluster1', '--remote-context', context, '--remote-name', 'cluster3'], {KUBECONFIG: `${KUBECONFIG}:${kubeconfigFile}`})
    assert.equal(r.code, 0, r.stderr)
    await rememberToken('cluster3')
    const s = await kget('cluster1', ['-n', NS, 'secret', 'istio-remote-secret-cluster3'])
    const text = Buffer.from(s.data.cluster3, 'base64').toString('utf8')
    const kc = load(text) as any
    assert.deepEqual(Object.keys(kc.users[0].user), ['token'], 'the user is the reader token only')
    assert.ok(tokens.has(kc.users[0].user.token), 'it is the reader token')
    assert.deepEqual(Object.keys(kc.clusters[0].cluster).filter((k) => k !== 'tls-server-name').sort(), ['certificate-authority-data', 'server'])
    for (const f of forbidden) assert.ok(!text.includes(f), `the remote kubeconfig does not mention ${f}`)
    const u = await m(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', 'cluster3', '--remote-context', 'cluster3'])
    assert.equal(u.code, 0, u.stderr)
  }

  test('exec plugin user', async () => {
    await kubectl(['-n', 'default', 'create', 'serviceaccount', 'security-e2e-exec'], {context: 'cluster3'})
    await kubectl(['create', 'clusterrolebinding', 'security-e2e-exec', '--clusterrole=cluster-admin', '--serviceaccount=default:security-e2e-exec'], {context: 'cluster3'})
    const token = (await kubectl(['-n', 'default', 'create', 'token', 'security-e2e-exec', '--duration=10m'], {context: 'cluster3'})).stdout.trim()
    tokens.add(token)
    const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
    const cred = JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: {token}})
    const script = join(tmp, 'exec-credential.sh')
    writeFileSync(script, `#!/bin/sh\nprintf '%s' '${cred}'\n`, {mode: 0o700})
    const file = join(tmp, 'exec-kubeconfig.yaml')
    writeFileSync(file, dump({
      apiVersion: 'v1', kind: 'Config', clusters: [{name: 'west-exec', cluster: full.clusters.find((c: any) => c.name === 'cluster3').cluster}],
      users: [{name: 'west-exec', user: {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: script, interactiveMode: 'Never'}}}],
      contexts: [{name: 'west-exec', context: {cluster: 'west-exec', user: 'west-exec'}}],
    }), {mode: 0o600})
    await linkAndInspect('west-exec', file, [script, 'exec', token, tmp])
  })

  test('file-path CA and client certificate', async () => {
    const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
    const cluster = full.clusters.find((c: any) => c.name === 'cluster3').cluster
    const user = full.users.find((u: any) => u.name === 'cluster3-admin').user
    const write = (name: string, b64: string) => {
      const p = join(tmp, name)
      writeFileSync(p, Buffer.from(b64, 'base64'), {mode: 0o600})
      return p
    }
    const ca = write('west-ca.crt', cluster['certificate-authority-data'])
    const crt = write('west-admin.crt', user['client-certificate-data'])
    const key = write('west-admin.key', user['client-key-data'])
    const file = join(tmp, 'files-kubeconfig.yaml')
    writeFileSync(file, dump({
      apiVersion: 'v1', kind: 'Config', clusters: [{name: 'west-files', cluster: {server: cluster.server, 'certificate-authority': ca}}],
      users: [{name: 'west-files', user: {'client-certificate': crt, 'client-key': key}}],
      contexts: [{name: 'west-files', context: {cluster: 'west-files', user: 'west-files'}}],
    }), {mode: 0o600})
    await linkAndInspect('west-files', file, [tmp, 'client-certificate', 'client-key', user['client-key-data'].slice(0, 40)])
  })
})

describe('the scan', () => {
  test('no output of this file leaks a key or token (also the reader tokens seen) outside -o yaml stdout', () => {
    assert.ok(outputs.length >= 15)
    for (const {args, r} of outputs) assert.deepEqual(leaksOf({args, ...r}, tokens), [], args.join(' '))
  })
})
