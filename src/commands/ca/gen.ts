import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags, outputFlag} from '../../flags.ts'

export default class CaGen extends MeshCommand {
  static summary = 'Make a shared root CA and one intermediate CA per cluster (Istio tools/certs layout), and install one as Secret cacerts.'
  static description = `Files are written in the layout of Istio's tools/certs: DIR/root-cert.pem, DIR/root-key.pem and DIR/<cluster>/{ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem}. Private keys are 0600, folders 0700.
An existing root is reused, never regenerated; an existing intermediate is reused unless --force re-issues it from the same root.
With --context (one --cluster), the cluster's intermediate is installed as Secret cacerts in the Istio namespace; a cacerts with another root is refused unless --force.`
  static examples = [
    'kubectl mesh ca gen --cluster east --cluster west',
    'kubectl mesh ca gen --cluster east --context east',
    'kubectl mesh ca gen --cluster west --root-cert root-cert.pem --root-key root-key.pem --dir ./mesh-ca',
    'kubectl mesh ca gen --cluster east --context east -o yaml',
  ]

  static flags = {
    cluster: Flags.string({description: 'Cluster name (DNS-1123 label); one intermediate CA each. Repeatable.', multiple: true, multipleNonGreedy: true, required: true}),
    dir: Flags.string({description: 'Folder of the CA files.', default: './mesh-ca'}),
    'root-cert': Flags.string({description: 'Bring your own root: its PEM certificate (needs --root-key).'}),
    'root-key': Flags.string({description: 'Bring your own root: its PEM private key (needs --root-cert). Not copied into --dir.'}),
    'key-size': Flags.integer({description: 'RSA key size of new keys: 2048, 3072 or 4096.', default: 4096}),
    'root-days': Flags.integer({description: 'Validity of a new root, in days.', default: 3650}),
    days: Flags.integer({description: 'Validity of new intermediates, in days (clamped to the root\'s expiry).', default: 3650}),
    org: Flags.string({description: 'Organization (O) of new certificates.', default: 'Istio'}),
    force: Flags.boolean({description: 'Re-issue existing intermediates from the same root, and replace a cacerts Secret that holds another root.'}),
    ...kubeFlags,
    context: Flags.string({description: 'Install the intermediate of the (single) --cluster as Secret cacerts in this context.', helpGroup: 'KUBE'}),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(CaGen)
    const {caGen} = await import('../../ca/service.ts')
    const result = await caGen({
      clusters: flags.cluster,
      dir: flags.dir,
      rootCertFile: flags['root-cert'],
      rootKeyFile: flags['root-key'],
      keySize: flags['key-size'],
      rootDays: flags['root-days'],
      days: flags.days,
      org: flags.org,
      force: flags.force,
      context: flags.context,
      install: flags.context !== undefined,
      istioNamespace: flags['istio-namespace'],
      output: flags.output,
      dryRun: flags['dry-run'],
      version: this.config.version,
    }, {session: () => this.kube(flags), progress: (await import('../../ui/progress.ts')).progressFor(flags.output)})
    const {note, printChanges, printYamlDocs, warn} = await import('../../ui/output.ts')
    for (const w of result.warnings) warn(w)
    if (result.yamlDocs) {
      warn('the output holds the intermediate CA\'s private key (ca-key.pem): keep it out of logs and version control')
      printYamlDocs(result.yamlDocs)
      return
    }
    if (flags.output === 'json') {
      printChanges(result.changes, 'json', {root: result.root, clusters: result.clusters, ...(result.istiodRestartRequired ? {istiodRestartRequired: true} : {})})
    } else {
      printChanges(result.changes, 'text')
      note(`root CA ${result.root.fingerprint} (${result.root.action === 'create' ? 'created' : result.root.action === 'import' ? 'brought in' : 'reused'}), valid until ${result.root.notAfter}`)
    }
    for (const n of result.notes) note(n)
  }
}
