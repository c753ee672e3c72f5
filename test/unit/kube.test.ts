import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {describe, test} from 'node:test'
import {type Change, covers, isUpToDate, mergeForUpdate} from '../../src/kube/apply.ts'
import {describePath, mayHaveApplied, toOperationError, ApiError} from '../../src/kube/errors.ts'
import {type Outcome, recordWrite, undoCommands, writtenSuffix} from '../../src/kube/journal.ts'
import {Kubeconfig, kubeconfigFiles, mergeKubeconfigs} from '../../src/kube/kubeconfig.ts'
import {resourcePath, RESOURCES} from '../../src/kube/resources.ts'
import {UsageError} from '../../src/errors.ts'
import {parseDuration} from '../../src/flags.ts'
import {allInOrder} from '../../src/settle.ts'
import {KubeClient} from '../../src/kube/client.ts'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

describe('kubeconfig merge (kubectl rules)', () => {
  const a = {
    'current-context': 'a1',
    clusters: [{name: 'shared', cluster: {server: 'https://a'}}, {name: 'ca', cluster: {server: 'https://ca'}}],
    users: [{name: 'u', user: {token: 'from-a'}}],
    contexts: [{name: 'a1', context: {cluster: 'ca', user: 'u'}}, {name: 'dup', context: {cluster: 'shared', user: 'u', namespace: 'first'}}],
  }
  const b = {
    'current-context': 'b1',
    clusters: [{name: 'shared', cluster: {server: 'https://b'}}, {name: 'cb', cluster: {server: 'https://cb'}}],
    users: [{name: 'u', user: {token: 'from-b'}}, {name: 'ub', user: {token: 'b'}}],
    contexts: [{name: 'b1', context: {cluster: 'cb', user: 'ub'}}, {name: 'dup', context: {cluster: 'cb', user: 'ub', namespace: 'second'}}],
  }

  test('first definition of a name wins, first current-context wins', () => {
    const m = mergeKubeconfigs([a, b])
    assert.equal(m['current-context'], 'a1')
    assert.equal(m.clusters.find((c) => c.name === 'shared')?.cluster.server, 'https://a')
    assert.equal(m.users.find((u) => u.name === 'u')?.user.token, 'from-a')
    assert.equal(m.contexts.find((c) => c.name === 'dup')?.context.namespace, 'first')
    assert.deepEqual(m.contexts.map((c) => c.name).sort(), ['a1', 'b1', 'dup'])
  })

  test('current-context from a later file when the first sets none', () => {
    const {'current-context': _drop, ...noCurrent} = a
    assert.equal(mergeKubeconfigs([noCurrent, b])['current-context'], 'b1')
  })

  test('files from KUBECONFIG, split and de-duplicated; --kubeconfig wins', () => {
    assert.deepEqual(kubeconfigFiles(undefined, ['x', 'y', 'x', ''].join(delimiter)), ['x', 'y'])
    assert.deepEqual(kubeconfigFiles('/explicit', 'x'), ['/explicit'])
  })

  test('load skips missing files in KUBECONFIG, resolves relative paths against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'))
    writeFileSync(join(dir, 'one'), JSON.stringify({
      clusters: [{name: 'c', cluster: {server: 'https://c', 'certificate-authority': 'ca.crt'}}],
      users: [{name: 'u', user: {'client-key': 'k.pem'}}],
      contexts: [{name: 'one', context: {cluster: 'c', user: 'u'}}],
    }))
    const saved = process.env.KUBECONFIG
    process.env.KUBECONFIG = [join(dir, 'missing'), join(dir, 'one')].join(delimiter)
    try {
      const kc = Kubeconfig.load()
      const ref = kc.resolve('one')
      assert.equal(ref.cluster['certificate-authority'], join(dir, 'ca.crt'))
      assert.equal(ref.user['client-key'], join(dir, 'k.pem'))
      assert.equal(ref.namespace, 'default')
    } finally {
      process.env.KUBECONFIG = saved
    }
  })

  test('an unknown context is a usage error listing the contexts', () => {
    const kc = Kubeconfig.fromDocument(a)
    assert.throws(() => kc.resolve('nope'), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /context "nope" not found/.test(e.message) && /a1, dup/.test(e.hint ?? ''))
  })
})

describe('apply comparison', () => {
  test('server defaults do not count as a difference', () => {
    const live = {spec: {ports: [{port: 80, protocol: 'TCP', targetPort: 80}], clusterIP: '10.0.0.1'}}
    assert.ok(covers(live, {spec: {ports: [{port: 80}]}}))
    assert.ok(!covers(live, {spec: {ports: [{port: 81}]}}))
    assert.ok(!covers(live, {spec: {ports: [{port: 80}, {port: 81}]}}), 'array length matters')
  })

  test('labels and annotations must be present; other live labels are kept on update', () => {
    const live = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 's', namespace: 'n', resourceVersion: '7', labels: {other: 'x'}}, type: 'Opaque', data: {a: 'YQ=='}}
    const desired = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 's', namespace: 'n', labels: {mine: 'y'}}, type: 'Opaque', data: {a: 'YQ=='}}
    assert.ok(!isUpToDate(live, desired))
    const merged = mergeForUpdate(live, desired)
    assert.deepEqual(merged.metadata.labels, {other: 'x', mine: 'y'})
    assert.equal(merged.metadata.resourceVersion, '7')
    assert.ok(isUpToDate(merged, desired))
  })
})

describe('errors', () => {
  test('paths are described as resource and object', () => {
    assert.equal(describePath('/api/v1/namespaces/istio-system/secrets/cacerts'), 'secrets istio-system/cacerts')
    assert.equal(describePath('/apis/networking.istio.io/v1/namespaces/bar/serviceentries'), 'serviceentries in namespace bar')
    assert.equal(describePath('/apis/rbac.authorization.k8s.io/v1/clusterroles/x'), 'clusterroles x')
  })

  test('403 names the verb, resource and context; timeout has a hint', () => {
    const e = toOperationError(new ApiError({status: 403, reason: 'Forbidden', message: 'secrets is forbidden: User "viewer" cannot create resource "secrets"', context: 'c1-viewer', method: 'POST', path: '/api/v1/namespaces/istio-system/secrets'}))
    assert.match(e.message, /context "c1-viewer": forbidden to create secrets in namespace istio-system/)
    assert.match(e.hint ?? '', /auth can-i create secrets/)
    const t = toOperationError(new ApiError({status: 0, reason: 'Timeout', message: 'x', context: 'c', method: 'GET', path: '/api/v1/namespaces'}))
    assert.match(t.message, /did not answer within the timeout/)
  })

  test('resource paths', () => {
    assert.equal(resourcePath(RESOURCES.Gateway, 'istio-system', 'g'), '/apis/networking.istio.io/v1/namespaces/istio-system/gateways/g')
    assert.equal(resourcePath(RESOURCES.Namespace, 'ignored', 'bar'), '/api/v1/namespaces/bar')
  })

  test('durations', () => {
    assert.equal(parseDuration('10s'), 10_000)
    assert.equal(parseDuration('250ms'), 250)
    assert.equal(parseDuration('2'), 2000)
    assert.throws(() => parseDuration('soon'), UsageError)
  })
})

describe('allInOrder', () => {
  test('resolves like Promise.all, keeping the order and the tuple', async () => {
    const [a, b] = await allInOrder([Promise.resolve(1), new Promise<string>((r) => setTimeout(() => r('x'), 5))])
    assert.deepEqual([a, b], [1, 'x'])
  })
  test('rejects with the first failure in list order, not in time, after all settled', async () => {
    let lateSettled = false
    const late = new Promise((_, reject) => setTimeout(() => { lateSettled = true; reject(new Error('first in the list')) }, 20))
    const early = Promise.reject(new Error('first in time'))
    await assert.rejects(allInOrder([late, early]), /first in the list/)
    assert.ok(lateSettled)
  })
})

describe('write journal (partial failures)', () => {
  const apiError = (status: number, reason: string, method = 'POST') =>
    new ApiError({status, reason, message: reason, context: 'east', method, path: '/apis/networking.istio.io/v1/namespaces/ns/serviceentries'})
  const se = (seq: number, name: string) => ({seq, context: 'east', kind: 'ServiceEntry', namespace: 'ns', name, undo: `unimport ${name}`})

  test('a write with no answer may have been applied; refused, HTTP errors and failed reads were not', () => {
    assert.equal(mayHaveApplied(apiError(0, 'ECONNRESET')), true)
    assert.equal(mayHaveApplied(apiError(0, 'Timeout')), true)
    assert.equal(mayHaveApplied(apiError(0, 'ECONNREFUSED')), false)
    assert.equal(mayHaveApplied(apiError(500, 'InternalError')), false)
    assert.equal(mayHaveApplied(apiError(0, 'ECONNRESET', 'GET')), false)
    assert.equal(mayHaveApplied(new Error('x')), false)
  })

  test('records changes and unanswered writes; lists them in plan order; undo in reverse, each command once', async () => {
    const journal: Outcome[] = []
    const change = (name: string, action: Change['action']): Change => ({context: 'east', kind: 'ServiceEntry', namespace: 'ns', name, action})
    await recordWrite(journal, se(2, 'b'), async () => change('b', 'created'))
    await recordWrite(journal, se(1, 'a'), async () => change('a', 'unchanged'))
    await assert.rejects(recordWrite(journal, se(4, 'd'), async () => { throw apiError(0, 'ECONNREFUSED') }))
    await assert.rejects(recordWrite(journal, se(3, 'c'), async () => { throw apiError(0, 'ECONNRESET') }))
    await recordWrite(journal, {...se(0, 'ns'), kind: 'Namespace', namespace: '', undo: 'delete ns'}, async () => ({...change('ns', 'created'), kind: 'Namespace', namespace: ''}))
    await recordWrite(journal, {...se(5, 'b'), kind: 'DestinationRule'}, async () => ({...change('b', 'configured'), kind: 'DestinationRule'}))
    assert.equal(writtenSuffix(journal),
      '; already written: east Namespace/ns created, east ServiceEntry/ns/b created, east DestinationRule/ns/b configured; sent without an answer (may have been written): east ServiceEntry/ns/c')
    assert.deepEqual(undoCommands(journal), ['unimport b', 'unimport c', 'delete ns'])
    assert.equal(writtenSuffix([]), '')
    assert.equal(writtenSuffix([change('x', 'unchanged'), change('y', 'deleted')]), '; already written: east ServiceEntry/ns/y deleted')
  })
})

describe('KubeClient: 429 with Retry-After is sent again, like client-go', () => {
  /** A loopback HTTP server that answers each request with the next of `answers`. */
  async function serve(answers: Array<{status: number; retryAfter?: string}>) {
    const seen: string[] = []
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]
      res.writeHead(a.status, {'Content-Type': 'application/json', ...(a.retryAfter === undefined ? {} : {'Retry-After': a.retryAfter})})
      res.end(JSON.stringify(a.status === 200 ? {kind: 'Namespace'} : {kind: 'Status', reason: 'TooManyRequests', message: 'too many requests, please try again later'}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const {port} = server.address() as AddressInfo
    const client = new KubeClient({context: 'c', clusterName: 'c', cluster: {server: `http://127.0.0.1:${port}`}, userName: 'u', user: {}, namespace: 'default'})
    return {seen, client, close: () => { client.close(); server.close() }}
  }

  test('two 429s with Retry-After: 0, then 200: resolves after three requests (a write too)', async () => {
    const s = await serve([{status: 429, retryAfter: '0'}, {status: 429, retryAfter: '0'}, {status: 200}])
    try {
      assert.deepEqual(await s.client.request({method: 'POST', path: '/api/v1/namespaces', body: {}}), {kind: 'Namespace'})
      assert.deepEqual(s.seen, Array(3).fill('POST /api/v1/namespaces'))
    } finally {
      s.close()
    }
  })

  test('429 without Retry-After, or 429 five times: the error is final', async () => {
    const once = await serve([{status: 429}, {status: 200}])
    try {
      await assert.rejects(once.client.get('/api/v1/namespaces/x'), (e: ApiError) => e.status === 429 && e.retryAfter === undefined)
      assert.equal(once.seen.length, 1)
    } finally {
      once.close()
    }
    const always = await serve([{status: 429, retryAfter: '0'}])
    try {
      await assert.rejects(always.client.get('/api/v1/namespaces/x'), (e: ApiError) => e.status === 429 && e.retryAfter === 0)
      assert.equal(always.seen.length, 5)
    } finally {
      always.close()
    }
  })
})
