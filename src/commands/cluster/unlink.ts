import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags} from '../../flags.ts'

export default class ClusterUnlink extends MeshCommand {
  static summary = 'Undo a link: remove the remote secret and the meshNetworks entries for a cluster ID.'
  static description = `In EAST: deletes Secret istio-remote-secret-<ID> and removes fromRegistry <ID> from meshNetworks (a network left without endpoints is dropped). With --remote-context, also drops EAST's ID from WEST's Gateway kubectl-mesh-cross-network (deleted when no linking cluster is left). With --remote-name, WEST is not contacted, so this works while WEST is unreachable; without it, the ID is WEST's cluster ID, read from --remote-context.
Primary-remote: also drops WEST's ID from EAST's Gateway kubectl-mesh-istiod (Gateway and VirtualService deleted when no remote is left) and, with --remote-context, EAST's ID from WEST's annotation topology.istio.io/controlPlaneClusters.
With --bidirectional (needs --remote-context): also the mirror image, the link to EAST's cluster ID in WEST, as \`cluster link --bidirectional\` made it.
With --prune-remote (needs --remote-context): also deletes in WEST (and with --bidirectional in EAST) the reader token Secret, and the reader ServiceAccount, ClusterRole and binding, each only if kubectl-mesh created it.`
  static examples = [
    'kubectl mesh cluster unlink --context east --remote-name west',
    'kubectl mesh cluster unlink --context east --remote-context west --bidirectional',
    'kubectl mesh cluster unlink --context east --remote-name west --remote-context west --prune-remote',
  ]
  static flags = {
    ...kubeFlags,
    'remote-name': Flags.string({description: "The cluster ID the link was made for (the data key of Secret istio-remote-secret-<ID>); default: WEST's cluster ID."}),
    'remote-context': Flags.string({description: "WEST's context: the default --remote-name, and needed by --bidirectional and --prune-remote."}),
    bidirectional: Flags.boolean({description: "Also remove WEST's link to EAST (the mirror image of link --bidirectional)."}),
    'prune-remote': Flags.boolean({description: 'Also remove what link created in WEST (the token Secret; the account and RBAC only if kubectl-mesh created them).'}),
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUnlink)
    const {unlink} = await import('../../link/service.ts')
    const {note, printChanges, warn} = await import('../../ui/output.ts')
    const result = await unlink(this.kube(flags), {
      context: flags.context,
      remoteName: flags['remote-name'],
      remoteContext: flags['remote-context'],
      pruneRemote: flags['prune-remote'],
      bidirectional: flags.bidirectional,
      istioNamespace: flags['istio-namespace'],
      dryRun: flags['dry-run'],
      report: {warn, note},
    })
    if (result.changes.length === 0 && flags.output === 'text') note(`nothing to remove for ${result.ids.map((id) => `"${id}"`).join(' and ')}`)
    printChanges(result.changes, flags.output)
  }
}
