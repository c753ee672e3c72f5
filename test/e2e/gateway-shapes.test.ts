// Every east-west gateway shape istiod accepts, in one bed (cluster1 links cluster2 across networks,
// real istiods, the xDS probe as the oracle): cluster2's gateway is turned into each shape
// (testbed/gateways.ts: LoadBalancer IP, LoadBalancer hostname answered by the bed's DNS, NodePort
// selecting two of three Nodes, externalIPs, the gatewayPort label on another port, a Gateway API
// Gateway whose Service the real istiod's deployment controller makes), and for each:
// link, a repeated link that writes nothing, import (ServiceEntry endpoints at the addresses and
// ports istiod uses), verify green, explain's prediction = the EDS istiod sends foo/sleep; then the
// gateway moves (new IP, new DNS answer, new node address) and verify and explain report the stale
// state with a fix that works. Then: a meshnetworks link whose entry an upgrade wipes fails verify;
// a gateway-wired link through the same re-render stays green (made by `plan -f`/`apply -f` of a Mesh
// file with networkConfig: gateway); a hand-written meshNetworks registryServiceName gateway naming an
// unlabelled Service is resolved by the reader as istiod resolves it, verify takes it (and, the entry
// removed, names the Service to label); the import of a hostname gateway (resolution DNS) is
// a STRICT_DNS cluster whose load assignment explain predicts.
//
// Every CLI run happens in a mount namespace whose /etc/resolv.conf names the bed's DNS server
// (testbed/dns.ts), as istiod does: kubectl-mesh resolves the gateway's hostname as istiod does.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {rmSync, writeFileSync} from 'node:fs'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh as harnessMesh, stats, tempDir, writes, type RunResult} from './harness.ts'
import {downIstio, type IstioBed, ok, upIstio} from './istio-bed.ts'
import {istioctlBin, waitUntil} from '../../testbed/istiod.ts'
import {istioModuleDir} from '../../testbed/istio-install.ts'
import {clusterOf, endpointsOf, xds} from '../../testbed/xds.ts'
import type {XdsDump, XdsTarget} from '../../testbed/xds.ts'
import {canUnshare, inDnsNamespace, setDnsRecord} from '../../testbed/dns.ts'
import {type GatewayShape, gatewayHostname, KUBE_GATEWAY, KUBE_GATEWAY_SERVICE, nodeAddresses, resetGatewayShape, setGatewayShape} from '../../testbed/gateways.ts'
import {registryServiceGateways} from '../../src/istio/gateway.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const HTTPBIN = 'httpbin.bar.svc.cluster.local'
const OUT = (port: number, host: string) => `outbound|${port}||${host}`
const TIMEOUT_MS = 90_000
const dir = tempDir('gateway-shapes-e2e-')
let bed: IstioBed = {cacerts: [], installed: []}
const sleep1: XdsTarget = {context: C1, app: 'foo/sleep'}
const t0 = Date.now()
const table: Array<{shape: string; istiod: string; imported: string; moved: string}> = []

/** `kubectl mesh ARGS` in the bed's DNS namespace (testbed/dns.ts), as istiod resolves names. */
const mesh = (args: string[], env: Record<string, string> = {}): Promise<RunResult> => harnessMesh(args, {env, wrap: inDnsNamespace})

interface Check {id: string; cluster: string; status: string; message: string; hint: string}
async function verify(): Promise<Check[]> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return JSON.parse(r.stdout).checks as Check[]
}
const GATEWAY_CHECKS = ['links.istiod-gateways', 'networks.gateway-address', 'networks.mesh-networks', 'imports.gateway-address', 'imports.ports']
const failing = (cs: Check[], ids = GATEWAY_CHECKS) => cs.filter((c) => ids.includes(c.id) && c.status === 'fail')

/** Wait until verify's gateway checks have no failure (istiod follows within seconds, a DNS answer within its TTL). */
async function verifyGreen(state: string): Promise<Check[]> {
  let cs: Check[] = []
  await waitUntil(`${state}: verify green`, async () => failing(cs = await verify()).length === 0, TIMEOUT_MS, 2000).catch(() => undefined)
  assert.deepEqual(failing(cs).map((c) => `${c.id} ${c.cluster}: ${c.message}`), [], `${state}: verify`)
  return cs
}

interface Explained {endpoints: Array<{cluster: string; address: string; port: number; via: string}>; dropped: Array<{cluster: string; reason: string; hint: string}>}
async function explain(service: string): Promise<Explained> {
  const r = await mesh(['explain', service, '-n', 'bar', '--context', C1, '--from', 'foo', '--port', '8000', '-o', 'json'])
  ok(r, `explain ${service}`)
  return JSON.parse(r.stdout) as Explained
}
const predicted = (e: Explained) => e.endpoints.map((x) => `${x.address}:${x.port}`).sort()

/** The endpoints of an Envoy cluster: EDS, or the load assignment of a STRICT_DNS cluster (an import of a hostname gateway). */
function envoyEndpoints(d: XdsDump, name: string): string[] | undefined {
  const eds = endpointsOf(d, name)
  if (eds) return eds
  const c = clusterOf(d, name)
  if (!c?.loadAssignment) return undefined
  return (c.loadAssignment.endpoints ?? []).flatMap((l: any) => (l.lbEndpoints ?? []).map((e: any) => `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}`)).sort()
}

/** Wait until istiod's EDS for httpbin holds `want` (cluster2's gateway as istiod uses it), then until explain predicts exactly that EDS. */
async function settle(state: string, want: string[]): Promise<{e: Explained; eds: string[]}> {
  let eds: string[] = []
  await waitUntil(`${state}: EDS holds ${want.join(', ')}`, async () => {
    eds = endpointsOf(await xds(sleep1), OUT(8000, HTTPBIN)) ?? []
    return want.every((w) => eds.includes(w))
  }, TIMEOUT_MS, 1000).catch(() => undefined)
  assert.ok(want.every((w) => eds.includes(w)), `${state}: istiod sent ${eds.join(', ')}, not ${want.join(', ')}`)
  let e: Explained | undefined
  await waitUntil(`${state}: explain = EDS`, async () => {
    e = await explain('httpbin')
    eds = endpointsOf(await xds(sleep1), OUT(8000, HTTPBIN)) ?? []
    return JSON.stringify(predicted(e)) === JSON.stringify(eds)
  }, 30_000, 1000).catch(() => undefined)
  assert.deepEqual(predicted(e!), eds, `${state}: explain predicted ${JSON.stringify(e!.endpoints)}, istiod sent ${eds.join(', ')}`)
  assert.deepEqual(e!.dropped, [], `${state}: no peer dropped`)
  return {e: e!, eds}
}

const link = (extra: string[] = []) => mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, ...extra], {KUBECTL_MESH_STATS: '1'})
const importHttpbin = () => mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1], {KUBECTL_MESH_STATS: '1'})
const seEndpoints = async () => {
  const se = await kget(C1, ['-n', 'bar', 'serviceentry', 'httpbin-cluster2'])
  return {resolution: se?.spec?.resolution as string, endpoints: (se?.spec?.endpoints ?? []).map((e: any) => `${e.address}:${e.ports?.http}`).sort() as string[]}
}

before(async () => {
  assert.ok(canUnshare(), 'this test needs mount namespaces (root or CAP_SYS_ADMIN): istiod and the CLI resolve gateway hostnames through the bed\'s DNS')
  bed = await upIstio([C1, C2], dir)
  ok(await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2]), 'export')
}, {timeout: 60 * 60_000})

after(async () => {
  await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2])
  await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2])
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2, '--prune-remote'])
  await resetGatewayShape(C2).catch(() => undefined)
  await downIstio(bed)
  rmSync(dir, {recursive: true, force: true})
  process.stderr.write(`# shape | istiod uses | import endpoints | moved to\n${table.map((r) => `#   ${r.shape} | ${r.istiod} | ${r.imported} | ${r.moved}`).join('\n')}\n`)
  process.stderr.write(`# gateway-shapes: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
})

/** How a shape moves, and what istiod then uses. */
const MOVES: Record<GatewayShape, string> = {
  'lb-ip': '127.0.0.42',
  'lb-hostname': '127.0.0.43',
  nodeport: '127.0.0.44',
  'external-ip': '192.0.2.44',
  'gateway-port': '127.0.0.45',
  'gateway-api': '127.0.0.46',
}
const exportHttpbin = () => mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2])

describe('every east-west gateway shape istiod accepts: link, import, verify and explain agree with istiod', () => {
  for (const shape of Object.keys(MOVES) as GatewayShape[]) {
    test(`${shape}: link (again: no write), import at the addresses istiod uses, verify green, explain = EDS; moved: stale state reported, the fix works`, async () => {
      const t1 = Date.now()
      const s = await setGatewayShape(C2, shape)
      process.stderr.write(`# ${shape}: shape set in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`)
      if (shape === 'gateway-api') {
        // istiod made the Service from the Gateway: its labels (the network), its ports (15021 and the listener's)
        const made = await kget(C2, ['-n', NS, 'service', KUBE_GATEWAY_SERVICE])
        assert.equal(made?.metadata?.labels?.['topology.istio.io/network'], 'network2')
        assert.deepEqual((made?.spec?.ports ?? []).map((p: any) => p.port).sort(), [15021, 15443])
        assert.equal(made?.metadata?.ownerReferences?.[0]?.name, KUBE_GATEWAY)
        // the export follows the gateway: its Gateway now selects the Gateway API gateway's pods
        ok(await exportHttpbin(), 'export (gateway-api)')
        assert.deepEqual((await kget(C2, ['-n', NS, 'gateway.networking.istio.io', 'kubectl-mesh-exports']))?.spec?.selector, {'gateway.networking.k8s.io/gateway-name': KUBE_GATEWAY})
      }
      // what istiod sends cluster1's sidecars for cluster2: the hostname's DNS answer, node IPs × nodePort, …
      const resolved = (targets: string[], ip: string) => targets.map((t) => (t.startsWith(gatewayHostname(C2)) ? t.replace(gatewayHostname(C2), ip) : t))
      const istiodUses = resolved(s.targets, '127.0.0.12')
      const l = await link()
      ok(l, `link (${shape})`)
      const again = await link()
      ok(again, `link again (${shape})`)
      assert.equal(writes(stats(again.stderr)), 0, `a repeated link of ${shape} writes nothing: ${JSON.stringify(stats(again.stderr))}`)
      const meshNetworks = (await kget(C1, ['-n', NS, 'configmap', 'istio']))?.data?.meshNetworks ?? ''
      for (const t of s.targets) assert.ok(meshNetworks.includes(t.split(':')[0]), `meshNetworks names ${t}:\n${meshNetworks}`)

      ok(await importHttpbin(), `import (${shape})`)
      const se = await seEndpoints()
      assert.deepEqual(se.endpoints, [...s.targets].sort(), `import's endpoints are where istiod sends cluster2's traffic (${shape})`)
      assert.equal(se.resolution, shape === 'lb-hostname' ? 'DNS' : 'STATIC')
      const importAgain = await importHttpbin()
      assert.equal(writes(stats(importAgain.stderr)), 0, 'a repeated import writes nothing')
      await waitUntil(`${shape}: the import's Envoy cluster`, async () => {
        const got = envoyEndpoints(await xds(sleep1), OUT(8000, 'httpbin.bar.global'))
        return JSON.stringify(got) === JSON.stringify([...s.targets].sort()) || JSON.stringify(got) === JSON.stringify([...istiodUses].sort())
      }, TIMEOUT_MS, 1000)

      await settle(`${shape}: linked`, istiodUses)
      const green = await verifyGreen(`${shape}: linked`)
      const addr = green.find((c) => c.id === 'networks.gateway-address' && c.cluster === C2)
      assert.match(addr?.message ?? '', new RegExp(`\\(${shape === 'gateway-port' ? 'lb-ip' : shape}\\)`), 'verify names the shape')

      // the gateway moves
      const moved = shape === 'lb-hostname'
        ? (setDnsRecord(gatewayHostname(C2), [MOVES[shape]]), s)
        : await setGatewayShape(C2, shape, MOVES[shape])
      const nowUses = shape === 'lb-hostname' ? resolved(s.targets, MOVES[shape]) : moved.targets
      table.push({shape, istiod: istiodUses.join(' '), imported: `${se.resolution} ${se.endpoints.join(' ')}`, moved: nowUses.join(' ')})
      if (shape === 'lb-hostname') {
        // the import (resolution DNS) is a STRICT_DNS cluster: the hostname in its load assignment, no
        // EDS; explain predicts exactly that, and the import stays right whatever the name answers
        const dnsCluster = OUT(8000, 'httpbin.bar.global')
        const sent = clusterOf(await xds(sleep1), dnsCluster)
        assert.equal(sent?.type, 'STRICT_DNS', `the import's Envoy cluster: ${JSON.stringify(sent)?.slice(0, 300)}`)
        const imp = await explain('httpbin.bar.global')
        assert.deepEqual(predicted(imp), envoyEndpoints(await xds(sleep1), dnsCluster), 'explain of the DNS import = the STRICT_DNS load assignment')
        assert.deepEqual(predicted(imp), [`${gatewayHostname(C2)}:15443`])
        assert.deepEqual(imp.dropped, [])
        // the names in meshNetworks and the import stay right; istiod re-resolves on the TTL (30 s)
        let cs: Check[] = []
        const stale = await waitUntil('lb-hostname moved: verify sees istiod on the old answer, or istiod already re-resolved', async () => {
          cs = await verify()
          return cs.find((c) => c.id === 'links.istiod-gateways' && c.cluster === C1)
        }, 30_000, 1000)
        if (stale.value.status === 'fail') assert.match(stale.value.hint, /re-resolves eastwest\.cluster2\.testbed\.test on the record's TTL/)
        await settle(`${shape}: moved (new DNS answer)`, nowUses)
        await verifyGreen(`${shape}: moved`)
      } else {
        await settle(`${shape}: moved`, nowUses)
        // meshNetworks (link) and the import still name the old address: verify says so with the fix
        const cs = await verify()
        const stale = failing(cs)
        assert.ok(stale.some((c) => c.id === 'networks.mesh-networks' && c.cluster === C1 && /no longer serves it/.test(c.message) && /kubectl mesh cluster link/.test(c.hint)), JSON.stringify(stale, null, 1))
        assert.ok(stale.some((c) => c.id === 'imports.gateway-address' && c.cluster === C1 && /kubectl mesh service import httpbin/.test(c.hint)), JSON.stringify(stale, null, 1))
        const e = await explain('httpbin.bar.global')
        assert.ok(e.dropped.some((d) => d.cluster === C2 && /^gateway moved: the import httpbin\.bar\.global points at/.test(d.reason) && /kubectl mesh service import/.test(d.hint)), JSON.stringify(e.dropped))
        // the fix verify and explain give
        ok(await link(), 'relink')
        ok(await importHttpbin(), 'reimport')
        assert.deepEqual((await seEndpoints()).endpoints, [...nowUses].sort())
        await verifyGreen(`${shape}: fixed`)
        assert.deepEqual((await explain('httpbin.bar.global')).dropped, [])
      }
      if (shape === 'lb-hostname') {
        // moved (new DNS answer): the DNS import still names the gateway; explain still equals the load assignment
        const imp = await explain('httpbin.bar.global')
        assert.deepEqual(predicted(imp), envoyEndpoints(await xds(sleep1), OUT(8000, 'httpbin.bar.global')))
        assert.deepEqual(imp.dropped, [])
      }
      ok(await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '--from-name', C2]), 'unimport')
      if (shape === 'gateway-api') {
        // back to the install's gateway Service; the export follows it again
        const t2 = Date.now()
        await resetGatewayShape(C2)
        ok(await exportHttpbin(), 'export (install\'s gateway)')
        process.stderr.write(`# gateway-api: back to the install's gateway in ${((Date.now() - t2) / 1000).toFixed(1)} s\n`)
      }
    })
  }
})

describe('links that survive an upgrade re-rendering the istio ConfigMap', () => {
  const rerender = async () => {
    // what `helm upgrade` / `istioctl install` does to the key: its own rendering, without kubectl-mesh's entries
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: 'networks: {}'}})], {context: C1})
  }
  test('meshnetworks: the wiped entry fails verify, naming cluster2, with the relink; gateway: nothing to wipe, verify stays green', async () => {
    await resetGatewayShape(C2)
    ok(await link(['--network-config', 'meshnetworks']), 'link (meshnetworks)')
    await verifyGreen('meshnetworks link')
    await rerender()
    const cs = await verify()
    const f = cs.find((c) => c.id === 'networks.mesh-networks' && c.cluster === C1)
    assert.equal(f?.status, 'fail', JSON.stringify(f))
    assert.match(f!.message, /no entry for cluster2 \(network network2\), but the link was made with --network-config meshnetworks: the entry was wiped/)
    assert.match(f!.hint, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)

    // the gateway wiring through the Mesh file (spec.links[].networkConfig): plan shows it, apply makes it
    const file = join(dir, 'mesh-gateway-wired.yaml')
    writeFileSync(file, dump({apiVersion: 'kubectl-mesh/v1alpha1', kind: 'Mesh', metadata: {name: 'gateway-wired'},
      spec: {clusters: [{context: C1}, {context: C2}], links: [{from: C1, to: C2, networkConfig: 'gateway'}], exports: [{cluster: C2, namespace: 'bar', service: 'httpbin'}]}}))
    const plan = await mesh(['plan', '-f', file])
    ok(plan, 'plan -f (networkConfig: gateway)')
    assert.match(plan.stderr, /istiod uses 127\.0\.0\.12:15443 \(discovered by "cluster1"'s istiod from its network label\)/, plan.stderr)
    assert.match(plan.stdout, /cluster1\s+Secret\/istio-system\/istio-remote-secret-cluster2\s+configured/, plan.stdout)
    process.stderr.write(`# plan -f (networkConfig: gateway):\n${plan.stdout}${plan.stderr}`.replace(/\n(?=.)/g, '\n#   '))
    // apply ends with verify: its one failure is the file's own choice, a one-way link (links.reverse)
    const applied = await mesh(['apply', '-f', file, '-o', 'json'])
    assert.ok(applied.stdout.trim().startsWith('{'), `apply -f printed no JSON (exit ${applied.code}):\n${applied.stderr}`)
    const out = JSON.parse(applied.stdout)
    assert.deepEqual(out.changes.filter((c: any) => c.action !== 'unchanged').map((c: any) => `${c.context} ${c.kind}/${c.name} ${c.action}`), ['cluster1 Secret/istio-remote-secret-cluster2 configured'])
    assert.deepEqual(out.verify.checks.filter((c: any) => c.status === 'fail').map((c: any) => c.id), ['links.reverse'], applied.stdout)
    assert.equal((await kget(C1, ['-n', NS, 'secret', 'istio-remote-secret-cluster2']))?.metadata?.annotations?.['kubectl-mesh/network-config'], 'gateway')
    assert.doesNotMatch((await kget(C1, ['-n', NS, 'configmap', 'istio']))?.data?.meshNetworks ?? '', /cluster2/)
    const again = await link(['--network-config', 'gateway'])
    assert.equal(writes(stats(again.stderr)), 0, 'a repeated gateway-wired link writes nothing')
    await rerender()
    const green = await verifyGreen('gateway-wired link after the re-render')
    assert.match(green.find((c) => c.id === 'networks.mesh-networks' && c.cluster === C1)?.message ?? '', /cluster2 via gateway/)
    await settle('gateway-wired link', ['127.0.0.12:15443'])
  })
})

describe('meshNetworks registryServiceName gateways', () => {
  const LABEL = 'topology.istio.io/network'
  test('a Service named only by a hand-written registryServiceName entry: the reader resolves it as istiod does; verify green, explain = EDS; the entry removed: verify fails with the fix that works', async () => {
    await resetGatewayShape(C2)
    // the link (gateway-wired: the entry below is the only meshNetworks entry; in file order the previous case made it already)
    ok(await link(['--network-config', 'gateway']), 'link (gateway)')
    // only the entry names the gateway: its Service loses the network label (a labelled Service is a label gateway instead)
    // and istio=eastwestgateway (no label at all makes it a candidate)
    await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', `${LABEL}-`, 'istio-'], {context: C2})
    const doc = {networks: {network2: {endpoints: [{fromRegistry: C2}], gateways: [{registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443}]}}}
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: dump(doc)}})], {context: C1})
    const services = (await kget(C2, ['-n', NS, 'services']))?.items ?? []
    const [r] = registryServiceGateways(load(dump(doc)), C2, services, 'cluster.local')
    assert.equal(r.unused, undefined, r.unused)
    const want = r.gateway!.targets.map((t) => `${t.address}:${t.port}`)
    assert.deepEqual(want, ['127.0.0.12:15443'])
    await settle('registryServiceName', want)
    const green = await verifyGreen('registryServiceName')
    const addr = green.find((c) => c.id === 'networks.gateway-address' && c.cluster === C2)
    assert.match(addr?.message ?? '', /istio-system\/istio-eastwestgateway \(lb-ip, meshNetworks registryServiceName istio-eastwestgateway\.istio-system\.svc\.cluster\.local\) at 127\.0\.0\.12:15443/, JSON.stringify(addr))
    assert.equal(green.find((c) => c.id === 'links.istiod-gateways' && c.cluster === C1)?.status, 'pass', 'istiod knows network2 at the entry\'s Service')
    table.push({shape: 'registryServiceName', istiod: want.join(' '), imported: '-', moved: '-'})
    const shown = async (state: string) => process.stderr.write(`# verify (${state}):\n${(await mesh(['verify', '--context', C1, '--context', C2])).stdout}`.replace(/\n(?=.)/g, '\n#   '))
    await shown('registryServiceName only')

    // the entry removed: nothing names the Service any more; verify says which Service to label
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: 'networks: {}'}})], {context: C1})
    const cs = await verify()
    const f = cs.find((c) => c.id === 'networks.gateway-address' && c.cluster === C2)
    assert.equal(f?.status, 'fail', JSON.stringify(f))
    assert.match(f!.message, /Service istio-system\/istio-eastwestgateway listens on 15443, but neither the label topology\.istio\.io\/network nor a meshNetworks registryServiceName names it/)
    await shown('the entry removed')
    const fix = /`kubectl (label service [^`]+)`/.exec(f!.hint)
    assert.ok(fix, f!.hint)
    assert.match(fix[1], new RegExp(`${LABEL}=network2 --overwrite --context ${C2}$`))
    const known = cs.find((c) => c.id === 'links.istiod-gateways' && c.cluster === C1)
    assert.equal(known?.status, 'fail', JSON.stringify(known))
    assert.ok(known!.hint.includes(`\`kubectl ${fix[1]}\``), `links.istiod-gateways gives the same fix: ${known!.hint}`)
    assert.equal(cs.find((c) => c.id === 'exports.gateway' && c.cluster === C2)?.status, 'skip', 'no false export hint')
    await kubectl(fix[1].split(' '))
    await settle('registryServiceName entry removed, the Service labelled (the fix)', want)
    await verifyGreen('registryServiceName entry removed, the Service labelled (the fix)')
  })
  after(async () => {
    await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', `${LABEL}=network2`, 'istio=eastwestgateway', '--overwrite'], {context: C2, allowFail: true})
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: 'networks: {}'}})], {context: C1, allowFail: true})
  })
})

describe('nodeport nodes', () => {
  test('the Node not selected and the InternalIPs are not used', async () => {
    const s = await setGatewayShape(C2, 'nodeport')
    const [, , unselected] = nodeAddresses(C2, '127.0.0.12')
    assert.ok(!s.targets.some((t) => t.startsWith(`${unselected}:`)))
    const {eds} = await settle('nodeport (gateway-wired)', s.targets)
    assert.ok(!eds.some((x) => x.startsWith(`${unselected}:`) || x.startsWith('10.0.')), eds.join(' '))
    await resetGatewayShape(C2)
  })
})

describe('a mesh made only with istioctl and Istio\'s samples (no kubectl-mesh link, no meshNetworks)', () => {
  const TOKEN = 'istio-reader-service-account-istio-remote-secret-token'
  /** the clusters where istioctl made the reader token Secret (no earlier one) */
  const hadToken: string[] = []
  test('verify is green; a removed network label and a removed expose Gateway are caught with the exact fix', async () => {
    ok(await mesh(['cluster', 'unlink', '--context', C1, '--remote-name', C2, '--remote-context', C2]), 'unlink')
    await resetGatewayShape(C2)
    // Istio's multi-network guide, both ways: `istioctl create-remote-secret --context=B --name=B | kubectl apply --context=A -f -`
    // and samples/multicluster/expose-services.yaml in both clusters
    for (const [a, b] of [[C1, C2], [C2, C1]]) {
      if (!await kget(b, ['-n', NS, 'secret', TOKEN])) hadToken.push(b)
      const secret = spawnSync(istioctlBin(), ['create-remote-secret', `--kubeconfig=${KUBECONFIG}`, `--context=${b}`, `--name=${b}`], {encoding: 'utf8', env: {...process.env, HOME: dir}})
      assert.equal(secret.status, 0, secret.stderr)
      await kubectl(['apply', '-f', '-'], {context: a, input: secret.stdout})
      await kubectl(['-n', NS, 'apply', '-f', join(istioModuleDir(), 'samples', 'multicluster', 'expose-services.yaml')], {context: b})
      await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: 'networks: {}'}})], {context: a})
    }
    await settle('istioctl-made mesh', ['127.0.0.12:15443'])
    let cs: Check[] = []
    await waitUntil('istioctl-made mesh: verify green', async () => (cs = await verify()).every((c) => c.status !== 'fail'), TIMEOUT_MS, 2000).catch(() => undefined)
    assert.deepEqual(cs.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.cluster}: ${c.message}`), [])

    await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', 'topology.istio.io/network-'], {context: C2})
    await waitUntil('network label removed: verify fails with the label command', async () =>
      (cs = await verify()).some((c) => c.status === 'fail' && c.hint.includes(`label service istio-eastwestgateway topology.istio.io/network=network2 --overwrite --context ${C2}`)), TIMEOUT_MS, 2000).catch(() => undefined)
    assert.ok(cs.some((c) => c.status === 'fail' && c.hint.includes(`label service istio-eastwestgateway topology.istio.io/network=network2 --overwrite --context ${C2}`)), JSON.stringify(cs.filter((c) => c.status === 'fail'), null, 1))
    await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', 'topology.istio.io/network=network2', '--overwrite'], {context: C2})
    await verifyGreen('network label back')

    await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'cross-network-gateway'], {context: C2})
    cs = await verify()
    const expose = cs.find((c) => c.id === 'networks.expose' && c.cluster === C1)
    assert.equal(expose?.status, 'fail', JSON.stringify(expose))
    assert.match(expose!.message, /cluster2's east-west gateway istio-system\/istio-eastwestgateway does not pass its services through/)
    assert.match(expose!.hint, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
  })
  after(async () => {
    for (const [a, b] of [[C1, C2], [C2, C1]]) {
      await kubectl(['-n', NS, 'delete', 'secret', `istio-remote-secret-${b}`, '--ignore-not-found'], {context: a, allowFail: true})
      await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io', 'cross-network-gateway', '--ignore-not-found'], {context: b, allowFail: true})
    }
    await kubectl(['-n', NS, 'label', 'service', 'istio-eastwestgateway', 'topology.istio.io/network=network2', '--overwrite'], {context: C2, allowFail: true})
    for (const c of hadToken) await kubectl(['-n', NS, 'delete', 'secret', TOKEN, '--ignore-not-found'], {context: c, allowFail: true})
  })
})
