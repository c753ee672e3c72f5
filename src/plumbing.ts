// The hidden `plumbing apply` command: objects from a file through the apply helper.
import {readFileSync} from 'node:fs'
import {loadAll} from 'js-yaml'
import {UsageError} from './errors.ts'
import {applyObject, type Change} from './kube/apply.ts'
import type {KubeObject} from './kube/resources.ts'
import {resourceFor} from './kube/resources.ts'
import type {Session} from './kube/session.ts'

export async function applyFile(session: Session, opts: {file: string; context?: string; dryRun?: boolean}): Promise<Change[]> {
  let docs: KubeObject[]
  try {
    docs = (loadAll(readFileSync(opts.file, 'utf8')) as KubeObject[]).filter(Boolean)
  } catch (error) {
    throw new UsageError(`cannot read ${opts.file}: ${(error as Error).message.split('\n')[0]}`, 'pass a readable YAML file with -f')
  }
  for (const d of docs) {
    if (!d.apiVersion || !d.kind || !d.metadata?.name) throw new UsageError(`${opts.file}: every document needs apiVersion, kind and metadata.name`, 'check the file')
    try {
      resourceFor(d)
    } catch (error) {
      throw new UsageError((error as Error).message, 'only the kinds kubectl-mesh manages can be applied')
    }
  }
  const client = session.client(opts.context)
  const changes: Change[] = []
  for (const d of docs) changes.push(await applyObject(client, d, {dryRun: opts.dryRun}))
  return changes
}
