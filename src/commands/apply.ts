import {Flags} from '@oclif/core'
import {MeshCommand} from '../base-command.ts'
import {UsageError} from '../errors.ts'
import {dryRunFlag, kubeconfigFlag, requestTimeoutFlag, verboseFlag} from '../flags.ts'

export default class Apply extends MeshCommand {
  static summary = 'Make the mesh a Mesh file declares: cacerts, links, exports and imports in every cluster, then verify.'
  static description = `Checks the file (schema/mesh.schema.json: unknown clusters, duplicates and contradictions are exit 2 before any request), reads every declared cluster, then runs the step commands' own operations in dependency order — ca gen (cacerts), cluster link (with exposure), service export, service import — and ends with verify over the declared clusters (exit 1 when a check fails). Running it again sends no write.
--prune also removes what kubectl-mesh made (its labels) in the declared clusters that the file no longer declares: remote secrets and their meshNetworks entries and exposure, exports, imports; nothing else.
--output-dir DIR writes each cluster's desired objects to DIR/<context>/ instead (one YAML file per object); a remote secret whose reader token does not exist yet is named, not written.
A failure part-way says what was applied; running apply again converges. The file: docs/apply.md.`
  static examples = [
    'kubectl mesh apply -f mesh.yaml',
    'kubectl mesh apply -f mesh.yaml --prune',
    'kubectl mesh apply -f mesh.yaml --dry-run -o json',
    'kubectl mesh apply -f mesh.yaml --output-dir ./gitops',
  ]
  static flags = {
    file: Flags.string({char: 'f', required: true, description: 'The Mesh file (apiVersion kubectl-mesh/v1alpha1, kind Mesh).'}),
    prune: Flags.boolean({description: 'Also delete what kubectl-mesh made in the declared clusters that the file no longer declares.'}),
    'dry-run': dryRunFlag,
    'output-dir': Flags.string({description: "Instead of applying: write each cluster's desired objects as YAML files under DIR/<context>/ (one per object, stable names) for GitOps."}),
    kubeconfig: kubeconfigFlag,
    'request-timeout': requestTimeoutFlag,
    verbose: verboseFlag,
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Apply)
    const {readMeshFile} = await import('../mesh/file.ts')
    const mesh = readMeshFile(flags.file)
    if (flags['output-dir'] !== undefined) {
      if (flags.prune || flags['dry-run']) throw new UsageError('--output-dir writes files instead of applying: it takes neither --prune nor --dry-run', 'GitOps prunes by itself (Argo CD prune, Flux garbage collection); drop the flag')
      const {writeMeshFiles} = await import('../mesh/service.ts')
      const r = await writeMeshFiles(this.kube(flags), {mesh, file: flags.file, dir: flags['output-dir'], version: this.config.version, progress: (await import('../ui/progress.ts')).progressFor(flags.output)})
      const {renderOutputDir} = await import('../mesh/render.ts')
      renderOutputDir(r, flags.output)
      return
    }
    const {runMesh} = await import('../mesh/service.ts')
    const result = await runMesh(this.kube(flags), {
      mesh, file: flags.file, dryRun: flags['dry-run'], prune: flags.prune, verify: !flags['dry-run'], version: this.config.version,
      progress: (await import('../ui/progress.ts')).progressFor(flags.output),
    })
    const {renderMeshRun} = await import('../mesh/render.ts')
    renderMeshRun(result, {output: flags.output, planned: flags['dry-run']})
    if (result.verify && result.verify.summary.failed > 0) process.exitCode = 1
  }
}
