import {Flags} from '@oclif/core'
import {MeshCommand} from '../../base-command.ts'
import {dryRunFlag, kubeFlags, outputFlag} from '../../flags.ts'

export default class ClusterLink extends MeshCommand {
  static summary = "Link two clusters: EAST's istiod discovers WEST's services and endpoints."
  static description = `Reads both clusters first (cluster ID, network, mesh ID, root of trust, east-west gateway) and checks the pair before writing.
In WEST: ServiceAccount istio-reader-service-account, its reader ClusterRole and binding if missing, and the token Secret istio-reader-service-account-istio-remote-secret-token.
In EAST: Secret istio-remote-secret-<ID> (label istio/multiCluster=true; a kubeconfig with inline CA data and the reader token), and, when the networks differ, the entry for WEST's network in the istio ConfigMap's meshNetworks.
When the networks differ (and --expose all), in WEST: Gateway kubectl-mesh-cross-network on its east-west gateway (AUTO_PASSTHROUGH, hosts *.<cluster domain>), recording EAST's ID in its annotation kubectl-mesh/exposed-for; none when a Gateway already passes every service through.
Primary-remote: when WEST runs Istio's remote profile (no istiod; a values ConfigMap names its cluster ID and network), or with --remote-profile, EAST is its primary: the same remote secret and meshNetworks in EAST, WEST's Istio namespace annotated topology.istio.io/controlPlaneClusters=<EAST ID>, and when the networks differ EAST's istiod passed through EAST's east-west gateway (Gateway and VirtualService kubectl-mesh-istiod: 15012 and 15017, TLS PASSTHROUGH, as Istio's expose-istiod.yaml). --bidirectional is refused then: WEST has no istiod.
Undo with \`kubectl mesh cluster unlink\`.`
  static examples = [
    'kubectl mesh cluster link --context east --remote-context west',
    'kubectl mesh cluster link --context east --remote-context west --bidirectional',
    'kubectl mesh cluster link --context east --remote-context west --server https://west-api.example.com:6443 --gateway 203.0.113.7',
    'kubectl mesh cluster link --context east --remote-context west -o yaml',
    'kubectl mesh cluster link --context east --remote-context west --token-ttl 24h',
    'kubectl mesh cluster link --context primary --remote-context remote1 --remote-profile',
  ]
  static flags = {
    ...kubeFlags,
    'remote-context': Flags.string({required: true, description: 'The context of the cluster to discover (WEST).'}),
    'remote-name': Flags.string({description: "WEST's cluster ID: the remote secret's data key (default: its istiod CLUSTER_ID, else the injector's global.multiCluster.clusterName)."}),
    server: Flags.string({description: "The API server address EAST's istiod uses for WEST (default: the server of --remote-context)."}),
    'tls-server-name': Flags.string({description: "The TLS server name for WEST's API server (default: the one of --remote-context, if any)."}),
    network: Flags.string({description: "WEST's network (default: label topology.istio.io/network on its Istio namespace, else global.network)."}),
    gateway: Flags.string({description: "WEST's east-west gateway as ADDR[:PORT] (default: every address istiod uses for WEST's east-west gateway: load-balancer IPs or hostnames, a NodePort Service's selected node ExternalIPs with the nodePort, externalIPs; port 15443 or its networking.istio.io/gatewayPort label)."}),
    bidirectional: Flags.boolean({description: 'Also link the other way: WEST discovers EAST.'}),
    'remote-profile': Flags.boolean({description: "WEST runs Istio's remote profile (its control plane is EAST's istiod), even when its install does not say so (default: detected from its values ConfigMap)."}),
    expose: Flags.option({description: "Across networks, what EAST reaches in WEST: all of WEST's services (a Gateway kubectl-mesh-cross-network passes them through WEST's east-west gateway, as Istio's expose-services.yaml) or only those shared with `service export`.", options: ['all', 'exported'] as const, default: 'all'})(),
    'network-config': Flags.option({description: "Across networks, how EAST's istiod learns WEST's east-west gateway: meshnetworks writes WEST's network and gateway addresses into EAST's istio ConfigMap (key meshNetworks; an upgrade that re-renders that ConfigMap wipes it: verify says so); gateway writes nothing there and relies on WEST's gateway Service labelled with its network, which EAST's istiod discovers through the remote secret (docs/link.md).", options: ['meshnetworks', 'gateway'] as const, default: 'meshnetworks'})(),
    force: Flags.boolean({description: 'Link even though the clusters trust different root CAs, or --remote-name differs from the cluster ID (with a warning).'}),
    'create-gateway': Flags.boolean({description: "Ambient meshes: write WEST's east-west Gateway (class istio-east-west, HBONE 15008, WEST's network label) as Istio's gen-eastwest-gateway.sh --ambient prints it, when WEST has none."}),
    'token-ttl': Flags.string({description: "A bound token with this lifetime (10m to 8760h, e.g. 24h) instead of the long-lived token Secret: a TokenRequest token bound to Secret istio-reader-<EAST ID>-anchor-<n> in WEST (deleting it revokes the token). Run again while more than half its life is left: unchanged."}),
    output: outputFlag,
    'dry-run': dryRunFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterLink)
    const {link} = await import('../../link/service.ts')
    const {parseTokenTtl} = await import('../../link/token.ts')
    const tokenTtlSeconds = flags['token-ttl'] === undefined ? undefined : parseTokenTtl(flags['token-ttl'])
    const {note, printChanges, printYamlDocs, warn} = await import('../../ui/output.ts')
    const result = await link(this.kube(flags), {
      context: flags.context,
      remoteContext: flags['remote-context'],
      istioNamespace: flags['istio-namespace'],
      remoteName: flags['remote-name'],
      server: flags.server,
      tlsServerName: flags['tls-server-name'],
      network: flags.network,
      gateway: flags.gateway,
      bidirectional: flags.bidirectional,
      force: flags.force,
      output: flags.output,
      dryRun: flags['dry-run'],
      expose: flags.expose,
      networkConfig: flags['network-config'],
      version: this.config.version,
      tokenTtlSeconds,
      remoteProfile: flags['remote-profile'],
      createGateway: flags['create-gateway'],
      report: {warn, note},
      progress: (await import('../../ui/progress.ts')).progressFor(flags.output),
    })
    if (result.docs) {
      if (result.docs.length > 0) printYamlDocs(result.docs)
      if (result.error) throw result.error
      return
    }
    printChanges(result.changes, flags.output === 'json' ? 'json' : 'text', {links: result.links})
  }
}
