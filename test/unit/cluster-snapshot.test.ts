// The cluster snapshot (src/cluster/snapshot.ts) against a local HTTP server standing in for the
// API server: every kind asked for is listed once per run, however many snapshots ask.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import {KubeClient} from '../../src/kube/client.ts'
import {readSnapshot, RunLists} from '../../src/cluster/snapshot.ts'

describe('cluster snapshot: one list per context, kind and namespace per run', () => {
  test('two snapshots of one context in one run send each list once; the kinds asked for only', async () => {
    const paths: string[] = []
    const server = createServer((req, res) => {
      paths.push(new URL(req.url ?? '/', 'http://x').pathname)
      res.setHeader('content-type', 'application/json')
      if (/\/clusterroles\/|\/clusterrolebindings\//.test(req.url ?? '')) {
        res.statusCode = 404
        res.end(JSON.stringify({kind: 'Status', code: 404, reason: 'NotFound'}))
        return
      }
      res.end(JSON.stringify({kind: 'List', items: []}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as {port: number}).port
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${port}`}, userName: 'u', user: {}, namespace: 'default'})
    try {
      const run = new RunLists()
      const target = {name: 'c1', context: 'c1', source: 'context' as const, client}
      const a = await readSnapshot(target, 'istio-system', ['Namespace', 'Secret', 'Service', 'Deployment'], run)
      const b = await readSnapshot(target, 'istio-system', ['Namespace', 'Secret', 'Service', 'Deployment'], run)
      assert.deepEqual(a.lists, b.lists)
      const lists = paths.filter((p) => !/clusterrole/.test(p))
      assert.deepEqual(lists.sort(), ['/api/v1/namespaces', '/api/v1/namespaces/istio-system/secrets', '/api/v1/services', '/apis/apps/v1/namespaces/istio-system/deployments'].sort())
      assert.equal(run.sent, 4)
      // a fresh run lists again
      await readSnapshot(target, 'istio-system', ['Namespace'], new RunLists())
      assert.equal(paths.filter((p) => p === '/api/v1/namespaces').length, 2)
    } finally {
      client.close()
      server.close()
    }
  })
  test('the reader ClusterRole and binding come from the run\'s lists when a step of the run listed those kinds, else one GET each', async () => {
    const paths: string[] = []
    const server = createServer((req, res) => {
      paths.push(new URL(req.url ?? '/', 'http://x').pathname)
      res.setHeader('content-type', 'application/json')
      if (/\/clusterroles\/|\/clusterrolebindings\//.test(req.url ?? '')) {
        res.end(JSON.stringify({metadata: {name: 'istio-reader-clusterrole-istio-system'}}))
        return
      }
      const role = /clusterrole/.test(req.url ?? '') ? [{metadata: {name: 'istio-reader-clusterrole-istio-system'}}] : []
      res.end(JSON.stringify({kind: 'List', items: role}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as {port: number}).port
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${port}`}, userName: 'u', user: {}, namespace: 'default'})
    try {
      const target = {name: 'c1', context: 'c1', source: 'context' as const, client}
      const alone = await readSnapshot(target, 'istio-system', ['Namespace'], new RunLists())
      assert.equal(alone.readerClusterRole?.metadata.name, 'istio-reader-clusterrole-istio-system')
      assert.deepEqual(paths.filter((p) => /clusterrole/.test(p)).sort(), ['/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/istio-reader-clusterrole-istio-system', '/apis/rbac.authorization.k8s.io/v1/clusterroles/istio-reader-clusterrole-istio-system'])
      paths.length = 0
      const run = new RunLists()
      await Promise.all([run.list(client, 'ClusterRole'), run.list(client, 'ClusterRoleBinding')])
      const shared = await readSnapshot(target, 'istio-system', ['Namespace'], run)
      assert.equal(shared.readerClusterRole?.metadata.name, 'istio-reader-clusterrole-istio-system')
      assert.equal(shared.readerClusterRoleBinding?.metadata.name, 'istio-reader-clusterrole-istio-system')
      assert.deepEqual(paths.filter((p) => /clusterrole/.test(p)).sort(), ['/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', '/apis/rbac.authorization.k8s.io/v1/clusterroles'])
    } finally {
      client.close()
      server.close()
    }
  })
  test('a run that wrote an object: find answers it from a fresh list, other objects from the list taken before; a whole list is taken again', async () => {
    const paths: string[] = []
    let version = 1
    const server = createServer((req, res) => {
      paths.push(new URL(req.url ?? '/', 'http://x').pathname)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({kind: 'List', items: [
        {metadata: {name: 'a', namespace: 'bar', resourceVersion: String(version)}},
        {metadata: {name: 'b', namespace: 'bar', resourceVersion: '1'}},
      ]}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as {port: number}).port
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${port}`}, userName: 'u', user: {}, namespace: 'default'})
    try {
      const run = new RunLists()
      assert.equal((await run.find(client, 'Service', 'bar', 'a'))?.metadata.resourceVersion, '1')
      assert.equal(await run.find(client, 'Service', 'bar', 'nope'), undefined)
      assert.equal(paths.length, 1)
      version = 2
      run.wrote('c1', 'Service', 'bar', 'a')
      run.wrote('c2', 'Service', 'bar', 'b')
      // another context's write does not count here; b was not written in c1: from the list taken before
      assert.equal((await run.find(client, 'Service', 'bar', 'b'))?.metadata.name, 'b')
      assert.equal(paths.length, 1)
      // a was written: listed again, once
      assert.equal((await run.find(client, 'Service', 'bar', 'a'))?.metadata.resourceVersion, '2')
      assert.equal((await run.find(client, 'Service', 'bar', 'a'))?.metadata.resourceVersion, '2')
      assert.equal(paths.length, 2)
      // a whole list after a write is listed again
      run.wrote('c1', 'Service', 'bar', 'b')
      await run.list(client, 'Service')
      await run.list(client, 'Service')
      assert.equal(paths.length, 3)
      assert.equal(run.sent, 3)
    } finally {
      client.close()
      server.close()
    }
  })
})
