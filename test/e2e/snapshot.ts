// "Nothing was written": a snapshot of every object of every kind kubectl-mesh can write, in each
// touched cluster (kind/namespace/name → resourceVersion), and of local folders (path → mode +
// content hash), taken before and after a command and compared.
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import assert from 'node:assert/strict'
import https from 'node:https'
import {load} from 'js-yaml'
import {KUBECONFIG} from './harness.ts'

/**
 * Every kind any command writes (ca gen: secrets; link: secrets, configmaps, serviceaccounts,
 * clusterroles, clusterrolebindings; export/import: services, namespaces, Istio Gateway /
 * ServiceEntry / DestinationRule, MCS ServiceExport), plus other stable kinds a bug could touch.
 * Leases, events and endpoints change on their own and are left out. Paths of list requests;
 * a 404 (CRD not installed) is an empty list.
 */
export const WRITABLE_KINDS = [
  '/api/v1/namespaces', '/api/v1/secrets', '/api/v1/configmaps', '/api/v1/serviceaccounts', '/api/v1/services',
  '/apis/apps/v1/deployments',
  '/apis/rbac.authorization.k8s.io/v1/clusterroles', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  '/apis/rbac.authorization.k8s.io/v1/roles', '/apis/rbac.authorization.k8s.io/v1/rolebindings',
  '/apis/networking.istio.io/v1/gateways', '/apis/networking.istio.io/v1/serviceentries',
  '/apis/networking.istio.io/v1/destinationrules', '/apis/networking.istio.io/v1/virtualservices',
  '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  '/apis/multicluster.x-k8s.io/v1alpha1/serviceexports', '/apis/multicluster.x-k8s.io/v1alpha1/serviceimports',
]

export type Snapshot = Map<string, string>

interface Creds {server: URL; ca?: Buffer; cert?: Buffer; key?: Buffer}
let kubeconfigCache: {file: string; doc: any} | undefined

/** The test bed's admin credentials of a context, read straight from the kubeconfig (independent of the code under test). */
function creds(context: string): Creds {
  if (kubeconfigCache?.file !== KUBECONFIG) kubeconfigCache = {file: KUBECONFIG, doc: load(readFileSync(KUBECONFIG, 'utf8'))}
  const doc = kubeconfigCache.doc
  const ctx = doc.contexts.find((c: any) => c.name === context)?.context
  if (!ctx) throw new Error(`snapshot: no context ${context} in ${KUBECONFIG}`)
  const cluster = doc.clusters.find((c: any) => c.name === ctx.cluster).cluster
  const user = doc.users.find((u: any) => u.name === ctx.user).user
  const b = (s?: string) => (s ? Buffer.from(s, 'base64') : undefined)
  return {server: new URL(cluster.server), ca: b(cluster['certificate-authority-data']), cert: b(user['client-certificate-data']), key: b(user['client-key-data'])}
}

/** One request as the test bed admin of a context (for test drivers such as a competing writer). */
export function adminRequest(context: string, method: string, path: string, body?: unknown, contentType = 'application/merge-patch+json'): Promise<{status: number; body: any}> {
  const c = creds(context)
  const data = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = https.request({hostname: c.server.hostname, port: c.server.port, path, method, ca: c.ca, cert: c.cert, key: c.key, timeout: 20_000,
      headers: {Accept: 'application/json', ...(data ? {'Content-Type': contentType, 'Content-Length': Buffer.byteLength(data)} : {})}}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined})
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)))
    req.on('error', reject)
    if (data) req.write(data)
    req.end()
  })
}

/**
 * Watch a list path as the test bed admin (for test drivers that must act the moment something
 * is written): `ready` once the watch is open, `event` at its first event. close() ends it.
 */
export function adminWatch(context: string, path: string): {ready: Promise<void>; event: Promise<void>; close: () => void} {
  const c = creds(context)
  let opened!: () => void
  let seen!: () => void
  let failed!: (e: Error) => void
  const ready = new Promise<void>((resolve) => (opened = resolve))
  const event = new Promise<void>((resolve, reject) => {
    seen = resolve
    failed = reject
  })
  const req = https.request({hostname: c.server.hostname, port: c.server.port, path: `${path}${path.includes('?') ? '&' : '?'}watch=true`, method: 'GET', ca: c.ca, cert: c.cert, key: c.key, headers: {Accept: 'application/json'}}, (res) => {
    if (res.statusCode !== 200) return failed(new Error(`watch ${path}: HTTP ${res.statusCode}`))
    opened()
    res.once('data', () => seen())
    res.on('error', () => {})
  })
  req.on('error', (e) => failed(e))
  req.end()
  ready.catch(() => {})
  event.catch(() => {})
  return {ready: Promise.race([ready, event]), event, close: () => req.destroy()}
}

/** GET a list; a 429 (the server asks to retry later) is retried as client-go does, after its Retry-After. */
async function list(c: Creds, path: string): Promise<any[]> {
  for (let attempt = 1; ; attempt++) {
    const r = await new Promise<{status: number; retryAfter: number; text: string}>((resolve, reject) => {
      const req = https.request({hostname: c.server.hostname, port: c.server.port, path, method: 'GET', ca: c.ca, cert: c.cert, key: c.key, headers: {Accept: 'application/json'}, timeout: 20_000}, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => chunks.push(d))
        res.on('end', () => resolve({status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1), text: Buffer.concat(chunks).toString('utf8')}))
      })
      req.on('timeout', () => req.destroy(new Error(`snapshot: GET ${path}: timeout`)))
      req.on('error', reject)
      req.end()
    })
    if (r.status === 404) return []
    if (r.status === 200) return JSON.parse(r.text).items ?? []
    if (r.status !== 429 || attempt === 10) throw new Error(`snapshot: GET ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`)
    await new Promise((done) => setTimeout(done, Math.min(r.retryAfter || 1, 5) * 1000))
  }
}

/**
 * Waits (up to 120 s) until no namespace of the context is terminating. The namespace controller
 * deleting a namespace's objects is a writer besides the code under test: a snapshot taken while
 * it works would blame its deletes on the command.
 */
async function namespacesSettled(c: Creds, context: string): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    const terminating = (await list(c, '/api/v1/namespaces')).filter((n) => n.metadata.deletionTimestamp).map((n) => n.metadata.name)
    if (terminating.length === 0) return
    if (Date.now() > deadline) throw new Error(`snapshot: ${context}: namespaces still terminating after 120 s: ${terminating.join(', ')}`)
    await new Promise((done) => setTimeout(done, 250))
  }
}

/** `context resource/namespace/name` → resourceVersion of every writable object of one context. */
export async function snapshotCluster(context: string): Promise<Snapshot> {
  const c = creds(context)
  await namespacesSettled(c, context)
  const lists = await Promise.all(WRITABLE_KINDS.map((p) => list(c, p)))
  const snap: Snapshot = new Map()
  for (const [i, items] of lists.entries()) {
    const kind = WRITABLE_KINDS[i].split('/').pop()
    for (const o of items) snap.set(`${context} ${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.resourceVersion)
  }
  return snap
}

/** path → `mode sha256` of every file and folder under dir (recursively); empty when dir is missing. */
export function snapshotDir(dir: string): Snapshot {
  const snap: Snapshot = new Map()
  const walk = (p: string) => {
    if (!existsSync(p)) return
    const st = statSync(p)
    if (st.isDirectory()) {
      snap.set(`file ${p}/`, (st.mode & 0o7777).toString(8))
      for (const e of readdirSync(p).sort()) walk(join(p, e))
    } else {
      snap.set(`file ${p}`, `${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`)
    }
  }
  walk(dir)
  return snap
}

/** One snapshot of several contexts and local folders. */
export async function snapshot(contexts: string[], dirs: string[] = []): Promise<Snapshot> {
  const parts = await Promise.all(contexts.map(snapshotCluster))
  const all: Snapshot = new Map()
  for (const p of [...parts, ...dirs.map(snapshotDir)]) for (const [k, v] of p) all.set(k, v)
  return all
}

/** The differences between two snapshots, one line each (created, deleted, changed). */
export function diff(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = []
  for (const [k, v] of after) {
    if (!before.has(k)) out.push(`created ${k}`)
    else if (before.get(k) !== v) out.push(`changed ${k} (${before.get(k)} → ${v})`)
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`deleted ${k}`)
  return out
}

export function assertUnchanged(before: Snapshot, after: Snapshot, what = 'nothing written'): void {
  const d = diff(before, after)
  assert.deepEqual(d, [], `${what}:\n${d.join('\n')}`)
}
