// The REST client: one per context. Tokens, client certificates and basic auth are read from the
// kubeconfig directly; exec plugins and auth providers go through @kubernetes/client-node, loaded
// only then (it costs ~0.3 s to import). Requests go through node:https with a deadline, and are
// counted; through the cluster's proxy-url or HTTPS_PROXY/HTTP_PROXY as kubectl picks them
// (proxy.ts), and with the user's impersonation headers (as, as-uid, as-groups, as-user-extra).
import https from 'node:https'
import http from 'node:http'
import {readFileSync} from 'node:fs'
import {createHash, randomBytes} from 'node:crypto'
import type {ChildProcess} from 'node:child_process'
import type {Duplex} from 'node:stream'
import {dump} from 'js-yaml'
import {ApiError} from './errors.ts'
import type {ClusterRef} from './kubeconfig.ts'
import {chooseProxy, describeProxy, proxyAgent, type ProxyChoice} from './proxy.ts'

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: string
  query?: Record<string, string | undefined>
  body?: unknown
  contentType?: string
  timeoutMs?: number
}

export interface RequestStat {context: string; method: string; path: string; status: number; ms: number}

/** Every request of this process, for `KUBECTL_MESH_STATS` and the benchmarks. */
export const requestLog: RequestStat[] = []

export const DEFAULT_TIMEOUT_MS = 10_000
const MAX_ATTEMPTS_429 = 5

type Headers = Record<string, string | string[]>
type AuthOptions = {ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string; rejectUnauthorized?: boolean; servername?: string; headers?: Headers; auth?: string}
type Applier = (opts: AuthOptions) => Promise<void>

export class KubeClient {
  readonly ref: ClusterRef
  readonly context: string
  readonly server: URL
  timeoutMs: number
  /** The proxy requests go through, if any (proxy.ts). */
  readonly proxy?: ProxyChoice
  private applier?: Promise<Applier>
  private agent?: Promise<http.Agent>
  /** Exec credential plugins still running (killed when one does not answer in time). */
  private readonly plugins = new Set<ChildProcess>()

  constructor(ref: ClusterRef, opts: {timeoutMs?: number} = {}) {
    this.ref = ref
    this.context = ref.context
    this.server = new URL(ref.cluster.server)
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.proxy = chooseProxy(this.server, ref.cluster['proxy-url'], ref.context)
  }

  private async auth(): Promise<AuthOptions> {
    const opts = await this.credentials()
    opts.headers = {...opts.headers, ...this.impersonation()}
    return opts
  }

  /** Impersonation, as kubectl sends it: Impersonate-User, -Uid, -Group (one header line each), -Extra-<key>. */
  private impersonation(): Headers {
    const u = this.ref.user
    const h: Headers = {}
    if (typeof u.as === 'string' && u.as !== '') h['Impersonate-User'] = u.as
    if (typeof u['as-uid'] === 'string' && u['as-uid'] !== '') h['Impersonate-Uid'] = u['as-uid']
    if (Array.isArray(u['as-groups']) && u['as-groups'].length > 0) h['Impersonate-Group'] = u['as-groups'].map(String)
    const extra = u['as-user-extra']
    if (extra && typeof extra === 'object') {
      for (const [k, v] of Object.entries(extra as Record<string, unknown>)) h[`Impersonate-Extra-${encodeURIComponent(k)}`] = [v].flat().map(String)
    }
    return h
  }

  private async credentials(): Promise<AuthOptions> {
    const user = this.ref.user
    if (!user.exec && !user['auth-provider']) return this.staticAuth()
    const exec = user.exec as {apiVersion?: string; command?: string; interactiveMode?: string} | undefined
    // As client-go: the v1 ExecConfig must say whether the plugin may be interactive.
    if (exec && exec.apiVersion === 'client.authentication.k8s.io/v1' && !exec.interactiveMode) {
      throw this.authError(new Error(`interactiveMode must be specified for the exec plugin "${exec.command}" to use client.authentication.k8s.io/v1`))
    }
    // exec plugins and auth providers: @kubernetes/client-node runs and caches them.
    this.applier ??= (async () => {
      const [{KubeConfig}, {spawn}] = await Promise.all([import('@kubernetes/client-node'), import('node:child_process')])
      const kc = new KubeConfig()
      kc.loadFromString(dump({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
        clusters: [{name: 'c', cluster: this.ref.cluster}],
        users: [{name: 'u', user: this.ref.user}],
        contexts: [{name: 'c', context: {cluster: 'c', user: 'u'}}],
      }))
      // Keep hold of the plugin processes, to end one that does not answer.
      for (const a of (kc as unknown as {authenticators: Array<{execFn?: typeof spawn}>}).authenticators) {
        if (typeof a.execFn === 'function') {
          a.execFn = ((cmd: string, args: string[], o: object) => {
            const child = spawn(cmd, args ?? [], {...o, stdio: ['ignore', 'pipe', 'pipe']})
            this.plugins.add(child)
            child.on('close', () => this.plugins.delete(child))
            return child
          }) as typeof spawn
        }
      }
      return (opts: AuthOptions) => kc.applyToHTTPSOptions(opts as https.RequestOptions)
    })()
    const opts: AuthOptions = {headers: {}}
    const plugin = exec?.command ? `the exec plugin "${exec.command}"` : 'the auth provider'
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        (await this.applier)(opts),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${plugin} gave no credentials within ${this.timeoutMs} ms`)), this.timeoutMs)
        }),
      ])
    } catch (error) {
      for (const child of this.plugins) child.kill('SIGKILL')
      const message = error instanceof Error ? error.message.trim() : String(error)
      throw this.authError(new Error(message.startsWith(plugin) ? message : `${plugin} failed: ${message.split('\n')[0] || 'it printed nothing on stderr'}`))
    } finally {
      clearTimeout(timer)
    }
    return opts
  }

  /** Tokens, client certificates and basic auth need no library: read them straight from the kubeconfig. */
  private staticAuth(): AuthOptions {
    const {cluster, user} = this.ref
    try {
      const bytes = (data: unknown, file: unknown) =>
        typeof data === 'string' && data !== '' ? Buffer.from(data, 'base64') : typeof file === 'string' && file !== '' ? readFileSync(file) : undefined
      const opts: AuthOptions = {headers: {}}
      opts.ca = bytes(cluster['certificate-authority-data'], cluster['certificate-authority'])
      opts.cert = bytes(user['client-certificate-data'], user['client-certificate'])
      opts.key = bytes(user['client-key-data'], user['client-key'])
      if (cluster['insecure-skip-tls-verify']) opts.rejectUnauthorized = false
      if (cluster['tls-server-name']) opts.servername = cluster['tls-server-name']
      const token = user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined)
      if (token) opts.headers!.Authorization = `Bearer ${token}`
      else if (user.username !== undefined) opts.auth = `${user.username}:${user.password ?? ''}`
      return opts
    } catch (error) {
      throw this.authError(error)
    }
  }

  /** Where requests go: the server URL's protocol, host (IPv6 without brackets) and port. */
  private endpoint(): {protocol: string; hostname: string; port: string | number} {
    return {protocol: this.server.protocol, hostname: this.server.hostname.replace(/^\[|\]$/g, ''), port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80)}
  }

  /** A request that got no HTTP answer (refused, reset, TLS, DNS): status 0, the error code as reason. */
  private networkError(e: any, method: string, path: string): ApiError {
    // Some agents (SOCKS) lose the code: take it from the message.
    const code = e?.code ?? /\b(E[A-Z]{4,})\b/.exec(String(e?.message))?.[1] ?? 'NetworkError'
    const where = e?.address && e?.port ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}` : this.proxy ? undefined : this.server.host
    let message = code === 'ECONNREFUSED' ? `connection refused${where ? ` (${where})` : ''}` : `${code}: ${e?.message ?? e}`
    if (this.proxy) message = `${message}, through the proxy of ${describeProxy(this.proxy)} (to ${this.server.host})`
    return new ApiError({status: 0, reason: code, message, context: this.context, server: this.server.origin, method, path})
  }

  /** The connection pool: direct, or through the proxy. */
  private pool(auth: AuthOptions): Promise<http.Agent> {
    const tls = {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true, servername: auth.servername}
    this.agent ??= this.proxy
      ? proxyAgent(this.proxy, this.server, tls, true)
      : Promise.resolve(this.server.protocol === 'https:' ? new https.Agent({keepAlive: true, ...tls}) : new http.Agent({keepAlive: true}))
    return this.agent
  }

  private authError(error: unknown): ApiError {
    return new ApiError({status: 0, reason: 'AuthFailed', message: `cannot obtain credentials: ${(error as Error).message}`, context: this.context, server: this.server.origin, method: 'GET', path: '/'})
  }

  /**
   * One API request. A 429 with Retry-After (API Priority and Fairness, max-requests-inflight) was
   * not processed by the server, so it is sent again after the wait it names (at most 10 s), up
   * to 5 times in all, as client-go does; any other answer is final.
   */
  async request<T = any>(req: RequestOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send<T>(req)
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 429 || error.retryAfter === undefined || attempt >= MAX_ATTEMPTS_429) throw error
        await new Promise((r) => setTimeout(r, Math.min(error.retryAfter!, 10) * 1000))
      }
    }
  }

  private async send<T>(req: RequestOptions): Promise<T> {
    const method = req.method ?? 'GET'
    const query = Object.entries(req.query ?? {}).filter(([, v]) => v !== undefined) as [string, string][]
    const qs = query.length > 0 ? `?${new URLSearchParams(query).toString()}` : ''
    const basePath = this.server.pathname.replace(/\/$/, '')
    const path = `${basePath}${req.path}${qs}`
    const auth = await this.auth()
    const isHttps = this.server.protocol === 'https:'
    const agent = await this.pool(auth)
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
    const headers: Headers = {Accept: 'application/json', ...auth.headers}
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json'
      headers['Content-Length'] = String(Buffer.byteLength(body))
    }
    if (auth.auth) headers.Authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`
    const timeoutMs = req.timeoutMs ?? this.timeoutMs
    const started = performance.now()
    const fail = (status: number, reason: string, message: string, retryAfter?: number) =>
      new ApiError({status, reason, message, context: this.context, server: this.server.origin, method, path: req.path, retryAfter})

    return new Promise<T>((resolve, reject) => {
      const lib = isHttps ? https : http
      const r = lib.request({
        ...this.endpoint(), method, path, headers, agent, servername: auth.servername,
        ...(isHttps ? {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true} : {}),
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (e) => { clearTimeout(timer); reject(fail(0, 'NetworkError', e.message)) })
        res.on('end', () => {
          clearTimeout(timer)
          const status = res.statusCode ?? 0
          requestLog.push({context: this.context, method, path: req.path, status, ms: performance.now() - started})
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: any
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {
            parsed = text
          }
          if (status >= 200 && status < 300) resolve(parsed as T)
          else {
            const reason = typeof parsed === 'object' && parsed?.reason ? parsed.reason : (res.statusMessage ?? 'Error')
            const message = typeof parsed === 'object' && parsed?.message ? parsed.message : String(parsed ?? res.statusMessage ?? '')
            const after = Number(res.headers['retry-after'])
            reject(fail(status, reason, message, res.headers['retry-after'] !== undefined && Number.isFinite(after) && after >= 0 ? after : undefined))
          }
        })
      })
      const timer = setTimeout(() => {
        requestLog.push({context: this.context, method, path: req.path, status: 0, ms: performance.now() - started})
        r.destroy(fail(0, 'Timeout', `no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      r.on('error', (e: any) => {
        clearTimeout(timer)
        if (e instanceof ApiError) return reject(e)
        requestLog.push({context: this.context, method, path: req.path, status: 0, ms: performance.now() - started})
        reject(this.networkError(e, method, req.path))
      })
      if (body !== undefined) r.write(body)
      r.end()
    })
  }

  /**
   * Opens a WebSocket (RFC 6455) to the API server, e.g. `pods/NAME/portforward`: resolves with
   * the upgraded socket once the server answered 101 with one of `protocols`; any other answer
   * rejects with the ApiError it carries (403, 404, 400 "pod does not have a host assigned"…).
   * Not retried: an upgrade is not idempotent.
   */
  async upgrade(req: {path: string; query?: Record<string, string>; protocols: string[]; timeoutMs?: number}): Promise<{socket: Duplex; head: Buffer; protocol: string}> {
    const qs = req.query ? `?${new URLSearchParams(req.query).toString()}` : ''
    const path = `${this.server.pathname.replace(/\/$/, '')}${req.path}${qs}`
    const auth = await this.auth()
    const isHttps = this.server.protocol === 'https:'
    const wsKey = randomBytes(16).toString('base64')
    const headers: Headers = {
      ...auth.headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': wsKey, 'Sec-WebSocket-Protocol': req.protocols.join(', '),
    }
    if (auth.auth) headers.Authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`
    const timeoutMs = req.timeoutMs ?? this.timeoutMs
    // An upgraded socket leaves the pool: a tunnel of its own when there is a proxy.
    const agent = this.proxy ? await proxyAgent(this.proxy, this.server, {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true, servername: auth.servername}, false) : false
    const started = performance.now()
    const logged = (status: number) => requestLog.push({context: this.context, method: 'GET', path: req.path, status, ms: performance.now() - started})
    const fail = (status: number, reason: string, message: string) => new ApiError({status, reason, message, context: this.context, server: this.server.origin, method: 'GET', path: req.path})
    return new Promise((resolve, reject) => {
      const r = (isHttps ? https : http).request({
        ...this.endpoint(), method: 'GET', path, headers, agent, servername: auth.servername,
        ...(isHttps ? {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true} : {}),
      })
      const timer = setTimeout(() => { logged(0); r.destroy(fail(0, 'Timeout', `no answer within ${timeoutMs} ms`)) }, timeoutMs)
      r.on('upgrade', (res, socket, head) => {
        clearTimeout(timer)
        logged(res.statusCode ?? 0)
        const accept = createHash('sha1').update(`${wsKey}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
        const protocol = String(res.headers['sec-websocket-protocol'] ?? '')
        if (res.headers['sec-websocket-accept'] !== accept || !req.protocols.includes(protocol)) {
          socket.destroy()
          return reject(fail(0, 'BadHandshake', `the WebSocket handshake failed (protocol "${protocol}", wanted one of ${req.protocols.join(', ')})`))
        }
        resolve({socket, head, protocol})
      })
      r.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          clearTimeout(timer)
          const status = res.statusCode ?? 0
          logged(status)
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: any
          try {
            parsed = JSON.parse(text)
          } catch {
            parsed = undefined
          }
          reject(fail(status, parsed?.reason ?? res.statusMessage ?? 'Error', parsed?.message ?? (text.trim() || `HTTP ${status} instead of a WebSocket`)))
        })
      })
      r.on('error', (e: any) => {
        clearTimeout(timer)
        if (e instanceof ApiError) return reject(e)
        logged(0)
        reject(this.networkError(e, 'GET', req.path))
      })
      r.end()
    })
  }

  /**
   * A watch (`?watch=1`): each event `{type, object}` handed to onEvent as its line arrives;
   * onEnd once the stream ends (the server's timeout, a network error, stop()). The request is
   * counted when the server answers; the deadline covers only that answer, not the stream.
   */
  watch(path: string, query: Record<string, string | undefined>, onEvent: (e: {type: string; object: any}) => void, onEnd: (error?: Error) => void): {stop: () => void} {
    let stopped = false
    let req: http.ClientRequest | undefined
    let ended = false
    const end = (error?: Error) => {
      if (ended) return
      ended = true
      onEnd(error)
    }
    void (async () => {
      const qs = `?${new URLSearchParams([...Object.entries(query).filter(([, v]) => v !== undefined) as [string, string][], ['watch', '1']]).toString()}`
      const full = `${this.server.pathname.replace(/\/$/, '')}${path}${qs}`
      const auth = await this.auth()
      const isHttps = this.server.protocol === 'https:'
      const headers: Headers = {Accept: 'application/json', ...auth.headers}
      if (auth.auth) headers.Authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`
      // a stream of its own, out of the pool: it stays open
      const agent = this.proxy ? await proxyAgent(this.proxy, this.server, {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true, servername: auth.servername}, false) : false
      if (stopped) return end()
      const started = performance.now()
      req = (isHttps ? https : http).request({
        ...this.endpoint(), method: 'GET', path: full, headers, agent, servername: auth.servername,
        ...(isHttps ? {ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized ?? true} : {}),
      }, (res) => {
        clearTimeout(timer)
        const status = res.statusCode ?? 0
        requestLog.push({context: this.context, method: 'GET', path: `${path} (watch)`, status, ms: performance.now() - started})
        if (status !== 200) {
          res.resume()
          return end(new ApiError({status, reason: res.statusMessage ?? 'Error', message: `watch answered HTTP ${status}`, context: this.context, server: this.server.origin, method: 'GET', path}))
        }
        let buf = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buf += chunk
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i).trim()
            buf = buf.slice(i + 1)
            if (!line) continue
            try {
              onEvent(JSON.parse(line))
            } catch (error) {
              req?.destroy()
              return end(error as Error)
            }
          }
        })
        res.on('end', () => end())
        res.on('error', (e) => end(e))
      })
      const timer = setTimeout(() => req?.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs)
      req.on('error', (e) => { clearTimeout(timer); end(e) })
      req.end()
    })().catch((error) => end(error as Error))
    return {
      stop: () => {
        stopped = true
        req?.destroy()
        end()
      },
    }
  }

  get<T = any>(path: string, query?: Record<string, string | undefined>): Promise<T> {
    return this.request<T>({path, query})
  }

  /** GET that returns undefined on 404. */
  async getOptional<T = any>(path: string, query?: Record<string, string | undefined>): Promise<T | undefined> {
    try {
      return await this.get<T>(path, query)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined
      throw error
    }
  }

  close(): void {
    void this.agent?.then((a) => a.destroy())
  }
}
