import {Args, Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {clusterDomainFlag, dryRunFlag, kubeFlags, namespaceFlag, outputFlag} from '../../flags.ts'

export default class ServiceExport extends MeshCommand {
  static aliases = ['export']
  static summary = "Expose a Service to other meshes through this cluster's east-west gateway."
  static description = `Adds NAME.NS.svc.<cluster domain> to the AUTO_PASSTHROUGH Gateway kubectl-mesh-exports (the east-west gateway's cross-network port, 15443 unless its networking.istio.io/gatewayPort label says otherwise), labels the Service kubectl-mesh/exported=true and records the host in its annotation kubectl-mesh/exported-host (unexport, import and verify use it). With --mcs, also writes an MCS ServiceExport.`
  static examples = [
    'kubectl mesh export httpbin -n bar --context west',
    'kubectl mesh service export httpbin -n bar --context west --mcs',
  ]
  static args = {name: Args.string({required: true, description: 'The Service to export.'})}
  static flags = {
    ...kubeFlags,
    namespace: namespaceFlag,
    mcs: Flags.boolean({description: 'Also write an MCS ServiceExport (the CRD must be installed).'}),
    'cluster-domain': clusterDomainFlag('The cluster DNS domain of this cluster.'),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ServiceExport)
    const session = this.kube(flags)
    const namespace = session.resolve(flags.context, flags.namespace).namespace
    const {exportService} = await import('../../exposure/export.ts')
    const plan = flags.output === 'yaml'
    const result = await exportService(session, {
      name: args.name, namespace, context: flags.context, istioNamespace: flags['istio-namespace'], clusterDomain: flags['cluster-domain'],
      mcs: flags.mcs, dryRun: flags['dry-run'], version: this.config.version, progress: (await import('../../ui/progress.ts')).progressFor(flags.output),
    }, {plan})
    const {note, printChanges, printYamlDocs} = await import('../../ui/output.ts')
    for (const n of result.notes ?? []) note(n)
    if (result.coveredBy) note(`Service ${namespace}/${args.name} is already reachable: Gateway ${result.coveredBy} passes ${result.host} through; no host added`)
    if (plan) return printYamlDocs(result.plan!.map((object) => ({context: result.context, object})))
    printChanges(result.changes, flags.output === 'json' ? 'json' : 'text', {host: result.host, ...(result.coveredBy ? {coveredBy: result.coveredBy} : {}), ...(result.meshKind ? {meshKind: result.meshKind} : {})})
  }
}
