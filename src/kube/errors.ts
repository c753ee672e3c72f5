// Mapping Kubernetes API failures to one line naming the object and context, plus a hint.
import {OperationError} from '../errors.ts'

/** A failed API request, as the client saw it. */
export class ApiError extends Error {
  readonly status: number // 0 when no HTTP answer came (refused, timeout, TLS)
  readonly reason: string // Kubernetes Status.reason, or the network error code
  readonly context: string
  /** The API server's origin, when the client knew it. */
  readonly server?: string
  readonly method: string
  readonly path: string
  /** Seconds from a Retry-After header, when the server sent one. */
  readonly retryAfter?: number
  constructor(init: {status: number; reason: string; message: string; context: string; server?: string; method: string; path: string; retryAfter?: number}) {
    super(init.message)
    this.name = 'ApiError'
    this.status = init.status
    this.reason = init.reason
    this.context = init.context
    if (init.server !== undefined) this.server = init.server
    this.method = init.method
    this.path = init.path
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter
  }
}

const VERBS: Record<string, string> = {GET: 'read', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete'}

/** `secrets istio-system/cacerts` from `/api/v1/namespaces/istio-system/secrets/cacerts`. */
export function describePath(path: string): string {
  const clean = path.split('?')[0]
  const parts = clean.split('/').filter(Boolean)
  // drop api prefix: api/v1 or apis/group/version
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3)
  let ns: string | undefined
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1]
    rest.splice(0, 2)
  }
  const [resource, name, sub] = rest
  if (!resource) return clean
  const obj = name ? `${ns ? `${ns}/` : ''}${name}` : ns ? `in namespace ${ns}` : '(all)'
  return `${resource}${sub ? `/${sub}` : ''} ${obj}`
}

// No connection was made: the request never reached a server.
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'AuthFailed'])

/**
 * A write that got no answer (connection reset, timeout) may have been applied by the server
 * before it went away. HTTP errors were answered, refused connections never reached a server,
 * and a failed GET (as the first step of a write helper) sent no write.
 */
export function mayHaveApplied(error: unknown): boolean {
  return error instanceof ApiError && error.status === 0 && error.method !== 'GET' && !NEVER_SENT.has(error.reason)
}

/** The one-line, hinted error for a failed request. */
export function toOperationError(err: ApiError, action?: string): OperationError {
  const what = action ?? `${VERBS[err.method] ?? err.method} ${describePath(err.path)}`
  const ctx = `context "${err.context}"`
  switch (err.status) {
    case 401:
      return new OperationError(`${ctx}: unauthorized to ${what}: the API server rejected the credentials`,
        `refresh the credentials of ${ctx} (log in again) and retry; check with \`kubectl --context ${err.context} auth whoami\``)
    case 403:
      return new OperationError(`${ctx}: forbidden to ${what}: ${firstLine(err.message)}`,
        `use a context allowed to ${VERBS[err.method] ?? err.method} ${describePath(err.path).split(' ')[0]}, or grant it: \`kubectl --context ${err.context} auth can-i ${verbOf(err.method)} ${describePath(err.path).split(' ')[0]}\``)
    case 404:
      return new OperationError(`${ctx}: not found while trying to ${what}: ${firstLine(err.message)}`,
        'check the name and namespace; if it is an Istio resource, check that Istio\'s CRDs are installed')
    case 409:
      return new OperationError(`${ctx}: conflict while trying to ${what}: ${firstLine(err.message)}`,
        'another writer changed the object at the same time; run the command again')
    case 422:
    case 400:
      return new OperationError(`${ctx}: the API server refused to ${what}: ${firstLine(err.message)}`,
        'the object failed validation; check the flags, and the installed CRD versions (Istio ≥ 1.22 serves networking.istio.io/v1)')
    case 0:
      if (err.reason === 'Timeout') {
        return new OperationError(`${ctx}: the API server${err.server ? ` ${err.server}` : ''} did not answer within the timeout while trying to ${what}`,
          `check that the cluster is up and reachable (\`kubectl --context ${err.context} get --raw /readyz\`), or raise --request-timeout`)
      }
      return new OperationError(`${ctx}: cannot reach the API server${err.server ? ` ${err.server}` : ''} to ${what}: ${firstLine(err.message)}`,
        `check that the cluster is running and that the context's server address is right (\`kubectl --context ${err.context} cluster-info\`)`)
    default:
      return new OperationError(`${ctx}: failed to ${what}: HTTP ${err.status} ${err.reason}: ${firstLine(err.message)}`,
        `retry; if it persists, look at the API server of ${ctx}`)
  }
}

function verbOf(method: string): string {
  return ({GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete'} as Record<string, string>)[method] ?? method.toLowerCase()
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim()
}
