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
})
