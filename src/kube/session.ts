// One kubeconfig and one client per context for a whole command run.
import {KubeClient, DEFAULT_TIMEOUT_MS} from './client.ts'
import {type ClusterRef, Kubeconfig} from './kubeconfig.ts'

export interface SessionOptions {
  kubeconfig?: string
  timeoutMs?: number
}

export class Session {
  readonly kubeconfig: Kubeconfig
  readonly timeoutMs: number
  private readonly clients = new Map<string, KubeClient>()

  constructor(opts: SessionOptions = {}) {
    this.kubeconfig = Kubeconfig.load(opts.kubeconfig)
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** Resolve a context (default: current) and fail fast (exit 2) when it does not exist. */
  resolve(context?: string, namespace?: string): ClusterRef {
    return this.kubeconfig.resolve(context, namespace)
  }

  /** The one client for a context. */
  client(context?: string): KubeClient {
    const ref = this.resolve(context)
    let c = this.clients.get(ref.context)
    if (!c) {
      c = new KubeClient(ref, {timeoutMs: this.timeoutMs})
      this.clients.set(ref.context, c)
    }
    return c
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
  }
}
