// verify's probes of remote secrets (src/verify/facts.ts SecretProbes) against a local HTTP server
// standing in for the remote API server: secrets that hold the same credentials for the same
// server are probed once per run, and each secret is reported under its own name.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import {dump} from 'js-yaml'
import {KubeClient} from '../../src/kube/client.ts'
import {parseKubeconfig, type RemoteSecretEntry} from '../../src/cluster/remote-secrets.ts'
import {SecretProbes} from '../../src/verify/facts.ts'
import type {ClusterFacts} from '../../src/verify/types.ts'

const kubeconfig = (server: string, token: string) => dump({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'peer',
  clusters: [{name: 'peer', cluster: {server}}], users: [{name: 'peer', user: {token}}], contexts: [{name: 'peer', context: {cluster: 'peer', user: 'peer'}}],
})
const entry = (secret: string, key: string, text: string): RemoteSecretEntry =>
  ({secret: {apiVersion: 'v1', kind: 'Secret', metadata: {name: secret, namespace: 'istio-system'}}, key, ...parseKubeconfig(text)})
const cluster = (name: string) => ({name, istioNamespace: 'istio-system'}) as ClusterFacts

describe('verify: remote secret probes', () => {
  test('one probe per distinct credentials and server; each secret answered under its own name; a denied read is its own', async () => {
    const seen: Array<{token: string; path: string}> = []
    const server = createServer((req, res) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      const path = new URL(req.url ?? '/', 'http://x').pathname
      seen.push({token, path})
      res.setHeader('content-type', 'application/json')
      if (token === 'narrow' && path === '/api/v1/pods') {
        res.statusCode = 403
        res.end(JSON.stringify({kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden'}))
        return
      }
      res.end(JSON.stringify({kind: 'List', items: []}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as {port: number}).port}`
    const clients: KubeClient[] = []
    try {
      const probes = new SecretProbes(5000, clients)
      const results = await Promise.all([
        probes.probe(cluster('cluster1'), entry('istio-remote-secret-cluster3', 'cluster3', kubeconfig(url, 'reader'))),
        probes.probe(cluster('cluster2'), entry('istio-remote-secret-cluster3', 'cluster3', kubeconfig(url, 'reader'))),
        probes.probe(cluster('cluster2'), entry('istio-remote-secret-other', 'other', kubeconfig(url, 'narrow'))),
      ])
      // six reads per distinct token: two tokens, not three secrets
      assert.equal(seen.filter((s) => s.token === 'reader').length, 6)
      assert.equal(seen.filter((s) => s.token === 'narrow').length, 6)
      assert.equal(clients.length, 2)
      assert.deepEqual(results.map((r) => [r.cluster, r.secret, r.key, r.outcome]), [
        ['cluster1', 'istio-remote-secret-cluster3', 'cluster3', 'ok'],
        ['cluster2', 'istio-remote-secret-cluster3', 'cluster3', 'ok'],
        ['cluster2', 'istio-remote-secret-other', 'other', 'forbidden'],
      ])
      assert.deepEqual(results[2].denied, ['list pods'])
      // another run probes again
      await new SecretProbes(5000, clients).probe(cluster('cluster1'), entry('istio-remote-secret-cluster3', 'cluster3', kubeconfig(url, 'reader')))
      assert.equal(seen.filter((s) => s.token === 'reader').length, 12)
    } finally {
      for (const c of clients) c.close()
      server.close()
    }
  })
})
