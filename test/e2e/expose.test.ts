// Exposure across networks (issue 14): a cross-network `cluster link` makes WEST's east-west gateway
// pass WEST's services through (Gateway kubectl-mesh-cross-network), records who relies on it,
// undoes exactly its share, and verify's networks.expose fails when it is missing. cluster1 and
// cluster3 are on different networks (network1, network3). Everything is undone in after().
// What istiod makes of the Gateway (a 15443 filter chain per service on the gateway) is proven
// with the xDS probe in test/e2e/datapath.test.ts.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {kget, kubectl, mesh, stats, writes} from './harness.ts'

const EAST = 'cluster1'
const WEST = 'cluster3'
const ISTIO = 'istio-system'
const GW = 'kubectl-mesh-cross-network'
const gateway = (ctx = WEST) => kget(ctx, ['-n', ISTIO, 'gateway.networking.istio.io', GW])
const ok = (r: {code: number; stderr: string}, what: string) => assert.equal(r.code, 0, `${what}: ${r.stderr}`)
const exposeFindings = async () => {
  const r = await mesh(['verify', '--context', EAST, '--context', WEST, '-o', 'json'])
  return JSON.parse(r.stdout).checks.filter((c: any) => c.id === 'networks.expose')
}

describe('exposure across networks', () => {
  after(async () => {
    await mesh(['cluster', 'unlink', '--context', EAST, '--remote-context', WEST, '--bidirectional', '--prune-remote'])
    for (const ctx of [EAST, WEST]) await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', GW, 'expose-e2e-istio', '--ignore-not-found'], {context: ctx})
  })

  test('link makes the Gateway on WEST\'s east-west gateway; a repeat writes nothing; verify passes; removed by hand, verify fails naming it; link restores it', async () => {
    const r = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST])
    ok(r, 'link')
    assert.match(r.stdout, new RegExp(`^${WEST}\\s+Gateway/${ISTIO}/${GW}\\s+created$`, 'm'))
    const gw = await gateway()
    const ew = await kget(WEST, ['-n', ISTIO, 'service', 'istio-eastwestgateway'])
    assert.deepEqual(gw.spec, {selector: ew.spec.selector, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['*.cluster.local']}]})
    assert.equal(gw.metadata.annotations['kubectl-mesh/exposed-for'], EAST)
    assert.equal(gw.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(await gateway(EAST), undefined, 'one direction: nothing in EAST')

    const again = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(again, 'link again')
    assert.equal(writes(stats(again.stderr)), 0)
    assert.ok(JSON.parse(again.stdout).changes.every((c: any) => c.action === 'unchanged'), again.stdout)
    assert.equal(JSON.parse(again.stdout).links[0].exposedBy, `${ISTIO}/${GW}`)
    assert.equal((await gateway()).metadata.resourceVersion, gw.metadata.resourceVersion)

    assert.deepEqual((await exposeFindings()).filter((c: any) => c.cluster === EAST).map((c: any) => c.status), ['pass'])
    await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', GW], {context: WEST})
    const broken = (await exposeFindings()).filter((c: any) => c.cluster === EAST)
    assert.deepEqual(broken.map((c: any) => c.status), ['fail'])
    assert.match(broken[0].message, new RegExp(`links to ${WEST} across networks \\(network1 → network3\\), but ${WEST}'s east-west gateway ${ISTIO}/istio-eastwestgateway does not pass its services through: \\d+ cannot be reached .*bar/httpbin`))
    assert.match(broken[0].hint, new RegExp(`kubectl mesh cluster link --context ${EAST} --remote-context ${WEST}`))
    ok(await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST]), 'link restores')
    assert.equal((await gateway()).metadata.annotations['kubectl-mesh/exposed-for'], EAST)
  })

  test('--bidirectional: each side\'s Gateway records the other; unlink of one direction drops only its share', async () => {
    ok(await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '--bidirectional']), 'link --bidirectional')
    assert.equal((await gateway(EAST)).metadata.annotations['kubectl-mesh/exposed-for'], WEST)
    assert.equal((await gateway(WEST)).metadata.annotations['kubectl-mesh/exposed-for'], EAST)
    // a second linking cluster relies on WEST's Gateway too (cluster2 → cluster3)
    ok(await mesh(['cluster', 'link', '--context', 'cluster2', '--remote-context', WEST]), 'link cluster2')
    assert.equal((await gateway(WEST)).metadata.annotations['kubectl-mesh/exposed-for'], `${EAST},cluster2`)
    ok(await mesh(['cluster', 'unlink', '--context', 'cluster2', '--remote-context', WEST]), 'unlink cluster2')
    assert.equal((await gateway(WEST)).metadata.annotations['kubectl-mesh/exposed-for'], EAST)
    // without --remote-context WEST's Gateway cannot be cleaned: the note says so
    const un = await mesh(['cluster', 'unlink', '--context', EAST, '--remote-name', WEST])
    ok(un, 'unlink --remote-name')
    assert.match(un.stderr, new RegExp(`relied on ${WEST}'s Gateway ${GW}.*run unlink with --remote-context`))
    assert.ok(await gateway(WEST))
    const un2 = await mesh(['cluster', 'unlink', '--context', EAST, '--remote-context', WEST, '--bidirectional'])
    ok(un2, 'unlink --bidirectional')
    assert.match(un2.stdout, new RegExp(`^${WEST}\\s+Gateway/${ISTIO}/${GW}\\s+deleted$`, 'm'))
    assert.match(un2.stdout, new RegExp(`^${EAST}\\s+Gateway/${ISTIO}/${GW}\\s+deleted$`, 'm'))
    assert.equal(await gateway(WEST), undefined)
    assert.equal(await gateway(EAST), undefined)
  })

  test('--expose exported makes no Gateway and verify passes; a Gateway that already passes everything is left alone and named', async () => {
    const r = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '--expose', 'exported'])
    ok(r, 'link --expose exported')
    assert.equal(await gateway(), undefined)
    assert.deepEqual((await exposeFindings()).filter((c: any) => c.cluster === EAST).map((c: any) => c.status), ['pass'])
    // Istio's own sample (expose-services.yaml): hosts *.local
    const istio = {apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name: 'expose-e2e-istio', namespace: ISTIO},
      spec: {selector: {istio: 'eastwestgateway'}, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: ['*.local']}]}}
    await kubectl(['apply', '-f', '-'], {context: WEST, input: JSON.stringify(istio)})
    const all = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
    ok(all, 'link --expose all with Istio\'s Gateway present')
    assert.match(all.stderr, /Gateway istio-system\/expose-e2e-istio already passes every service through/)
    assert.equal(await gateway(), undefined)
    assert.equal(JSON.parse(all.stdout).links[0].exposedBy, `${ISTIO}/expose-e2e-istio`)
    ok(await mesh(['cluster', 'unlink', '--context', EAST, '--remote-context', WEST]), 'unlink')
    assert.ok(await kget(WEST, ['-n', ISTIO, 'gateway.networking.istio.io', 'expose-e2e-istio']), 'not ours: left alone')
    await kubectl(['-n', ISTIO, 'delete', 'gateway.networking.istio.io', 'expose-e2e-istio'], {context: WEST})
  })

  test('-o yaml prints the Gateway and --dry-run persists nothing', async () => {
    const y = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '-o', 'yaml'])
    // the token does not exist before the first link: exit 2 with the reader objects printed, or 0 when it does
    assert.ok(y.code === 0 || y.code === 2, y.stderr)
    assert.match(y.stdout, new RegExp(`# context: ${WEST}\\napiVersion: networking.istio.io/v1\\nkind: Gateway\\nmetadata:\\n  name: ${GW}`))
    const d = await mesh(['cluster', 'link', '--context', EAST, '--remote-context', WEST, '--dry-run'])
    ok(d, 'dry run')
    assert.match(d.stdout, new RegExp(`^${WEST}\\s+Gateway/${ISTIO}/${GW}\\s+created$`, 'm'))
    assert.equal(await gateway(), undefined)
  })
})
