import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {dump} from 'js-yaml'
import {runChecks, type VerifyReport} from '../../src/verify/runner.ts'
import {renderJson} from '../../src/verify/render-json.ts'
import {renderText} from '../../src/verify/render-text.ts'
import {CHECKS} from '../../src/verify/checks/index.ts'
import {analyzeCacerts, decodeSecretData, parseBundle, sampleMatch, verifiesTo} from '../../src/cluster/certs.ts'
import {isLoopbackHost, sameServer} from '../../src/cluster/remote-secrets.ts'
import type {CheckResult, VerifyFacts} from '../../src/verify/types.ts'
import {matchSnapshot} from '../contract.ts'
import {b64, cacertsData, crossNetworkGateway, find, healthyMesh, importedEntry, meshNetworks, okProbe, pem, remoteSecret} from './verify-fixtures.ts'

const failed = (r: VerifyReport) => r.checks.filter((c) => c.status === 'fail')
const byId = (r: VerifyReport, id: string, cluster?: string) => r.checks.filter((c) => c.id === id && (cluster === undefined || c.cluster === cluster))

/** Exactly one check id fails, for the named cluster, with a message naming `object` and a hint. */
function assertOnlyFailure(r: VerifyReport, id: string, cluster: string, object: RegExp, also: string[] = []): CheckResult {
  const f = failed(r)
  assert.ok(f.length >= 1, `expected ${id} to fail; results:\n${r.checks.map((c) => `${c.status} ${c.id} ${c.message}`).join('\n')}`)
  assert.deepEqual([...new Set(f.map((x) => x.id))].filter((x) => !also.includes(x)), [id], `unexpected failures: ${f.map((x) => `${x.id}: ${x.message}`).join('\n')}`)
  const hit = f.find((x) => x.cluster === cluster && x.id === id)
  assert.ok(hit, `no failure for ${cluster}: ${f.map((x) => x.cluster)}`)
  assert.match(hit.message, object)
  assert.match(hit.message, new RegExp(cluster))
  assert.ok(hit.hint.length > 10, 'a failure carries a hint')
  return hit
}

describe('verify checks on a healthy mesh', () => {
  test('nothing fails; the only warnings are the loopback servers of the test bed', () => {
    const r = runChecks(healthyMesh())
    assert.deepEqual(failed(r), [])
    assert.deepEqual([...new Set(r.checks.filter((c) => c.status === 'warn').map((c) => c.id))], ['links.server-address'])
    assert.ok(r.summary.passed > 30)
    // every check of the catalogue reports something for a healthy mesh
    for (const c of CHECKS) assert.ok(r.checks.some((x) => x.id === c.id), `no result for ${c.id}`)
  })

  test('ids are stable, unique and prefixed by their category', () => {
    const ids = CHECKS.map((c) => c.id)
    assert.equal(new Set(ids).size, ids.length)
    for (const c of CHECKS) assert.ok(c.id.startsWith(`${c.category}.`), c.id)
  })
})

describe('verify on the gateway shapes istiod accepts', () => {
  test('a gateway-wired link with no meshNetworks entry passes, and says which wiring it uses', () => {
    const f = healthyMesh()
    find(f.clusters[0], 'Secret', 'istio-remote-secret-cluster2').metadata.annotations!['kubectl-mesh/network-config'] = 'gateway'
    f.clusters[0].lists.ConfigMap![0].data.meshNetworks = 'networks: {}\n'
    const r = runChecks(f)
    assert.deepEqual(failed(r), [])
    assert.match(byId(r, 'networks.mesh-networks', 'cluster1')[0].message, /cluster2 via gateway/)
  })
  test('a NodePort gateway: meshNetworks and imports at the node ExternalIPs with the nodePort pass; an import at the old address fails', () => {
    const f = healthyMesh()
    const svc = find(f.clusters[1], 'Service', 'istio-eastwestgateway')
    svc.spec = {...svc.spec, type: 'NodePort', ports: svc.spec.ports.map((p: any) => ({...p, nodePort: p.port === 15443 ? 31443 : 30000 + (p.port % 1000)}))}
    svc.metadata.annotations = {'traffic.istio.io/nodeSelector': '{"pool":"eastwest"}'}
    svc.status = {}
    const node = (name: string, labels: Record<string, string>, ip: string) => ({apiVersion: 'v1', kind: 'Node', metadata: {name, labels}, status: {addresses: [{type: 'ExternalIP', address: ip}]}})
    f.clusters[1].lists.Node = [node('a', {pool: 'eastwest'}, '127.0.0.31'), node('b', {pool: 'eastwest'}, '127.0.0.32'), node('c', {}, '127.0.0.33')]
    const broken = runChecks(structuredClone(f))
    assert.ok(failed(broken).some((x) => x.id === 'imports.gateway-address' && /127\.0\.0\.12/.test(x.message)), failed(broken).map((x) => x.message).join('\n'))
    assert.ok(failed(broken).some((x) => x.id === 'networks.mesh-networks' && /127\.0\.0\.31:31443, 127\.0\.0\.32:31443/.test(x.message)), failed(broken).map((x) => x.message).join('\n'))
  })
})

describe('verify on a meshNetworks registryServiceName gateway (a Service named only by the entry)', () => {
  /** cluster2's gateway Service without the istio=eastwestgateway and network labels; cluster1's meshNetworks names it by registryServiceName, or not at all. */
  const named = (entry: boolean) => {
    const f = healthyMesh()
    find(f.clusters[1], 'Service', 'istio-eastwestgateway').metadata.labels = {}
    const gateways = entry ? [{registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443}] : []
    f.clusters[0].lists.ConfigMap![0].data.meshNetworks = dump({networks: entry ? {network2: {endpoints: [{fromRegistry: 'cluster2'}], gateways}} : {}})
    return f
  }
  test('named by the entry: every check passes, and gateway-address says istiod reaches it through the entry', () => {
    const r = runChecks(named(true))
    assert.deepEqual(failed(r).map((c) => `${c.id}: ${c.message}`), [])
    assert.match(byId(r, 'networks.gateway-address', 'cluster2')[0].message,
      /istio-system\/istio-eastwestgateway \(lb-ip, meshNetworks registryServiceName istio-eastwestgateway\.istio-system\.svc\.cluster\.local\) at 127\.0\.0\.12:15443/)
    assert.equal(byId(r, 'networks.labels', 'cluster2')[0].status, 'pass', 'the entry\'s network is no label')
  })
  test('the entry gone: no east-west gateway for cluster2, and the hint labels the Service that listens on 15443', () => {
    const r = runChecks(named(false))
    const f = failed(r).find((c) => c.id === 'networks.gateway-address' && c.cluster === 'cluster2')
    assert.ok(f, failed(r).map((c) => `${c.id}: ${c.message}`).join('\n'))
    assert.match(f.message, /Service istio-system\/istio-eastwestgateway listens on 15443, but neither the label topology\.istio\.io\/network nor a meshNetworks registryServiceName names it/)
    assert.match(f.hint, /`kubectl label service istio-eastwestgateway -n istio-system topology\.istio\.io\/network=network2 --overwrite --context cluster2`/)
    assert.equal(byId(r, 'exports.gateway', 'cluster2')[0].status, 'skip', 'no gateway: whether a Gateway passes the exports through cannot be told (not a false export hint)')
  })
  test('an entry naming a network-labelled Service: the label gateway, unchanged', () => {
    const f = healthyMesh()
    f.clusters[0].lists.ConfigMap![0].data.meshNetworks = dump({networks: {network2: {endpoints: [{fromRegistry: 'cluster2'}], gateways: [{registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443}]}}})
    const r = runChecks(f)
    assert.deepEqual(failed(r), [])
    assert.match(byId(r, 'networks.gateway-address', 'cluster2')[0].message, /istio-eastwestgateway \(lb-ip\) at 127\.0\.0\.12:15443$/)
  })
})

describe('verify checks find what is broken', () => {
  const cases: Array<[string, (f: VerifyFacts) => void, string, string, RegExp, string[]?]> = [
    ['roots differ', (f) => { find(f.clusters[1], 'Secret', 'cacerts').data = cacertsData('root-b', 'cluster2') }, 'trust.shared-root', 'cluster1', /not trusted by cluster2/],
    ['cacerts missing in one cluster', (f) => { f.clusters[1].lists.Secret = f.clusters[1].lists.Secret!.filter((s) => s.metadata.name !== 'cacerts') }, 'trust.cacerts', 'cluster2', /istio-system\/cacerts/],
    ['cacerts incomplete', (f) => { delete find(f.clusters[0], 'Secret', 'cacerts').data['ca-key.pem'] }, 'trust.cacerts', 'cluster1', /missing ca-key.pem/],
    ['cacerts key of another cert', (f) => { find(f.clusters[0], 'Secret', 'cacerts').data['ca-key.pem'] = b64(pem('root-a/cluster2/ca-key.pem')) }, 'trust.cacerts', 'cluster1', /does not match/],
    ['remote secret key is not the peer cluster ID', (f) => {
      f.clusters[0].lists.Secret = f.clusters[0].lists.Secret!.filter((s) => !s.metadata.name.startsWith('istio-remote')).concat(remoteSecret(2, {key: 'wrong'}))
      f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'wrong', gw: '127.0.0.12'}})
      f.probes[0] = {...okProbe(1, 2), secret: 'istio-remote-secret-wrong', key: 'wrong'}
    }, 'links.secret-key', 'cluster1', /istio-remote-secret-wrong.*cluster ID is cluster2/],
    ['exec credentials in a remote secret', (f) => {
      f.clusters[0].lists.Secret = f.clusters[0].lists.Secret!.filter((s) => !s.metadata.name.startsWith('istio-remote')).concat(remoteSecret(2, {user: {exec: {command: 'aws'}}}))
      f.probes[0] = {...okProbe(1, 2), outcome: 'not-probed', detail: 'exec'}
    }, 'links.kubeconfig-auth', 'cluster1', /exec/],
    ['one direction missing', (f) => { f.clusters[1].lists.Secret = f.clusters[1].lists.Secret!.filter((s) => !s.metadata.name.startsWith('istio-remote')); f.clusters[1].lists.ConfigMap![0].data.meshNetworks = 'networks: {}\n'; f.probes.pop() }, 'links.reverse', 'cluster1', /cluster2 has no remote secret for cluster1/],
    ['label removed from a remote secret', (f) => { delete find(f.clusters[0], 'Secret', 'istio-remote-secret-cluster2').metadata.labels!['istio/multiCluster']; f.probes.shift() }, 'links.secret-label', 'cluster1', /istio-remote-secret-cluster2/, ['links.reverse', 'networks.mesh-networks']],
    ['token rejected', (f) => { f.probes[0] = {...okProbe(1, 2), outcome: 'unauthorized'} }, 'links.remote-access', 'cluster1', /rejects the token/, ['links.token-lifetime']],
    ['server does not verify with the CA data', (f) => { f.probes[0] = {...okProbe(1, 2), outcome: 'tls', detail: 'self-signed certificate'} }, 'links.remote-access', 'cluster1', /certificate-authority-data/],
    ['reader RBAC missing', (f) => { f.probes[0] = {...okProbe(1, 2), outcome: 'forbidden', denied: ['list pods']}; f.clusters[1].readerClusterRoleBinding = null }, 'links.reader-rbac', 'cluster1', /list pods.*ClusterRoleBinding/],
    ['network label disagrees', (f) => { f.clusters[1].lists.Namespace![0].metadata.labels!['topology.istio.io/network'] = 'other' }, 'networks.labels', 'cluster2', /namespace istio-system label = other/, ['networks.mesh-networks']],
    ['gateway lost its address', (f) => { find(f.clusters[1], 'Service', 'istio-eastwestgateway').status = {} }, 'networks.gateway-address', 'cluster2', /istio-eastwestgateway has no address/, ['imports.gateway-address']],
    ['gateway lost port 15443', (f) => { find(f.clusters[1], 'Service', 'istio-eastwestgateway').spec.ports = [{name: 'status-port', port: 15021}] }, 'networks.gateway-port', 'cluster2', /does not expose port 15443/],
    ['meshNetworks gateway stale', (f) => { f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'cluster2', gw: '127.0.0.99'}}) }, 'networks.mesh-networks', 'cluster1', /127\.0\.0\.99.*127\.0\.0\.12/],
    ['meshNetworks invalid', (f) => { f.clusters[0].lists.ConfigMap![0].data.meshNetworks = 'networks:\n  network2:\n    endpoints: [{fromCidr: 10.0.0.0/99}]\n' }, 'networks.mesh-networks', 'cluster1', /fromCidr/],
    ['meshNetworks names an unknown registry', (f) => { f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'cluster2', gw: '127.0.0.12'}, network9: {registry: 'cluster9', gw: '127.0.0.19'}}) }, 'networks.mesh-networks', 'cluster1', /cluster9/],
    ['export gateway lost the host', (f) => { f.clusters[1].lists.Gateway = [] }, 'exports.gateway', 'cluster2', /bar\/httpbin/, ['imports.exported']],
    ['imported service deleted at the source', (f) => { f.clusters[1].lists.Service = f.clusters[1].lists.Service!.filter((s) => s.metadata.name !== 'httpbin') ; f.clusters[1].lists.Gateway = [] }, 'imports.remote-service', 'cluster1', /Service bar\/httpbin no longer exists in cluster2/],
    ['imported service no longer exported', (f) => { delete find(f.clusters[1], 'Service', 'httpbin', 'bar').metadata.labels!['kubectl-mesh/exported']; f.clusters[1].lists.Gateway = [] }, 'imports.exported', 'cluster1', /not exported/],
    ['remote ports changed', (f) => { find(f.clusters[1], 'Service', 'httpbin', 'bar').spec.ports = [{name: 'http', port: 9000}] }, 'imports.ports', 'cluster1', /ServiceEntry bar\/httpbin-cluster2 has ports 8000\/http.*9000\/http/],
    ['gateway moved', (f) => { find(f.clusters[1], 'Service', 'istio-eastwestgateway').status = {loadBalancer: {ingress: [{ip: '127.0.0.42'}]}}; f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'cluster2', gw: '127.0.0.42'}}) }, 'imports.gateway-address', 'cluster1', /127\.0\.0\.12.*127\.0\.0\.42/],
    ['SNI wrong', (f) => { find(f.clusters[0], 'DestinationRule', 'httpbin-cluster2').spec.trafficPolicy.portLevelSettings[0].tls.sni = 'outbound_.80_._.httpbin.bar.svc.cluster.local' }, 'imports.sni', 'cluster1', /DestinationRule bar\/httpbin-cluster2: port 8000/],
    ['host claimed twice', (f) => { const [se] = importedEntry(3); f.clusters[0].lists.ServiceEntry!.push({...se, metadata: {name: 'other', namespace: 'bar'}}) }, 'imports.host-conflict', 'cluster1', /httpbin.bar.global/],
    ['TCP port without address on Istio 1.24', (f) => {
      const [se, dr] = importedEntry(2, {ports: [{number: 8000, name: 'tcp', protocol: 'TCP'}]})
      f.clusters[0].lists.ServiceEntry = [se]; f.clusters[0].lists.DestinationRule = [dr]
      find(f.clusters[1], 'Service', 'httpbin', 'bar').spec.ports = [{name: 'tcp', port: 8000}]
      find(f.clusters[0], 'Deployment', 'istiod').spec.template.spec.containers[0].image = 'docker.io/istio/pilot:1.24.2'
    }, 'imports.address', 'cluster1', /TCP port/],
    ['cluster IDs disagree', (f) => { find(f.clusters[1], 'ConfigMap', 'istio-sidecar-injector').data.values = JSON.stringify({global: {meshID: 'mesh1', multiCluster: {clusterName: 'other'}, network: 'network2'}}) }, 'istio.cluster-id', 'cluster2', /CLUSTER_ID=cluster2.*clusterName=other/],
    ['a meshnetworks link whose meshNetworks entry was wiped (an upgrade re-rendered the ConfigMap)', (f) => {
      find(f.clusters[0], 'Secret', 'istio-remote-secret-cluster2').metadata.annotations!['kubectl-mesh/network-config'] = 'meshnetworks'
      f.clusters[0].lists.ConfigMap![0].data.meshNetworks = 'networks: {}\n'
    }, 'networks.mesh-networks', 'cluster1', /no entry for cluster2 .*--network-config meshnetworks: the entry was wiped/],
    ['NodePort gateway selecting no node with an ExternalIP', (f) => {
      const svc = find(f.clusters[1], 'Service', 'istio-eastwestgateway')
      svc.spec = {...svc.spec, type: 'NodePort'}
      svc.metadata.annotations = {'traffic.istio.io/nodeSelector': '{"pool":"eastwest"}'}
      f.clusters[1].lists.Node = [{apiVersion: 'v1', kind: 'Node', metadata: {name: 'n1', labels: {pool: 'eastwest'}}, status: {addresses: [{type: 'InternalIP', address: '10.0.0.1'}]}}]
    }, 'networks.gateway-address', 'cluster2', /NodePort Service istio-system\/istio-eastwestgateway selects no Node with an ExternalIP/, ['imports.gateway-address']],
    ['API server unreachable', (f) => { f.clusters[1] = {...f.clusters[1], unreachable: {message: 'connection refused', hint: 'start it'}, lists: {}}; f.probes[0] = {...okProbe(1, 2), outcome: 'unreachable', detail: 'connection refused'}; f.probes.pop() }, 'reachability.api', 'cluster2', /connection refused/],
  ]
  for (const [name, breakIt, id, cluster, object, also] of cases) {
    test(name, () => {
      const facts = healthyMesh()
      breakIt(facts)
      const r = runChecks(facts)
      if (id === 'reachability.api') {
        // an unreachable peer also fails the link probe from the other side
        assert.ok(failed(r).some((x) => x.id === id && x.cluster === cluster && object.test(x.message)))
        assert.ok(failed(r).some((x) => x.id === 'links.remote-access' && x.cluster === 'cluster1'))
        return
      }
      assertOnlyFailure(r, id, cluster, object, also)
    })
  }

  test('Istio sample CA is flagged', () => {
    const facts = healthyMesh()
    find(facts.clusters[0], 'Secret', 'cacerts').data['root-cert.pem'] = b64(pem('sample-root-cert.pem'))
    const r = runChecks(facts)
    const hit = byId(r, 'trust.sample-ca', 'cluster1')[0]
    assert.equal(hit.status, 'fail')
    assert.match(hit.message, /root-cert.pem is Istio's public sample CA \(samples\/certs\/root-cert.pem\)/)
  })

  test('expiry: warn under 30 days, fail when expired', () => {
    const facts = healthyMesh()
    const notAfter = new Date(parseBundle(pem('root-a/cluster1/ca-cert.pem'))[0].validTo)
    facts.now = new Date(notAfter.getTime() - 10 * 86_400_000)
    let r = runChecks(facts)
    assert.equal(byId(r, 'trust.expiry', 'cluster1')[0].status, 'warn')
    assert.match(byId(r, 'trust.expiry', 'cluster1')[0].message, /expires in 9|expires in 10/)
    facts.now = new Date(notAfter.getTime() + 86_400_000)
    r = runChecks(facts)
    assert.equal(byId(r, 'trust.expiry', 'cluster1')[0].status, 'fail')
  })

  test('no cacerts anywhere: trust warns or skips, never fails', () => {
    const facts = healthyMesh()
    for (const c of facts.clusters) c.lists.Secret = c.lists.Secret!.filter((s) => s.metadata.name !== 'cacerts')
    const r = runChecks(facts)
    assert.deepEqual(r.checks.filter((c) => c.category === 'trust' && c.status === 'fail'), [])
    assert.equal(byId(r, 'trust.cacerts', 'cluster1')[0].status, 'warn')
    assert.equal(byId(r, 'trust.shared-root', 'cluster1')[0].status, 'skip')
  })

  test('DNS proxying off where imports exist is a warning', () => {
    const facts = healthyMesh()
    find(facts.clusters[0], 'ConfigMap', 'istio').data.mesh = dump({defaultConfig: {}})
    const r = runChecks(facts)
    assert.equal(byId(r, 'dns.capture', 'cluster1')[0].status, 'warn')
    assert.deepEqual(failed(r), [])
  })

  test('imports from a cluster that is not verified are skipped with a hint, not failed', () => {
    const facts = healthyMesh()
    facts.clusters.pop()
    facts.probes.pop()
    const r = runChecks(facts)
    const s = byId(r, 'imports.remote-service', 'cluster1')[0]
    assert.equal(s.status, 'skip')
    assert.match(s.hint, /--context for cluster2/)
  })

  test('unreadable secrets (view-only user) skip the trust checks and warn about access', () => {
    const facts = healthyMesh()
    delete facts.clusters[0].lists.Secret
    facts.clusters[0].failures.Secret = {reason: 'forbidden', message: 'forbidden'}
    const r = runChecks(facts)
    assert.equal(byId(r, 'reachability.read-access', 'cluster1')[0].status, 'warn')
    assert.equal(byId(r, 'trust.cacerts', 'cluster1')[0].status, 'skip')
  })

  test('the number of results does not grow with the number of healthy imports', () => {
    const facts = healthyMesh()
    const base = runChecks(facts).checks.length
    const [se, dr] = importedEntry(2)
    for (let i = 0; i < 300; i++) {
      facts.clusters[0].lists.ServiceEntry!.push({...se, metadata: {...se.metadata, name: `s${i}-cluster2`, labels: {...se.metadata.labels, 'kubectl-mesh/service': `s${i}`}}, spec: {...se.spec, hosts: [`s${i}.bar.global`]}})
      facts.clusters[0].lists.DestinationRule!.push({...dr, metadata: {...dr.metadata, name: `s${i}-cluster2`}, spec: {...dr.spec, host: `s${i}.bar.global`, trafficPolicy: {...dr.spec.trafficPolicy, portLevelSettings: [{port: {number: 8000}, tls: {mode: 'ISTIO_MUTUAL', sni: `outbound_.8000_._.s${i}.bar.svc.cluster.local`}}]}}})
      facts.clusters[1].lists.Service!.push({apiVersion: 'v1', kind: 'Service', metadata: {name: `s${i}`, namespace: 'bar', labels: {'kubectl-mesh/exported': 'true'}}, spec: {ports: [{name: 'http', port: 8000}]}})
      facts.clusters[1].lists.Gateway![0].spec.servers[0].hosts.push(`s${i}.bar.svc.cluster.local`)
    }
    const r = runChecks(facts)
    assert.deepEqual(failed(r), [])
    assert.equal(r.checks.length, base)
    assert.match(byId(r, 'imports.ports', 'cluster1')[0].message, /301 imported service/)
  })
})

describe('verify reads the cluster domain as export and import do (src/istio)', () => {
  /** healthyMesh with httpbin exported from cluster2 as httpbin.bar.svc.example.org and imported into cluster1 with that SNI. */
  function exampleOrgMesh(): VerifyFacts {
    const f = healthyMesh()
    const svc = find(f.clusters[1], 'Service', 'httpbin', 'bar')
    svc.metadata.annotations = {'kubectl-mesh/exported-host': 'httpbin.bar.svc.example.org'}
    find(f.clusters[1], 'Gateway', 'kubectl-mesh-exports').spec.servers[0].hosts = ['httpbin.bar.svc.example.org']
    find(f.clusters[0], 'DestinationRule', 'httpbin-cluster2').spec.trafficPolicy.portLevelSettings[0].tls.sni = 'outbound_.8000_._.httpbin.bar.svc.example.org'
    return f
  }
  test('a Service exported and imported under --cluster-domain example.org is green', () => {
    assert.deepEqual(failed(runChecks(exampleOrgMesh())).map((c) => `${c.id}: ${c.message}`), [])
  })
  test('without the recorded host, verify --cluster-domain example.org is green and the default domain is not', () => {
    const f = exampleOrgMesh()
    delete find(f.clusters[1], 'Service', 'httpbin', 'bar').metadata.annotations
    assert.deepEqual(failed(runChecks(f, undefined, {clusterDomain: 'example.org'})), [])
    assert.deepEqual([...new Set(failed(runChecks(f)).map((c) => c.id))].sort(), ['exports.gateway', 'imports.exported', 'imports.sni'])
  })
  test('the install\'s own domain (istiod --domain) is used when export recorded nothing', () => {
    const f = exampleOrgMesh()
    delete find(f.clusters[1], 'Service', 'httpbin', 'bar').metadata.annotations
    find(f.clusters[1], 'Deployment', 'istiod').spec.template.spec.containers[0].args = ['discovery', '--domain', 'example.org']
    assert.deepEqual(failed(runChecks(f)), [])
  })
  test('a host of the Service left in the Gateway under another domain is a warning naming it', () => {
    const f = exampleOrgMesh()
    find(f.clusters[1], 'Gateway', 'kubectl-mesh-exports').spec.servers[0].hosts = ['httpbin.bar.svc.cluster.local', 'httpbin.bar.svc.example.org']
    const w = runChecks(f).checks.filter((c) => c.id === 'exports.gateway' && c.status === 'warn')
    assert.equal(w.length, 1)
    assert.match(w[0].message, /lists httpbin\.bar\.svc\.cluster\.local, but Service bar\/httpbin is exported as httpbin\.bar\.svc\.example\.org/)
  })
  test('a cluster ID held by two remote secrets is reported once', () => {
    const f = healthyMesh()
    const twin = remoteSecret(2)
    twin.metadata.name = 'istio-remote-secret-cluster2-old'
    f.clusters[0].lists.Secret!.push(twin)
    f.probes.push({...okProbe(1, 2), secret: twin.metadata.name})
    const dup = runChecks(f).checks.filter((c) => c.id === 'links.secret-key' && c.status === 'fail')
    assert.equal(dup.length, 1, dup.map((c) => c.message).join('\n'))
    assert.match(dup[0].message, /cluster ID cluster2 is registered by two remote secrets \(istio-remote-secret-cluster2, istio-remote-secret-cluster2-old\)/)
  })
})

describe('verify networks.expose: a cross-network link finds the peer\'s services passed through', () => {
  const exposeAll = (f: VerifyFacts) => {
    for (const c of f.clusters) for (const s of c.lists.Secret!) if (s.metadata.annotations?.['kubectl-mesh/expose']) s.metadata.annotations['kubectl-mesh/expose'] = 'all'
  }
  test('linked with --expose all and no Gateway passing everything: fails naming the link, the gateway and the services', () => {
    const f = healthyMesh()
    exposeAll(f)
    const r = runChecks(f)
    const hit = assertOnlyFailure(r, 'networks.expose', 'cluster2', /links to cluster1 across networks \(network2 → network1\), but cluster1's east-west gateway istio-system\/istio-eastwestgateway does not pass its services through: \d+ cannot be reached from cluster2 \(.*bar\/httpbin/)
    assert.match(hit.hint, /kubectl mesh cluster link --context cluster2 --remote-context cluster1/)
    // cluster1 -> cluster2: cluster2's httpbin is exported (covered), its other services are not
    assert.match(byId(r, 'networks.expose', 'cluster1')[0].message, /foo\/sleep/)
    assert.doesNotMatch(byId(r, 'networks.expose', 'cluster1')[0].message, /bar\/httpbin/)
  })
  test('a Gateway that passes every host through (ours, Istio\'s *.local, or *) makes it pass', () => {
    for (const hosts of [['*.cluster.local'], ['*.local'], ['*'], ['*/*.svc.cluster.local']]) {
      const f = healthyMesh()
      exposeAll(f)
      for (const c of f.clusters) c.lists.Gateway!.push(crossNetworkGateway(hosts))
      const r = runChecks(f)
      assert.deepEqual(byId(r, 'networks.expose').map((c) => c.status), ['pass', 'pass'], `${hosts}: ${JSON.stringify(byId(r, 'networks.expose'))}`)
    }
  })
  test('a Gateway for one namespace only, or another domain, does not', () => {
    for (const hosts of [['bar/*'], ['*.example.org']]) {
      const f = healthyMesh()
      exposeAll(f)
      f.clusters[0].lists.Gateway!.push(crossNetworkGateway(hosts))
      assert.equal(byId(runChecks(f), 'networks.expose', 'cluster2')[0].status, 'fail', String(hosts))
    }
  })
  test('a link made with --expose exported passes', () => {
    assert.deepEqual(byId(runChecks(healthyMesh()), 'networks.expose').map((c) => c.status), ['pass', 'pass'])
  })
})

describe('verify certificate helpers', () => {
  test('a tools/certs bundle is complete and valid; a foreign root is not', () => {
    assert.deepEqual(analyzeCacerts(decodeSecretData(cacertsData('root-a', 'cluster1'))).problems, [])
    const mixed = decodeSecretData(cacertsData('root-a', 'cluster1'))
    mixed['root-cert.pem'] = pem('root-b-cert.pem')
    assert.match(analyzeCacerts(mixed).problems.join(), /does not verify/)
    const tls = {'tls.crt': pem('root-a/cluster1/ca-cert.pem'), 'tls.key': pem('root-a/cluster1/ca-key.pem'), 'ca.crt': pem('root-a-cert.pem')}
    assert.deepEqual(analyzeCacerts(tls).problems, [])
  })
  test('chain verification walks intermediates', () => {
    const [inter] = parseBundle(pem('root-a/cluster1/ca-cert.pem'))
    assert.ok(verifiesTo(inter, [], parseBundle(pem('root-a-cert.pem'))))
    assert.ok(!verifiesTo(inter, [], parseBundle(pem('root-b-cert.pem'))))
  })
  test('sample certificates are recognised, ours are not', () => {
    assert.match(sampleMatch(parseBundle(pem('sample-root-cert.pem'))[0]) ?? '', /root-cert.pem/)
    assert.match(sampleMatch(parseBundle(pem('sample-ca-cert.pem'))[0]) ?? '', /ca-cert.pem/)
    assert.equal(sampleMatch(parseBundle(pem('root-a-cert.pem'))[0]), undefined)
  })
  test('loopback and server comparison (host coverage: test/unit/istio-model.test.ts)', () => {
    assert.ok(isLoopbackHost('127.0.0.12') && isLoopbackHost('localhost') && isLoopbackHost('[::1]'))
    assert.ok(!isLoopbackHost('10.0.0.1'))
    assert.ok(sameServer('https://127.0.0.1:6443/', 'https://127.0.0.1:6443'))
    assert.ok(!sameServer('https://127.0.0.1:6443', 'https://127.0.0.1:6444'))
  })
})

describe('verify renderers', () => {
  test('text: failures first, then warnings, each with its hint; one line per category; the summary', () => {
    const facts = healthyMesh()
    find(facts.clusters[1], 'Service', 'istio-eastwestgateway').spec.ports = []
    const r = runChecks(facts)
    const text = renderText(r)
    const lines = text.split('\n')
    // The first line after the header and a blank line is the failure, then its hint.
    assert.equal(lines[1], '')
    assert.match(lines[2], /^✖ cluster cluster2: Service istio-system\/istio-eastwestgateway does not expose port 15443/)
    assert.match(lines[3], /^ {4}Hint: `kubectl patch service istio-eastwestgateway/)
    const fails = r.checks.filter((c) => c.status === 'fail').length
    const warns = r.checks.filter((c) => c.status === 'warn').length
    const problemLines = lines.filter((l) => /^[✖⚠] .*\[[a-z.-]+\]$/.test(l))
    assert.equal(problemLines.length, fails + warns)
    assert.ok(problemLines.slice(0, fails).every((l) => l.startsWith('✖')) && problemLines.slice(fails).every((l) => l.startsWith('⚠')), 'failures before warnings')
    // No pass is listed, only counted: one line per category present, marked by its worst status.
    assert.doesNotMatch(text, /✔ .*\[/)
    assert.match(text, /^✖ Networks and gateways +\d+ passed, (\d+ warnings?, )?1 failed/m)
    assert.match(text, /^✔ Reachability and permissions +\d+ passed/m)
    assert.ok(text.indexOf('Trust ') < text.indexOf('Networks and gateways '))
    const s = r.summary
    assert.ok(text.trimEnd().endsWith(`${s.passed} passed, ${s.warnings} warnings, ${s.failed} failed, ${s.skipped} skipped`))
    // --show-passed: every pass is listed under its category, still after the problems.
    const wide = renderText(r, undefined, {showPassed: true})
    assert.equal(wide.split('\n').filter((l) => /^ {4}✔ /.test(l)).length, r.checks.filter((c) => c.status === 'pass').length)
    assert.ok(wide.startsWith(text.slice(0, text.indexOf('\n\n✔ Reachability'))))
  })

  test('text: a healthy mesh prints no problem lines; the layout is locked by a snapshot', () => {
    const facts = healthyMesh()
    find(facts.clusters[1], 'Service', 'istio-eastwestgateway').spec.ports = []
    const r = runChecks(facts)
    // Fails when missing or different; only `npm run contract:update` writes it (test/contract.ts).
    matchSnapshot('verify-text', {default: renderText(r).split('\n'), showPassed: renderText(r, undefined, {showPassed: true}).split('\n')})
    const healthy = renderText(runChecks(healthyMesh()))
    assert.match(healthy.split('\n')[2], /^[✔⚠] /)
  })

  test('json: the shape is locked by a snapshot', () => {
    const r = runChecks(healthyMesh())
    const json = JSON.parse(renderJson(r))
    const shape = {
      topLevel: Object.keys(json),
      cluster: Object.keys(json.clusters[0]),
      check: Object.keys(json.checks[0]),
      summary: Object.keys(json.summary),
      statuses: [...new Set(json.checks.map((c: CheckResult) => c.status))].sort(),
      catalogue: CHECKS.map((c) => ({id: c.id, category: c.category})),
      healthyMesh: json.checks.map((c: CheckResult) => `${c.id} ${c.cluster} ${c.status}`),
    }
    // Fails when missing or different; only `npm run contract:update` writes it (test/contract.ts).
    matchSnapshot('verify-catalogue', shape)
    assert.equal(json.summary.passed + json.summary.warnings + json.summary.failed + json.summary.skipped, json.checks.length)
  })
})
