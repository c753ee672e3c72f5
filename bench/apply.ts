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
// BENCH_ITEMISE: the checkouts (names as in the table) whose requests are listed one kind a line (default: this);
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
/** The checkouts whose requests are itemised (BENCH_ITEMISE, comma-separated names; default this checkout). */
const ITEMISE = (process.env.BENCH_ITEMISE ?? 'this').split(',')
const dir = mkdtempSync(join(tmpdir(), 'bench-apply-'))

interface Run {ms: number; requests: number; writes: number; code: number; stdout: string; stderr: string; log: Request[]}
/** One request of a run (KUBECTL_MESH_STATS=paths: `kubectl-mesh-request METHOD CONTEXT PATH STATUS`). */
interface Request {method: string; context: string; path: string; status: string}

async function cli(args: string[], repo = REPO): Promise<Run> {
  const {ms, code, stdout, stderr} = await run(process.execPath, [join(repo, 'bin', 'run.js'), ...args], {cwd: dir, env: {...process.env, KUBECONFIG: kubeconfigPath(), KUBECTL_MESH_STATS: 'paths', NO_COLOR: '1'}})
  const s = parseStats(stderr) ?? {requests: -1, byContext: {}}
  const log = stderr.split('\n').filter((l) => l.startsWith('kubectl-mesh-request ')).map((l) => {
    const [, method, ...rest] = l.split(' ')
    const status = rest.pop()!
    // the context may hold spaces (a remote secret's probe: "<cluster>:secret/<name>/<key>"); the path does not
    const path = rest.pop()!
    return {method, context: rest.join(' '), path, status}
  })
  return {ms, requests: s.requests, writes: writesOf(s), code, stdout, stderr, log}
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

/** What a request did, from its path: list or get of a kind (namespace, name), a port-forward to istiod's debug port, a write. */
function itemOf(r: Request): {verb: string; kind: string; namespace: string; name: string} {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?(?:\/([^/]+))?(?:\/([^/]+))?(?:\/([^/ ]+))?/.exec(r.path)
  if (!m) return {verb: r.method, kind: r.path, namespace: '', name: ''}
  const [, group, ns, resource, name, sub] = m
  // /api/v1/namespaces/NS alone is the Namespace NS
  const [kind, namespace, object] = resource === undefined && ns !== undefined ? ['namespaces', '', ns] : [`${resource}${group ? `.${group}` : ''}`, ns ?? '', name ?? '']
  if (sub === 'portforward') return {verb: 'port-forward', kind: "istiod's debug port (pods/portforward)", namespace, name: ''}
  const verb = r.method === 'GET' ? (r.path.endsWith(' (watch)') ? 'watch' : object ? 'get' : 'list') : r.method === 'POST' && !object ? 'create' : r.method.toLowerCase()
  return {verb, kind: sub ? `${kind}/${sub}` : kind, namespace, name: object}
}

/**
 * The requests of one run by context, verb and kind, and the budget of the issue: the kinds the
 * run lists (in any declared cluster) times the clusters, plus istiod's debug reads. A remote
 * secret's probe runs under its own label ("<cluster>:secret/<name>/<key>"): its reads count, and
 * are not lists of the run.
 */
function itemise(log: Request[]): {lines: string[]; budget: string} {
  const groups = new Map<string, {context: string; verb: string; kind: string; n: number; names: Map<string, number>}>()
  for (const r of log) {
    const it = itemOf(r)
    const key = `${r.context}\u0000${it.verb}\u0000${it.kind}\u0000${it.namespace}`
    const g = groups.get(key) ?? {context: r.context, verb: it.verb, kind: `${it.kind}${it.namespace ? ` -n ${it.namespace}` : ''}`, n: 0, names: new Map()}
    g.n++
    if (it.name) g.names.set(it.name, (g.names.get(it.name) ?? 0) + 1)
    groups.set(key, g)
  }
  const rows = [...groups.values()].sort((a, b) => a.context.localeCompare(b.context) || a.verb.localeCompare(b.verb) || a.kind.localeCompare(b.kind))
  const width = Math.max(...rows.map((g) => g.context.length), 7)
  const lines = rows.map((g) => `    ${g.context.padEnd(width)}  ${g.verb.padEnd(12)} ${g.kind.padEnd(48)} ${String(g.n).padStart(4)}${g.names.size > 0 ? `  (${[...g.names].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n)).join(', ')})` : ''}`)
  const kinds = new Set(log.filter((r) => CLUSTERS.includes(r.context) && itemOf(r).verb === 'list').map((r) => itemOf(r).kind))
  const debug = log.filter((r) => itemOf(r).verb === 'port-forward').length
  const budget = kinds.size * CLUSTERS.length + debug
  const over = log.length - budget
  // what the count is made of: the declared clusters' lists and single GETs, the remote secrets' probes (their own credentials), istiod's debug reads, writes
  const declared = log.filter((r) => CLUSTERS.includes(r.context))
  const of = (verb: string) => declared.filter((r) => itemOf(r).verb === verb).length
  const probes = log.filter((r) => !CLUSTERS.includes(r.context))
  const writes = log.filter((r) => r.method !== 'GET').length
  const parts = `lists ${of('list')}, gets ${of('get')}, remote-secret probes ${probes.length} (${new Set(probes.map((r) => r.context)).size} credentials), istiod debug reads ${debug}, writes ${writes}`
  return {lines, budget: `${log.length} requests (${parts}); budget ${kinds.size} kinds listed × ${CLUSTERS.length} clusters + ${debug} istiod debug reads = ${budget}${over > 0 ? `: ${over} over` : ': within'} (kinds: ${[...kinds].sort().join(', ')})`}
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
      repeats: repos.map((r) => ({checkout: r.name, apply: sum(runs.get(r.name)!.apply), plan: sum(runs.get(r.name)!.plan)})),
      // the last round's requests, itemised (a checkout whose CLI does not log its requests has none)
      itemised: repos.flatMap((r) => (['apply', 'plan'] as const).flatMap((verb) => {
        const log = runs.get(r.name)![verb].at(-1)!.log
        return log.length > 0 ? [{checkout: r.name, verb, ...itemise(log)}] : []
      }))}
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
for (const r of results) {
  process.stdout.write(`\nrequests of the repeat (last round), by context, verb and kind; budget: the kinds the run lists × the clusters + istiod's debug reads\n`)
  for (const it of r.itemised) process.stdout.write(`  ${it.checkout} ${it.verb} -f: ${it.budget}\n`)
  for (const it of r.itemised.filter((x) => ITEMISE.includes(x.checkout))) process.stdout.write(`\n  ${it.checkout}, ${it.verb} -f:\n${it.lines.join('\n')}\n`)
}
