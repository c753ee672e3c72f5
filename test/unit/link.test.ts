// Table tests of the pure parts of `cluster link`: fact extraction, validation, planning and the
// meshNetworks merge.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {load} from 'js-yaml'
import {OperationError, UsageError} from '../../src/errors.ts'
import {ApiError} from '../../src/kube/errors.ts'
import {type Outcome, recordWrite} from '../../src/kube/journal.ts'
import {linkPartialFailure} from '../../src/link/service.ts'
import {deriveFacts, type LinkFacts} from '../../src/link/facts.ts'
import {isLoopbackServer, parseGateway, validateInputs, validatePair} from '../../src/link/validate.ts'
import {addNetworkEntry, dropExposure, planExposure, planReader, remoteKubeconfig, remoteSecret, removeRegistry, type MeshNetworks} from '../../src/link/plan.ts'
import {MANAGED_BY_LABEL} from '../../src/istio/names.ts'
import {describeService} from '../../src/istio/gateway.ts'

const facts = (over: Partial<LinkFacts> = {}): LinkFacts => ({
  context: 'east', istioNamespace: 'istio-system', server: 'https://10.0.0.1:6443', namespaceExists: true, clusterDomain: 'cluster.local', revision: 'default', otherRevisions: [], meshConfigMapName: 'istio', istiodService: 'istiod',
  clusterId: 'east', clusterIdSource: 'istiod', network: 'net-east', networkSource: 'namespace', meshId: 'mesh1',
  gateway: {service: 'istio-system/istio-eastwestgateway', address: '192.0.2.1', port: 15443, network: 'net-east'},
  meshConfigMap: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio', namespace: 'istio-system'}, data: {meshNetworks: 'networks: {}\n'}},
  remoteSecrets: [],
  ...over,
})
const west = (over: Partial<LinkFacts> = {}) => facts({
  context: 'west', clusterId: 'west', network: 'net-west',
  gateway: {service: 'istio-system/istio-eastwestgateway', address: '192.0.2.2', port: 15443, network: 'net-west'}, ...over,
})

function usage(fn: () => unknown, re: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message) && Boolean(e.hint))
}

describe('facts', () => {
  test('cluster ID: istiod CLUSTER_ID first, then injector values', () => {
    const istiod = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'istiod'}, spec: {template: {spec: {containers: [{name: 'discovery', env: [{name: 'X', value: '1'}, {name: 'CLUSTER_ID', value: 'c1'}]}]}}}}
    const injector = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'i'}, data: {values: JSON.stringify({global: {multiCluster: {clusterName: 'c2'}, network: 'n2', meshID: 'm'}})}}
    assert.deepEqual(deriveFacts({istiod, injector, services: []}).clusterId, 'c1')
    const f = deriveFacts({injector, services: []})
    assert.equal(f.clusterId, 'c2')
    assert.equal(f.clusterIdSource, 'injector')
    assert.equal(f.network, 'n2')
    assert.equal(f.meshId, 'm')
    const ns = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'istio-system', labels: {'topology.istio.io/network': 'n-label'}}}
    assert.equal(deriveFacts({namespace: ns, injector, services: []}).network, 'n-label')
    assert.equal(deriveFacts({services: []}).clusterId, undefined)
  })

  test('gateway: the read model\'s east-west gateway (ranking: test/unit/istio-model.test.ts), its best address and port', () => {
    const svc = (name: string, labels: Record<string, string>, status?: unknown) => ({apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: 'istio-system', labels}, spec: {type: 'LoadBalancer', selector: {istio: name}, ports: [{port: 15443}, {port: 16443}]}, status})
    const ns = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'istio-system', labels: {'topology.istio.io/network': 'n1'}}}
    const list = [
      svc('other-net', {'topology.istio.io/network': 'n2'}, {loadBalancer: {ingress: [{ip: '10.0.0.2'}]}}),
      svc('ew', {istio: 'eastwestgateway', 'topology.istio.io/network': 'n1', 'networking.istio.io/gatewayPort': '16443'}, {loadBalancer: {ingress: [{hostname: 'ew.example.com'}, {ip: '10.0.0.1'}]}}),
    ]
    const f = deriveFacts({namespace: ns, services: list})
    // istiod keeps the load balancer's order and resolves the hostname itself (conversion.go): every address × the gateway port
    assert.deepEqual(f.gateway, {service: 'istio-system/ew', address: 'ew.example.com', port: 16443, network: 'n1', shape: 'lb-hostname',
      targets: [{address: 'ew.example.com', port: 16443}, {address: '10.0.0.1', port: 16443}], skipped: undefined})
    assert.equal(f.ewGateway?.ref, 'istio-system/ew')
    assert.equal(f.clusterDomain, 'cluster.local')
    assert.equal(deriveFacts({services: []}).gateway, undefined)
  })

  test('roots from istio-ca-root-cert, else cacerts (root-cert.pem, or ca.crt when tls.crt is there): the whole bundle (src/cluster/trust.ts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'link-unit-'))
    const root = (n: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${n}k.pem`), '-out', join(dir, `${n}.pem`), '-subj', `/O=Istio/CN=Root ${n}`, '-days', '1'], {stdio: 'ignore'})
      return readFileSync(join(dir, `${n}.pem`), 'utf8')
    }
    const [a, b] = [root('a'), root('b')]
    const fp = (pem: string) => new X509Certificate(pem).fingerprint256
    const b64 = (s: string) => Buffer.from(s).toString('base64')
    const cacerts = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'cacerts'}, data: {'root-cert.pem': b64(a + b)}}
    assert.deepEqual([deriveFacts({cacerts, services: []}).rootFingerprints, deriveFacts({cacerts, services: []}).rootSource], [[fp(a), fp(b)], 'cacerts'])
    const tls = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'cacerts'}, data: {'tls.crt': b64(a), 'tls.key': b64('k'), 'ca.crt': b64(b), 'root-cert.pem': b64(a)}}
    assert.deepEqual(deriveFacts({cacerts: tls, services: []}).rootFingerprints, [fp(b)])
    const cm = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'istio-ca-root-cert'}, data: {'root-cert.pem': a}}
    assert.deepEqual([deriveFacts({cacerts, rootCertConfigMap: cm, services: []}).rootFingerprints, deriveFacts({cacerts, rootCertConfigMap: cm, services: []}).rootSource], [[fp(a)], 'istio-ca-root-cert'])
    // mid-rotation: A+B against B alone share a root
    assert.doesNotThrow(() => validatePair(facts({rootFingerprints: [fp(a), fp(b)]}), west({rootFingerprints: [fp(b)]}), {}))
  })
})

describe('validate', () => {
  test('parseGateway', () => {
    assert.deepEqual(parseGateway('203.0.113.7'), {address: '203.0.113.7', port: 15443})
    assert.deepEqual(parseGateway('203.0.113.7:16443'), {address: '203.0.113.7', port: 16443})
    assert.deepEqual(parseGateway('ew.example.com:443'), {address: 'ew.example.com', port: 443})
    assert.deepEqual(parseGateway('[2001:db8::1]:15443'), {address: '2001:db8::1', port: 15443})
    assert.deepEqual(parseGateway('2001:db8::1'), {address: '2001:db8::1', port: 15443})
    for (const bad of ['', ':15443', 'host:0', 'host:70000', 'Bad_Host', 'host:']) usage(() => parseGateway(bad), /invalid --gateway/)
  })

  test('isLoopbackServer', () => {
    assert.equal(isLoopbackServer('https://127.0.0.1:6443'), true)
    assert.equal(isLoopbackServer('https://localhost'), true)
    assert.equal(isLoopbackServer('https://[::1]:6443'), true)
    assert.equal(isLoopbackServer('https://10.0.0.1:6443'), false)
  })

  test('inputs: same context, bad remote name, bad server', () => {
    usage(() => validateInputs({context: 'a', remoteContext: 'a'}), /both "a"/)
    usage(() => validateInputs({context: 'a', remoteContext: 'b', remoteName: 'Not_DNS'}), /not a DNS-1123 label/)
    usage(() => validateInputs({context: 'a', remoteContext: 'b', remoteName: 'x'.repeat(64)}), /DNS-1123/)
    usage(() => validateInputs({context: 'a', remoteContext: 'b', server: 'http://x'}), /https/)
    assert.deepEqual(validateInputs({context: 'a', remoteContext: 'b', remoteName: 'west-1', gateway: '1.2.3.4:1'}), {gateway: {address: '1.2.3.4', port: 1}})
  })

  test('pair: a good cross-network pair resolves ID, network and gateway', () => {
    const {link, warnings} = validatePair(facts({rootFingerprints: ['AA']}), west({rootFingerprints: ['AA']}), {})
    assert.equal(link.id, 'west')
    assert.equal(link.crossNetwork, true)
    assert.deepEqual(link.gateway, {address: '192.0.2.2', port: 15443})
    assert.deepEqual(warnings, [])
  })

  test('pair: refusals', () => {
    usage(() => validatePair(facts(), west({clusterId: 'east'}), {}), /same cluster ID "east"/)
    // --network-config gateway: EAST's istiod must be able to discover WEST's gateway by its network label
    const svc = (labels: Record<string, string>) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: 'istio-system', labels},
      spec: {type: 'LoadBalancer', selector: {istio: 'eastwestgateway'}, ports: [{port: 15443}]}, status: {loadBalancer: {ingress: [{ip: '192.0.2.2'}]}}})
    const labelled = describeService(svc({istio: 'eastwestgateway', 'topology.istio.io/network': 'net-west'}))
    const gw = validatePair(facts(), west({ewGateway: labelled}), {networkConfig: 'gateway'})
    assert.equal(gw.link.networkConfig, 'gateway')
    usage(() => validatePair(facts(), west({ewGateway: describeService(svc({istio: 'eastwestgateway'}))}), {networkConfig: 'gateway'}), /--network-config gateway: .* is not labelled topology.istio.io\/network=net-west/)
    assert.equal(validatePair(facts(), west(), {}).link.networkConfig, 'meshnetworks')
    // a gateway istiod skips (labelled, listening on neither port) is refused with istiod's reason
    const skipped = {service: 'istio-system/istio-eastwestgateway', port: 15443, network: 'net-west', shape: 'lb-ip' as const, targets: [], skipped: 'istiod skips it: "…does not listen neither on port 15443 nor on port 15008"'}
    usage(() => validatePair(facts(), west({gateway: skipped}), {}), /not one istiod uses: istiod skips it/)
    usage(() => validatePair(facts(), west({clusterId: undefined}), {}), /cannot tell the cluster ID/)
    usage(() => validatePair(facts(), west({clusterId: 'Kube_1'}), {}), /not a DNS-1123 label/)
    usage(() => validatePair(facts(), west(), {remoteName: 'other'}), /differs from/)
    usage(() => validatePair(facts({rootFingerprints: ['AA']}), west({rootFingerprints: ['BB']}), {}), /different root CAs/)
    usage(() => validatePair(facts(), west({gateway: undefined}), {}), /no east-west gateway/)
    usage(() => validatePair(facts(), west({gateway: {service: 's/g', port: 15443}}), {}), /has no address/)
    usage(() => validatePair(facts({namespaceExists: false}), west(), {}), /does not exist/)
    usage(() => validatePair(facts({meshConfigMap: undefined}), west(), {}), /ConfigMap istio-system\/istio does not exist/)
    const other = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'istioctl-made'}, data: {west: 'eA=='}}
    usage(() => validatePair(facts({remoteSecrets: [other]}), west(), {}), /already registered by Secret istio-system\/istioctl-made/)
  })

  test('pair: overrides and warnings', () => {
    const forced = validatePair(facts({rootFingerprints: ['AA']}), west({rootFingerprints: ['BB']}), {force: true, remoteName: 'alias'})
    assert.equal(forced.link.id, 'alias')
    assert.equal(forced.warnings.length, 2)
    assert.deepEqual(validatePair(facts(), west({gateway: undefined}), {gateway: {address: 'gw.example.com', port: 15443}}).link.gateway, {address: 'gw.example.com', port: 15443})
    const same = validatePair(facts(), west({network: 'net-east', gateway: undefined}), {})
    assert.equal(same.link.crossNetwork, false)
    assert.ok(same.warnings.some((w) => /root CA/.test(w)), 'unknown roots are a warning')
    assert.equal(validatePair(facts(), west({network: 'net-east'}), {network: 'net-x'}).link.westNetwork, 'net-x')
    assert.ok(validatePair(facts(), west({meshId: 'mesh2'}), {}).warnings.some((w) => /mesh "mesh2"/.test(w)))
    assert.ok(validatePair(facts(), west({network: undefined}), {}).warnings.some((w) => /one network/.test(w)))
  })
})

describe('plan', () => {
  test('reader: objects an Istio install made are kept, missing or kubectl-mesh-owned ones applied', () => {
    const unmanaged = {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'istio-reader-service-account', namespace: 'istio-system'}}
    const ours = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'istio-reader-clusterrole-istio-system', labels: {[MANAGED_BY_LABEL]: 'kubectl-mesh'}}}
    const wrongToken = {apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: {name: 'istio-reader-service-account-istio-remote-secret-token', namespace: 'istio-system'}}
    const steps = planReader(west({serviceAccount: unmanaged, clusterRole: ours, tokenSecret: wrongToken}), '1.0.0')
    assert.deepEqual(steps.map((s) => [s.desired.kind, s.mode]), [['ServiceAccount', 'keep'], ['ClusterRole', 'apply'], ['ClusterRoleBinding', 'apply'], ['Secret', 'apply']])
    const token = steps[3].desired
    assert.equal(token.type, 'kubernetes.io/service-account-token')
    assert.equal(token.metadata.annotations?.['kubernetes.io/service-account.name'], 'istio-reader-service-account')
    assert.equal(token.metadata.labels?.[MANAGED_BY_LABEL], 'kubectl-mesh')
    assert.equal(token.metadata.annotations?.['kubectl-mesh/version'], '1.0.0')
    assert.ok(!JSON.stringify(steps[1].desired.rules).includes('"update"'), 'the reader role cannot update anything')
  })

  test('remote secret: name, labels, data key = ID, kubeconfig with inline CA and token only', () => {
    const kc = remoteKubeconfig({id: 'west', server: 'https://w:6443', caData: 'Q0E=', token: 'tok', tlsServerName: 'api.w'})
    const s = remoteSecret('istio-system', 'west', kc, '1.0.0')
    assert.equal(s.metadata.name, 'istio-remote-secret-west')
    assert.equal(s.metadata.labels?.['istio/multiCluster'], 'true')
    assert.equal(s.metadata.annotations?.['networking.istio.io/cluster'], 'west')
    assert.deepEqual(Object.keys(s.data), ['west'])
    const doc = load(Buffer.from(s.data.west, 'base64').toString()) as any
    assert.deepEqual(doc.clusters, [{name: 'west', cluster: {'certificate-authority-data': 'Q0E=', server: 'https://w:6443', 'tls-server-name': 'api.w'}}])
    assert.deepEqual(doc.users, [{name: 'west', user: {token: 'tok'}}])
    assert.equal(doc['current-context'], 'west')
    assert.equal(remoteKubeconfig({id: 'west', server: 'https://w:6443', caData: 'Q0E=', token: 'tok'}), remoteKubeconfig({id: 'west', server: 'https://w:6443', caData: 'Q0E=', token: 'tok'}), 'deterministic')
  })
})

describe('meshNetworks merge', () => {
  const gw = {address: '192.0.2.2', port: 15443}
  const cases: Array<{name: string; before: MeshNetworks | undefined; after: MeshNetworks}> = [
    {name: 'absent document', before: undefined, after: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}}}},
    {name: 'empty networks', before: {networks: {}}, after: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}}}},
    {
      name: 'other networks and keys untouched',
      before: {networks: {n9: {endpoints: [{fromCidr: '10.0.0.0/8'}], gateways: [{registryServiceName: 'gw.svc', port: 443}]}}, extra: 1},
      after: {networks: {n9: {endpoints: [{fromCidr: '10.0.0.0/8'}], gateways: [{registryServiceName: 'gw.svc', port: 443}]}, n2: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}}, extra: 1},
    },
    {
      name: 'network shared with another registry: both gateways kept',
      before: {networks: {n2: {endpoints: [{fromRegistry: 'other'}], gateways: [{address: '192.0.2.9', port: 15443}]}}},
      after: {networks: {n2: {endpoints: [{fromRegistry: 'other'}, {fromRegistry: 'west'}], gateways: [{address: '192.0.2.9', port: 15443}, gw]}}},
    },
    {
      name: 'own network, gateway moved: replaced',
      before: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [{address: '192.0.2.99', port: 15443, locality: 'z'}, {registryServiceName: 'x.svc', port: 1}]}}},
      after: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [{registryServiceName: 'x.svc', port: 1}, gw]}}},
    },
    {
      name: 'same address, other port: port updated, locality kept',
      before: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [{address: '192.0.2.2', port: 1, locality: 'z'}]}}},
      after: {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [{address: '192.0.2.2', port: 15443, locality: 'z'}]}}},
    },
    {
      name: 'registry moved networks: removed from the old one, emptied network dropped',
      before: {networks: {old: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}, keep: {endpoints: [{fromRegistry: 'west'}, {fromRegistry: 'x'}]}}},
      after: {networks: {keep: {endpoints: [{fromRegistry: 'x'}]}, n2: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}}},
    },
  ]
  for (const c of cases) {
    test(`add: ${c.name}`, () => {
      const before = structuredClone(c.before)
      const after = addNetworkEntry(c.before, 'n2', 'west', gw)
      assert.deepEqual(after, c.after)
      assert.deepEqual(c.before, before, 'input not mutated')
      assert.deepEqual(addNetworkEntry(after, 'n2', 'west', gw), after, 'idempotent')
    })
  }

  test('remove: only the registry; emptied networks dropped; others untouched; no-op returns an equal document', () => {
    const doc: MeshNetworks = {networks: {n2: {endpoints: [{fromRegistry: 'west'}], gateways: [gw]}, n3: {endpoints: [{fromRegistry: 'west'}, {fromCidr: '10.0.0.0/8'}], gateways: [gw]}, n4: {endpoints: [{fromRegistry: 'z'}]}}}
    assert.deepEqual(removeRegistry(doc, 'west'), {networks: {n3: {endpoints: [{fromCidr: '10.0.0.0/8'}], gateways: [gw]}, n4: {endpoints: [{fromRegistry: 'z'}]}}})
    assert.deepEqual(removeRegistry(doc, 'nope'), doc)
    assert.equal(removeRegistry(undefined, 'west'), undefined)
    assert.deepEqual(removeRegistry(addNetworkEntry({networks: {}}, 'n2', 'west', gw), 'west'), {networks: {}})
  })
})

describe('link: the error of a write that failed', () => {
  const o = {context: 'cluster1', remoteContext: 'cluster2'}
  const written = [{context: 'cluster2', kind: 'ServiceAccount', namespace: 'istio-system', name: 'istio-reader-service-account', action: 'created' as const}]
  const secret = {context: 'cluster1', kind: 'Secret', namespace: 'istio-system', name: 'istio-remote-secret-cluster2'}
  const died = (reason: string, method = 'POST') => new ApiError({status: 0, reason, message: reason === 'ECONNRESET' ? 'ECONNRESET: socket hang up' : `connection refused (127.0.0.1:1)`, context: 'cluster1', method, path: '/api/v1/namespaces/istio-system/secrets'})

  // the executor's journal (src/kube/execute.ts through recordWrite): the answered writes, then the secret's write failing with `err`
  const journalOf = async (err: unknown, before = written): Promise<Outcome[]> => {
    const j: Outcome[] = before.map((w, seq) => ({...w, seq}))
    await recordWrite(j, {...secret, seq: 9}, () => Promise.reject(err)).catch(() => {})
    return j
  }

  test('a write with no answer (reset, timeout) is named: it may have been applied', async () => {
    const e = linkPartialFailure(died('ECONNRESET'), await journalOf(died('ECONNRESET')), o, 'cluster2')
    assert.match(e.message, /; already written: cluster2 ServiceAccount\/istio-system\/istio-reader-service-account created; sent without an answer \(may have been written\): cluster1 Secret\/istio-system\/istio-remote-secret-cluster2$/)
    assert.match((e as OperationError).hint ?? '', /kubectl mesh cluster unlink --context cluster1 --remote-name cluster2 --remote-context cluster2 --prune-remote/)
  })

  test('a refused connection never reached the server: only what was answered is listed', async () => {
    const e = linkPartialFailure(died('ECONNREFUSED'), await journalOf(died('ECONNREFUSED')), o, 'cluster2')
    assert.match(e.message, /; already written: cluster2 ServiceAccount\/istio-system\/istio-reader-service-account created$/)
    assert.doesNotMatch(e.message, /without an answer/)
  })

  test('nothing answered and nothing in flight: the plain error; a lone write in flight is still named', async () => {
    assert.doesNotMatch(linkPartialFailure(died('ECONNREFUSED'), await journalOf(died('ECONNREFUSED'), []), o, 'cluster2').message, /written/)
    assert.match(linkPartialFailure(died('ECONNRESET'), await journalOf(died('ECONNRESET'), []), o, 'cluster2').message, /; sent without an answer \(may have been written\): cluster1 Secret\/istio-system\/istio-remote-secret-cluster2$/)
  })
})

describe('exposure across networks (planExposure)', () => {
  const ew = {service: {apiVersion: 'v1', kind: 'Service', metadata: {name: 'istio-eastwestgateway', namespace: 'istio-system'}}, ref: 'istio-system/istio-eastwestgateway', namespace: 'istio-system', selector: {istio: 'eastwestgateway'}, addresses: ['192.0.2.2'], port: 15443, kind: 'Service' as const, shape: 'lb-ip' as const, targets: [{address: '192.0.2.2', port: 15443, hostname: false}], discovered: true, hbone: false}
  const westFacts = (gateways: any[] = []) => ({context: 'west', ewGateway: ew, clusterDomain: 'cluster.local', gateways})
  const ours = (ids: string) => ({apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name: 'kubectl-mesh-cross-network', namespace: 'istio-system', labels: {[MANAGED_BY_LABEL]: 'kubectl-mesh'}, annotations: {'kubectl-mesh/exposed-for': ids}},
    spec: {selector: {istio: 'eastwestgateway'}, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['*.cluster.local']}]}})
  test('a cross-network link creates Istio\'s cross-network-gateway on WEST\'s east-west gateway, recording EAST', () => {
    const p = planExposure(westFacts(), 'east', true, '1')
    assert.equal(p.planned?.metadata.name, 'kubectl-mesh-cross-network')
    assert.deepEqual(p.planned?.spec, {selector: {istio: 'eastwestgateway'}, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['*.cluster.local']}]})
    assert.equal(p.planned?.metadata.annotations?.['kubectl-mesh/exposed-for'], 'east')
  })
  test('a second linking cluster is added; the same one again changes nothing', () => {
    assert.equal(planExposure(westFacts([ours('other')]), 'east', true, '1').planned?.metadata.annotations?.['kubectl-mesh/exposed-for'], 'east,other')
    assert.equal(planExposure(westFacts([ours('east')]), 'east', true, '1').planned?.metadata.annotations?.['kubectl-mesh/exposed-for'], 'east')
  })
  test('a Gateway that already passes everything through: nothing written, named', () => {
    const istio = {...ours(''), metadata: {name: 'cross-network-gateway', namespace: 'istio-system'}, spec: {...ours('').spec, servers: [{...ours('').spec.servers[0], hosts: ['*.local']}]}}
    const p = planExposure(westFacts([istio]), 'east', true, '1')
    assert.equal(p.coveredBy?.metadata.name, 'cross-network-gateway')
    assert.equal(p.planned, undefined)
  })
  test('unlink, same network or --expose exported drops EAST\'s share; the last one deletes the Gateway; others\' Gateways are never touched', () => {
    assert.equal(planExposure(westFacts([ours('east,other')]), 'east', false, '1').planned?.metadata.annotations?.['kubectl-mesh/exposed-for'], 'other')
    assert.equal(planExposure(westFacts([ours('east')]), 'east', false, '1').planned, null)
    assert.equal(planExposure(westFacts([ours('other')]), 'east', false, '1').planned, undefined)
    assert.equal(dropExposure('east')({...ours('east'), metadata: {...ours('east').metadata, labels: {}}}), undefined)
  })
  test('no east-west gateway Service: a problem, nothing planned', () => {
    const p = planExposure({...westFacts(), ewGateway: undefined}, 'east', true, '1')
    assert.match(p.problem ?? '', /no east-west gateway/)
    assert.equal(p.planned, undefined)
  })
})
