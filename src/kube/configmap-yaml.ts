// Editing YAML held in one key of a ConfigMap (the `istio` ConfigMap's meshNetworks or mesh):
// parse, edit with a pure function, write back with a resourceVersion precondition, retry on
// conflict. Every other key of the ConfigMap is sent back exactly as it was read.
import {isDeepStrictEqual} from 'node:util'
import {dump, load} from 'js-yaml'
import {OperationError} from '../errors.ts'
import type {KubeClient} from './client.ts'
import {type Change, changeOf, type WriteOptions} from './apply.ts'
import {ApiError} from './errors.ts'
import {type KubeObject, RESOURCES, resourcePath} from './resources.ts'

export interface YamlEdit<T> {
  namespace: string
  name: string
  key: string
  /** Pure: the parsed document (undefined when the key is absent or empty) in, the new document out. */
  edit: (doc: T | undefined) => T | undefined
  /**
   * How many conflicts to retry before giving up (default 200). Another writer of the same
   * ConfigMap (even of another key) makes the resourceVersion precondition fail; each retry
   * re-reads and re-applies the edit after a short random wait (≤ 100 ms), so a busy ConfigMap
   * delays the edit by seconds at most instead of failing it.
   */
  retries?: number
}

export function parseYamlKey<T>(cm: KubeObject | undefined, key: string): T | undefined {
  const text = cm?.data?.[key]
  if (text === undefined || text.trim() === '') return undefined
  return load(text) as T
}

export function dumpYaml(doc: unknown): string {
  return dump(doc, {lineWidth: -1, noRefs: true})
}

/** Apply `edit` to the YAML in ConfigMap key; `unchanged` (and no write) when the document is equal. */
export async function editConfigMapYaml<T>(client: KubeClient, spec: YamlEdit<T>, opts: WriteOptions = {}): Promise<Change> {
  const path = resourcePath(RESOURCES.ConfigMap, spec.namespace, spec.name)
  const ref = {kind: 'ConfigMap', metadata: {name: spec.name, namespace: spec.namespace}}
  const retries = spec.retries ?? 200
  for (let attempt = 0; ; attempt++) {
    const cm = await client.getOptional<KubeObject>(path)
    if (!cm) {
      throw new OperationError(`context "${client.context}": ConfigMap ${spec.namespace}/${spec.name} does not exist`,
        'is Istio installed in this cluster? (check --istio-namespace)')
    }
    let before: T | undefined
    try {
      before = parseYamlKey<T>(cm, spec.key)
    } catch (error) {
      throw new OperationError(`context "${client.context}": ConfigMap ${spec.namespace}/${spec.name} key ${spec.key} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
        `fix it by hand: kubectl --context ${client.context} -n ${spec.namespace} edit configmap ${spec.name}`)
    }
    const after = spec.edit(structuredClone(before))
    if (isDeepStrictEqual(before ?? null, after ?? null)) return changeOf(client.context, ref, 'unchanged')
    const data = {...cm.data}
    if (after === undefined) delete data[spec.key]
    else data[spec.key] = dumpYaml(after)
    const body = {...cm, data} // metadata.resourceVersion is the precondition
    try {
      await client.request({method: 'PUT', path, body, query: opts.dryRun ? {dryRun: 'All'} : undefined})
      return changeOf(client.context, ref, 'configured')
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && attempt < retries) {
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(10 * (attempt + 1), 100)))
        continue
      }
      throw error
    }
  }
}
