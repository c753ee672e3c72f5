// verify -o dot|mermaid|svg: the graph of the mesh from the same facts and results as the report.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runChecks as runAll} from '../../src/verify/runner.ts'
import {renderDot, renderMermaid, renderSvg} from '../../src/verify/graph.ts'
import {find, healthyMesh, meshNetworks} from './verify-fixtures.ts'

/** The report with its graph, as verify -o dot|mermaid|svg asks for it. */
const runChecks = (f: Parameters<typeof runAll>[0]) => runAll(f, undefined, {graph: true})
const notWarnOrPass = (l: string) => !l.endsWith('pass') && !l.endsWith('warn [links.server-address]')
const brief = (r: ReturnType<typeof runChecks>) => r.graph!.edges.map((e) => `${e.kind} ${e.from}->${e.to} ${e.what} ${e.status}${e.checks.length ? ` [${e.checks.join(',')}]` : ''}`)

describe('verify graph', () => {
  test('a healthy mesh: both links, the export and the import; the links warn only for their loopback servers', () => {
    const r = runChecks(healthyMesh())
    assert.equal(runAll(healthyMesh()).graph, undefined, 'text and json output do not build the graph')
    assert.deepEqual(r.graph!.nodes.map((n) => `${n.id} ${n.label} ${n.network} ${n.verified}`), ['cluster1 cluster1 network1 true', 'cluster2 cluster2 network2 true'])
    assert.deepEqual(brief(r), [
      'link cluster1->cluster2 link warn [links.server-address]',
      'import cluster2->cluster1 bar/httpbin pass',
      'link cluster2->cluster1 link warn [links.server-address]',
      'export cluster2->cluster2 bar/httpbin pass',
    ])
  })

  test('a stale meshNetworks gateway colours only the link cluster1 → cluster2, with the check id', () => {
    const f = healthyMesh()
    f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'cluster2', gw: '127.0.0.99'}})
    const r = runChecks(f)
    assert.deepEqual(brief(r).filter(notWarnOrPass), ['link cluster1->cluster2 link fail [networks.mesh-networks]'])
    const dot = renderDot(r.graph!)
    assert.match(dot, /"cluster1" -> "cluster2" \[label="link\\nfail: networks.mesh-networks", color="#c62828"/)
    assert.match(dot, /"cluster2" -> "cluster1" \[label="link\\nwarn: links.server-address", color="#ef6c00"/)
    assert.match(dot, /"cluster2" -> "cluster1" \[label="import bar\/httpbin", color="#2e7d32", fontcolor="#2e7d32", style=dashed\]/)
    const mermaid = renderMermaid(r.graph!)
    assert.match(mermaid, /^flowchart LR\n {2}c0\["cluster1<br\/>network1"\]/)
    assert.match(mermaid, /c0 -->\|"link<br\/>fail: networks.mesh-networks"\| c1/)
    assert.match(mermaid, /linkStyle 0 stroke:#c62828,stroke-width:3px/)
  })

  test('a wrong SNI colours the import edge; a peer that is not verified is a dashed node', () => {
    const f = healthyMesh()
    find(f.clusters[0], 'DestinationRule', 'httpbin-cluster2').spec.trafficPolicy.portLevelSettings[0].tls.sni = 'outbound_.80_._.httpbin.bar.svc.cluster.local'
    assert.deepEqual(brief(runChecks(f)).filter(notWarnOrPass), ['import cluster2->cluster1 bar/httpbin fail [imports.sni]'])
    const only1 = healthyMesh()
    only1.clusters.pop()
    const g = runChecks(only1).graph!
    assert.deepEqual(g.nodes.map((n) => `${n.id} ${n.verified}`), ['cluster1 true', 'cluster2 false'])
    assert.match(renderDot(g), /"cluster2" \[label="cluster2", style="rounded,dashed"\]/)
  })

  test('svg: rendered in process by Graphviz (wasm), broken edge in red', async () => {
    const f = healthyMesh()
    f.clusters[0].lists.ConfigMap![0].data.meshNetworks = meshNetworks({network2: {registry: 'cluster2', gw: '127.0.0.99'}})
    const svg = await renderSvg(runChecks(f).graph!)
    assert.match(svg, /^<\?xml[^]*<svg /)
    assert.match(svg, /<title>cluster1&#45;&gt;cluster2<\/title>[^]*?stroke="#c62828"/)
    assert.match(svg, />fail: networks.mesh&#45;networks</)
  })
})
