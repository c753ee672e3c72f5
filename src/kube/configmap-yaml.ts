// Editing YAML held in one key of a ConfigMap (the `istio` ConfigMap's meshNetworks or mesh):
// parse, edit with a pure function, write back with a resourceVersion precondition, retry on
// conflict. Every other key of the ConfigMap is sent back exactly as it was read.
import {isDeepStrictEqual} from 'node:util'
import {dump, load} from 'js-yaml'
import {OperationError} from '../errors.ts'
import type {KubeClient} from './client.ts'
import {type Change, editObject, type WriteOptions} from './apply.ts'
import type {KubeObject} from './resources.ts'

export interface YamlEdit<T> {
  namespace: string
  name: string
  key: string
  /** Pure: the parsed document (undefined when the key is absent or empty) in, the new document out. */
  edit: (doc: T | undefined) => T | undefined
}

export function parseYamlKey<T>(cm: KubeObject | undefined, key: string): T | undefined {
  const text = cm?.data?.[key]
  if (text === undefined || text.trim() === '') return undefined
  return load(text) as T
}

export function dumpYaml(doc: unknown): string {
  return dump(doc, {lineWidth: -1, noRefs: true})
}

/**
 * Apply `edit` to the YAML in ConfigMap key; `unchanged` (and no write) when the document is
 * equal. Written back through editObject (the resourceVersion read is the precondition; another
 * writer of the same ConfigMap, even of another key, makes it re-read and re-apply the edit).
 */
export async function editConfigMapYaml<T>(client: KubeClient, spec: YamlEdit<T>, opts: WriteOptions = {}): Promise<Change> {
  const ref = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: spec.name, namespace: spec.namespace}}
  const change = await editObject(client, ref, (cm) => {
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
    if (isDeepStrictEqual(before ?? null, after ?? null)) return cm
    const data = {...cm.data}
    if (after === undefined) delete data[spec.key]
    else data[spec.key] = dumpYaml(after)
    return {...cm, data}
  }, opts)
  return change!
}
