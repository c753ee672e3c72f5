// Benchmark of `apply -f`: a Mesh file of every test-bed cluster linked both ways, N Services
// exported from WEST and imported into EAST. Times the first apply (verify included) and the
// repeat (everything unchanged: no write), with their API requests; then undoes it all (apply
// --prune of a file that declares nothing, then the CA Secrets and reader tokens by hand).
// Usage (test bed up, CLI built): node bench/apply.ts [N ...]   (default 200)
// Env: BENCH_CLUSTERS (cluster1,cluster2,cluster3), BENCH_WEST (cluster2), BENCH_EAST (cluster1).
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {dump} from 'js-yaml'
import {kubeconfigPath, kubectl} from '../testbed/testbed.ts'
import {parseStats, writesOf} from '../src/ui/output.ts'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLUSTERS = (process.env.BENCH_CLUSTERS ?? 'cluster1,cluster2,cluster3').split(',')
const WEST = process.env.BENCH_WEST ?? 'cluster2'
const EAST = process.env.BENCH_EAST ?? 'cluster1'
const NS = 'bench-apply'
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const dir = mkdtempSync(join(tmpdir(), 'bench-apply-'))

interface Run {ms: number; requests: number; writes: number; code: number; stdout: string; stderr: string}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [join(REPO, 'bin', 'run.js'), ...args], {cwd: dir, env: {...process.env, KUBECONFIG: kubeconfigPath(), KUBECTL_MESH_STATS: '1', NO_COLOR: '1'}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const s = parseStats(stderr) ?? {requests: -1, byContext: {}}
      resolve({ms: performance.now() - started, requests: s.requests, writes: writesOf(s), code: code ?? -1, stdout, stderr})
    })
  })
}

const list = (items: unknown[]) => JSON.stringify({apiVersion: 'v1', kind: 'List', items})

function meshFile(name: string, spec: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, dump({apiVersion: 'kubectl-mesh/v1alpha1', kind: 'Mesh', spec}))
  return file
}

async function cleanup(): Promise<void> {
  const none = meshFile('none', {clusters: CLUSTERS.map((context) => ({context}))})
  const r = await cli(['apply', '-f', none, '--prune'])
  if (r.code !== 0) process.stderr.write(`cleanup apply --prune exited ${r.code}:\n${r.stderr}\n`)
  for (const c of CLUSTERS) {
    await kubectl(['-n', 'istio-system', 'delete', 'secret', 'cacerts', 'istio-reader-service-account-istio-remote-secret-token', '--ignore-not-found'], {context: c})
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s'], {context: c, timeoutMs: 320_000})
  }
}

async function bench(n: number) {
  await cleanup()
  const ns = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS}}
  const services = Array.from({length: n}, (_, i) => ({
    apiVersion: 'v1', kind: 'Service', metadata: {name: `bench-${i}`, namespace: NS},
    spec: {clusterIP: 'None', selector: {app: `bench-${i}`}, ports: [{name: 'http', port: 8000}, {name: 'grpc', port: 9000}]},
  }))
  const spec = {
    ca: {dir: './mesh-ca'}, clusters: CLUSTERS.map((context) => ({context})), links: 'all', expose: 'exported',
    exports: services.map((s) => ({cluster: WEST, namespace: NS, service: s.metadata.name})),
    imports: services.map((s) => ({cluster: EAST, from: WEST, namespace: NS, service: s.metadata.name})),
  }
  const file = meshFile(`mesh-${n}`, spec)
  try {
    await kubectl(['apply', '-f', '-'], {context: WEST, input: list([ns])})
    // headless: the test bed's Service CIDR is too small for many ClusterIPs, and import only reads ports
    await kubectl(['apply', '--server-side', '-f', '-'], {context: WEST, input: list(services), timeoutMs: 600_000})
    await kubectl(['apply', '-f', '-'], {context: EAST, input: list([ns])})
    const ca = await cli(['ca', 'gen', ...CLUSTERS.flatMap((c) => ['--cluster', c]), '--key-size', '2048'])
    if (ca.code !== 0) throw new Error(`ca gen failed:\n${ca.stderr}`)
    const first = await cli(['apply', '-f', file, '-o', 'json'])
    if (first.code !== 0) throw new Error(`apply failed (exit ${first.code}):\n${first.stderr}\n${first.stdout.slice(0, 4000)}`)
    const second = await cli(['apply', '-f', file, '-o', 'json'])
    if (second.code !== 0) throw new Error(`second apply failed (exit ${second.code}):\n${second.stderr}`)
    const changed = JSON.parse(second.stdout).changes.filter((c: {action: string}) => c.action !== 'unchanged').length
    return {n, clusters: CLUSTERS.length, first: {ms: Math.round(first.ms), requests: first.requests, writes: first.writes},
      second: {ms: Math.round(second.ms), requests: second.requests, writes: second.writes, changed}}
  } finally {
    await cleanup()
  }
}

const results = []
try {
  for (const n of sizes.length > 0 ? sizes : [200]) {
    const r = await bench(n)
    results.push(r)
    process.stdout.write(`bench-json ${JSON.stringify({bench: 'apply -f', ...r})}\n`)
  }
} finally {
  rmSync(dir, {recursive: true, force: true})
}
process.stdout.write(`\n${CLUSTERS.length} clusters linked both ways; N services exported from ${WEST} and imported into ${EAST}; verify included\n`)
process.stdout.write('  N   first apply: time  requests  writes | repeat: time  requests  writes\n')
for (const r of results) {
  process.stdout.write(`${String(r.n).padStart(4)}  ${`${r.first.ms} ms`.padStart(18)}  ${String(r.first.requests).padStart(8)}  ${String(r.first.writes).padStart(6)} | ${`${r.second.ms} ms`.padStart(12)}  ${String(r.second.requests).padStart(8)}  ${String(r.second.writes).padStart(6)}\n`)
}
