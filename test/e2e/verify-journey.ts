// Shared e2e setup for verify: the full journey made with the real commands through the built CLI
// (ca gen, cluster link --bidirectional, export, service import), undone with the real undo
// commands (service unimport, service unexport, cluster unlink --prune-remote). Hand-made objects
// remain only where a break scenario needs a shape no command writes (see verify.test.ts).
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh, REPO, type RunResult, stats, tempDir, writes} from './harness.ts'

export const FIX = join(REPO, 'test', 'fixtures', 'verify')
export const NS = 'istio-system'
export const MANAGED = 'app.kubernetes.io/managed-by=kubectl-mesh'
export const gwIp = (name: string) => `127.0.0.1${name.replace('cluster', '')}`

/** The folder the tests run `ca gen` hints in: it holds the mesh's ./mesh-ca, as the hints assume. */
export const CA_CWD = tempDir('verify-journey-')
export const CA_DIR = join(CA_CWD, 'mesh-ca')

/** Remove the local CA folder (the root key and the intermediates) the journey wrote. */
export function removeCaDir(): void {
  rmSync(CA_CWD, {recursive: true, force: true})
}

export function serverOf(context: string): string {
  const kc = load(readFileSync(KUBECONFIG, 'utf8')) as any
  const ctx = kc.contexts.find((c: any) => c.name === context).context
  return kc.clusters.find((c: any) => c.name === ctx.cluster).cluster.server
}

export async function apply(context: string, objects: unknown[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], {context, input: objects.map((o) => dump(o)).join('---\n')})
}

/** Run `kubectl mesh ARGS` (in CA_CWD, where ./mesh-ca is); throws unless it exits 0. */
export async function meshOk(args: string[]): Promise<RunResult> {
  const r = await mesh(args, {cwd: CA_CWD})
  if (r.code !== 0) throw new Error(`kubectl mesh ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r
}

/** The `kubectl mesh …` commands quoted in a hint, as argument lists (without `kubectl mesh`). */
export function meshCommandsOf(hint: string): string[][] {
  return [...hint.matchAll(/`kubectl mesh ([^`]+)`/g)].map((m) => shellWords(m[1]))
}

/** Run every `kubectl mesh …` command of a hint, in order, exactly as printed. */
export async function runMeshHint(hint: string): Promise<void> {
  const cmds = meshCommandsOf(hint)
  if (cmds.length === 0) throw new Error(`no kubectl mesh command in hint: ${hint}`)
  for (const args of cmds) {
    if (args.some((a) => /[<>[\]]/.test(a))) throw new Error(`hint is not runnable as-is: ${hint}`)
    await meshOk(args)
  }
}

/** The reader token `cluster link` issued in `remote` (read only). */
export async function readerToken(remote: string): Promise<{token: string; ca: string}> {
  const s = await kget(remote, ['-n', NS, 'secret', 'istio-reader-service-account-istio-remote-secret-token'])
  if (!s?.data?.token || !s?.data?.['ca.crt']) throw new Error(`no reader token in ${remote}: run cluster link first`)
  return {token: Buffer.from(s.data.token, 'base64').toString(), ca: s.data['ca.crt']}
}

/** A remote secret in the shape `cluster link` writes, for break scenarios no command produces. */
export function remoteSecretObject(remote: string, t: {token: string; ca: string}, opts: {key?: string; user?: Record<string, unknown>} = {}) {
  const key = opts.key ?? remote
  const kubeconfig = {
    apiVersion: 'v1', kind: 'Config', 'current-context': key,
    clusters: [{name: key, cluster: {server: serverOf(remote), 'certificate-authority-data': t.ca}}],
    contexts: [{name: key, context: {cluster: key, user: key}}],
    users: [{name: key, user: opts.user ?? {token: t.token}}],
  }
  return {apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: {name: `istio-remote-secret-${key}`, namespace: NS, labels: {'istio/multiCluster': 'true', 'app.kubernetes.io/managed-by': 'kubectl-mesh'}, annotations: {'networking.istio.io/cluster': key}},
    stringData: {[key]: dump(kubeconfig)}}
}

export function meshNetworksText(entries: Array<{network: string; registry: string; gw: string}>): string {
  const networks: Record<string, unknown> = {}
  for (const e of entries) networks[e.network] = {endpoints: [{fromRegistry: e.registry}], gateways: [{address: e.gw, port: 15443}]}
  return dump({networks})
}

export async function setMeshNetworks(cluster: string, text: string): Promise<void> {
  await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {meshNetworks: text}})], {context: cluster})
}

/** `ca gen` of the shared root and each cluster's intermediate in CA_DIR, each installed as cacerts. */
export async function caGen(clusters: string[]): Promise<void> {
  await meshOk(['ca', 'gen', ...clusters.flatMap((c) => ['--cluster', c]), '--dir', CA_DIR])
  for (const c of clusters) await meshOk(['ca', 'gen', '--cluster', c, '--dir', CA_DIR, '--context', c])
}

/**
 * The user's journey: ca gen on both, link both ways sharing only exported services across the
 * networks (--expose exported: no kubectl-mesh-cross-network Gateway, so the export's own Gateway
 * is what passes httpbin through), export bar/httpbin from cluster2, import it into cluster1.
 */
export async function setupJourney(): Promise<void> {
  await caGen(['cluster1', 'cluster2'])
  await meshOk(['cluster', 'link', '--context', 'cluster1', '--remote-context', 'cluster2', '--bidirectional', '--expose', 'exported'])
  await meshOk(['export', 'httpbin', '-n', 'bar', '--context', 'cluster2'])
  await meshOk(['service', 'import', 'httpbin', '-n', 'bar', '--from-context', 'cluster2', '--context', 'cluster1'])
}

/** The data keys of the remote secrets in `c`. */
async function remoteSecretKeys(c: string): Promise<string[]> {
  const list = await kget(c, ['-n', NS, 'secret', '-l', 'istio/multiCluster=true'])
  return (list?.items ?? []).flatMap((s: any) => Object.keys(s.data ?? {}))
}

/**
 * Undo the journey with the real undo commands (service unimport, service unexport, cluster
 * unlink --prune-remote for every remote secret, kubectl delete of cacerts), then sweep with kubectl
 * whatever is still there. Returns what the undo commands failed at or left behind (for after():
 * empty when the commands undo everything; before() ignores it).
 */
export async function teardownJourney(clusters = ['cluster1', 'cluster2', 'cluster3']): Promise<string[]> {
  const problems: string[] = []
  const undo = async (args: string[]) => {
    const r = await mesh(args, {cwd: CA_CWD})
    if (r.code !== 0) problems.push(`kubectl mesh ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
  }
  await undo(['service', 'unimport', 'httpbin', '-n', 'bar', '--context', 'cluster1', '--from-name', 'cluster2'])
  await undo(['service', 'unexport', 'httpbin', '-n', 'bar', '--context', 'cluster2'])
  for (const c of clusters) {
    for (const key of await remoteSecretKeys(c)) {
      await undo(['cluster', 'unlink', '--context', c, '--remote-name', key, ...(clusters.includes(key) ? ['--remote-context', key, '--prune-remote'] : [])])
    }
  }
  for (const c of clusters) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: c})
  // The sweep: anything left is a problem of the undo commands (or of an interrupted run).
  for (const c of clusters) {
    const left = async (args: string[]) => ((await kget(c, args))?.items ?? []).map((o: any) => `${c} ${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    const leftovers = [
      ...await left(['-n', NS, 'secret', '-l', MANAGED]),
      ...await left(['-n', NS, 'secret', '-l', 'istio/multiCluster=true']),
      ...await left(['gateways.networking.istio.io,serviceentries,destinationrules', '-A', '-l', MANAGED]),
      ...await left(['services', '-A', '-l', 'kubectl-mesh/exported=true']),
      ...await left(['clusterroles,clusterrolebindings', '-l', MANAGED]),
      ...await left(['-n', NS, 'serviceaccounts', '-l', MANAGED]),
    ]
    const cm = await kget(c, ['-n', NS, 'configmap', 'istio'])
    if (Object.keys((load(cm.data.meshNetworks ?? '') as any)?.networks ?? {}).length > 0) leftovers.push(`${c} meshNetworks entries: ${cm.data.meshNetworks.trim()}`)
    if (leftovers.length === 0) continue
    problems.push(...leftovers)
    await kubectl(['-n', NS, 'delete', 'secret', '-l', MANAGED, '--ignore-not-found'], {context: c})
    await kubectl(['-n', NS, 'delete', 'secret', '-l', 'istio/multiCluster=true', '--ignore-not-found'], {context: c})
    await kubectl(['delete', 'gateways.networking.istio.io,serviceentries,destinationrules', '-A', '-l', MANAGED, '--ignore-not-found'], {context: c})
    for (const s of leftovers.filter((l) => l.startsWith(`${c} Service/`))) {
      const [ns, name] = s.split('/').slice(1)
      await kubectl(['-n', ns, 'label', 'service', name, 'kubectl-mesh/exported-'], {context: c, allowFail: true})
      await kubectl(['-n', ns, 'annotate', 'service', name, 'kubectl-mesh/exported-host-'], {context: c, allowFail: true})
    }
    await setMeshNetworks(c, 'networks: {}\n')
  }
  return problems
}

export interface VerifyRun {
  code: number
  json: {clusters: any[]; checks: Array<{id: string; category: string; cluster: string; status: string; message: string; hint: string}>; summary: Record<string, number>}
  stats: ReturnType<typeof stats>
  stderr: string
  ms: number
}

export async function verifyJson(args: string[] = ['--context', 'cluster1', '--context', 'cluster2']): Promise<VerifyRun> {
  const started = performance.now()
  const r = await mesh(['verify', ...args, '-o', 'json'], {env: {KUBECTL_MESH_STATS: '1'}})
  const ms = performance.now() - started
  let json
  try {
    json = JSON.parse(r.stdout)
  } catch {
    throw new Error(`verify printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  const s = stats(r.stderr)
  if (writes(s) !== 0) throw new Error(`verify wrote to a cluster: ${JSON.stringify(s)}`)
  return {code: r.code, json, stats: s, stderr: r.stderr, ms}
}

export const failures = (v: VerifyRun) => v.json.checks.filter((c) => c.status === 'fail')
export const describeChecks = (v: VerifyRun) => v.json.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip').map((c) => `${c.status} ${c.id} ${c.message}`).join('\n')

/** Split a shell command line (single and double quotes) into words. */
export function shellWords(line: string): string[] {
  const out: string[] = []
  let cur: string | undefined
  let quote: string | undefined
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined
      else cur += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      cur ??= ''
    } else if (/\s/.test(ch)) {
      if (cur !== undefined) out.push(cur)
      cur = undefined
    } else cur = (cur ?? '') + ch
  }
  if (cur !== undefined) out.push(cur)
  return out
}

/** Run the first `kubectl …` (not `kubectl mesh`) command quoted in a hint, with the test bed's kubectl. */
export async function runKubectlHint(hint: string): Promise<void> {
  const cmd = [...hint.matchAll(/`(kubectl [^`]+)`/g)].map((m) => m[1]).find((c) => !c.startsWith('kubectl mesh'))
  if (!cmd) throw new Error(`no kubectl command in hint: ${hint}`)
  await kubectl(shellWords(cmd).slice(1))
}
