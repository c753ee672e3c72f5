// Shared e2e setup for verify: the objects of the full journey (ca gen, link both ways, export,
// import), made by hand with kubectl in the shapes DESIGN.md fixes, because those commands are
// built in parallel. Every helper here is undone by teardownJourney().
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {dump, load} from 'js-yaml'
import {KUBECONFIG, kget, kubectl, mesh, REPO, stats, writes} from './harness.ts'

export const FIX = join(REPO, 'test', 'fixtures', 'verify')
export const NS = 'istio-system'
export const gwIp = (name: string) => `127.0.0.1${name.replace('cluster', '')}`
const b64 = (s: string) => Buffer.from(s).toString('base64')

export function serverOf(context: string): string {
  const kc = load(readFileSync(KUBECONFIG, 'utf8')) as any
  const ctx = kc.contexts.find((c: any) => c.name === context).context
  return kc.clusters.find((c: any) => c.name === ctx.cluster).cluster.server
}

export async function apply(context: string, objects: unknown[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], {context, input: objects.map((o) => dump(o)).join('---\n')})
}

export function cacertsObject(root: string, cluster: string, override: Record<string, string> = {}) {
  const data: Record<string, string> = {}
  for (const k of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) data[k] = b64(readFileSync(join(FIX, root, cluster, k), 'utf8'))
  Object.assign(data, override)
  return {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'cacerts', namespace: NS, labels: {'app.kubernetes.io/managed-by': 'kubectl-mesh'}}, type: 'Opaque', data}
}

export async function installCacerts(cluster: string, root = 'root-a', override: Record<string, string> = {}): Promise<void> {
  await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: cluster})
  await apply(cluster, [cacertsObject(root, cluster, override)])
}

/** The reader token Secret in `remote` (what `cluster link` creates there), waited for. */
export async function readerToken(remote: string): Promise<{token: string; ca: string}> {
  await apply(remote, [{apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token',
    metadata: {name: 'istio-reader-service-account-istio-remote-secret-token', namespace: NS, annotations: {'kubernetes.io/service-account.name': 'istio-reader-service-account'}, labels: {'app.kubernetes.io/managed-by': 'kubectl-mesh'}}}])
  for (let i = 0; i < 100; i++) {
    const s = await kget(remote, ['-n', NS, 'secret', 'istio-reader-service-account-istio-remote-secret-token'])
    if (s?.data?.token && s?.data?.['ca.crt']) return {token: Buffer.from(s.data.token, 'base64').toString(), ca: s.data['ca.crt']}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`no token issued in ${remote}`)
}

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

/** EAST → WEST: the remote secret in EAST and the meshNetworks entry for WEST's network. */
export async function link(east: string, west: string): Promise<void> {
  const t = await readerToken(west)
  await apply(east, [remoteSecretObject(west, t)])
  const cm = await kget(east, ['-n', NS, 'configmap', 'istio'])
  const doc = (load(cm.data.meshNetworks ?? '') as any) ?? {}
  doc.networks ??= {}
  doc.networks[west.replace('cluster', 'network')] = {endpoints: [{fromRegistry: west}], gateways: [{address: gwIp(west), port: 15443}]}
  await setMeshNetworks(east, dump(doc))
}

export function exportsGateway(hosts: string[]) {
  return {apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: {name: 'kubectl-mesh-exports', namespace: NS, labels: {'app.kubernetes.io/managed-by': 'kubectl-mesh'}},
    spec: {selector: {istio: 'eastwestgateway'}, servers: [{port: {number: 15443, name: 'tls', protocol: 'TLS'}, tls: {mode: 'AUTO_PASSTHROUGH'}, hosts: [...hosts].sort()}]}}
}

export function importObjects(name: string, ns: string, from: string, ports: Array<{number: number; name: string; protocol: string}>, gw = gwIp(from)) {
  const labels = {'kubectl-mesh/imported-from': from, 'kubectl-mesh/service': name, 'app.kubernetes.io/managed-by': 'kubectl-mesh'}
  return [
    {apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: {name: `${name}-${from}`, namespace: ns, labels}, spec: {
      hosts: [`${name}.${ns}.global`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports,
      endpoints: [{address: gw, ports: Object.fromEntries(ports.map((p) => [p.name, 15443]))}]}},
    {apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: {name: `${name}-${from}`, namespace: ns, labels}, spec: {
      host: `${name}.${ns}.global`,
      trafficPolicy: {tls: {mode: 'ISTIO_MUTUAL'}, portLevelSettings: ports.map((p) => ({port: {number: p.number}, tls: {mode: 'ISTIO_MUTUAL', sni: `outbound_.${p.number}_._.${name}.${ns}.svc.cluster.local`}}))}}},
  ]
}

/** ca gen on both, link both ways, export bar/httpbin from cluster2, import it into cluster1. */
export async function setupJourney(): Promise<void> {
  await installCacerts('cluster1')
  await installCacerts('cluster2')
  await link('cluster1', 'cluster2')
  await link('cluster2', 'cluster1')
  await kubectl(['-n', 'bar', 'label', 'service', 'httpbin', 'kubectl-mesh/exported=true', '--overwrite'], {context: 'cluster2'})
  await apply('cluster2', [exportsGateway(['httpbin.bar.svc.cluster.local'])])
  await apply('cluster1', importObjects('httpbin', 'bar', 'cluster2', [{number: 8000, name: 'http', protocol: 'HTTP'}]))
}

export async function teardownJourney(clusters = ['cluster1', 'cluster2', 'cluster3']): Promise<void> {
  for (const c of clusters) {
    const other = clusters.filter((o) => o !== c)
    await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', 'istio-reader-service-account-istio-remote-secret-token', ...other.map((o) => `istio-remote-secret-${o}`), 'istio-remote-secret-wrong', '--ignore-not-found'], {context: c})
    await kubectl(['-n', NS, 'delete', 'gateway', 'kubectl-mesh-exports', '--ignore-not-found'], {context: c})
    await kubectl(['delete', 'serviceentries,destinationrules', '-A', '-l', 'app.kubernetes.io/managed-by=kubectl-mesh', '--ignore-not-found'], {context: c})
    await kubectl(['-n', 'bar', 'label', 'service', 'httpbin', 'kubectl-mesh/exported-'], {context: c, allowFail: true})
    await setMeshNetworks(c, 'networks: {}\n')
  }
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
