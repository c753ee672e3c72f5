// The install reader (src/istio/read.ts readIstioInstall), the ambient reader
// (src/istio/ambient-read.ts readAmbient) and service import's egress objects (src/exposure/facts.ts)
// fed from a run's lists (src/cluster/listed.ts, RunLists) answer as they do with their own GETs and
// selective lists, against a local HTTP server standing in for the API server; the lists are the
// ones the snapshot takes (one per kind and cluster, shared by every reader).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import {KubeClient} from '../../src/kube/client.ts'
import {RunLists} from '../../src/cluster/snapshot.ts'
import {listedAmbientSources, listedInstallSources} from '../../src/cluster/listed.ts'
import {readIstioInstall} from '../../src/istio/read.ts'
import {readAmbient} from '../../src/istio/ambient-read.ts'
import {exposureReads} from '../../src/exposure/facts.ts'
import {egressSelection} from '../../src/exposure/egress.ts'

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
  // Gateway API Gateways: the ambient east-west one of the Istio namespace, and one of that class elsewhere the ambient reader must not see
  gateways: [{metadata: {name: 'istio-east-west', namespace: NS, labels: {'topology.istio.io/network': 'network1'}},
    spec: {gatewayClassName: 'istio-east-west', listeners: [{name: 'mesh', port: 15008, protocol: 'HBONE'}]}, status: {addresses: [{value: '127.0.0.12'}]}},
  {metadata: {name: 'elsewhere', namespace: 'bar'}, spec: {gatewayClassName: 'istio-east-west', listeners: [{name: 'mesh', port: 15008, protocol: 'HBONE'}]}}],
}

const TYPES: Record<string, {apiVersion: string; kind: string}> = {
  namespaces: {apiVersion: 'v1', kind: 'Namespace'}, configmaps: {apiVersion: 'v1', kind: 'ConfigMap'}, services: {apiVersion: 'v1', kind: 'Service'}, deployments: {apiVersion: 'apps/v1', kind: 'Deployment'},
}

/** A stand-in API server; forbidWide: the kinds this identity may list only in a namespace (403 cluster-wide). */
function server(paths: string[], forbidWide: string[] = []) {
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
    if (!inNs && !name && forbidWide.includes(kindName)) {
      res.statusCode = 403
      res.end(JSON.stringify({kind: 'Status', code: 403, reason: 'Forbidden', message: `${kindName} is forbidden at the cluster scope`}))
      return
    }
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
      assert.deepEqual(listedAmbient.kubeGateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`), [`${NS}/istio-east-west`])
      // a step that lists the Gateway API Gateways cluster-wide (cluster link's gateway inputs, src/link/facts.ts) shares the list
      assert.equal((await lists.list(client, 'KubeGateway')).length, 2)
      // each kind once, the Istio namespace's kinds there, Services, Namespaces and Gateway API Gateways cluster-wide
      assert.deepEqual([...paths].sort(), ['/api/v1/namespaces', `/api/v1/namespaces/${NS}/configmaps`, '/api/v1/services', `/apis/apps/v1/namespaces/${NS}/daemonsets`,
        `/apis/apps/v1/namespaces/${NS}/deployments`, '/apis/gateway.networking.k8s.io/v1/gateways'].sort())
    } finally {
      client.close()
      s.close()
    }
  })
  test('an identity that may list the Gateway API Gateways only in the Istio namespace: the ambient reader falls back to that list, same answer', async () => {
    const paths: string[] = []
    const s = server(paths, ['gateways'])
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${(s.address() as {port: number}).port}`}, userName: 'u', user: {}, namespace: 'default'})
    try {
      const direct = await readAmbient(client, NS)
      paths.length = 0
      const listedAmbient = await readAmbient(client, NS, listedAmbientSources(client, NS, new RunLists()))
      assert.deepEqual(listedAmbient, direct)
      assert.equal(listedAmbient.kubeGateways.length, 1)
      assert.deepEqual(paths.filter((p) => p.endsWith('/gateways')), ['/apis/gateway.networking.k8s.io/v1/gateways', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways`])
    } finally {
      client.close()
      s.close()
    }
  })
})

describe('service import\'s egress objects from a run\'s lists', () => {
  // Istio Gateways, VirtualServices and DestinationRules of imports through an egress gateway (labels as
  // src/exposure/egress.ts writes them), beside ones of other imports, other namespaces and no import
  const via = (from: string, service: string, extra: Record<string, string> = {}) => ({'kubectl-mesh/via': 'egress', 'kubectl-mesh/imported-from': from, 'kubectl-mesh/service': service, ...extra})
  const byPath: Record<string, Array<Record<string, any>>> = {
    '/apis/networking.istio.io/v1/gateways': [
      {metadata: {name: 'web-c2-80', namespace: 'bar', labels: via('c2', 'web')}}, {metadata: {name: 'api-c2-80', namespace: 'bar', labels: via('c2', 'api')}},
      {metadata: {name: 'web-c3-80', namespace: 'bar', labels: via('c3', 'web')}}, {metadata: {name: 'web-c2-80', namespace: 'baz', labels: via('c2', 'web')}},
      {metadata: {name: 'istio-eastwestgateway', namespace: NS}}],
    '/apis/networking.istio.io/v1/virtualservices': [
      {metadata: {name: 'web-c2', namespace: 'bar', labels: via('c2', 'web')}}, {metadata: {name: 'web-c2-80', namespace: 'bar', labels: via('c2', 'web')}},
      {metadata: {name: 'web-c2', namespace: 'baz', labels: via('c2', 'web')}}, {metadata: {name: 'local', namespace: 'bar'}}],
    '/apis/networking.istio.io/v1/destinationrules': [
      {metadata: {name: 'web-c2', namespace: 'bar', labels: {'kubectl-mesh/imported-from': 'c2', 'kubectl-mesh/service': 'web'}}},
      {metadata: {name: 'web-c2.bar', namespace: NS, labels: via('c2', 'web', {'kubectl-mesh/namespace': 'bar'})}},
      {metadata: {name: 'api-c2.bar', namespace: NS, labels: via('c2', 'api', {'kubectl-mesh/namespace': 'bar'})}}],
  }
  const apiServer = (paths: string[]) => createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    paths.push(`${url.pathname}${url.search}`)
    res.setHeader('content-type', 'application/json')
    const ns = url.pathname.match(/\/namespaces\/([^/]+)\//)?.[1]
    const selector = url.searchParams.get('labelSelector')
    let items = (byPath[url.pathname.replace(/\/namespaces\/[^/]+\//, '/')] ?? []).filter((o) => !ns || o.metadata.namespace === ns)
    if (selector) items = items.filter((o) => selector.split(',').every((kv) => { const [k, v] = kv.split('='); return v === undefined ? o.metadata.labels?.[k] !== undefined : o.metadata.labels?.[k] === v }))
    res.end(JSON.stringify({kind: 'List', items}))
  })
  test('the same objects as the selective lists, from the one cluster-wide list of each kind the run shares', async () => {
    const paths: string[] = []
    const s = apiServer(paths)
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    const client = new KubeClient({context: 'c1', clusterName: 'c1', cluster: {server: `http://127.0.0.1:${(s.address() as {port: number}).port}`}, userName: 'u', user: {}, namespace: 'default'})
    const names = (list: Array<{kind?: string; metadata: {namespace?: string; name: string}}>) => list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
    try {
      const cases: Array<[string | undefined, string, string | undefined]> = [['bar', 'c2', 'web'], ['bar', 'c2', undefined], [undefined, 'c2', undefined], ['baz', 'c3', 'web']]
      const lists = new RunLists()
      // the run's cluster-wide DestinationRule list (verify and import's own rules, src/exposure/facts.ts), taken first
      await exposureReads(lists).destinationRules(client, undefined, {})
      for (const [ns, from, service] of cases) {
        const labels = egressSelection(from, service)
        const direct = await exposureReads().egressObjects(client, ns, labels)
        const listed = await exposureReads(lists).egressObjects(client, ns, labels)
        assert.deepEqual(names(listed), names(direct), `${ns} ${from} ${service}`)
      }
      assert.deepEqual(names(await exposureReads(lists).egressObjects(client, 'bar', egressSelection('c2', 'web'))),
        ['bar/web-c2-80', 'bar/web-c2', 'bar/web-c2-80', `${NS}/web-c2.bar`])
      // the run's reads: one cluster-wide list per kind, however many imports ask
      const runPaths = paths.filter((p) => !p.includes('labelSelector'))
      assert.deepEqual(runPaths.sort(), ['/apis/networking.istio.io/v1/destinationrules', '/apis/networking.istio.io/v1/gateways', '/apis/networking.istio.io/v1/virtualservices'])
      assert.equal(lists.sent, 3)
    } finally {
      client.close()
      s.close()
    }
  })
})
