// Benchmark of verify (and link) at scale: 3 clusters linked both ways, N services exported by
// cluster2 and imported into cluster1. For each N, `verify` over the 3 clusters runs interleaved
// with its baseline — kubectl listing the same kinds in the same 3 clusters, which is what an
// operator checking by hand would at least do — and reports medians, API requests, peak memory.
// link runs once (first, then repeat) against its baseline: kubectl applying the same remote Secret.
// Usage (test bed up with 3 clusters, CLI built): node bench/verify.ts [N ...]  (default 10 100 1000)
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {kubeconfigPath, kubectl, kubectlBin} from '../testbed/testbed.ts'
import {run as runProcess} from '../testbed/util.ts'
import {exportsGateway} from '../src/exposure/plan.ts'
import {serviceFqdn} from '../src/istio/gateway.ts'
import {parseStats, writesOf} from '../src/ui/output.ts'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const NS = 'bench-verify'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const CLUSTERS = ['cluster1', 'cluster2', 'cluster3']

interface Run {ms: number; code: number; requests: number; writes: number; peakKiB: number; stdout: string; stderr: string}

/** Run a command under GNU time (peak RSS) and wall-clock it. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const {code, stdout, stderr, ms} = await runProcess('/usr/bin/time', ['-f', 'peak-kib %M', cmd, ...args], {env: {...process.env, KUBECONFIG: kubeconfigPath(), NO_COLOR: '1', ...env}})
  const peak = Number(/peak-kib (\d+)/.exec(stderr)?.[1] ?? -1)
  const s = parseStats(stderr) ?? {requests: -1, byContext: {}}
  return {ms, code, requests: s.requests, writes: writesOf(s), peakKiB: peak, stdout, stderr}
}

const mesh = (args: string[]) => run(process.execPath, [join(REPO, 'bin', 'run.js'), ...args], {KUBECTL_MESH_STATS: '1'})
const must = async (p: Promise<Run>, what: string) => {
  const r = await p
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}`)
  return r
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})

/** The baseline for verify: list the same kinds verify reads, in the 3 clusters, with kubectl. */
const baselineVerify = async () => {
  const started = performance.now()
  const runs = await Promise.all(CLUSTERS.map((ctx) => run(kubectlBin(), ['--context', ctx, 'get', 'namespaces,services,secrets,configmaps,deployments,serviceentries,destinationrules,gateways', '-A', '-o', 'json'])))
  return {ms: performance.now() - started, peakKiB: Math.max(...runs.map((r) => r.peakKiB)), code: Math.max(...runs.map((r) => r.code))}
}

async function linkAll(): Promise<{first: Run; repeat: Run; baselineMs: number}> {
  const first = await must(mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--bidirectional']), 'link 1-2')
  const repeat = await must(mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--bidirectional']), 'link 1-2 repeat')
  await must(mesh(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster3', '--bidirectional']), 'link 1-3')
  await must(mesh(['cluster', 'link', '--context', 'cluster2', '--remote-context', 'cluster3', '--bidirectional']), 'link 2-3')
  // baseline: kubectl applying the remote Secret link wrote (what a user of istioctl create-remote-secret pipes to kubectl)
  const secret = JSON.parse((await kubectl(['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system', '-o', 'json'], {context: 'cluster1'})).stdout)
  delete secret.metadata.resourceVersion; delete secret.metadata.uid; delete secret.metadata.creationTimestamp; delete secret.metadata.managedFields
  secret.metadata.name = 'bench-baseline-remote-secret'
  delete secret.metadata.labels
  const t = performance.now()
  await kubectl(['apply', '-f', '-'], {context: 'cluster1', input: JSON.stringify(secret)})
  const baselineMs = performance.now() - t
  await kubectl(['delete', 'secret', 'bench-baseline-remote-secret', '-n', 'istio-system'], {context: 'cluster1'})
  return {first, repeat, baselineMs}
}

async function unlinkAll() {
  for (const [a, b] of [['cluster1', 'cluster2'], ['cluster1', 'cluster3'], ['cluster2', 'cluster3']]) {
    await mesh(['cluster', 'unlink', '--context', a, '--remote-name', b, '--remote-context', b, '--prune-remote'])
    await mesh(['cluster', 'unlink', '--context', b, '--remote-name', a, '--remote-context', a, '--prune-remote'])
  }
}

/** Deleting the namespace removes the Services and the imported ServiceEntries and DestinationRules (cluster1 runs Istio 1.31: no address ledger). */
async function cleanupNs() {
  await kubectl(['delete', 'gateway', 'kubectl-mesh-exports', '-n', 'istio-system', '--ignore-not-found'], {context: 'cluster2'})
  for (const ctx of ['cluster2', 'cluster1']) {
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s'], {context: ctx, timeoutMs: 320_000})
  }
}

const rows: string[] = []
const json: unknown[] = []
let linkResult: Awaited<ReturnType<typeof linkAll>> | undefined
try {
  await cleanupNs()
  linkResult = await linkAll()
  for (const n of sizes.length > 0 ? sizes : [10, 100, 1000]) {
    await cleanupNs()
    const services = Array.from({length: n}, (_, i) => ({
      apiVersion: 'v1', kind: 'Service', metadata: {name: `svc-${i}`, namespace: NS, labels: {'kubectl-mesh/exported': 'true'}},
      spec: {clusterIP: 'None', selector: {app: `svc-${i}`}, ports: [{name: 'http', port: 8000}, {name: 'tcp', port: 9000}]},
    }))
    for (const ctx of ['cluster2', 'cluster1']) await kubectl(['create', 'namespace', NS], {context: ctx})
    await kubectl(['apply', '--server-side', '-f', '-'], {context: 'cluster2', input: list(services), timeoutMs: 600_000})
    // what N `kubectl mesh export` runs leave: the label (above) and one Gateway listing every host
    // (written with kubectl in one request; N export processes would take minutes to set up)
    const gw = exportsGateway({namespace: 'istio-system', selector: {istio: 'eastwestgateway'}, port: 15443, hosts: services.map((x) => serviceFqdn(x.metadata.name, NS, 'cluster.local')).sort(), version: 'bench'})
    await kubectl(['apply', '-f', '-'], {context: 'cluster2', input: JSON.stringify(gw)})
    const imp = await must(mesh(['service', 'import', '--all-exported', '-n', NS, '--from-context', 'cluster2', '--context', 'cluster1', '-o', 'json']), 'import')
    const imp2 = await must(mesh(['service', 'import', '--all-exported', '-n', NS, '--from-context', 'cluster2', '--context', 'cluster1', '-o', 'json']), 'import repeat')
    const v: Run[] = []
    const b: Array<{ms: number; peakKiB: number}> = []
    for (let i = 0; i < ROUNDS; i++) {
      const r = await mesh(['verify', '--context', 'cluster1', '--context', 'cluster2', '--context', 'cluster3', '-o', 'json'])
      if (r.code > 1) throw new Error(`verify crashed: ${r.stderr}`)
      v.push(r)
      b.push(await baselineVerify())
    }
    const summary = JSON.parse(v[0].stdout).summary
    const vMs = median(v.map((r) => r.ms))
    const bMs = median(b.map((r) => r.ms))
    const rec = {n, import: {ms: Math.round(imp.ms), requests: imp.requests, writes: imp.writes, repeatMs: Math.round(imp2.ms), repeatRequests: imp2.requests, repeatWrites: imp2.writes},
      verify: {medianMs: Math.round(vMs), requests: v[0].requests, writes: Math.max(...v.map((r) => r.writes)), peakMiB: Math.round(Math.max(...v.map((r) => r.peakKiB)) / 1024), summary},
      baseline: {medianMs: Math.round(bMs), peakMiB: Math.round(Math.max(...b.map((r) => r.peakKiB)) / 1024)}, ratio: Number((vMs / bMs).toFixed(2))}
    json.push(rec)
    process.stdout.write(`${JSON.stringify({bench: 'verify', ...rec})}\n`)
    rows.push(`| ${n} | ${rec.import.ms} ms / ${rec.import.requests} req / ${rec.import.writes} writes | ${rec.import.repeatMs} ms / ${rec.import.repeatRequests} req / ${rec.import.repeatWrites} writes | ${rec.verify.medianMs} ms | ${rec.verify.requests} | ${rec.verify.peakMiB} MiB | ${rec.baseline.medianMs} ms | ${rec.ratio}× |`)
  }
} finally {
  await cleanupNs().catch((e) => process.stderr.write(`cleanup: ${e}\n`))
  await unlinkAll().catch((e) => process.stderr.write(`unlink: ${e}\n`))
}
if (linkResult) {
  process.stdout.write(`\nlink --bidirectional cluster1<->cluster2: first ${Math.round(linkResult.first.ms)} ms, ${linkResult.first.requests} requests (${linkResult.first.writes} writes); repeat ${Math.round(linkResult.repeat.ms)} ms, ${linkResult.repeat.requests} requests (${linkResult.repeat.writes} writes); baseline kubectl apply of the remote Secret ${Math.round(linkResult.baselineMs)} ms\n`)
  process.stdout.write(`bench-json ${JSON.stringify({bench: 'link', first: {ms: Math.round(linkResult.first.ms), requests: linkResult.first.requests, writes: linkResult.first.writes}, repeat: {ms: Math.round(linkResult.repeat.ms), requests: linkResult.repeat.requests, writes: linkResult.repeat.writes}, baselineMs: Math.round(linkResult.baselineMs)})}\n`)
}
process.stdout.write(`\n| N imported | import --all-exported (first) | repeat | verify (3 clusters, median of ${ROUNDS}) | verify requests | verify peak RSS | baseline: kubectl get ×3 (median) | ratio |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`)
process.stdout.write(`bench-json ${JSON.stringify({bench: 'verify', results: json})}\n`)
