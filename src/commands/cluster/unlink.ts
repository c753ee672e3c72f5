import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags} from '../../flags.ts'

export default class ClusterUnlink extends MeshCommand {
  static summary = 'Undo a link: remove the remote secret and the meshNetworks entries for a cluster ID.'
  static description = `In EAST: deletes Secret istio-remote-secret-<ID> and removes fromRegistry <ID> from meshNetworks (a network left without endpoints is dropped). WEST is not contacted, so this works while WEST is unreachable.
With --prune-remote (needs --remote-context): also deletes in WEST the token Secret, and the reader ServiceAccount, ClusterRole and binding, each only if kubectl-mesh created it.`
  static examples = [
    'kubectl mesh cluster unlink --context east --remote-name west',
    'kubectl mesh cluster unlink --context east --remote-name west --remote-context west --prune-remote',
  ]
  static flags = {
    ...kubeFlags,
    'remote-name': Flags.string({required: true, description: 'The cluster ID the link was made for (the data key of Secret istio-remote-secret-<ID>).'}),
    'remote-context': Flags.string({description: "WEST's context; only used with --prune-remote."}),
    'prune-remote': Flags.boolean({description: 'Also remove what link created in WEST (the token Secret; the account and RBAC only if kubectl-mesh created them).'}),
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUnlink)
    const {unlink} = await import('../../link/service.ts')
    const result = await unlink(this.kube(flags), {
      context: flags.context,
      remoteName: flags['remote-name'],
      remoteContext: flags['remote-context'],
      pruneRemote: flags['prune-remote'],
      istioNamespace: flags['istio-namespace'],
      dryRun: flags['dry-run'],
    })
    const {note, printChanges} = await import('../../ui/output.ts')
    if (result.changes.length === 0 && flags.output === 'text') note(`nothing to remove for "${flags['remote-name']}"`)
    printChanges(result.changes, flags.output)
  }
}
