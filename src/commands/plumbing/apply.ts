import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags, outputFlag} from '../../flags.ts'

export default class PlumbingApply extends MeshCommand {
  static hidden = true
  static summary = 'Apply objects from a YAML file through the kube layer (for tests of the plumbing).'
  static examples = ['kubectl mesh plumbing apply -f objects.yaml --context cluster1']
  static flags = {
    ...kubeFlags,
    file: Flags.string({char: 'f', required: true, description: 'YAML file with one or more objects.'}),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(PlumbingApply)
    const {applyFile} = await import('../../plumbing.ts')
    const changes = await applyFile(this.kube(flags), {file: flags.file, context: flags.context, dryRun: flags['dry-run']})
    const {printChanges} = await import('../../ui/output.ts')
    printChanges(changes, flags.output === 'json' ? 'json' : 'text')
  }
}
