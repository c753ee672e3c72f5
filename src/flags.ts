// The flags shared by every command (DESIGN.md "Conventions"). Commands pick the ones that apply.
import {Flags} from '@oclif/core'
import {UsageError} from './errors.ts'
import {DEFAULT_CLUSTER_DOMAIN} from './istio/names.ts'

const KUBE = 'KUBE'

/** "10s", "500ms", "2m" or plain seconds, in milliseconds. */
export function parseDuration(input: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(input.trim())
  if (!m) throw new UsageError(`invalid duration "${input}"`, 'use a number of seconds or a duration such as 500ms, 10s, 1m')
  const n = Number(m[1])
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000
  if (ms <= 0) throw new UsageError(`invalid duration "${input}": must be positive`, 'use a duration such as 10s')
  return ms
}

export const kubeconfigFlag = Flags.string({description: 'Path to the kubeconfig file (default: KUBECONFIG, a list merged as kubectl merges it, then ~/.kube/config).', helpGroup: KUBE})
export const contextFlag = Flags.string({description: 'The kubeconfig context to use (default: the current context).', helpGroup: KUBE})
export const namespaceFlag = Flags.string({char: 'n', description: "The namespace (default: the context's namespace, then default).", helpGroup: KUBE})
export const istioNamespaceFlag = Flags.string({description: 'The namespace Istio is installed in.', default: 'istio-system', helpGroup: KUBE})
export const requestTimeoutFlag = Flags.string({description: 'How long to wait for each API request (e.g. 10s, 500ms).', default: '10s', helpGroup: KUBE})
export const outputFlag = Flags.option({char: 'o', description: 'Output format. yaml prints the desired objects and writes nothing.', options: ['text', 'yaml', 'json'] as const, default: 'text'})()
export const dryRunFlag = Flags.boolean({description: 'Server-side dry run: the API server validates every write and nothing persists.'})
/** --cluster-domain (the domain in Service FQDNs and SNIs); default: what the install says (istiod --domain, values global.proxy.clusterDomain), else cluster.local. */
export const clusterDomainFlag = (description: string) => Flags.string({description: `${description} Default: the Istio install's (istiod --domain, values global.proxy.clusterDomain), else ${DEFAULT_CLUSTER_DOMAIN}.`})
export const verboseFlag = Flags.boolean({description: 'Show stack traces and API request counts on errors.'})

/** The flags every command that talks to a cluster takes. */
export const kubeFlags = {
  kubeconfig: kubeconfigFlag,
  context: contextFlag,
  'istio-namespace': istioNamespaceFlag,
  'request-timeout': requestTimeoutFlag,
  verbose: verboseFlag,
}

/**
 * A string flag whose value is optional (`--via-egress` alone, or `--via-egress NS/NAME`): oclif
 * needs a value, so a bare flag (followed by nothing, another flag, or a word `isValue` refuses,
 * such as the positional NAME) becomes `--flag=` (the empty string: "the default").
 */
export function optionalValue(argv: string[], flag: string, isValue: (v: string) => boolean): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') return [...out, ...argv.slice(i)]
    if (a !== flag) {
      out.push(a)
      continue
    }
    const next = argv[i + 1]
    if (next !== undefined && !next.startsWith('-') && isValue(next)) {
      out.push(`${flag}=${next}`)
      i++
    } else {
      out.push(`${flag}=`)
    }
  }
  return out
}
