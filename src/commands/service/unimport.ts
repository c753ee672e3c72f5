import {Args, Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags, namespaceFlag} from '../../flags.ts'

export default class ServiceUnimport extends MeshCommand {
  static summary = 'Remove an imported service: its ServiceEntry, DestinationRule and address.'
  static examples = [
    'kubectl mesh service unimport httpbin -n bar --context east',
    'kubectl mesh service unimport httpbin -n bar --context east --from-name west',
  ]
  static args = {name: Args.string({required: true, description: 'The imported service.'})}
  static flags = {
    ...kubeFlags,
    namespace: namespaceFlag,
    'from-name': Flags.string({description: 'Only the import from this cluster ID (default: every cluster NAME was imported from).'}),
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ServiceUnimport)
    const session = this.kube(flags)
    const namespace = session.resolve(flags.context, flags.namespace).namespace
    const {unimportService} = await import('../../exposure/import.ts')
    const result = await unimportService(session, {
      name: args.name, namespace, context: flags.context, fromName: flags['from-name'], istioNamespace: flags['istio-namespace'], dryRun: flags['dry-run'],
    })
    const {note, printChanges} = await import('../../ui/output.ts')
    for (const n of result.notes) note(n)
    printChanges(result.changes, flags.output)
  }
}
