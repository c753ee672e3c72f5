import {Flags} from '@oclif/core'
import {MeshCommand} from '../base-command.ts'
import {clusterDomainFlag, kubeFlags} from '../flags.ts'
import {UsageError} from '../errors.ts'
import {parseDuration} from '../flags.ts'

export default class Verify extends MeshCommand {
  static summary = 'Check a multi-cluster mesh end to end and say how to fix what is broken.'
  static description = `Reads every cluster once and runs checks on reachability, Istio identity, trust (cacerts, shared root, sample CA, expiry), links (remote secrets), istiod's own sync status, networks and gateways, exports, imports and DNS proxying. Writes nothing.
Without --context: the current context plus every cluster its remote secrets name (read with the secret's own credentials when no context exists for it).
istiod's sync status (/debug/clusterz) is read through a port-forward to its pod, as kubectl port-forward does (RBAC: create pods/portforward in the Istio namespace).
Exit code 1 when any check fails. The check catalogue: docs/verify.md.`

  static examples = [
    'kubectl mesh verify',
    'kubectl mesh verify --context east --context west',
    'kubectl mesh verify --context east --context west -o json',
    'kubectl mesh verify --context east --context west -o svg > mesh.svg',
    'kubectl mesh verify --context east --context west --wait 2m',
  ]

  static flags = {
    ...kubeFlags,
    context: Flags.string({description: 'A kubeconfig context to verify; repeat for each cluster (default: the current context and the clusters its remote secrets name).', multiple: true, multipleNonGreedy: true, helpGroup: 'KUBE'}),
    'istiod-debug-url': Flags.string({description: 'CLUSTER=URL: read istiod\'s /debug/clusterz of that cluster (context or cluster ID) at URL (its monitoring port 15014) instead of through a port-forward to its pod, e.g. for an istiod outside the cluster. Repeatable.', multiple: true, multipleNonGreedy: true}),
    'cluster-domain': clusterDomainFlag('The cluster DNS domain of every verified cluster (Service FQDNs and SNIs); hosts that export recorded are used as recorded.'),
    wait: Flags.string({description: 'Run verify again (every 2 s, re-reading only what changed) until no check fails or DURATION (e.g. 60s, 5m) has passed; a line per round on a terminal; exit 1 when checks still fail at the deadline.'}),
    output: Flags.option({char: 'o', description: 'Output format. dot, mermaid and svg draw the mesh: clusters, and links, exports and imports as edges coloured by their worst check.', options: ['text', 'json', 'dot', 'mermaid', 'svg'] as const, default: 'text'})(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Verify)
    const waitMs = flags.wait === undefined ? undefined : parseDuration(flags.wait)
    const session = this.kube(flags)
    const {verify, verifyUntil} = await import('../verify/service.ts')
    const {parseIstiodDebugUrls} = await import('../cluster/istiod.ts')
    let istiodDebugUrls: Record<string, string>
    try {
      istiodDebugUrls = parseIstiodDebugUrls(flags['istiod-debug-url'] ?? [])
    } catch (error) {
      throw new UsageError((error as Error).message, 'pass --istiod-debug-url CLUSTER=http://127.0.0.1:PORT')
    }
    const picture = flags.output === 'dot' || flags.output === 'mermaid' || flags.output === 'svg'
    const options = {contexts: flags.context ?? [], istioNamespace: flags['istio-namespace'], istiodDebugUrls, clusterDomain: flags['cluster-domain'], graph: picture, progress: (await import('../ui/progress.ts')).progressFor(flags.output)}
    const {roundLine, renderJson, waitSummary} = await import('../verify/render-json.ts')
    let waited: Awaited<ReturnType<typeof verifyUntil>> | undefined
    if (waitMs !== undefined) {
      const onTerminal = Boolean(process.stderr.isTTY)
      waited = await verifyUntil(session, {...options, waitMs, onRound: (r) => { if (onTerminal) process.stderr.write(roundLine(r)) }})
      process.stderr.write(waitSummary(waited, waitMs))
    }
    const report = waited?.report ?? await verify(session, options)
    if (flags.output === 'json') {
      process.stdout.write(renderJson(report, waited))
    } else if (picture) {
      const {renderDot, renderMermaid, renderSvg} = await import('../verify/graph.ts')
      const graph = report.graph!
      process.stdout.write(flags.output === 'dot' ? renderDot(graph) : flags.output === 'mermaid' ? renderMermaid(graph) : await renderSvg(graph))
    } else {
      const {renderText} = await import('../verify/render-text.ts')
      const {stdoutPainter} = await import('../ui/output.ts')
      process.stdout.write(renderText(report, stdoutPainter))
    }
    if (report.summary.failed > 0) process.exitCode = 1
  }
}
