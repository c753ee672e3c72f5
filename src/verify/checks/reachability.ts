// Reachability and permissions: can each cluster's API be read at all, and which kinds not.
import {type CheckDef, fail, pass, warn} from '../check.ts'

export const reachabilityChecks: CheckDef[] = [
  {
    id: 'reachability.api',
    category: 'reachability',
    title: "The cluster's API server answers within the request timeout.",
    run: (ctx) => ctx.clusters.map((c) => {
      const how = c.source === 'remote-secret' ? ` (no context for it: read with the credentials of remote secret ${c.via})` : ''
      if (c.unreachable) return fail(c.name, `cluster ${c.name}: cannot read the API server ${c.server}${how}: ${c.unreachable.message}`, c.unreachable.hint)
      return pass(c.name, `cluster ${c.name}: API server ${c.server} answered${how}`)
    }),
  },
  {
    id: 'reachability.read-access',
    category: 'reachability',
    title: 'The credentials may list every kind verify reads (Secrets and ConfigMaps in the Istio namespace, Services, Deployments, Istio networking objects).',
    run: (ctx) => ctx.reachable.map((c) => {
      const denied = Object.entries(c.failures).filter(([, f]) => f && (f.reason === 'forbidden' || f.reason === 'unauthorized' || f.reason === 'error'))
      if (denied.length === 0) return pass(c.name, `cluster ${c.name}: every kind verify reads is readable`)
      const list = denied.map(([k, f]) => `${k} (${f!.reason})`).join(', ')
      const who = c.context ? `context "${c.context}"` : `the token of remote secret ${c.via}`
      return warn(c.name, `cluster ${c.name}: ${who} cannot read ${list}; the checks that need them are skipped`,
        c.context
          ? `use a context allowed to read them, e.g. check with \`kubectl auth can-i list secrets -n ${c.istioNamespace} --context ${c.context}\``
          : `add a context for cluster ${c.name} to your kubeconfig and pass --context for it`)
    }),
  },
]
