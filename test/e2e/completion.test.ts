// Shell completion through its real consumers: the test bed's kubectl (1.36), which runs
// kubectl_complete-mesh from PATH (cobra's __complete protocol), and bash with the script of
// `kubectl-mesh completion bash`, driven in a pseudo-terminal by tmux. The candidates come from
// the test bed: its kubeconfig's contexts, cluster1's namespaces and Services, a remote secret.
// Writes (and removes in `after`) only what is absent: Services bar/httpbin and foo/sleep and
// their namespaces, and one remote secret in cluster1.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {dirname, join} from 'node:path'
import {kubectlBin} from '../../testbed/testbed.ts'
import {run} from '../../testbed/util.ts'
import {KUBECONFIG, kubectl, REPO, tempDir} from './harness.ts'

const NS = 'istio-system'
const dir = tempDir('kubectl-mesh-completion-')
const bin = join(dir, 'bin')
const env = () => ({...process.env, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`, KUBECONFIG, HOME: dir, NO_COLOR: '1'})
const created: Array<{context: string; args: string[]}> = []

/** `kubectl __complete mesh ARGS…`: what kubectl's completion prints, and how long it took. */
async function complete(args: string[], extraEnv: Record<string, string> = {}): Promise<{values: string[]; lines: string[]; directive: number; stderr: string; ms: number}> {
  const {code, stdout, stderr, ms} = await run(kubectlBin(), ['__complete', 'mesh', ...args], {env: {...env(), ...extraEnv}})
  assert.equal(code, 0, stderr)
  const lines = stdout.trimEnd().split('\n')
  const directive = Number(lines.at(-1)!.slice(1))
  const rest = lines.slice(0, -1)
  return {values: rest.map((l) => l.split('\t')[0]), lines: rest, directive, stderr, ms}
}

/** stderr lines that are not kubectl's own completion debug output (`[Debug] …`, `Completion ended with directive: …`). */
const pluginErrors = (stderr: string) => stderr.split('\n').filter((l) => l && !/^\[Debug\] |^Completion ended with directive: /.test(l))

/** Create an object with kubectl unless it exists; remember to delete what was created. */
async function ensure(context: string, kind: string, name: string, namespace: string | undefined, yaml: string): Promise<void> {
  const ns = namespace ? ['-n', namespace] : []
  const got = await kubectl([...ns, 'get', kind, name, '--ignore-not-found', '-o', 'name'], {context})
  if (got.stdout.trim()) return
  await kubectl(['apply', '-f', '-'], {context, input: yaml})
  created.unshift({context, args: [...ns, 'delete', kind, name, '--ignore-not-found', '--wait=false']})
}

const service = (ns: string, name: string, port: number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {ports: [{name: http, port: ${port}}], selector: {app: ${name}}}
`

describe('completion through kubectl and bash', () => {
  before(async () => {
    mkdirSync(bin)
    // What `npm install -g` puts on PATH.
    symlinkSync(join(REPO, 'bin', 'run.js'), join(bin, 'kubectl-mesh'))
    symlinkSync(join(REPO, 'bin', 'kubectl_complete-mesh.js'), join(bin, 'kubectl_complete-mesh'))
    for (const ns of ['bar', 'foo', NS]) await ensure('cluster1', 'namespace', ns, undefined, `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`)
    await ensure('cluster1', 'service', 'httpbin', 'bar', service('bar', 'httpbin', 8000))
    await ensure('cluster1', 'service', 'sleep', 'foo', service('foo', 'sleep', 80))
    await ensure('cluster1', 'secret', 'istio-remote-secret-completion-peer', NS, `apiVersion: v1
kind: Secret
metadata: {name: istio-remote-secret-completion-peer, namespace: ${NS}, labels: {istio/multiCluster: "true"}}
stringData: {completion-peer: "not a kubeconfig"}
`)
  })
  after(async () => {
    for (const c of created) await kubectl(c.args, {context: c.context, allowFail: true})
  })

  test("kubectl __complete mesh export '': the Services of the current context, with their namespaces", async () => {
    const current = (await kubectl(['config', 'current-context'])).stdout.trim()
    assert.equal(current, 'cluster1', 'the test bed kubeconfig names cluster1 current')
    const r = await complete(['export', ''])
    assert.ok(r.lines.includes('httpbin\t-n bar') && r.lines.includes('sleep\t-n foo'), r.lines.join('\n'))
    assert.ok(!r.values.includes('kubernetes'), 'system Services left out')
    assert.equal(r.directive, 4)
    assert.deepEqual((await complete(['export', '-n', 'bar', ''])).values, ['httpbin'])
    assert.deepEqual((await complete(['service', 'unexport', '-n', 'foo', 's'])).values, ['sleep'])
    assert.ok((await complete(['explain', '-n', 'bar', 'h'])).values.includes('httpbin'))
    assert.ok((await complete(['service', 'import', '--from-context', 'cluster1', '-n', 'bar', ''])).values.includes('httpbin'))
  })

  test('namespaces, contexts for every context flag, cluster IDs, flags and values', async () => {
    const ns = await complete(['export', '-n', ''])
    assert.ok(['bar', 'foo', 'default', NS].every((n) => ns.values.includes(n)), ns.values.join(' '))
    const contexts = (await kubectl(['config', 'get-contexts', '-o', 'name'])).stdout.trim().split('\n').sort()
    for (const args of [['cluster', 'link', '--remote-context', ''], ['cluster', 'link', '--context', ''], ['service', 'import', '--from-context', ''], ['explain', 'x', '--peer-context', ''], ['verify', '--context', '']]) {
      const r = await complete(args)
      assert.deepEqual(r.values, contexts, args.join(' '))
      assert.equal(r.directive, 4)
    }
    assert.deepEqual((await complete(['cluster', 'unlink', '--context', 'cluster1', '--remote-name', ''])).values, ['completion-peer'])
    const flags = await complete(['cluster', 'link', '--re'])
    assert.deepEqual(flags.values.sort(), ['--remote-context', '--remote-name', '--remote-profile', '--request-timeout'])
    assert.deepEqual((await complete(['cluster', 'link', '--expose', ''])).values, ['all', 'exported'])
    const sub = await complete([''])
    assert.ok(['ca', 'cluster', 'service', 'export', 'verify', 'completion'].every((w) => sub.values.includes(w)), sub.values.join(' '))
    // Files: left to the shell (directive 0, no candidates).
    const f = await complete(['apply', '-f', ''])
    assert.deepEqual([f.values, f.directive], [[], 0])
  })

  test('an unreachable cluster: no candidates within 2 s, no error text', async () => {
    // A server that accepts connections and never answers: only the deadline ends the request.
    const sockets: Socket[] = []
    const server: Server = createServer((s) => sockets.push(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as {port: number}).port
    const kubeconfig = join(dir, 'silent')
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'silent',
      clusters: [{name: 'silent', cluster: {server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true}}],
      users: [{name: 'u', user: {token: 't'}}], contexts: [{name: 'silent', context: {cluster: 'silent', user: 'u'}}],
    }))
    try {
      const base = await complete(['verify', '-o', ''], {KUBECONFIG: kubeconfig}) // same start-up, no cluster
      for (const args of [['export', ''], ['export', '-n', ''], ['cluster', 'unlink', '--remote-name', '']]) {
        const r = await complete(args, {KUBECONFIG: kubeconfig})
        assert.deepEqual(r.values, [], args.join(' '))
        assert.equal(r.directive, 4)
        // Only kubectl's own debug lines on stderr; the plugin prints nothing there.
        assert.deepEqual(pluginErrors(r.stderr), [], args.join(' '))
        // Within 2 s; on a loaded machine, at most the deadline more than an answer that asks no cluster.
        assert.ok(r.ms < 2000 || r.ms - base.ms < 1700, `${args.join(' ')}: ${r.ms.toFixed(0)} ms (an answer without a cluster: ${base.ms.toFixed(0)} ms)`)
      }
      // Connection refused: as quiet.
      writeFileSync(kubeconfig, JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'silent',
        clusters: [{name: 'silent', cluster: {server: 'https://127.0.0.1:1'}}], users: [{name: 'u', user: {}}], contexts: [{name: 'silent', context: {cluster: 'silent', user: 'u'}}],
      }))
      const refused = await complete(['export', ''], {KUBECONFIG: kubeconfig})
      assert.deepEqual([refused.values, pluginErrors(refused.stderr)], [[], []])
    } finally {
      for (const s of sockets) s.destroy()
      server.close()
    }
  })

  test('bash with `kubectl-mesh completion bash` completes `kubectl-mesh cluster link --remote-context <TAB>`', async () => {
    const tmux = spawnSync('tmux', ['-V'], {encoding: 'utf8'})
    assert.equal(tmux.status, 0, 'tmux is required (.ci/run installs it)')
    const session = `kubectl-mesh-completion-${process.pid}`
    const socket = join(dir, 'tmux.sock')
    const t = (...args: string[]) => spawnSync('tmux', ['-S', socket, ...args], {encoding: 'utf8', env: env()})
    const rc = join(dir, 'bashrc')
    // As a user's ~/.bashrc: bash-completion (.ci/run installs it), then our script.
    writeFileSync(rc, `PS1='$ '\nsource /usr/share/bash-completion/bash_completion\nsource <(kubectl-mesh completion bash)\n`)
    const started = t('new-session', '-d', '-s', session, '-x', '200', '-y', '50', `bash --noprofile --rcfile ${rc} -i`)
    assert.equal(started.status, 0, started.stderr)
    const screen = () => t('capture-pane', '-p', '-t', session).stdout
    const waitFor = async (re: RegExp, what: string) => {
      for (const until = Date.now() + 30_000; Date.now() < until;) {
        if (re.test(screen())) return
        await new Promise((r) => setTimeout(r, 200))
      }
      assert.fail(`${what}: not on the screen:\n${screen()}`)
    }
    try {
      await waitFor(/^\$ ?$/m, 'the prompt') // capture-pane drops trailing spaces
      // The contexts share "cluster": TAB completes that much, a second TAB lists them (a keypress
      // at a time: bash reads the next one only once the answer is in).
      t('send-keys', '-t', session, 'kubectl-mesh cluster link --remote-context clu', 'Tab')
      await waitFor(/--remote-context cluster$/m, 'the common prefix completed')
      await new Promise((r) => setTimeout(r, 500))
      t('send-keys', '-t', session, 'Tab')
      await new Promise((r) => setTimeout(r, 500))
      t('send-keys', '-t', session, 'Tab')
      await waitFor(/cluster1\s.*cluster2|cluster2\s.*cluster1/s, 'the contexts listed')
      // One candidate: TAB completes the word in place.
      t('send-keys', '-t', session, 'C-u', 'kubectl-mesh cluster link --context cluster1 --remote-context cluster2 --exp', 'Tab')
      await waitFor(/--remote-context cluster2 --expose$/m, '--expose completed')
      t('send-keys', '-t', session, 'ex', 'Tab')
      await waitFor(/--expose exported$/m, 'the --expose value completed')
    } finally {
      t('kill-session', '-t', session)
    }
  })
})
