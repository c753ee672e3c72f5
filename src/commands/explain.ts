import {Args, Flags} from '@oclif/core'
import {MeshCommand} from '../base-command.ts'
import {kubeFlags, namespaceFlag} from '../flags.ts'

export default class Explain extends MeshCommand {
  static summary = 'Show the endpoints a sidecar gets for a service, and why a cluster\'s are missing.'
  static description = `Reads istiod's own view through a port-forward to its pod (/debug/clusterz, /debug/networkz, /debug/endpointShardz; RBAC: list pods and create pods/portforward in the Istio namespace) and the clusters' objects, then applies Istio's network filtering (pilot/pkg/xds/endpoints): endpoints on the sidecar's network as pod addresses, endpoints on another network replaced by that network's gateway, endpoints without a sidecar dropped across networks.
Peers: the clusters the context's remote secrets name (read through a context of the same name or API server), plus --peer-context. For every peer that has the service but contributes nothing usable: the reason and the fix.
SERVICE is a Service name, or a ServiceEntry host in the namespace (e.g. the NAME.NS.global an import made). Writes nothing. See docs/explain.md.`
  static examples = [
    'kubectl mesh explain httpbin -n bar --context east --from foo',
    'kubectl mesh explain httpbin -n bar --context east --peer-context west -o json',
    'kubectl mesh explain httpbin.bar.global -n bar --context east',
  ]
  static args = {service: Args.string({required: true, description: 'The Service (or ServiceEntry host) to explain.'})}
  static flags = {
    ...kubeFlags,
    namespace: namespaceFlag,
    from: Flags.string({description: "The namespace of the sidecar (default: the service's namespace)."}),
    port: Flags.integer({description: 'Only this service port.', min: 1, max: 65535}),
    'peer-context': Flags.string({description: 'A cluster that has the service but may not be linked; repeatable.', multiple: true, multipleNonGreedy: true}),
    output: Flags.option({char: 'o', description: 'Output format.', options: ['text', 'json'] as const, default: 'text'})(),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Explain)
    const session = this.kube(flags)
    const namespace = session.resolve(flags.context, flags.namespace).namespace
    const opts = {
      service: args.service, namespace, context: flags.context, from: flags.from, port: flags.port,
      peerContexts: flags['peer-context'] ?? [], istioNamespace: flags['istio-namespace'],
    }
    // an ambient mesh: what istiod sends a ztunnel (src/explain/ambient.ts)
    for (const p of opts.peerContexts) session.resolve(p)
    const {readAmbient} = await import('../istio/ambient-read.ts')
    const amb = args.service.includes('.') ? undefined : await readAmbient(session.client(flags.context), flags['istio-namespace'])
    if (amb?.facts.kind === 'ambient') {
      const {explainAmbient, renderAmbientText} = await import('../explain/ambient.ts')
      const r = await explainAmbient(session, opts, amb)
      process.stdout.write(flags.output === 'json' ? `${JSON.stringify({service: r.service, from: r.from, endpoints: r.endpoints, dropped: r.dropped, meshKind: r.meshKind}, null, 2)}\n` : renderAmbientText(r))
      return
    }
    const {explain} = await import('../explain/service.ts')
    const result = await explain(session, opts)
    const {renderJson, renderText} = await import('../explain/render.ts')
    const {stdoutPainter} = await import('../ui/output.ts')
    process.stdout.write(flags.output === 'json' ? renderJson(result) : renderText(result, stdoutPainter))
  }
}
