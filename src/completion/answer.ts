// Shell completion, the answering side: `kubectl_complete-mesh ARGS… TOCOMPLETE` (run by kubectl)
// and `kubectl-mesh __complete ARGS… TOCOMPLETE` (run by the scripts of `kubectl mesh completion`)
// print the candidates, then `:<directive>` (src/completion/model.ts). Runs on every TAB, so it
// loads neither oclif nor the commands: the command table comes from the oclif manifest; the
// kubeconfig is read only for contexts and cluster values, and a cluster is asked (one GET, a
// short deadline) only for namespaces, Services and cluster IDs. Nothing is ever printed on
// stderr and the exit code is 0: on any error the answer is simply empty.
import {type Candidate, type CommandTable, Directive, formatAnswer, matching, request, type Source, sourceDirective, type Typed} from './model.ts'

/**
 * When the answer gives up on a cluster, in ms after this process started (start-up included):
 * kubectl's completion, kubectl's own start-up added, must end within 2 s.
 */
export const CLUSTER_DEADLINE_MS = Number(process.env.KUBECTL_MESH_COMPLETE_TIMEOUT_MS ?? 1500)

const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease'])

const last = (typed: Typed, flag: string) => typed.flags.get(flag)?.at(-1)

async function session(typed: Typed) {
  const {Kubeconfig} = await import('../kube/kubeconfig.ts')
  return Kubeconfig.load(last(typed, 'kubeconfig'))
}

/** GET one path of a context's cluster within the deadline. */
async function get<T>(typed: Typed, context: string | undefined, path: string, query?: Record<string, string>): Promise<T> {
  const kubeconfig = await session(typed)
  const {KubeClient} = await import('../kube/client.ts')
  const left = Math.max(100, CLUSTER_DEADLINE_MS - performance.now())
  const client = new KubeClient(kubeconfig.resolve(context), {timeoutMs: left})
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      client.request<T>({path, query, timeoutMs: left}),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('deadline')), left)
      }),
    ])
  } finally {
    clearTimeout(timer)
    client.close()
  }
}

interface List {
  items?: Array<{metadata?: {name?: string; namespace?: string}; data?: Record<string, string>}>
}

async function candidates(source: Source, typed: Typed): Promise<Candidate[]> {
  const context = last(typed, 'context')
  switch (source.kind) {
    case 'options':
      return source.values.map((value) => ({value}))
    case 'contexts': {
      const kc = await session(typed)
      const current = kc.currentContext()
      return kc.merged.contexts.map((c) => ({value: c.name, description: `cluster ${c.context?.cluster ?? '?'}${c.name === current ? ' (current)' : ''}`}))
    }
    case 'namespaces': {
      const list = await get<List>(typed, context, '/api/v1/namespaces')
      return (list.items ?? []).map((n) => ({value: n.metadata?.name ?? ''})).filter((c) => c.value)
    }
    case 'services': {
      const ctx = last(typed, source.contextFlag) ?? context
      const namespace = last(typed, 'namespace')
      if (namespace) {
        const list = await get<List>(typed, ctx, `/api/v1/namespaces/${encodeURIComponent(namespace)}/services`)
        return (list.items ?? []).map((s) => ({value: s.metadata?.name ?? ''})).filter((c) => c.value)
      }
      // No -n: the Services of every namespace but the system ones, each named with its namespace(s).
      const istio = last(typed, 'istio-namespace') ?? 'istio-system'
      const list = await get<List>(typed, ctx, '/api/v1/services')
      const byName = new Map<string, string[]>()
      for (const s of list.items ?? []) {
        const {name, namespace: ns = ''} = s.metadata ?? {}
        if (!name || SYSTEM_NAMESPACES.has(ns) || ns === istio || (ns === 'default' && name === 'kubernetes')) continue
        byName.set(name, [...(byName.get(name) ?? []), ns])
      }
      return [...byName].map(([value, nss]) => ({value, description: `-n ${nss.join(', -n ')}`}))
    }
    case 'cluster-ids': {
      const istio = last(typed, 'istio-namespace') ?? 'istio-system'
      const {MULTICLUSTER_LABEL} = await import('../istio/names.ts')
      const list = await get<List>(typed, context, `/api/v1/namespaces/${encodeURIComponent(istio)}/secrets`, {labelSelector: `${MULTICLUSTER_LABEL}=true`})
      return (list.items ?? []).flatMap((s) => Object.keys(s.data ?? {}).map((value) => ({value, description: `remote secret ${s.metadata?.name}`})))
    }
    default:
      return []
  }
}

/** The whole answer for these words (the last one being the word being completed). */
export async function answer(table: CommandTable, args: string[], opts: {descriptions?: boolean} = {}): Promise<string> {
  const req = request(table, args)
  const toComplete = req.kind === 'source' ? req.toComplete : (args.at(-1) ?? '')
  if (req.kind === 'static') return formatAnswer(matching(req.candidates, toComplete), req.directive, opts)
  let found: Candidate[] = []
  try {
    found = await candidates(req.source, req.typed)
  } catch {
    // An unreadable kubeconfig, an unknown context, an unreachable or slow cluster: no candidates.
    found = []
  }
  // Enumerated values keep their declared order (text first); names from a cluster are sorted.
  const keep = req.source.kind === 'options'
  const shown = keep ? matching(found, toComplete) : matching(found, toComplete).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
  return formatAnswer(shown, sourceDirective(req.source) | (keep ? Directive.KeepOrder : 0), {...opts, prefix: req.prefix})
}

/**
 * Print the answer and exit 0, never writing to stderr. `argv`: the words after the program
 * name; `__complete`/`__completeNoDesc` (cobra's hidden command) is dropped when first.
 */
export async function main(argv: string[], table: CommandTable): Promise<void> {
  process.removeAllListeners('warning')
  process.on('warning', () => {})
  let args = argv
  let descriptions = true
  if (args[0] === '__complete' || args[0] === '__completeNoDesc') {
    descriptions = args[0] === '__complete'
    args = args.slice(1)
  }
  let out: string
  try {
    out = await answer(table, args, {descriptions})
  } catch {
    out = formatAnswer([], Directive.NoFileComp)
  }
  process.stdout.write(out, () => process.exit(0))
}

