// Benchmark of `service import --all-exported`: for each N, create N exported Services in WEST
// (one `kubectl apply` of a List), time the import into EAST and count its API requests, run it
// a second time (everything unchanged, no writes), then clean up.
// Usage (test bed up, CLI built): node bench/import.ts [N ...]   (default 10 100 500)
// Env: BENCH_WEST (cluster2), BENCH_EAST (cluster1). Prints one JSON line per N and a table.
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {kubeconfigPath, kubectl} from '../testbed/testbed.ts'
import {run} from '../testbed/util.ts'
import {parseStats, writesOf} from '../src/ui/output.ts'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const WEST = process.env.BENCH_WEST ?? 'cluster2'
const EAST = process.env.BENCH_EAST ?? 'cluster1'
const NS = 'bench-import'
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)

interface Run {ms: number; requests: number; writes: number; byContext: Record<string, Record<string, number>>; code: number; stderr: string}

async function cli(args: string[]): Promise<Run> {
  const {ms, code, stderr} = await run(process.execPath, [join(REPO, 'bin', 'run.js'), ...args], {env: {...process.env, KUBECONFIG: kubeconfigPath(), KUBECTL_MESH_STATS: '1', NO_COLOR: '1'}})
  const s = parseStats(stderr) ?? {requests: -1, byContext: {}}
  return {ms, requests: s.requests, writes: writesOf(s), byContext: s.byContext, code, stderr}
}

const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})

async function cleanup(): Promise<void> {
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s'], {context: WEST, timeoutMs: 320_000})
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s'], {context: EAST, timeoutMs: 320_000})
}

async function bench(n: number) {
  await cleanup()
  const ns = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS}}
  const services = Array.from({length: n}, (_, i) => ({
    apiVersion: 'v1', kind: 'Service', metadata: {name: `bench-${i}`, namespace: NS, labels: {'kubectl-mesh/exported': 'true'}},
    spec: {clusterIP: 'None', selector: {app: `bench-${i}`}, ports: [{name: 'http', port: 8000}, {name: 'grpc', port: 9000}]},
  }))
  const args = ['service', 'import', '--all-exported', '-n', NS, '--from-context', WEST, '--context', EAST, '-o', 'json']
  try {
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([ns])})
    // headless: the test bed's Service CIDR is too small for 500 ClusterIPs, and import only reads ports
    await kubectl(['apply', '--server-side', '-f', '-'], {context: WEST, input: list(services), timeoutMs: 600_000})
    await kubectl(['apply', '-f', '-'], {context: EAST, input: list([ns])})
    const first = await cli(args)
    if (first.code !== 0) throw new Error(`import failed (exit ${first.code}):\n${first.stderr}`)
    const second = await cli(args)
    if (second.code !== 0) throw new Error(`second import failed (exit ${second.code}):\n${second.stderr}`)
    return {n, first: {ms: Math.round(first.ms), requests: first.requests, writes: first.writes, byContext: first.byContext},
      second: {ms: Math.round(second.ms), requests: second.requests, writes: second.writes}}
  } finally {
    await cleanup()
  }
}

const results = []
for (const n of sizes.length > 0 ? sizes : [10, 100, 500]) {
  const r = await bench(n)
  results.push(r)
  process.stdout.write(`${JSON.stringify({bench: 'import --all-exported', ...r})}\n`)
}
process.stdout.write('\n  N   first run: time  requests  writes | second run: time  requests  writes\n')
for (const r of results) {
  process.stdout.write(`${String(r.n).padStart(4)}  ${`${r.first.ms} ms`.padStart(16)}  ${String(r.first.requests).padStart(8)}  ${String(r.first.writes).padStart(6)} | ${`${r.second.ms} ms`.padStart(17)}  ${String(r.second.requests).padStart(8)}  ${String(r.second.writes).padStart(6)}\n`)
}
