// verify --wait: the kinds verify lists, followed between rounds instead of listed again. The first
// list of a kind in a cluster notes the list's resourceVersion and opens a watch from it; later
// rounds are served from what the watch delivered (no request), until the watch ends (the server's
// timeout, an error, 410 Gone): then that kind is listed again and a new watch opened. A watch
// the user may not open (403) leaves the kind listed every round.
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, type ResourceType, resourcePath} from '../kube/resources.ts'

interface Entry {
  items: Map<string, KubeObject>
  live: boolean
  stop: () => void
  type: {apiVersion: string; kind: string}
}

const keyOf = (o: KubeObject) => o.metadata.uid ?? `${o.metadata.namespace ?? ''}/${o.metadata.name}`

export class ListCache {
  private readonly entries = new Map<string, Entry>()
  /** kinds (per cluster and path) whose watch was refused: listed every round */
  private readonly unwatchable = new Set<string>()
  private closed = false

  /** The objects of a kind: from the live watch when there is one, else one list (then a watch from its resourceVersion). */
  async list(client: KubeClient, type: ResourceType, opts: {namespace?: string} = {}): Promise<KubeObject[]> {
    const path = resourcePath(type, opts.namespace)
    const key = `${client.context}|${client.server.origin}|${path}`
    const cached = this.entries.get(key)
    if (cached?.live) return [...cached.items.values()]
    cached?.stop()
    this.entries.delete(key)
    const list = await client.get<{items?: KubeObject[]; metadata?: {resourceVersion?: string}}>(path)
    const items = (list.items ?? []).map((item) => ({...item, apiVersion: type.apiVersion, kind: type.kind}))
    const rv = list.metadata?.resourceVersion
    if (this.closed || !rv || this.unwatchable.has(key)) return items
    const entry: Entry = {items: new Map(items.map((o) => [keyOf(o), o])), live: true, stop: () => {}, type}
    this.entries.set(key, entry)
    const w = client.watch(path, {resourceVersion: rv, allowWatchBookmarks: 'true'}, (e) => {
      if (e.type === 'ERROR') {
        entry.live = false
        return
      }
      if (e.type === 'BOOKMARK' || !e.object?.metadata) return
      const o = {...e.object, apiVersion: type.apiVersion, kind: type.kind} as KubeObject
      if (e.type === 'DELETED') entry.items.delete(keyOf(o))
      else entry.items.set(keyOf(o), o)
    }, (error) => {
      entry.live = false
      if (error && 'status' in error && (error as {status: number}).status === 403) this.unwatchable.add(key)
    })
    entry.stop = w.stop
    return items
  }

  close(): void {
    this.closed = true
    for (const e of this.entries.values()) e.stop()
    this.entries.clear()
  }
}
