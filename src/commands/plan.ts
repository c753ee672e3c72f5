import {Flags} from '@oclif/core'
import {MeshCommand} from '../base-command.ts'
import {kubeconfigFlag, requestTimeoutFlag, verboseFlag} from '../flags.ts'

export default class Plan extends MeshCommand {
  static summary = 'Show what `kubectl mesh apply -f` would create, configure or delete in every cluster of a Mesh file; writes nothing.'
  static description = `Checks the file (schema/mesh.schema.json: unknown clusters, duplicates and contradictions are exit 2 before any request), reads every declared cluster, then runs apply's operations — ca gen, cluster link, service export, service import, and with --prune their undo — as a server-side dry run (dryRun=All): the API servers validate every write and nothing persists.
One line per object: <context>  <kind>/<namespace>/<name>  created|configured|unchanged|deleted, then a summary. The file: docs/apply.md.`
  static examples = [
    'kubectl mesh plan -f mesh.yaml',
    'kubectl mesh plan -f mesh.yaml --prune -o json',
  ]
  static flags = {
    file: Flags.string({char: 'f', required: true, description: 'The Mesh file (apiVersion kubectl-mesh/v1alpha1, kind Mesh).'}),
    prune: Flags.boolean({description: 'Also show what kubectl-mesh made in the declared clusters that the file no longer declares, which apply --prune deletes.'}),
    kubeconfig: kubeconfigFlag,
    'request-timeout': requestTimeoutFlag,
    verbose: verboseFlag,
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Plan)
    const {readMeshFile} = await import('../mesh/file.ts')
    const mesh = readMeshFile(flags.file)
    const {runMesh} = await import('../mesh/service.ts')
    const result = await runMesh(this.kube(flags), {
      mesh, file: flags.file, dryRun: true, prune: flags.prune, verify: false, version: this.config.version,
      progress: (await import('../ui/progress.ts')).progressFor(flags.output),
    })
    const {renderMeshRun} = await import('../mesh/render.ts')
    renderMeshRun(result, {output: flags.output, planned: true})
  }
}
