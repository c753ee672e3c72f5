import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {kubeFlags, parseDuration} from '../../flags.ts'

export default class ClusterRotateCredentials extends MeshCommand {
  static summary = "Replace a link's reader token: issue a new one, swap it into the remote secret, wait for istiod, then revoke the old one."
  static description = `For the link EAST → WEST (EAST's Secret istio-remote-secret-<WEST ID>): a new token for istio-reader-service-account in WEST — bound (TokenRequest) to a new anchor Secret istio-reader-<EAST ID>-anchor-<n> when the link has a bound token or --token-ttl is given, else a new long-lived token Secret istio-reader-<EAST ID>-token-<n> — is swapped into the remote secret (nothing else in it changes).
Then it waits until EAST's istiod lists WEST as synced again (/debug/clusterz through a port-forward to its pod; when that is not readable it waits 10 s), and only then revokes the old token by deleting its anchor or token Secret.
A failure on the way says which token is live and how to finish. Run it on a schedule (a CronJob or CI job) to keep tokens short-lived.`
  static examples = [
    'kubectl mesh cluster rotate-credentials --context east --remote-context west',
    'kubectl mesh cluster rotate-credentials --context east --remote-context west --bidirectional --token-ttl 24h',
  ]
  static flags = {
    ...kubeFlags,
    'remote-context': Flags.string({required: true, description: 'The context of the cluster the link reads (WEST), where the token is issued and the old one revoked.'}),
    bidirectional: Flags.boolean({description: "Also rotate WEST's link to EAST."}),
    'token-ttl': Flags.string({description: 'The new token is bound, with this lifetime (10m to 8760h); default: the lifetime of the current bound token, or a long-lived token for a legacy link.'}),
    'sync-timeout': Flags.string({description: "How long to wait for EAST's istiod to list WEST as synced with the new token before giving up (the old token is then not revoked).", default: '2m'}),
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterRotateCredentials)
    const {parseTokenTtl} = await import('../../link/token.ts')
    const tokenTtlSeconds = flags['token-ttl'] === undefined ? undefined : parseTokenTtl(flags['token-ttl'])
    const syncTimeoutMs = parseDuration(flags['sync-timeout'])
    const {rotateCredentials} = await import('../../link/rotate.ts')
    const {note, printChanges, warn} = await import('../../ui/output.ts')
    const result = await rotateCredentials(this.kube(flags), {
      context: flags.context,
      remoteContext: flags['remote-context'],
      bidirectional: flags.bidirectional,
      tokenTtlSeconds,
      istioNamespace: flags['istio-namespace'],
      version: this.config.version,
      syncTimeoutMs,
      report: {warn, note},
    })
    printChanges(result.changes, flags.output, {rotations: result.rotations})
  }
}
