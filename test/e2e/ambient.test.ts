// Ambient multicluster over two networks against real istiods, with the ztunnel probe as the oracle
// (testbed/ztunnel.ts: Istio's delta ADS client subscribed as a ztunnel to istio.workload.Address):
// cluster1 and cluster2 get Istio's ambient profile (istiod AMBIENT_ENABLE_MULTI_NETWORK=true, the
// istio-east-west Gateway, ambient-captured samples), are linked both ways and bar/httpbin of
// cluster2 is exported; cluster1's ztunnel view then holds that service with cluster2's workloads
// behind cluster2's east-west gateway on 15008; verify passes; explain equals the probe; what is
// not exported stays local; unexport makes it local again; breaks are named by verify with a fix
// that works; a repeated link or export sends no write; the mesh config keeps foreign entries.
//
// Also: a gateway whose Service has no load-balancer address (its ClusterIP in the status), service
// import into an ambient cluster, and cluster3 running sidecars linked to cluster2's ambient-only
// gateway (istio/istio#57878). Needs the bed's 3 clusters.
//
// This file owns its bed: the ambient install replaces whatever Istio cluster1 and cluster2 had,
// cluster3 gets the sidecar install, and after() puts the simulated install back (the state every other e2e file starts from; the files
// that need --istio install it themselves).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {load} from 'js-yaml'
import {kget, kubectl, mesh, stats, tempDir, writes} from './harness.ts'
import {ok} from './istio-bed.ts'
import {ambientInstalled, installIstio, istioInstalled, uninstallIstio} from '../../testbed/istio-install.ts'
import {ensureIstioBuilt, runningIstiod, waitUntil} from '../../testbed/istiod.ts'
import {ipText, serviceView, ztunnelView, type ZtunnelServiceView} from '../../testbed/ztunnel.ts'
import {addWorkload, removeWorkload} from '../../testbed/workloads.ts'
import {assignLoadBalancer, recreateEastWestGateway} from '../../testbed/ambient.ts'
import {endpointsOf, xds} from '../../testbed/xds.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
/** The sidecar cluster of the mixed mesh (istio/istio#57878): `npm run testbed -- up --clusters 3 --istio --ambient --sidecar cluster3`. */
const C3 = 'cluster3'
const HTTPBIN = 'httpbin.bar.svc.cluster.local'
const SLEEP = 'sleep.foo.svc.cluster.local'
const ECHO = 'echo.bar.svc.cluster.local'
const GW2 = '127.0.0.12'
const TIMEOUT_MS = 90_000
const dir = tempDir('ambient-e2e-')
const installedHere: string[] = []
const cacertsHere: string[] = []
const t0 = Date.now()
/** A serviceScopeConfigs entry kubectl-mesh did not write: it must survive link and unlink. */
const FOREIGN = {namespaceSelector: {matchLabels: {'example.test/team': 'payments'}}, scope: 'GLOBAL'}

const view = async (ctx: string, host: string): Promise<ZtunnelServiceView> => serviceView(await ztunnelView({context: ctx, timeoutMs: 30_000}), host)
const remote = (v: ZtunnelServiceView, cluster: string) => v.endpoints.filter((e) => e.cluster === cluster)

/** Wait until cluster1's ztunnel view of `host` meets `ready`. */
async function waitView(host: string, ready: (v: ZtunnelServiceView) => boolean, what: string): Promise<ZtunnelServiceView> {
  let last: ZtunnelServiceView | undefined
  try {
    return (await waitUntil(what, async () => {
      last = await view(C1, host)
      return ready(last) ? last : undefined
    }, TIMEOUT_MS, 1000)).value
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast view: ${JSON.stringify(last, null, 1)}`)
  }
}

async function meshConfig(ctx: string): Promise<any> {
  const cm = await kget(ctx, ['-n', NS, 'configmap', 'istio'])
  return load(cm.data.mesh) ?? {}
}

async function editMesh(ctx: string, f: (m: any) => any): Promise<void> {
  const cm = await kget(ctx, ['-n', NS, 'configmap', 'istio'])
  const {dump} = await import('js-yaml')
  cm.data.mesh = dump(f(load(cm.data.mesh) ?? {}))
  ok(await kubectl(['replace', '-f', '-'], {context: ctx, input: JSON.stringify(cm)}), `replace mesh config of ${ctx}`)
}

async function verify(): Promise<{code: number; results: Array<{id: string; cluster: string; status: string; message: string; hint: string}>}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  return {code: r.code, results: JSON.parse(r.stdout).checks}
}
const failing = (v: Awaited<ReturnType<typeof verify>>) => v.results.filter((x) => x.status === 'fail')

/** Run the command a verify hint names (the text between backticks), as the user would. */
async function runHint(hint: string): Promise<void> {
  const cmd = /`([^`]+)`/.exec(hint)?.[1]
  assert.ok(cmd, `a hint with a command: ${hint}`)
  const argv = cmd.split(' ')
  if (argv[0] === 'kubectl' && argv[1] === 'mesh') ok(await mesh(argv.slice(2)), cmd)
  else if (argv[0] === 'kubectl') ok(await kubectl(argv.slice(1)), cmd)
  else assert.fail(`not a kubectl command: ${cmd}`)
}

describe('ambient multicluster (two networks, real istiods, ztunnel probe)', {timeout: 1_500_000}, () => {
  before(async () => {
    const log = (m: string) => process.stderr.write(`# ${m}\n`)
    ensureIstioBuilt(log)
    // one root for both (trust checks), as on a real mesh
    ok(await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--cluster', C3, '--dir', `${dir}/ca`, '--key-size', '2048']), 'ca gen')
    // cluster1 and cluster2 ambient, cluster3 sidecars (the mixed mesh of istio/istio#57878)
    for (const ctx of [C1, C2, C3]) {
      const ambient = ctx !== C3
      if (istioInstalled(ctx) && ambientInstalled(ctx) !== ambient) await uninstallIstio(ctx)
      if (!(await kget(ctx, ['-n', NS, 'secret', 'cacerts']))) {
        ok(await mesh(['ca', 'gen', '--cluster', ctx, '--context', ctx, '--dir', `${dir}/ca`]), `ca gen --context ${ctx}`)
        cacertsHere.push(ctx)
        // an istiod started before its cacerts signs with its own root
        if (istioInstalled(ctx)) await uninstallIstio(ctx)
      }
      if (!(istioInstalled(ctx) && runningIstiod(ctx))) {
        const t = Date.now()
        await installIstio(ctx, {log, ambient})
        installedHere.push(ctx)
        log(`${ctx}: ${ambient ? 'ambient' : 'sidecar'} install in ${((Date.now() - t) / 1000).toFixed(1)}s`)
      }
    }
    await editMesh(C1, (m) => ({...m, serviceScopeConfigs: [...(m.serviceScopeConfigs ?? []), FOREIGN]}))
  })

  after(async () => {
    for (const [name, ctx] of [['httpbin', C1], ['echo', C1]]) await mesh(['service', 'unimport', name, '-n', 'bar', '--context', ctx])
    for (const ctx of [C1, C2]) await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', ctx])
    await mesh(['service', 'unexport', 'echo', '-n', 'bar', '--context', C2])
    await removeWorkload(C2, 'bar', 'echo', {service: true})
    for (const [a, b] of [[C1, C2], [C2, C1], [C3, C2]]) await mesh(['cluster', 'unlink', '--context', a, '--remote-context', b])
    for (const ctx of installedHere) await uninstallIstio(ctx)
    for (const ctx of cacertsHere) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: ctx})
    rmSync(dir, {recursive: true, force: true})
    process.stderr.write(`# ambient.test.ts: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`)
  })

  test('before the link: cluster1 ztunnel view has its own httpbin only', async () => {
    const v = await view(C1, HTTPBIN)
    assert.ok(v.service, 'istiod sends the Service')
    assert.deepEqual(remote(v, C2), [], 'nothing of cluster2')
    assert.ok(v.endpoints.some((e) => e.cluster === C1 && e.addresses.includes('10.244.1.10')), JSON.stringify(v))
  })

  test('cluster link both ways: remote secrets and the serviceScopeConfigs entry in both mesh configs, foreign entries kept; again: no write', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional', '-o', 'json'])
    ok(r, 'link')
    assert.match(r.stderr, /ambient mesh/)
    const out = JSON.parse(r.stdout)
    assert.ok(out.links.every((l: any) => l.meshKind === 'ambient'), r.stdout)
    for (const ctx of [C1, C2]) {
      const m = await meshConfig(ctx)
      assert.ok(m.serviceScopeConfigs.some((e: any) => e.scope === 'GLOBAL' && JSON.stringify(e.servicesSelector).includes('istio.io/global')), `${ctx}: ${JSON.stringify(m)}`)
    }
    assert.ok((await meshConfig(C1)).serviceScopeConfigs.some((e: any) => JSON.stringify(e) === JSON.stringify(FOREIGN)), 'the foreign entry is kept')
    const again = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional', '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'link again')
    assert.equal(writes(stats(again.stderr)), 0, `a repeated link writes nothing:\n${again.stdout}`)
  })

  test('export echo (only in cluster2): cluster1 ztunnel view holds it through cluster2 east-west gateway on 15008; again: no write', async () => {
    await addWorkload({context: C2, namespace: 'bar', name: 'echo', ports: [{name: 'http', port: 9000}], sidecar: false})
    const r = await mesh(['service', 'export', 'echo', '-n', 'bar', '--context', C2, '-o', 'json'])
    ok(r, 'export')
    assert.match(r.stderr, /ambient mesh/)
    assert.equal((await kget(C2, ['-n', 'bar', 'service', 'echo'])).metadata.labels['istio.io/global'], 'true')
    const v = await waitView(ECHO, (x) => remote(x, C2).length > 0, 'cluster2 in cluster1 ztunnel view of echo')
    assert.ok(v.service, 'the Service too')
    assert.deepEqual(remote(v, C2).map((e) => ({network: e.network, addresses: e.addresses, gw: e.networkGateway})), [{network: 'network2', addresses: [], gw: `${GW2}:15008`}])
    const again = await mesh(['service', 'export', 'echo', '-n', 'bar', '--context', C2], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'export again')
    assert.equal(writes(stats(again.stderr)), 0, 'a repeated export writes nothing')
  })

  test('import echo into cluster1 (no Service there): a selectorless GLOBAL Service, merged by istiod with cluster2 (its ClusterIP joins the VIPs); again: no write; unimport deletes it', async () => {
    const vip = (v: ZtunnelServiceView) => ((v.service?.addresses ?? []) as any[]).map((a) => `${a.network}/${ipText(a.address)}`).sort()
    const before = await view(C1, ECHO)
    assert.deepEqual(vip(before).filter((a) => a.startsWith('network1/')), [], 'no VIP of cluster1 yet')
    const refused = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '--host', 'echo.bar.global'], {env: {KUBECTL_MESH_STATS: '1'}})
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /ambient mesh: --host has no meaning here[^\n]*\nHint: drop --host/)
    assert.equal(writes(stats(refused.stderr)), 0, 'refused: nothing written')
    const yaml = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(yaml, 'import -o yaml')
    assert.match(yaml.stdout, /kind: Service\n[\s\S]*istio\.io\/global: 'true'/)
    assert.equal(writes(stats(yaml.stderr)), 0, '-o yaml writes nothing')
    const r = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1, '-o', 'json'])
    ok(r, 'import')
    assert.match(r.stderr, /ambient mesh/)
    assert.deepEqual(JSON.parse(r.stdout).changes.map((c: any) => `${c.kind} ${c.namespace}/${c.name} ${c.action}`), ['Service bar/echo created'])
    const svc = await kget(C1, ['-n', 'bar', 'service', 'echo'])
    assert.equal(svc.metadata.labels['istio.io/global'], 'true')
    assert.equal(svc.spec.selector, undefined, 'selectorless')
    assert.deepEqual(svc.spec.ports.map((p: any) => p.port), [9000])
    const v = await waitView(ECHO, (x) => vip(x).includes(`network1/${svc.spec.clusterIP}`), 'cluster1 ClusterIP among the VIPs of echo')
    assert.deepEqual(remote(v, C2).map((e) => e.networkGateway), [`${GW2}:15008`], 'still cluster2 behind its gateway')
    const again = await mesh(['service', 'import', 'echo', '-n', 'bar', '--from-context', C2, '--context', C1], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'import again')
    assert.equal(writes(stats(again.stderr)), 0, 'a repeated import writes nothing')
    const un = await mesh(['service', 'unimport', 'echo', '-n', 'bar', '--context', C1, '-o', 'json'])
    ok(un, 'unimport')
    assert.deepEqual(JSON.parse(un.stdout).changes.map((c: any) => `${c.kind} ${c.namespace}/${c.name} ${c.action}`), ['Service bar/echo deleted'])
    await waitView(ECHO, (x) => vip(x).every((a) => !a.startsWith('network1/')) && remote(x, C2).length > 0, 'echo as before the import')
  })

  test('export httpbin in cluster2 only: cluster1 has its own LOCAL copy, so no cluster2 endpoints; verify names it and its fix (import into cluster1) works; again: no write', async () => {
    ok(await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2]), 'export in cluster2')
    await new Promise((r) => setTimeout(r, 5000))
    assert.deepEqual(remote(await view(C1, HTTPBIN), C2), [], 'a LOCAL local copy takes no remote endpoints (mergeServiceInfosWithCluster)')
    const bad = failing(await verify()).find((x) => x.id === 'ambient.service-scope' && x.cluster === C1)
    assert.ok(bad, 'ambient.service-scope fails for cluster1')
    assert.match(bad.hint, /service import httpbin -n bar --from-context cluster2 --context cluster1/)
    await runHint(bad.hint)
    const v = await waitView(HTTPBIN, (x) => remote(x, C2).length > 0, 'cluster2 in cluster1 ztunnel view of httpbin')
    assert.deepEqual(remote(v, C2).map((e) => e.networkGateway), [`${GW2}:15008`])
    assert.ok(v.endpoints.some((e) => e.cluster === C1 && e.addresses.includes('10.244.1.10')), 'and its own pod')
    const svc = await kget(C1, ['-n', 'bar', 'service', 'httpbin'])
    assert.equal(svc.metadata.labels['istio.io/global'], 'true')
    assert.equal(svc.metadata.annotations['kubectl-mesh/global-for'], 'import:cluster2')
    const again = await mesh(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', C2, '--context', C1], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'import again')
    assert.equal(writes(stats(again.stderr)), 0, 'a repeated import writes nothing')
  })

  test('verify passes; explain equals the probe', async () => {
    const v = await verify()
    assert.deepEqual(failing(v), [], JSON.stringify(failing(v), null, 1))
    assert.equal(v.code, 0)
    assert.ok(v.results.some((x) => x.id === 'ambient.service-scope' && x.status === 'pass'))
    const e = await mesh(['explain', 'httpbin', '-n', 'bar', '--context', C1, '-o', 'json'])
    ok(e, 'explain')
    const ex = JSON.parse(e.stdout)
    const probe = await view(C1, HTTPBIN)
    const fromProbe = probe.endpoints.flatMap((x) => (x.networkGateway ? [`${x.cluster} ${x.networkGateway}`] : x.addresses.map((a) => `${x.cluster} ${a}`))).sort()
    const fromExplain = [...new Set(ex.endpoints.map((x: any) => `${x.cluster} ${x.address}${x.via === 'gateway' ? `:${x.port}` : ''}`))].sort()
    assert.deepEqual(fromExplain, fromProbe)
  })

  test('a sidecar cluster (cluster3) linked to cluster2, whose east-west gateway is ambient-only: istiod hands its sidecars cluster2\'s pod address; verify names cluster3 and the gateway; the fix (unlink) removes it', async () => {
    const r = await mesh(['cluster', 'link', '--context', C3, '--remote-context', C2])
    ok(r, 'link cluster3 → cluster2')
    assert.match(r.stderr, /57878/, 'link warns')
    const eds = async () => endpointsOf(await xds({context: C3, app: 'foo/sleep', timeoutMs: 30_000}), 'outbound|8000||httpbin.bar.svc.cluster.local') ?? []
    // cluster2's httpbin Pod (network2) as a direct address: the HBONE-only gateway is dropped for sidecars (ep_filters.go selectNetworkGateways)
    const handed = (await waitUntil('cluster3 sidecar handed cluster2 httpbin', async () => {
      const e = await eds()
      return e.includes('10.244.2.10:8080') ? e : undefined
    }, TIMEOUT_MS, 1000)).value
    assert.ok(!handed.some((a) => a.startsWith(`${GW2}:`)), `no gateway of cluster2: ${handed}`)
    assert.ok(handed.includes('10.244.3.10:8080'), 'and its own pod')
    const v = await mesh(['verify', '--context', C2, '--context', C3, '-o', 'json'])
    const bad = (JSON.parse(v.stdout).checks as Array<{id: string; cluster: string; status: string; message: string; hint: string}>).find((x) => x.id === 'ambient.sidecar-gateway' && x.cluster === C3)
    assert.equal(bad?.status, 'fail', JSON.stringify(bad))
    assert.match(bad!.message, /cluster cluster3: sidecar mesh linked to cluster2's istio-system\/istio-eastwestgateway, an ambient-only east-west gateway/)
    assert.match(bad!.hint, /kubectl mesh cluster unlink --context cluster3 --remote-context cluster2/)
    await runHint(bad!.hint)
    await waitUntil('cluster2 gone from cluster3 sidecar', async () => !(await eds()).includes('10.244.2.10:8080'), TIMEOUT_MS, 1000)
    const after = await mesh(['verify', '--context', C2, '--context', C3, '-o', 'json'])
    assert.equal((JSON.parse(after.stdout).checks as Array<{id: string; cluster: string; status: string}>).find((x) => x.id === 'ambient.sidecar-gateway' && x.cluster === C3)?.status, 'pass')
  })

  test('a service not exported stays local: no cluster2 sleep in cluster1 view', async () => {
    const v = await view(C1, SLEEP)
    assert.deepEqual(remote(v, C2), [])
    const e = JSON.parse((await mesh(['explain', 'sleep', '-n', 'foo', '--context', C1, '-o', 'json'])).stdout)
    assert.ok(e.dropped.some((d: any) => d.cluster === C2 && /LOCAL/.test(d.reason)), JSON.stringify(e.dropped))
  })

  test('break: the global selector removed from cluster1 mesh config: verify names it, its fix works', async () => {
    await editMesh(C1, (m) => ({...m, serviceScopeConfigs: (m.serviceScopeConfigs ?? []).filter((e: any) => !JSON.stringify(e).includes('istio.io/global'))}))
    await waitView(HTTPBIN, (x) => remote(x, C2).length === 0, 'cluster2 gone from cluster1 view')
    const bad = failing(await verify()).find((x) => x.id === 'ambient.service-scope' && x.cluster === C1)
    assert.ok(bad, 'ambient.service-scope fails for cluster1')
    await runHint(bad.hint)
    await waitView(HTTPBIN, (x) => remote(x, C2).length > 0, 'cluster2 back')
    assert.ok((await meshConfig(C1)).serviceScopeConfigs.some((e: any) => JSON.stringify(e) === JSON.stringify(FOREIGN)), 'the foreign entry is kept')
    assert.deepEqual(failing(await verify()), [])
  })

  test('break: the east-west Gateway made again where no load balancer answers: istiod puts its ClusterIP in the status and cluster1 sends ztunnels there; verify names it, its fix (a load-balancer address) works', async () => {
    const {clusterIP} = await recreateEastWestGateway(C2)
    const broken = await waitView(HTTPBIN, (x) => remote(x, C2).some((e) => e.networkGateway === `${clusterIP}:15008`), `cluster1 ztunnel view sends cluster2 to ${clusterIP}:15008`)
    assert.deepEqual(remote(broken, C2).map((e) => e.networkGateway), [`${clusterIP}:15008`], 'only the in-cluster address')
    const bad = failing(await verify()).find((x) => x.id === 'ambient.eastwest-gateway' && x.cluster === C2)
    assert.ok(bad, 'ambient.eastwest-gateway fails for cluster2')
    assert.match(bad.message, new RegExp(`Gateway istio-system/istio-eastwestgateway has no address other networks reach: its status holds only ${clusterIP.replaceAll('.', '\\.')}`))
    assert.match(bad.hint, /give Service istio-system\/istio-eastwestgateway a load-balancer address/)
    // the fix as the cluster's load-balancer controller applies it (the bed plays it: testbed/ambient.ts)
    assert.equal(await assignLoadBalancer(C2), GW2)
    const v = await waitView(HTTPBIN, (x) => remote(x, C2).some((e) => e.networkGateway === `${GW2}:15008`), 'cluster2 behind its load-balancer address again')
    assert.deepEqual(remote(v, C2).map((e) => e.networkGateway), [`${GW2}:15008`])
    assert.deepEqual(failing(await verify()), [])
  })

  test('break: the multi-network flag off in cluster1 istiod Deployment: verify names it, its fix works', async () => {
    ok(await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'AMBIENT_ENABLE_MULTI_NETWORK=false'], {context: C1}), 'flag off')
    const bad = failing(await verify()).find((x) => x.id === 'ambient.multi-network' && x.cluster === C1)
    assert.ok(bad, 'ambient.multi-network fails')
    const refused = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2])
    assert.equal(refused.code, 2, 'link refuses')
    assert.match(refused.stderr, /AMBIENT_ENABLE_MULTI_NETWORK/)
    await runHint(bad.hint)
    assert.deepEqual(failing(await verify()), [])
  })

  test('break: a waypoint left local: verify names it, its fix (export again) makes it GLOBAL', async () => {
    // a waypoint as `istioctl waypoint apply -n bar --name wp` writes it; istiod's deployment controller makes its Service
    ok(await kubectl(['apply', '-f', '-'], {context: C2, input: JSON.stringify({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: {name: 'wp', namespace: 'bar', labels: {'istio.io/waypoint-for': 'service'}},
      spec: {gatewayClassName: 'istio-waypoint', listeners: [{name: 'mesh', port: 15008, protocol: 'HBONE'}]},
    })}), 'waypoint')
    try {
      await waitUntil('istiod makes the waypoint Service bar/wp', async () => Boolean(await kget(C2, ['-n', 'bar', 'service', 'wp'])), TIMEOUT_MS, 500)
      ok(await kubectl(['-n', 'bar', 'label', 'service', 'httpbin', 'istio.io/use-waypoint=wp'], {context: C2}), 'use the waypoint')
      ok(await mesh(['service', 'export', 'httpbin', '-n', 'bar', '--context', C2]), 'export with a waypoint')
      assert.equal((await kget(C2, ['-n', 'bar', 'service', 'wp'])).metadata.labels['istio.io/global'], 'true', 'the waypoint made global')
      assert.deepEqual(failing(await verify()), [])
      ok(await kubectl(['-n', 'bar', 'label', 'service', 'wp', 'istio.io/global-'], {context: C2}), 'waypoint left local')
      const bad = failing(await verify()).find((x) => x.id === 'ambient.waypoint' && x.cluster === C2)
      assert.ok(bad, 'ambient.waypoint fails')
      await runHint(bad.hint)
      assert.deepEqual(failing(await verify()), [])
    } finally {
      await kubectl(['-n', 'bar', 'label', 'service', 'httpbin', 'istio.io/use-waypoint-'], {context: C2, allowFail: true})
      await kubectl(['-n', 'bar', 'delete', 'gateways.gateway.networking.k8s.io', 'wp', '--ignore-not-found'], {context: C2, allowFail: true})
    }
  })

  test('unimport: cluster1 copy LOCAL again (label and record removed, the Service kept), cluster2 gone from its view; again: no write', async () => {
    const un = await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1, '-o', 'json'])
    ok(un, 'unimport')
    assert.deepEqual(JSON.parse(un.stdout).changes.map((c: any) => `${c.kind} ${c.namespace}/${c.name} ${c.action}`), ['Service bar/httpbin configured'])
    const svc = await kget(C1, ['-n', 'bar', 'service', 'httpbin'])
    assert.equal(svc.metadata.labels['istio.io/global'], undefined)
    assert.equal(svc.metadata.annotations?.['kubectl-mesh/global-for'], undefined)
    await waitView(HTTPBIN, (x) => remote(x, C2).length === 0 && x.endpoints.some((e) => e.cluster === C1), 'cluster2 gone after unimport')
    const again = await mesh(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', C1], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'unimport again')
    assert.equal(writes(stats(again.stderr)), 0, 'a repeated unimport writes nothing')
  })

  test('unexport: cluster1 ztunnel view loses cluster2 again', async () => {
    ok(await mesh(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', C2]), 'unexport')
    const svc = await kget(C2, ['-n', 'bar', 'service', 'httpbin'])
    assert.equal(svc.metadata.labels['istio.io/global'], undefined)
    await waitView(HTTPBIN, (x) => remote(x, C2).length === 0, 'cluster2 gone after unexport')
  })
})
