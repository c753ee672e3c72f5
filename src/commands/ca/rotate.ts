import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags, outputFlag} from '../../flags.ts'

export default class CaRotate extends MeshCommand {
  static summary = "Replace the mesh's root CA in every cluster without an outage, one phase per run."
  static description = `Each run reads every named cluster's Secret cacerts and what its istiod publishes and signs with, and advances the whole mesh by at most one phase, only when the previous phase holds in every cluster (else it says what it waits for, in which cluster, and exits 0 writing nothing; run it again):
1. trust both: a new root in DIR/next; every cluster's root-cert.pem becomes old + new; intermediates unchanged.
2. issue from new: once every istiod publishes both roots (ConfigMap istio-ca-root-cert), each intermediate is re-issued from the new root.
3. trust new only: once every istiod signs with its new intermediate (its serving certificate on port 15012), root-cert.pem becomes the new root; the old root moves to DIR/retired-<date>, DIR/next becomes DIR.
Needs istiod with ISTIO_MULTIROOT_MESH=true and proxies with PROXY_CONFIG_XDS_AGENT=true (checked first). --abort (before phase 3) returns every cluster to the old root alone, in the same careful steps.`
  static examples = [
    'kubectl mesh ca rotate --dir ./mesh-ca --context east --context west',
    'kubectl mesh ca rotate --dir ./mesh-ca --context east --context west --dry-run',
    'kubectl mesh ca rotate --dir ./mesh-ca --context east --context west --abort',
  ]

  static flags = {
    dir: Flags.string({description: 'Folder of the CA files (made by `kubectl mesh ca gen`).', default: './mesh-ca'}),
    abort: Flags.boolean({description: 'Go back to the old root alone (possible until phase 3 begins).'}),
    ...kubeFlags,
    context: Flags.string({description: 'A cluster of the mesh. Repeatable: name every cluster that shares the root.', multiple: true, multipleNonGreedy: true, helpGroup: 'KUBE'}),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(CaRotate)
    const {caRotate} = await import('../../ca/rotate.ts')
    const result = await caRotate({
      dir: flags.dir,
      contexts: flags.context ?? [],
      abort: flags.abort,
      dryRun: flags['dry-run'],
      output: flags.output,
      istioNamespace: flags['istio-namespace'],
      version: this.config.version,
    }, {session: () => this.kube(flags)})
    const {note, printChanges, printYamlDocs, warn} = await import('../../ui/output.ts')
    if (result.yamlDocs) {
      if (result.yamlDocs.length > 0) warn('the output holds intermediate CA private keys (ca-key.pem): keep it out of logs and version control')
      printYamlDocs(result.yamlDocs)
      return
    }
    if (flags.output === 'json') {
      printChanges(result.changes, 'json', {step: result.step, summary: result.summary, waits: result.waits, stages: result.stages, notes: result.notes})
      return
    }
    printChanges(result.changes, 'text')
    note(result.summary)
    for (const w of result.waits) note(`waiting: ${w.context}: ${w.what}`)
    for (const n of result.notes) note(n)
  }
}
