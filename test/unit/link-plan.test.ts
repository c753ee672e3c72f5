// Table tests of `cluster link`'s plan as a value (src/link/link-plan.ts): from two clusters' facts
// (built with the reader's own pure derivations, src/link/facts.ts deriveFacts) to the writes in
// order, the access checks, -o yaml's documents; a repeat plans no request beyond `unchanged`; the
// istio-remote Gateway of --network-config gateway; the ambient writes in -o yaml.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {load} from 'js-yaml'
import {UsageError} from '../../src/errors.ts'
import {deriveFacts, type LinkFacts} from '../../src/link/facts.ts'
import {type LinkPlanOptions, planLink} from '../../src/link/link-plan.ts'
import {addNetworkEntry, exposureGateway, planReader, remoteKubeconfig, remoteSecret} from '../../src/link/plan.ts'
import {remoteGateway} from '../../src/link/remote-gateway.ts'
import {planUnlink} from '../../src/link/unlink-plan.ts'
import {dumpYaml} from '../../src/kube/configmap-yaml.ts'
import type {KubeObject} from '../../src/kube/resources.ts'
import {ambientFacts, ambientGateways} from '../../src/istio/ambient.ts'
import type {AmbientRead} from '../../src/istio/ambient-read.ts'
import type {PlannedOp} from '../../src/kube/execute.ts'

const NS = 'istio-system'
const report = {warn: () => {}, note: () => {}}
const opts = (over: Partial<LinkPlanOptions> = {}): LinkPlanOptions => ({istioNamespace: NS, version: '1.0.0', report, ...over})

/** One cluster's facts as readClusterFacts derives them from its objects. */
function cluster(name: string, network: string, ip: string, over: Partial<LinkFacts> = {}): LinkFacts {
  const namespace = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS, labels: {'topology.istio.io/network': network}}}
  const istiod = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'istiod', namespace: NS, labels: {app: 'istiod'}}, spec: {template: {spec: {containers: [{name: 'discovery', env: [{name: 'CLUSTER_ID', value: name}]}]}}}}
  const ew = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: NS, labels: {istio: 'eastwestgateway', 'topology.istio.io/network': network}},
    spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{name: 'tls', port: 15443}]}, status: {loadBalancer: {ingress: [{ip}]}}}
  const meshConfigMap = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: NS, resourceVersion: '1'}, data: {mesh: 'trustDomain: cluster.local\n', meshNetworks: 'networks: {}\n'}}
  const tokenSecret = {apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: {name: 'istio-reader-service-account-istio-remote-secret-token', namespace: NS,
    annotations: {'kubernetes.io/service-account.name': 'istio-reader-service-account'}}, data: {token: Buffer.from(`token-of-${name}`).toString('base64'), 'ca.crt': Buffer.from(`ca-of-${name}`).toString('base64')}}
  return {
    context: name, istioNamespace: NS, server: `https://${name}.example.com:6443`, caData: Buffer.from(`ca-of-${name}`).toString('base64'), namespaceExists: true,
    ...deriveFacts({namespace, istiod, meshConfigMap, services: [ew]}),
    namespace, revision: 'default', otherRevisions: [], meshConfigMapName: 'istio', meshConfigMap, istiodService: 'istiod',
    tokenSecret, remoteSecrets: [], gateways: [], kubeGateways: undefined,
    ...over,
  }
}

const east = (over: Partial<LinkFacts> = {}) => cluster('east', 'net-east', '192.0.2.1', over)
const west = (over: Partial<LinkFacts> = {}) => cluster('west', 'net-west', '192.0.2.2', over)

/** What the plan's writes are, as `op kind name @context` lines. */
const ops = (writes: PlannedOp[]) => writes.map((w) => {
  const ref = w.op === 'apply' ? w.ref ?? (typeof w.object === 'function' ? undefined : w.object) : w.op === 'yaml' ? {kind: 'ConfigMap', metadata: {name: w.name}} : w.ref
  return `${w.op} ${ref ? `${ref.kind}/${ref.metadata.name}` : w.op === 'step' ? w.title : '?'} @${w.context}`
})

/** WEST's reader objects and EAST's remote secret and meshNetworks as a first link leaves them. */
function linked(): {e: LinkFacts; w: LinkFacts} {
  const w0 = west()
  const readers = planReader(w0, '1.0.0').map((s) => ({...s.desired, metadata: {...s.desired.metadata, resourceVersion: '5'}}))
  const w = west({serviceAccount: readers[0], clusterRole: readers[1], clusterRoleBinding: readers[2], tokenSecret: {...w0.tokenSecret!, metadata: {...readers[3].metadata, annotations: {...readers[3].metadata.annotations, ...w0.tokenSecret!.metadata.annotations}}},
    gateways: [{...exposureGateway({ew: w0.ewGateway!, clusterDomain: 'cluster.local', ids: ['east'], version: '1.0.0'}), metadata: {...exposureGateway({ew: w0.ewGateway!, clusterDomain: 'cluster.local', ids: ['east'], version: '1.0.0'}).metadata, resourceVersion: '7'}}]})
  const kubeconfig = remoteKubeconfig({id: 'west', server: w.server, caData: Buffer.from('ca-of-west').toString('base64'), token: 'token-of-west'})
  const secret = remoteSecret(NS, 'west', kubeconfig, '1.0.0', 'all', 'meshnetworks')
  const mesh = addNetworkEntry({networks: {}}, 'net-west', 'west', {address: '192.0.2.2', port: 15443})
  const e = east({remoteSecrets: [secret], meshConfigMap: {...east().meshConfigMap!, data: {mesh: 'trustDomain: cluster.local\n', meshNetworks: dumpYaml(mesh)}}})
  return {e, w}
}

describe('link plan: the whole change set as a value', () => {
  test('planning is synchronous: no request can hide in it', () => {
    const p = planLink(east(), west(), opts())
    assert.equal(typeof (p as unknown as Promise<unknown>).then, 'undefined')
  })

  test('a first cross-network link: WEST reader objects and token, exposure, EAST secret and meshNetworks, in that order, each with its access check', () => {
    const p = planLink(east(), west({tokenSecret: undefined}), opts())
    assert.deepEqual(ops(p.writes), [
      'apply ServiceAccount/istio-reader-service-account @west',
      'apply ClusterRole/istio-reader-clusterrole-istio-system @west',
      'apply ClusterRoleBinding/istio-reader-clusterrole-istio-system @west',
      'apply Secret/istio-reader-service-account-istio-remote-secret-token @west',
      'step Wait for the reader token in "west" @west',
      'edit Gateway/kubectl-mesh-cross-network @west',
      'apply Secret/istio-remote-secret-west @east',
      'yaml ConfigMap/istio @east',
    ])
    assert.deepEqual(p.access.map((a) => `${a.context} ${a.verb} ${a.resource}${a.name ? ` ${a.name}` : ''}`), [
      'west create serviceaccounts', 'west create clusterroles', 'west create clusterrolebindings', 'west create secrets',
      'east create secrets', 'east update configmaps istio', 'west create gateways',
    ])
    assert.deepEqual(p.links, [{context: 'east', remoteContext: 'west', clusterId: 'west', network: 'net-west', crossNetwork: true, gateway: '192.0.2.2:15443', expose: 'all', exposedBy: `${NS}/kubectl-mesh-cross-network`}])
    // the token does not exist yet: -o yaml prints the reader objects and the two-step recipe
    assert.ok(p.yamlError instanceof UsageError)
    assert.deepEqual(p.docs.map((d) => `${d.context} ${d.object.kind}`), ['west ServiceAccount', 'west ClusterRole', 'west ClusterRoleBinding', 'west Secret', 'west Gateway'])
  })

  test('a repeat: every object as read is what the plan wants: no access check, no write but `unchanged` and a read-modify-write that finds nothing to do', () => {
    const {e, w} = linked()
    const p = planLink(e, w, opts())
    assert.deepEqual(p.access, [])
    // reader objects and the secret are compared with what was listed; meshNetworks is unchanged
    assert.deepEqual(ops(p.writes), [
      'apply ServiceAccount/istio-reader-service-account @west',
      'apply ClusterRole/istio-reader-clusterrole-istio-system @west',
      'apply ClusterRoleBinding/istio-reader-clusterrole-istio-system @west',
      // a token Secret kubectl-mesh did not make is reused as it is (desired = live: no request)
      'apply Secret/istio-reader-service-account-istio-remote-secret-token @west',
      'step Wait for the reader token in "west" @west',
      'edit Gateway/kubectl-mesh-cross-network @west',
      'apply Secret/istio-remote-secret-west @east',
      'unchanged ConfigMap/istio @east',
    ])
    // each write carries the object as listed: the executor sends no GET for them
    for (const wr of p.writes) {
      if (wr.op === 'apply') assert.ok(wr.live, `${JSON.stringify(wr.ref ?? wr.object)} carries its live object`)
      if (wr.op === 'edit') assert.ok(wr.read, 'the Gateway as listed')
    }
    // -o yaml prints the desired objects, the secret with the token that exists
    const secret = p.docs.find((d) => d.object.kind === 'Secret' && d.object.metadata.name === 'istio-remote-secret-west')!.object
    assert.match(Buffer.from(secret.data.west, 'base64').toString(), /token: token-of-west/)
    assert.equal(p.docs.some((d) => d.object.kind === 'ConfigMap'), false, 'meshNetworks already holds the entry')
  })

  test('--bidirectional: the mirror image; the reader objects once per discovered cluster', () => {
    const p = planLink(east(), west(), opts({bidirectional: true}))
    assert.deepEqual(p.links.map((l) => `${l.context}->${l.remoteContext}`), ['east->west', 'west->east'])
    assert.equal(ops(p.writes).filter((x) => x.startsWith('apply ServiceAccount/')).length, 2)
    assert.deepEqual(ops(p.writes).filter((x) => /Secret\/istio-remote-secret-/.test(x)), ['apply Secret/istio-remote-secret-west @east', 'apply Secret/istio-remote-secret-east @west'])
  })

  test('a pair that cannot work is refused by the planner (exit 2), before any write is planned', () => {
    assert.throws(() => planLink(east(), west({clusterId: 'east'}), opts()), (e: unknown) => e instanceof UsageError && /same cluster ID/.test(e.message))
  })
})

describe('link plan: --network-config gateway and the istio-remote Gateway', () => {
  const declared = (p: ReturnType<typeof planLink>) => p.docs.find((d) => d.object.kind === 'Gateway' && d.object.apiVersion === 'gateway.networking.k8s.io/v1')

  test('WEST\'s gateway is labelled with its network: discovered through the remote secret, nothing in EAST', () => {
    const p = planLink(east({kubeGateways: []}), west(), opts({networkConfig: 'gateway'}))
    assert.equal(declared(p), undefined)
    assert.equal(ops(p.writes).some((x) => x.includes('kubectl-mesh-remote-')), false)
    assert.equal(p.docs.some((d) => d.object.kind === 'ConfigMap'), false, 'no meshNetworks entry')
  })

  test('an address only --gateway knows: an istio-remote Gateway in EAST names network net-west there (istiod: network.go handleGatewayResource)', () => {
    const p = planLink(east({kubeGateways: []}), west(), opts({networkConfig: 'gateway', gateway: {address: '203.0.113.9', port: 15443}}))
    const gw = declared(p)!
    assert.equal(gw.context, 'east')
    assert.deepEqual(gw.object.metadata.labels?.['topology.istio.io/network'], 'net-west')
    assert.equal(gw.object.metadata.name, 'kubectl-mesh-remote-west')
    assert.deepEqual(gw.object.spec, {gatewayClassName: 'istio-remote', addresses: [{type: 'IPAddress', value: '203.0.113.9'}],
      listeners: [{name: 'cross-network-15443', port: 15443, protocol: 'TLS', tls: {mode: 'Passthrough', options: {'gateway.istio.io/listener-protocol': 'auto-passthrough'}}}]})
    assert.ok(ops(p.writes).includes('edit Gateway/kubectl-mesh-remote-west @east'))
    assert.ok(p.access.some((a) => a.context === 'east' && a.verb === 'create' && a.group === 'gateway.networking.k8s.io' && a.resource === 'gateways'))
    assert.ok(p.notes.some((n) => /class istio-remote\) names network net-west at 203\.0\.113\.9:15443/.test(n)), p.notes.join('\n'))
  })

  test('WEST\'s gateway Service lacks the network label: its addresses go into the istio-remote Gateway; a hostname is a Hostname address', () => {
    const svc = (labels: Record<string, string>, ingress: unknown) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: NS, labels},
      spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{port: 15443}]}, status: {loadBalancer: {ingress}}})
    const {gateway, ewGateway} = deriveFacts({namespace: west().namespace, services: [svc({istio: 'eastwestgateway'}, [{hostname: 'ew.west.example.com'}])]})
    const w = west({gateway, ewGateway})
    const p = planLink(east({kubeGateways: []}), w, opts({networkConfig: 'gateway'}))
    assert.deepEqual(declared(p)!.object.spec.addresses, [{type: 'Hostname', value: 'ew.west.example.com'}])
  })

  test('a repeat finds its Gateway as planned: no access check for it; EAST without the Gateway API: exit 2 with the fix', () => {
    const live: KubeObject = {...remoteGateway({namespace: NS, id: 'west', network: 'net-west', gateways: [{address: '203.0.113.9', port: 15443}], version: '1.0.0'}), metadata: {...remoteGateway({namespace: NS, id: 'west', network: 'net-west', gateways: [{address: '203.0.113.9', port: 15443}], version: '1.0.0'}).metadata, resourceVersion: '3'}}
    const p = planLink(east({kubeGateways: [live]}), west(), opts({networkConfig: 'gateway', gateway: {address: '203.0.113.9', port: 15443}}))
    assert.equal(p.access.some((a) => a.resource === 'gateways' && a.context === 'east'), false)
    const w = p.writes.find((x) => x.op === 'edit' && x.ref.metadata.name === 'kubectl-mesh-remote-west')
    assert.equal(w?.op === 'edit' && w.read, live)
    // the API server's defaults in the live Gateway (allowedRoutes) do not make it differ
    const defaulted = {...live, spec: {...live.spec, listeners: live.spec.listeners.map((l: object) => ({...l, allowedRoutes: {namespaces: {from: 'Same'}}}))}}
    const again = planLink(east({kubeGateways: [defaulted]}), west(), opts({networkConfig: 'gateway', gateway: {address: '203.0.113.9', port: 15443}}))
    const w2 = again.writes.find((x) => x.op === 'edit' && x.ref.metadata.name === 'kubectl-mesh-remote-west')
    assert.ok(w2?.op === 'edit' && w2.upToDate?.(defaulted, w2.edit(defaulted) as KubeObject), 'up to date with the defaults in place')
    assert.equal(again.access.some((a) => a.resource === 'gateways' && a.context === 'east'), false)
    assert.throws(() => planLink(east({kubeGateways: undefined}), west(), opts({networkConfig: 'gateway', gateway: {address: '203.0.113.9', port: 15443}})),
      (e: unknown) => e instanceof UsageError && /does not serve the Gateway API/.test(e.message) && /install the Gateway API CRDs/.test(e.hint ?? ''))
  })

  test('back to meshnetworks: the istio-remote Gateway of an earlier gateway-wired link is deleted', () => {
    const live = remoteGateway({namespace: NS, id: 'west', network: 'net-west', gateways: [{address: '203.0.113.9', port: 15443}], version: '1.0.0'})
    const p = planLink(east({kubeGateways: [live]}), west(), opts())
    const w = p.writes.find((x) => x.op === 'edit' && x.ref.metadata.name === 'kubectl-mesh-remote-west')
    assert.ok(w && w.op === 'edit')
    assert.equal(w.edit(live), null)
  })
})

describe('link plan: ambient writes are in the plan, so -o yaml and --dry-run show them', () => {
  const ambientRead = (f: LinkFacts, gateways: KubeObject[] = []): AmbientRead => {
    const istiod = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'istiod', namespace: NS}, spec: {template: {spec: {containers: [{name: 'discovery', env: [{name: 'PILOT_ENABLE_AMBIENT', value: 'true'}, {name: 'AMBIENT_ENABLE_MULTI_NETWORK', value: 'true'}]}]}}}}
    const ztunnel = {apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {name: 'ztunnel', namespace: NS}, spec: {template: {metadata: {labels: {app: 'ztunnel'}}}}}
    return {context: f.context, istioNamespace: NS, facts: ambientFacts({istiod, daemonSets: [ztunnel], namespaces: []}), istiod, meshConfigMapName: 'istio', meshConfigMap: f.meshConfigMap,
      mesh: load(f.meshConfigMap!.data!.mesh), network: f.network, gateways: ambientGateways(gateways, f.network), kubeGateways: gateways}
  }

  test('--create-gateway: WEST\'s istio-east-west Gateway and both mesh configs\' serviceScopeConfigs entry are planned writes and -o yaml documents', () => {
    const e = east()
    const w = west()
    const p = planLink({...e, ambient: ambientRead(e)}, {...w, ambient: ambientRead(w)}, opts({createGateway: true}))
    assert.equal(p.links[0].meshKind, 'ambient')
    assert.deepEqual(ops(p.writes).slice(-3), ['apply Gateway/istio-eastwestgateway @west', 'edit ConfigMap/istio @east', 'edit ConfigMap/istio @west'])
    const gw = p.docs.find((d) => d.object.kind === 'Gateway' && d.object.spec?.gatewayClassName === 'istio-east-west')
    assert.equal(gw?.context, 'west')
    const scopes = p.docs.filter((d) => d.object.kind === 'ConfigMap' && d.object.data?.mesh)
    assert.deepEqual(scopes.map((d) => d.context), ['east', 'west'])
    for (const d of scopes) {
      const mesh = load(d.object.data!.mesh) as {trustDomain: string; serviceScopeConfigs: unknown[]}
      assert.equal(mesh.trustDomain, 'cluster.local', 'every other key kept')
      assert.equal(mesh.serviceScopeConfigs.length, 1)
    }
    assert.ok(p.access.some((a) => a.context === 'west' && a.resource === 'gateways' && a.group === 'gateway.networking.k8s.io'))
    assert.equal(p.docs.some((d) => d.object.data?.meshNetworks !== undefined), false, 'no meshNetworks entry for an ambient pair')
  })
})

describe('unlink plan: what a link made, removed, from one read of each cluster', () => {
  const anchor = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'istio-reader-east-anchor-1', namespace: NS, labels: {'kubectl-mesh/token-for': 'east', 'app.kubernetes.io/managed-by': 'kubectl-mesh'}}}

  test('the secret (whoever made it), the meshNetworks entry, the peer\'s exposure and this link\'s anchors; a repeat plans nothing', () => {
    const {e, w} = linked()
    const e2 = {...e, secrets: e.remoteSecrets}
    const w2 = {...w, anchors: [anchor]}
    const p = planUnlink([{from: e2, id: 'west', fromId: 'east', peer: w2}], {istioNamespace: NS})
    assert.deepEqual(ops(p.writes), ['edit Secret/istio-remote-secret-west @east', 'yaml ConfigMap/istio @east', 'edit Gateway/kubectl-mesh-cross-network @west', 'edit Secret/istio-reader-east-anchor-1 @west'])
    const cross = p.writes[2]
    assert.ok(cross.op === 'edit' && cross.edit(cross.read ?? undefined) === null, 'the Gateway goes with its last linking cluster')
    // after it: nothing left to remove
    const gone = planUnlink([{from: east({secrets: []}), id: 'west', fromId: 'east', peer: west({gateways: [], anchors: []})}], {istioNamespace: NS})
    assert.deepEqual(gone.writes, [])
  })

  test('without --remote-context only the discovering cluster is touched, and the note says what it could not clean', () => {
    const {e} = linked()
    const p = planUnlink([{from: {...e, secrets: e.remoteSecrets}, id: 'west'}], {istioNamespace: NS})
    assert.deepEqual([...new Set(p.writes.map((x) => x.context))], ['east'])
    assert.ok(p.notes.some((n) => /relied on west's Gateway kubectl-mesh-cross-network/.test(n)), p.notes.join('\n'))
  })

  test('the istio-remote Gateway of a gateway-wired link goes; one someone else made stays', () => {
    const ours = remoteGateway({namespace: NS, id: 'west', network: 'net-west', gateways: [{address: '203.0.113.9', port: 15443}], version: '1.0.0'})
    const p = planUnlink([{from: east({secrets: [], kubeGateways: [ours]}), id: 'west'}], {istioNamespace: NS})
    assert.deepEqual(ops(p.writes), ['edit Gateway/kubectl-mesh-remote-west @east'])
    const theirs = {...ours, metadata: {name: ours.metadata.name, namespace: NS}}
    assert.deepEqual(planUnlink([{from: east({secrets: [], kubeGateways: [theirs]}), id: 'west'}], {istioNamespace: NS}).writes, [])
  })

  test('--prune-remote: the reader objects kubectl-mesh made; the ones an install made stay (noted)', () => {
    const w0 = west()
    const made = planReader(west({tokenSecret: undefined}), '1.0.0').map((s) => s.desired)
    const p = planUnlink([{from: east({secrets: []}), id: 'west', fromId: 'east', peer: west({serviceAccount: made[0], clusterRole: made[1], clusterRoleBinding: made[2], tokenSecret: w0.tokenSecret, gateways: []})}], {istioNamespace: NS, pruneRemote: true})
    assert.deepEqual(ops(p.writes), ['edit ClusterRoleBinding/istio-reader-clusterrole-istio-system @west', 'edit ClusterRole/istio-reader-clusterrole-istio-system @west', 'edit ServiceAccount/istio-reader-service-account @west'])
    assert.ok(p.notes.some((n) => /left Secret\/istio-reader-service-account-istio-remote-secret-token in place/.test(n)))
  })
})

describe('link: a WEST gateway named only by EAST\'s meshNetworks registryServiceName (issue 27)', () => {
  // WEST's gateway Service without topology.istio.io/network and istio=eastwestgateway: label discovery finds nothing
  const unlabelled: KubeObject = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: NS, labels: {app: 'istio-eastwestgateway'}},
    spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{name: 'tls', port: 15443}]}, status: {loadBalancer: {ingress: [{ip: '192.0.2.2'}]}}}
  const w = () => west({ewGateway: undefined, gateway: undefined, services: [unlabelled]})
  const withEntry = (network: string, registry = 'west') => {
    const meshNetworks = dumpYaml({networks: {[network]: {endpoints: [{fromRegistry: registry}], gateways: [{registryServiceName: `istio-eastwestgateway.${NS}.svc.cluster.local`, port: 15443}]}}})
    return east({meshConfigMap: {...east().meshConfigMap!, data: {mesh: 'trustDomain: cluster.local\n', meshNetworks}}})
  }

  test('meshnetworks: accepted at the Service\'s address; the entry kept as it is (no address gateway added); the exposure selects the Service', () => {
    const p = planLink(withEntry('net-west'), w(), opts())
    assert.equal(p.links[0].gateway, '192.0.2.2:15443')
    assert.ok(ops(p.writes).includes('unchanged ConfigMap/istio @east'), ops(p.writes).join('\n'))
    assert.equal(p.docs.some((d) => d.object.kind === 'ConfigMap'), false)
    const exposure = p.docs.find((d) => d.object.kind === 'Gateway' && d.context === 'west')!.object
    assert.deepEqual(exposure.spec.selector, {istio: 'eastwestgateway'})
  })

  test('gateway wiring: the entry is not removed and no istio-remote Gateway is needed (EAST\'s istiod knows the gateway from it)', () => {
    const p = planLink(withEntry('net-west'), w(), opts({networkConfig: 'gateway'}))
    assert.deepEqual(ops(p.writes).filter((x) => x.endsWith('@east')), ['apply Secret/istio-remote-secret-west @east'], 'no meshNetworks edit, no istio-remote Gateway')
    assert.equal(p.docs.some((d) => d.object.kind === 'Gateway' && d.context === 'east'), false)
  })

  test('no entry, an entry of another registry, or one on another network: refused as before', () => {
    for (const e of [east(), withEntry('net-west', 'other'), withEntry('net-other')]) {
      assert.throws(() => planLink(e, w(), opts()), (err: Error) => err instanceof UsageError && /no east-west gateway Service/.test(err.message))
    }
  })
})
