// The install reader (src/istio/read.ts readIstioInstall) and the ambient reader
// (src/istio/ambient-read.ts readAmbient) fed from a run's lists (src/cluster/listed.ts) answer as
// they do with their own GETs, against a local HTTP server standing in for the API server; the
// lists are the ones the snapshot takes (one per kind, shared by both readers).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import {KubeClient} from '../../src/kube/client.ts'
import {RunLists} from '../../src/cluster/snapshot.ts'
import {listedAmbientSources, listedInstallSources} from '../../src/cluster/listed.ts'
import {readIstioInstall} from '../../src/istio/read.ts'
import {readAmbient} from '../../src/istio/ambient-read.ts'

const NS = 'istio-system'
const objects: Record<string, Array<Record<string, any>>> = {
  namespaces: [{metadata: {name: NS, labels: {'topology.istio.io/network': 'network1'}}}, {metadata: {name: 'bar', labels: {'istio.io/dataplane-mode': 'ambient'}}}],
  deployments: [{metadata: {name: 'istiod', namespace: NS, labels: {app: 'istiod'}}, spec: {template: {spec: {containers: [{name: 'discovery', image: 'istio/pilot:1.24.0', env: [{name: 'CLUSTER_ID', value: 'cluster1'}]}]}}}},
    {metadata: {name: 'other', namespace: NS, labels: {app: 'other'}}}],
  configmaps: [{metadata: {name: 'istio-sidecar-injector', namespace: NS}, data: {values: JSON.stringify({global: {meshID: 'mesh1', network: 'network1'}})}},
    {metadata: {name: 'istio', namespace: NS}, data: {mesh: 'trustDomain: cluster.local\n'}}],
  services: [{metadata: {name: 'istio-eastwestgateway', namespace: NS, labels: {istio: 'eastwestgateway', 'topology.istio.io/network': 'network1'}},
    spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{name: 'tls', port: 15443}]}, status: {loadBalancer: {ingress: [{ip: '127.0.0.11'}]}}},
    {metadata: {name: 'web', namespace: 'bar'}, spec: {ports: [{port: 80}]}}],
  daemonsets: [],
  gateways: [],
}

const TYPES: Record<string, {apiVersion: string; kind: string}> = {
  namespaces: {apiVersion: 'v1', kind: 'Namespace'}, configmaps: {apiVersion: 'v1', kind: 'ConfigMap'}, services: {apiVersion: 'v1', kind: 'Service'}, deployments: {apiVersion: 'apps/v1', kind: 'Deployment'},
}

function server(paths: string[]) {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    paths.push(url.pathname)
    res.setHeader('content-type', 'application/json')
    const parts = url.pathname.split('/').filter(Boolean)
    const nsAt = parts.indexOf('namespaces')
    const inNs = nsAt >= 0 && parts.length > nsAt + 2 ? parts[nsAt + 1] : undefined
    const kind = inNs ? parts[nsAt + 2] : parts.at(-1)!
    const name = inNs ? parts[nsAt + 3] : nsAt >= 0 && parts.length === nsAt + 2 ? parts[nsAt + 1] : undefined
    const kindName = nsAt >= 0 && !inNs && name ? 'namespaces' : kind
    const selector = url.searchParams.get('labelSelector')
    let items = (objects[kindName] ?? []).filter((o) => !inNs || o.metadata.namespace === inNs)
    if (selector) items = items.filter((o) => selector.split(',').every((kv) => { const [k, v] = kv.split('='); return v === undefined ? o.metadata.labels?.[k] !== undefined : o.metadata.labels?.[k] === v }))
    if (name) {
      const found = items.find((o) => o.metadata.name === name)
      res.statusCode = found ? 200 : 404
      // a GET answers the object with its type, as the API server does
      res.end(JSON.stringify(found ? {...TYPES[kindName], ...found} : {kind: 'Status', code: 404, reason: 'NotFound'}))
      return
    }
    res.end(JSON.stringify({kind: 'List', items}))
  })
}

describe('the install and ambient readers from a run\'s lists', () => {
  test('the same answer as their GETs; one list per kind, shared by both', async () => {
    const paths: string[] = []
    const s = server(paths)
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${(s.address() as {port: number}).port}`}, userName: 'u', user: {}, namespace: 'default'})
    try {
      const direct = await readIstioInstall(client, NS)
      const directAmbient = await readAmbient(client, NS)
      paths.length = 0
      const lists = new RunLists()
      const listed = await readIstioInstall(client, NS, {}, {}, listedInstallSources(client, NS, lists))
      const listedAmbient = await readAmbient(client, NS, listedAmbientSources(client, NS, lists))
      assert.equal(direct.facts.clusterId, 'cluster1')
      assert.equal(direct.gateway?.ref, `${NS}/istio-eastwestgateway`)
      assert.deepEqual(listed, direct)
      assert.deepEqual(listedAmbient, directAmbient)
      // each kind once, the Istio namespace's kinds there, Services and Namespaces cluster-wide
      assert.deepEqual([...paths].sort(), ['/api/v1/namespaces', `/api/v1/namespaces/${NS}/configmaps`, '/api/v1/services', `/apis/apps/v1/namespaces/${NS}/daemonsets`,
        `/apis/apps/v1/namespaces/${NS}/deployments`, `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways`].sort())
    } finally {
      client.close()
      s.close()
    }
  })
})
