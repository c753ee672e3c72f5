// verify --wait: the kinds verify lists, followed between rounds instead of listed again. Each list
// notes its resourceVersion; once a round failed (follow()), a watch opens from it, and later
// rounds are served from what the watch delivered (no request), until the watch ends (the server's
// timeout, an error, 410 Gone): then that kind is listed again and a new watch opened. A watch
// the user may not open (403) leaves the kind listed every round.
import type {KubeClient} from '../kube/client.ts'
import {type KubeObject, RESOURCES, type ResourceType, resourcePath} from '../kube/resources.ts'
import {RunLists} from '../cluster/snapshot.ts'

interface Entry {
  key: string
  client: KubeClient
  path: string
  /** the list's resourceVersion: where a watch starts */
  rv: string
  items: Map<string, KubeObject>
  /** a watch delivers its changes: the items are current */
  live: boolean
  stop: () => void
  type: ResourceType
}

const keyOf = (o: KubeObject) => o.metadata.uid ?? `${o.metadata.namespace ?? ''}/${o.metadata.name}`

/** The lists of a --wait run: RunLists (src/cluster/snapshot.ts) whose lists live on across rounds, kept current by watches. */
export class ListCache extends RunLists {
  private readonly entries = new Map<string, Entry>()
  /** kinds (per cluster and path) whose watch was refused: listed every round */
  private readonly unwatchable = new Set<string>()
  private closed = false

  /** Watches are opened (follow()) only once a round failed: a healthy first round pays nothing for them. */
  private following = false

  /** The objects of a kind: from its live watch when there is one, else one list (noting its resourceVersion). */
  override async list(client: KubeClient, kind: keyof typeof RESOURCES, namespace?: string): Promise<KubeObject[]> {
    const type = RESOURCES[kind]
    const path = resourcePath(type, namespace)
    const key = `${client.context}|${client.server.origin}|${path}`
    const cached = this.entries.get(key)
    if (cached?.live) return [...cached.items.values()]
    cached?.stop()
    this.entries.delete(key)
    const list = await client.get<{items?: KubeObject[]; metadata?: {resourceVersion?: string}}>(path)
    const items = (list.items ?? []).map((item) => ({...item, apiVersion: type.apiVersion, kind: type.kind}))
    const rv = list.metadata?.resourceVersion
    if (this.closed || !rv || this.unwatchable.has(key)) return items
    const entry: Entry = {key, client, path, rv, items: new Map(items.map((o) => [keyOf(o), o])), live: false, stop: () => {}, type}
    this.entries.set(key, entry)
    if (this.following) this.watch(entry)
    return items
  }

  /** From now on follow every kind listed: a watch from each list's resourceVersion (and for every later list). */
  follow(): void {
    this.following = true
    for (const e of this.entries.values()) if (!e.live) this.watch(e)
  }

  private watch(entry: Entry): void {
    entry.live = true
    const w = entry.client.watch(entry.path, {resourceVersion: entry.rv, allowWatchBookmarks: 'true'}, (e) => {
      if (e.type === 'ERROR') {
        entry.live = false
        return
      }
      if (e.type === 'BOOKMARK' || !e.object?.metadata) return
      const o = {...e.object, apiVersion: entry.type.apiVersion, kind: entry.type.kind} as KubeObject
      if (e.type === 'DELETED') entry.items.delete(keyOf(o))
      else entry.items.set(keyOf(o), o)
    }, (error) => {
      entry.live = false
      if (error && 'status' in error && (error as {status: number}).status === 403) this.unwatchable.add(entry.key)
    })
    entry.stop = w.stop
  }

  close(): void {
    this.closed = true
    for (const e of this.entries.values()) e.stop()
    this.entries.clear()
  }
}
