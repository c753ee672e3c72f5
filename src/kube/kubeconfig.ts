// Loading and merging kubeconfig files the way kubectl does, and resolving a --context.
// Pure apart from reading the files; no Kubernetes client is loaded here.
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, dirname, isAbsolute, join} from 'node:path'
import {load} from 'js-yaml'
import {UsageError} from '../errors.ts'

export interface KubeCluster {
  server: string
  'certificate-authority'?: string
  'certificate-authority-data'?: string
  'insecure-skip-tls-verify'?: boolean
  'tls-server-name'?: string
  'proxy-url'?: string
  [key: string]: unknown
}
export interface KubeUser {
  token?: string
  tokenFile?: string
  'client-certificate'?: string
  'client-certificate-data'?: string
  'client-key'?: string
  'client-key-data'?: string
  exec?: Record<string, unknown>
  'auth-provider'?: Record<string, unknown>
  username?: string
  password?: string
  [key: string]: unknown
}
export interface KubeContext {
  cluster: string
  user: string
  namespace?: string
}
export interface KubeconfigDoc {
  apiVersion?: string
  kind?: string
  'current-context'?: string
  clusters?: Array<{name: string; cluster: KubeCluster}>
  users?: Array<{name: string; user: KubeUser}>
  contexts?: Array<{name: string; context: KubeContext}>
}

/** A context resolved to its cluster and user: everything needed to talk to one cluster. */
export interface ClusterRef {
  context: string
  clusterName: string
  cluster: KubeCluster
  userName: string
  user: KubeUser
  namespace: string
}

const FILE_FIELDS_CLUSTER = ['certificate-authority'] as const
const FILE_FIELDS_USER = ['client-certificate', 'client-key', 'tokenFile'] as const

/** The files kubectl would read: --kubeconfig, else the KUBECONFIG list, else ~/.kube/config. */
export function kubeconfigFiles(flag?: string, env = process.env.KUBECONFIG): string[] {
  if (flag) return [flag]
  if (env) return [...new Set(env.split(delimiter).filter(Boolean))]
  return [join(homedir(), '.kube', 'config')]
}

function parseFile(file: string): KubeconfigDoc {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read kubeconfig ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      'pass an existing file with --kubeconfig or fix the KUBECONFIG variable')
  }
  // An empty file is an empty kubeconfig, as for kubectl.
  if (text.trim() === '') return {}
  let doc: unknown
  try {
    doc = load(text)
  } catch (error) {
    throw new UsageError(`kubeconfig ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
      'check the file with `kubectl config view`')
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError(`kubeconfig ${file} is not a kubeconfig (expected a mapping)`, 'check the file with `kubectl config view`')
  }
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    const v = (doc as Record<string, unknown>)[key]
    if (v !== undefined && v !== null && !Array.isArray(v)) {
      throw new UsageError(`kubeconfig ${file} is not a kubeconfig: "${key}" must be a list`, 'check the file with `kubectl config view`')
    }
  }
  return resolvePaths(doc as KubeconfigDoc, dirname(file))
}

/** Relative file references are relative to the kubeconfig that holds them (as in client-go). */
function resolvePaths(doc: KubeconfigDoc, base: string): KubeconfigDoc {
  const abs = (p: unknown) => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? join(base, p) : p)
  for (const c of doc.clusters ?? []) {
    if (!c?.cluster) continue
    for (const f of FILE_FIELDS_CLUSTER) if (c.cluster[f] !== undefined) c.cluster[f] = abs(c.cluster[f]) as string
  }
  for (const u of doc.users ?? []) {
    if (!u?.user) continue
    for (const f of FILE_FIELDS_USER) if (u.user[f] !== undefined) (u.user as Record<string, unknown>)[f] = abs(u.user[f])
    // An exec command with a path separator is relative to the kubeconfig too ("./bin/plugin");
    // a bare name is looked up on PATH.
    const exec = u.user.exec as {command?: unknown} | undefined
    if (exec && typeof exec.command === 'string' && /[\\/]/.test(exec.command)) u.user.exec = {...exec, command: abs(exec.command)}
  }
  return doc
}

/**
 * Merge kubeconfig documents as kubectl does: the first file that defines a cluster, user or
 * context name wins, and the first file that sets current-context wins.
 */
export function mergeKubeconfigs(docs: KubeconfigDoc[]): Required<Pick<KubeconfigDoc, 'clusters' | 'users' | 'contexts'>> & {'current-context'?: string} {
  const clusters = new Map<string, {name: string; cluster: KubeCluster}>()
  const users = new Map<string, {name: string; user: KubeUser}>()
  const contexts = new Map<string, {name: string; context: KubeContext}>()
  let current: string | undefined
  for (const doc of docs) {
    for (const c of doc.clusters ?? []) if (c?.name && !clusters.has(c.name)) clusters.set(c.name, c)
    for (const u of doc.users ?? []) if (u?.name && !users.has(u.name)) users.set(u.name, u)
    for (const c of doc.contexts ?? []) if (c?.name && !contexts.has(c.name)) contexts.set(c.name, c)
    if (current === undefined && doc['current-context']) current = doc['current-context']
  }
  return {clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], 'current-context': current}
}

export class Kubeconfig {
  readonly files: string[]
  readonly merged: ReturnType<typeof mergeKubeconfigs>

  constructor(files: string[], merged: ReturnType<typeof mergeKubeconfigs>) {
    this.files = files
    this.merged = merged
  }

  /** Load from --kubeconfig or KUBECONFIG; files in the KUBECONFIG list that do not exist are skipped, like kubectl. */
  static load(flag?: string): Kubeconfig {
    const files = kubeconfigFiles(flag)
    const present = flag ? files : files.filter((f) => existsSync(f))
    return new Kubeconfig(present, mergeKubeconfigs(present.map(parseFile)))
  }

  static fromDocument(doc: KubeconfigDoc, source = '<inline>'): Kubeconfig {
    return new Kubeconfig([source], mergeKubeconfigs([doc]))
  }

  contextNames(): string[] {
    return this.merged.contexts.map((c) => c.name)
  }

  currentContext(): string | undefined {
    return this.merged['current-context']
  }

  has(name: string): boolean {
    return this.merged.contexts.some((c) => c.name === name)
  }

  /** Resolve a context name (default: current-context). Unknown names are usage errors (exit 2). */
  resolve(name?: string, namespaceOverride?: string): ClusterRef {
    const where = this.files.length > 0 ? this.files.join(delimiter) : 'no kubeconfig file found'
    const available = this.contextNames()
    const hint = available.length > 0 ? `contexts that exist: ${available.join(', ')}` : 'create one with `kubectl config set-context` or point KUBECONFIG at a kubeconfig'
    const wanted = name ?? this.currentContext()
    if (!wanted) throw new UsageError(`no --context given and no current-context set (${where})`, `pass --context; ${hint}`)
    const ctx = this.merged.contexts.find((c) => c.name === wanted)
    if (!ctx) throw new UsageError(`context "${wanted}" not found in kubeconfig (${where})`, hint)
    if (!ctx.context?.cluster) throw new UsageError(`context "${wanted}" names no cluster`, 'fix the kubeconfig (`kubectl config view`)')
    const cluster = this.merged.clusters.find((c) => c.name === ctx.context?.cluster)
    if (!cluster?.cluster?.server) {
      throw new UsageError(`context "${wanted}" names cluster "${ctx.context?.cluster}", which is not in the kubeconfig or has no server`, 'fix the kubeconfig (`kubectl config view`)')
    }
    if (!URL.canParse(String(cluster.cluster.server)) || !/^https?:$/.test(new URL(String(cluster.cluster.server)).protocol)) {
      throw new UsageError(`context "${wanted}": the server of cluster "${cluster.name}", "${cluster.cluster.server}", is not an http(s) URL`, 'fix the kubeconfig (`kubectl config view`)')
    }
    const user = this.merged.users.find((u) => u.name === ctx.context?.user)
    return {
      context: wanted,
      clusterName: cluster.name,
      cluster: cluster.cluster,
      userName: user?.name ?? ctx.context.user ?? '',
      user: user?.user ?? {},
      namespace: namespaceOverride ?? ctx.context.namespace ?? 'default',
    }
  }
}
