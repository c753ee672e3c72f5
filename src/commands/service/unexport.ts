import {Args} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {clusterDomainFlag, dryRunFlag, kubeFlags, namespaceFlag, outputFlag} from '../../flags.ts'

export default class ServiceUnexport extends MeshCommand {
  static summary = 'Stop exposing a Service through the east-west gateway.'
  static description = 'Removes the host from the Gateway kubectl-mesh-exports (deleted when it empties), the kubectl-mesh/exported label, and a ServiceExport kubectl-mesh wrote. Works when the Service is already gone.'
  static examples = ['kubectl mesh service unexport httpbin -n bar --context west']
  static args = {name: Args.string({required: true, description: 'The Service to stop exporting.'})}
  static flags = {
    ...kubeFlags,
    namespace: namespaceFlag,
    'cluster-domain': clusterDomainFlag('The cluster DNS domain of this cluster, for a Service whose export recorded no host.'),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ServiceUnexport)
    const session = this.kube(flags)
    const namespace = session.resolve(flags.context, flags.namespace).namespace
    const {unexportService} = await import('../../exposure/export.ts')
    const plan = flags.output === 'yaml'
    const result = await unexportService(session, {
      name: args.name, namespace, context: flags.context, istioNamespace: flags['istio-namespace'], clusterDomain: flags['cluster-domain'],
      dryRun: flags['dry-run'], version: this.config.version,
    }, {plan})
    const {note, printChanges, printYamlDocs} = await import('../../ui/output.ts')
    for (const n of result.notes ?? []) note(n)
    if (plan) return printYamlDocs(result.plan!.map((object) => ({context: result.context, object})))
    printChanges(result.changes, flags.output === 'json' ? 'json' : 'text', {host: result.host, ...(result.meshKind ? {meshKind: result.meshKind} : {})})
  }
}
