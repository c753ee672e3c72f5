// Benchmark of `apply -f`: a Mesh file of every test-bed cluster linked both ways, N Services
// exported from WEST and imported into EAST. Times the first apply (verify included) and the
// repeat (everything unchanged: no write), with their API requests; then undoes it all (apply
// --prune of a file that declares nothing, then the CA Secrets and reader tokens by hand).
// The repeat `apply -f` and a `plan -f` of the same file run BENCH_ROUNDS times (default 3),
// interleaved with the baseline: kubectl listing the kinds they read in the same clusters; medians.
// Usage (test bed up, CLI built): node bench/apply.ts [N ...]   (default 200)
// Env: BENCH_CLUSTERS (cluster1,cluster2,cluster3), BENCH_WEST (cluster2), BENCH_EAST (cluster1);
// BENCH_BASE: built checkouts of other commits (comma-separated dirs, each with bin/run.js and
// dist/) whose repeat apply and plan run in the same rounds, on the same state, for a before/after;
// BENCH_KEEP=1 leaves the applied state in place at the end (to look at; the next run cleans up first).
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {dump} from 'js-yaml'
import {kubeconfigPath, kubectl, kubectlBin} from '../testbed/testbed.ts'
import {run} from '../testbed/util.ts'
import {parseStats, writesOf} from '../src/ui/output.ts'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLUSTERS = (process.env.BENCH_CLUSTERS ?? 'cluster1,cluster2,cluster3').split(',')
const WEST = process.env.BENCH_WEST ?? 'cluster2'
const EAST = process.env.BENCH_EAST ?? 'cluster1'
const NS = 'bench-apply'
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BASES = (process.env.BENCH_BASE ?? '').split(',').filter(Boolean)
const dir = mkdtempSync(join(tmpdir(), 'bench-apply-'))

interface Run {ms: number; requests: number; writes: number; code: number; stdout: string; stderr: string}

async function cli(args: string[], repo = REPO): Promise<Run> {
  const {ms, code, stdout, stderr} = await run(process.execPath, [join(repo, 'bin', 'run.js'), ...args], {cwd: dir, env: {...process.env, KUBECONFIG: kubeconfigPath(), KUBECTL_MESH_STATS: '1', NO_COLOR: '1'}})
  const s = parseStats(stderr) ?? {requests: -1, byContext: {}}
  return {ms, requests: s.requests, writes: writesOf(s), code, stdout, stderr}
}

/** The baseline: kubectl listing, in every cluster concurrently, the kinds a repeat apply reads. */
function baseline(): Promise<number> {
  const started = performance.now()
  return Promise.all(CLUSTERS.map((ctx) => new Promise<void>((resolve, reject) => {
    const child = spawn(kubectlBin(), ['--kubeconfig', kubeconfigPath(), '--context', ctx, 'get', 'namespaces,services,secrets,configmaps,deployments,serviceentries,destinationrules,gateways', '-A', '-o', 'json'], {stdio: 'ignore'})
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl get exited ${code} in ${ctx}`))))
  }))).then(() => performance.now() - started)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

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
    // The repeat apply and a plan, for this checkout and each BENCH_BASE one, interleaved with the baseline.
    const repos = [...BASES.map((b) => ({name: basename(b), repo: b})), {name: 'this', repo: REPO}]
    const runs = new Map(repos.map((r) => [r.name, {apply: [] as Run[], plan: [] as Run[]}]))
    const base: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      base.push(await baseline())
      for (const r of repos) {
        for (const verb of ['apply', 'plan'] as const) {
          const run = await cli([verb, '-f', file, '-o', 'json'], r.repo)
          if (run.code !== 0) throw new Error(`${verb} (${r.name}) failed (exit ${run.code}):\n${run.stderr}`)
          const changed = JSON.parse(run.stdout).changes.filter((c: {action: string}) => c.action !== 'unchanged').length
          if (changed !== 0) throw new Error(`${verb} (${r.name}): ${changed} changes on a repeat`)
          runs.get(r.name)![verb].push(run)
        }
      }
    }
    const sum = (rs: Run[]) => ({ms: Math.round(median(rs.map((x) => x.ms))), requests: Math.max(...rs.map((x) => x.requests)), writes: Math.max(...rs.map((x) => x.writes))})
    return {n, clusters: CLUSTERS.length, first: {ms: Math.round(first.ms), requests: first.requests, writes: first.writes},
      baselineMs: Math.round(median(base)),
      repeats: repos.map((r) => ({checkout: r.name, apply: sum(runs.get(r.name)!.apply), plan: sum(runs.get(r.name)!.plan)}))}
  } finally {
    if (!process.env.BENCH_KEEP) await cleanup()
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
  if (process.env.BENCH_KEEP) process.stderr.write(`BENCH_KEEP: the Mesh files and CA are in ${dir}\n`)
  else rmSync(dir, {recursive: true, force: true})
}
process.stdout.write(`\n${CLUSTERS.length} clusters linked both ways; N services exported from ${WEST} and imported into ${EAST}; the apply verifies\n`)
process.stdout.write(`repeat apply and plan -f (nothing to change): medians of ${ROUNDS} interleaved rounds; baseline: kubectl get of 8 kinds -A in the ${CLUSTERS.length} clusters concurrently\n`)
process.stdout.write('  N   first apply: time  requests  writes | checkout          repeat apply: time  requests  ratio | plan: time  requests  ratio | baseline\n')
for (const r of results) {
  for (const [i, x] of r.repeats.entries()) {
    const first = i === 0 ? `${String(r.n).padStart(4)}  ${`${r.first.ms} ms`.padStart(18)}  ${String(r.first.requests).padStart(8)}  ${String(r.first.writes).padStart(6)}` : ' '.repeat(42)
    const ratio = (ms: number) => `${(ms / r.baselineMs).toFixed(1)}x`.padStart(6)
    process.stdout.write(`${first} | ${x.checkout.padEnd(16)}  ${`${x.apply.ms} ms`.padStart(18)}  ${String(x.apply.requests).padStart(8)}  ${ratio(x.apply.ms)} | ${`${x.plan.ms} ms`.padStart(10)}  ${String(x.plan.requests).padStart(8)}  ${ratio(x.plan.ms)} | ${`${r.baselineMs} ms`.padStart(8)}\n`)
  }
}
