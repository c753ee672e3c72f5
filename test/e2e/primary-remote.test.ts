// Primary-remote (shared control plane, seed 002) on the real control plane: cluster1 runs Istio
// as istioctl renders it with its real istiod; cluster2 gets Istio's own `remote` profile render
// (testbed/istio-install.ts installRemoteIstio: no istiod, remotePilotAddress = cluster1's
// east-west gateway 127.0.0.11), its Pods injected by cluster1's istiod. `cluster link` makes
// cluster1 the control plane of cluster2; what that does is read from the consumers: istiod's
// /debug/clusterz, and the xDS cluster1's istiod sends to a cluster2 sidecar (the probe connects
// to cluster1's istiod as that Pod's proxy: cluster ID cluster2, network network2).
//
// The bed's other files expect cluster2 with its own (simulated or real) install: this file puts
// back what it found (after()).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {assertUsageError, kget, kubectl, mesh, stats, tempDir, writes} from './harness.ts'
import {installIstio, installRemoteIstio, istioInstalled, remoteInstalled, renderRemoteIstio, uninstallIstio, uninstallRemoteIstio} from '../../testbed/istio-install.ts'
import {clusterIndex, clusterParams} from '../../testbed/fixtures.ts'
import {clusterz, ensureIstioBuilt, runningIstiod, waitUntil} from '../../testbed/istiod.ts'
import {endpointsOf, probeConfig, targetPod, xds} from '../../testbed/xds.ts'
import type {XdsDump, XdsTarget} from '../../testbed/xds.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const GW1 = '127.0.0.11:15443'
const GW2 = '127.0.0.12:15443'
const HTTPBIN = 'outbound|8000||httpbin.bar.svc.cluster.local'
const CP = 'topology.istio.io/controlPlaneClusters'
const dir = tempDir('primary-remote-e2e-')
const restore = {c1Installed: false, c2WasIstio: false, remoteHere: false, cacerts: false}
const hops: string[] = []

function ok(r: {code: number; stdout: string; stderr: string}, what: string) {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
}

async function probeUntil<T>(t: XdsTarget, what: string, check: (d: XdsDump) => T | undefined | false): Promise<{value: T; dump: XdsDump}> {
  let last: XdsDump | undefined
  const {value} = await waitUntil(`${t.context} ${t.app}: ${what}`, async () => {
    last = await xds(t)
    return check(last)
  }, 60_000, 500).catch((error: Error) => {
    throw new Error(`${error.message}\nlast EDS ${HTTPBIN}: ${JSON.stringify(last && endpointsOf(last, HTTPBIN))}`)
  })
  return {value, dump: last!}
}

interface VerifyCheck {id: string; cluster: string; status: string; message: string; hint: string}
async function verify(): Promise<{code: number; checks: VerifyCheck[]}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  assert.ok(r.stdout.trim().startsWith('{'), `verify -o json printed no JSON (exit ${r.code}):\n${r.stderr}`)
  return {code: r.code, checks: JSON.parse(r.stdout).checks as VerifyCheck[]}
}

/** Every object kubectl-mesh made (label managed-by) in a cluster, as kind/name; but cacerts, which `ca gen` made (before()), not link. */
async function managed(ctx: string): Promise<string[]> {
  const r = await kubectl(['get', 'gateways.networking.istio.io,virtualservices.networking.istio.io,secrets,serviceaccounts,configmaps,clusterroles,clusterrolebindings', '-A', '-l', 'app.kubernetes.io/managed-by=kubectl-mesh', '-o', 'name'], {context: ctx})
  return r.stdout.split('\n').filter((l) => l && l !== 'secret/cacerts').sort()
}

/** The env of cluster1's rendered istiod Deployment (what verify reads), read in before(). */
let primaryEnv: Record<string, string> = {}

before(async () => {
  ensureIstioBuilt((m) => process.stderr.write(`# ${m}\n`))
  if (!(istioInstalled(C1) && runningIstiod(C1))) {
    // one root as cacerts before cluster1's istiod starts (the remote has no CA: cluster1 signs for it)
    if (!(await kget(C1, ['-n', NS, 'secret', 'cacerts']))) {
      const caDir = join(dir, 'mesh-ca')
      ok(await mesh(['ca', 'gen', '--cluster', C1, '--dir', caDir, '--key-size', '2048']), 'ca gen')
      ok(await mesh(['ca', 'gen', '--cluster', C1, '--context', C1, '--dir', caDir]), 'ca gen --context')
      restore.cacerts = true
    }
    await installIstio(C1, {log: (m) => process.stderr.write(`# ${m}\n`)})
    restore.c1Installed = true
  }
  if (!remoteInstalled(C2)) {
    if (istioInstalled(C2)) {
      restore.c2WasIstio = true
      await uninstallIstio(C2)
    }
    const inst = await installRemoteIstio(C2, C1, {log: (m) => process.stderr.write(`# ${m}\n`)})
    restore.remoteHere = true
    process.stderr.write(`# ${C2}: remote profile installed (${JSON.stringify(inst.timings)})\n`)
  }
  const d = await kget(C1, ['-n', NS, 'deployment', 'istiod'])
  primaryEnv = Object.fromEntries((d.spec.template.spec.containers.find((c: any) => c.name === 'discovery').env ?? []).filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]))
}, {timeout: 60 * 60_000})

after(async () => {
  await mesh(['cluster', 'unlink', '--context', C1, '--remote-context', C2, '--prune-remote'])
  if (restore.remoteHere) await uninstallRemoteIstio(C2)
  if (restore.c2WasIstio) await installIstio(C2)
  if (restore.c1Installed) await uninstallIstio(C1)
  if (restore.cacerts) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: C1})
  rmSync(dir, {recursive: true, force: true})
  process.stderr.write(`# hops:\n${hops.map((h) => `#   ${h}`).join('\n')}\n`)
})

const sleep2: XdsTarget = {context: C2, app: 'foo/sleep', istiodContext: C1}

describe('primary-remote: cluster1 the control plane of a remote-profile cluster2 on another network', () => {
  test('the remote-profile render: no istiod, no istio/injector ConfigMaps, a values ConfigMap, an istiod Service whose EndpointSlice is cluster1\'s gateway', async () => {
    assert.equal(await kget(C2, ['-n', NS, 'deployment', 'istiod']), undefined)
    assert.equal(await kget(C2, ['-n', NS, 'configmap', 'istio']), undefined)
    assert.equal(await kget(C2, ['-n', NS, 'configmap', 'istio-sidecar-injector']), undefined)
    const values = JSON.parse((await kget(C2, ['-n', NS, 'configmap', 'values'])).data['merged-values'])
    assert.deepEqual([values.global.multiCluster.clusterName, values.global.network, values.global.remotePilotAddress], [C2, 'network2', '127.0.0.11'])
    const svc = await kget(C2, ['-n', NS, 'service', 'istiod'])
    assert.equal(svc.spec.selector, undefined)
    // the render's EndpointSlice istiod → remotePilotAddress (the bed's API server refuses a loopback endpoint, so the bed leaves it out)
    const render = renderRemoteIstio(clusterParams(clusterIndex(C2)), '127.0.0.11')
    const slice = render.objects.find((o) => o.kind === 'EndpointSlice' && o.metadata.name === 'istiod')!
    assert.deepEqual([slice.metadata.labels!['kubernetes.io/service-name'], slice.endpoints[0].addresses, slice.ports.map((x: any) => x.port)], ['istiod', ['127.0.0.11'], [15012, 15017]])
    assert.deepEqual(render.objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name), ['istio-eastwestgateway'])
    // injectionPath without injectionURL: the injection webhook calls the local istiod Service (→ the slice → cluster1's gateway) on that path
    const hook = render.objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!
    assert.deepEqual([...new Set(hook.webhooks.map((w: any) => JSON.stringify(w.clientConfig.service)))], [JSON.stringify({name: 'istiod', namespace: NS, path: '/inject/cluster/cluster2/net/network2', port: 443})])
    // the sample Pods were injected by cluster1's istiod, as cluster2 on network2
    const pod = await targetPod(sleep2)
    const proxy = pod.spec.containers.find((c: {name: string}) => c.name === 'istio-proxy')
    assert.ok(proxy, 'cluster2 foo/sleep-0 was not injected by cluster1\'s istiod')
    const env = Object.fromEntries((proxy.env ?? []).map((e: {name: string; value?: string}) => [e.name, e.value]))
    assert.deepEqual([env.ISTIO_META_CLUSTER_ID, env.ISTIO_META_NETWORK], [C2, 'network2'])
    const cfg = await probeConfig(C2, pod, '127.0.0.1:1')
    hops.push(`cluster2 foo/sleep proxy metadata: CLUSTER_ID=${cfg.meta.CLUSTER_ID} NETWORK=${cfg.meta.NETWORK}`)
    assert.deepEqual([cfg.meta.CLUSTER_ID, cfg.meta.NETWORK], [C2, 'network2'])
  })

  test('--bidirectional towards a remote-profile cluster: exit 2 with the command without it, nothing written', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--bidirectional'], {env: {KUBECTL_MESH_STATS: '1'}})
    assertUsageError({...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('kubectl-mesh-stats')).join('\n')}, /"cluster2" runs Istio's remote profile.*--bidirectional/, /kubectl mesh cluster link --context cluster1 --remote-context cluster2$/)
    assert.equal(writes(stats(r.stderr)), 0)
    const rev = await mesh(['cluster', 'link', '--context', C2, '--remote-context', C1])
    assertUsageError(rev, /"cluster2" runs Istio's remote profile .*cannot discover/, /--remote-context cluster2/)
  })

  test('--dry-run lists the primary-remote objects and persists none', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--dry-run', '-o', 'json'])
    ok(r, 'link --dry-run')
    const changes = JSON.parse(r.stdout).changes.map((c: any) => `${c.context} ${c.kind}/${c.name} ${c.action}`)
    for (const want of [`${C1} Gateway/kubectl-mesh-istiod created`, `${C1} VirtualService/kubectl-mesh-istiod created`, `${C2} Namespace/${NS} configured`, `${C2} Gateway/kubectl-mesh-cross-network created`]) {
      assert.ok(changes.includes(want), `${want} not in ${JSON.stringify(changes)}`)
    }
    assert.equal(await kget(C1, ['-n', NS, 'gateway.networking.istio.io', 'kubectl-mesh-istiod']), undefined)
    assert.equal((await kget(C2, ['namespace', NS])).metadata.annotations?.[CP], undefined)
  })

  test('link: cluster1\'s istiod lists cluster2 synced, and sends a cluster2 sidecar cluster1\'s endpoints through cluster1\'s gateway', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '-o', 'json'])
    ok(r, 'cluster link')
    const out = JSON.parse(r.stdout)
    const changes = out.changes.map((c: any) => `${c.context} ${c.kind}/${c.name} ${c.action}`)
    process.stderr.write(`# link changes: ${JSON.stringify(changes)}\n# links: ${JSON.stringify(out.links)}\n`)
    assert.deepEqual(out.links.map((l: any) => [l.clusterId, l.network, l.remoteProfile, l.istiodExposedBy]), [[C2, 'network2', true, `${NS}/kubectl-mesh-istiod`]])
    assert.equal((await kget(C2, ['namespace', NS])).metadata.annotations[CP], C1)
    const gw = await kget(C1, ['-n', NS, 'gateway.networking.istio.io', 'kubectl-mesh-istiod'])
    assert.equal(gw.metadata.annotations['kubectl-mesh/exposed-for'], C2)
    assert.equal(gw.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    const vs = await kget(C1, ['-n', NS, 'virtualservice.networking.istio.io', 'kubectl-mesh-istiod'])
    assert.equal(vs.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')

    const istiod = runningIstiod(C1)!
    const {value} = await waitUntil('cluster1\'s istiod lists cluster2 synced', async () => (await clusterz(istiod.debugUrl)).find((e) => e.id === C2 && e.syncStatus === 'synced'), 60_000, 500)
    hops.push(`cluster1 istiod /debug/clusterz: ${JSON.stringify(value)}`)

    // a cluster2 sidecar, served by cluster1's istiod: its own pod, and cluster1's pod behind cluster1's gateway
    const s = await probeUntil(sleep2, `EDS ${HTTPBIN} = cluster2's pod + ${GW1}`, (d) => {
      const e = endpointsOf(d, HTTPBIN)
      return e?.includes(GW1) && e.includes('10.244.2.10:8080') && e
    })
    hops.push(`cluster2 foo/sleep (via cluster1's istiod) EDS ${HTTPBIN}: ${JSON.stringify(s.value)}`)
    assert.deepEqual(s.value, ['10.244.2.10:8080', GW1])
    // and cluster1's sidecar reaches cluster2's pod through cluster2's gateway
    const s1 = await probeUntil({context: C1, app: 'foo/sleep'}, `EDS ${HTTPBIN} = cluster1's pod + ${GW2}`, (d) => {
      const e = endpointsOf(d, HTTPBIN)
      return e?.includes(GW2) && e
    })
    hops.push(`cluster1 foo/sleep EDS ${HTTPBIN}: ${JSON.stringify(s1.value)}`)
    assert.deepEqual(s1.value, ['10.244.1.10:8080', GW2])
  })

  test('verify passes, istio.control-plane names the primary and its Gateway', async () => {
    const v = await verify()
    const bad = v.checks.filter((c) => c.status === 'fail')
    assert.deepEqual(bad.map((c) => `${c.id} ${c.cluster}: ${c.message}`), [])
    assert.equal(v.code, 0)
    const cp = v.checks.find((c) => c.id === 'istio.control-plane' && c.cluster === C2)!
    hops.push(`verify istio.control-plane ${C2}: ${cp.status} ${cp.message}`)
    if (primaryEnv.EXTERNAL_ISTIOD === 'true') {
      assert.equal(cp.status, 'pass', cp.message)
      assert.match(cp.message, /control plane cluster1 \(cluster1\).*127\.0\.0\.11.*Gateway istio-system\/kubectl-mesh-istiod/)
    } else {
      // the bed's primary is Istio's plain install, without the primary-remote guide's EXTERNAL_ISTIOD=true:
      // everything link makes holds, and verify warns that nobody writes the root into cluster2
      assert.equal(cp.status, 'warn', cp.message)
      assert.match(cp.message, /cluster1 runs istiod without EXTERNAL_ISTIOD=true, and cluster2 has no ConfigMap istio-system\/istio-ca-root-cert/)
    }
  })

  test('a repeated link is all unchanged and sends no write; -o yaml prints the primary-remote objects', async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(r, 'link again')
    const changes = JSON.parse(r.stdout).changes
    assert.deepEqual(changes.filter((c: any) => c.action !== 'unchanged'), [])
    for (const n of [`${C1} Gateway/kubectl-mesh-istiod`, `${C1} VirtualService/kubectl-mesh-istiod`, `${C2} Namespace/${NS}`]) {
      assert.ok(changes.some((c: any) => `${c.context} ${c.kind}/${c.name}` === n), `${n} not reported`)
    }
    assert.equal(writes(stats(r.stderr)), 0, r.stderr)
    const y = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '-o', 'yaml'])
    ok(y, 'link -o yaml')
    assert.match(y.stdout, /# context: cluster1\napiVersion: networking\.istio\.io\/v1\nkind: Gateway\nmetadata:\n  name: kubectl-mesh-istiod/)
    assert.match(y.stdout, /kind: VirtualService\nmetadata:\n  name: kubectl-mesh-istiod/)
    assert.match(y.stdout, /# context: cluster2\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n  annotations:\n    topology\.istio\.io\/controlPlaneClusters: cluster1/)
  })

  test('break: the istiod exposure removed by hand → verify fails istio.control-plane naming it; link again restores it', async () => {
    await kubectl(['-n', NS, 'delete', 'gateway.networking.istio.io,virtualservice.networking.istio.io', 'kubectl-mesh-istiod'], {context: C1})
    const v = await verify()
    assert.notEqual(v.code, 0)
    const hit = v.checks.find((c) => c.id === 'istio.control-plane' && c.cluster === C2)!
    hops.push(`verify after the exposure was removed: ${hit.status} ${hit.message} | ${hit.hint}`)
    assert.equal(hit.status, 'fail', JSON.stringify(v.checks.filter((c) => c.status === 'fail')))
    assert.match(hit.message, /cluster1 does not pass istiod through/)
    assert.match(hit.hint, /kubectl mesh cluster link --context cluster1 --remote-context cluster2/)
    ok(await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2]), 'link again')
    const again = await verify()
    assert.equal(again.code, 0)
    assert.notEqual(again.checks.find((c) => c.id === 'istio.control-plane' && c.cluster === C2)!.status, 'fail')
  })

  test('unlink leaves no kubectl-mesh object and no annotation; cluster1\'s istiod drops cluster2', async () => {
    ok(await mesh(['cluster', 'unlink', '--context', C1, '--remote-context', C2, '--prune-remote']), 'unlink')
    assert.deepEqual(await managed(C1), [])
    assert.deepEqual(await managed(C2), [])
    assert.equal((await kget(C2, ['namespace', NS])).metadata.annotations?.[CP], undefined)
    const istiod = runningIstiod(C1)!
    await waitUntil('cluster1\'s istiod drops cluster2', async () => !(await clusterz(istiod.debugUrl)).some((e) => e.id === C2), 60_000, 500)
  })
})
