import {Args, Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {clusterDomainFlag, dryRunFlag, kubeFlags, namespaceFlag, optionalValue, outputFlag} from '../../flags.ts'

export default class ServiceImport extends MeshCommand {
  static summary = "Reach a service another mesh exports, through that cluster's east-west gateway."
  static description = `Reads the exported Service and the east-west gateway in WEST (--from-context), then writes in this cluster a ServiceEntry (host NAME.NS.global, the remote ports, endpoints at WEST's gateway on 15443) and a DestinationRule (ISTIO_MUTUAL, per-port SNI outbound_.<port>_._.NAME.NS.svc.<cluster domain>), both named NAME-<WEST cluster ID>.
With --all-exported, imports every Service WEST exports (in -n NS, or in every namespace), reading each cluster once.
With --via-egress [NAMESPACE/NAME], the sidecars send the host to this cluster's egress gateway (default: the Service labelled istio=egressgateway) over ISTIO_MUTUAL, and the egress gateway forwards it to WEST's east-west gateway with the owner's SNI: a Gateway and VirtualService per port, a VirtualService for the sidecars, a DestinationRule for the egress gateway. Importing again without it returns to the direct path.`
  static examples = [
    'kubectl mesh service import httpbin -n bar --from-context west --context east',
    'kubectl mesh service import --all-exported --from-context west --context east',
    'kubectl mesh service import httpbin -n bar --from-context west --context east --host httpbin.bar.remote --via-egress',
  ]
  static args = {name: Args.string({required: false, description: 'The Service to import (omit with --all-exported).'})}
  static flags = {
    ...kubeFlags,
    namespace: namespaceFlag,
    'from-context': Flags.string({required: true, description: 'The context of the cluster that exports the service (WEST).'}),
    'from-name': Flags.string({description: "WEST's cluster ID, used in object names (default: istiod CLUSTER_ID, then the injector's clusterName)."}),
    host: Flags.string({description: 'The host to import as (default NAME.NS.global).'}),
    address: Flags.string({description: 'auto: none on Istio 1.25+ (it allocates), else the next free 240.0.0.0/16 address; none; or an IP.', default: 'auto'}),
    'all-exported': Flags.boolean({description: 'Import every Service WEST exports (in -n NS, or everywhere).'}),
    'create-namespace': Flags.boolean({description: 'Create the namespace in this cluster when it is missing.'}),
    'cluster-domain': clusterDomainFlag("WEST's cluster DNS domain (goes into the SNI)."),
    'via-egress': Flags.string({description: "Go through this cluster's egress gateway: NAMESPACE/NAME of its Service, or nothing for the one labelled istio=egressgateway."}),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    this.argv = optionalValue(this.argv, '--via-egress', (v) => v.includes('/'))
    const {args, flags} = await this.parse(ServiceImport)
    const session = this.kube(flags)
    const namespace = flags.namespace ?? (flags['all-exported'] ? undefined : session.resolve(flags.context).namespace)
    const {importServices} = await import('../../exposure/import.ts')
    const plan = flags.output === 'yaml'
    const result = await importServices(session, {
      name: args.name, allExported: flags['all-exported'], namespace, context: flags.context, fromContext: flags['from-context'],
      fromName: flags['from-name'], host: flags.host, address: flags.address, createNamespace: flags['create-namespace'],
      istioNamespace: flags['istio-namespace'], clusterDomain: flags['cluster-domain'], dryRun: flags['dry-run'], version: this.config.version,
      progress: (await import('../../ui/progress.ts')).progressFor(flags.output), viaEgress: flags['via-egress'],
    }, {plan})
    const {note, printChanges, printYamlDocs, warn} = await import('../../ui/output.ts')
    for (const w of result.warnings) warn(w)
    for (const n of result.notes) note(n)
    if (plan) return printYamlDocs(result.plan!)
    printChanges(result.changes, flags.output === 'json' ? 'json' : 'text', {imported: result.imported})
  }
}
