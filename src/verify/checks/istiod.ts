// istiod's own view of its links: every cluster a remote secret names is `synced` in
// /debug/clusterz. The facts come from src/verify/istiod.ts (one GET per cluster, through a
// port-forward to istiod's pod or at a --istiod-debug-url).
import {type CheckDef, ctxOf, fail, pass, skip} from '../check.ts'
import type {Finding} from '../types.ts'

/** By hand: what verify does through the API server. */
const byHand = (ns: string, ctx: string) =>
  `\`kubectl -n ${ns} port-forward deploy/istiod 15014:15014 --context ${ctx}\` and \`curl -s 127.0.0.1:15014/debug/clusterz\` (or \`istioctl remote-clusters --context ${ctx}\`)`

export const istiodChecks: CheckDef[] = [
  {
    id: 'links.istiod-sync',
    category: 'links',
    title: "istiod lists every cluster its remote secrets name as `synced` in /debug/clusterz (read through a port-forward to istiod's pod, monitoring port 15014).",
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.clusters) {
        const probe = ctx.facts.istiod?.find((p) => p.cluster === c.name)
        const localId = ctx.clusterIdOf(c)
        const keys = [...new Set(ctx.secrets(c).map((e) => e.key))].filter((k) => k !== localId)
        if (keys.length === 0) {
          if (!c.unreachable) out.push(skip(c.name, `cluster ${c.name}: no remote secrets`))
          continue
        }
        if (!probe || probe.outcome === 'not-asked' || probe.outcome === 'no-pod' || probe.outcome === 'forbidden') {
          if (c.unreachable) continue
          if (probe?.outcome === 'no-pod') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read: ${probe.detail}`,
              `if istiod runs outside this cluster, pass \`--istiod-debug-url ${ctxOf(c)}=http://HOST:15014\` with an address of its monitoring port; by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else if (probe?.outcome === 'forbidden') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read: ${probe.detail} (forbidden)`,
              `reading it needs \`list pods\` and \`create pods/portforward\` in ${c.istioNamespace}; by hand with other credentials: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else if (c.source === 'context') {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read`, `by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          } else {
            out.push(skip(c.name, `cluster ${c.name}: istiod's sync status not read (cluster read through a remote secret, not a context)`,
              `verify it with a context: \`kubectl mesh verify --context ${ctxOf(c)}\`; by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          }
          continue
        }
        if (probe.outcome === 'error' || !probe.clusterz) {
          out.push(fail(c.name, `cluster ${c.name}: istiod did not answer /debug/clusterz (${probe.url}): ${probe.detail}`,
            `check that istiod runs and serves its monitoring port 15014 (\`kubectl -n ${c.istioNamespace} get pods -l app=istiod --context ${ctxOf(c)}\`, then its log: \`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)}\`); by hand: ${byHand(c.istioNamespace, ctxOf(c))}`))
          continue
        }
        const bad: Finding[] = []
        for (const key of keys) {
          const entry = probe.clusterz.find((e) => e.id === key)
          const secret = ctx.secrets(c).find((e) => e.key === key)?.secret.metadata.name
          if (!entry) {
            bad.push(fail(c.name, `cluster ${c.name}: istiod does not list cluster ${key} (Secret ${c.istioNamespace}/${secret}) in /debug/clusterz`,
              `istiod skipped the secret: look for "${key}" in its log (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)} | grep ${key}\`), e.g. a kubeconfig it rejects or a cluster ID registered twice`))
          } else if (entry.syncStatus !== 'synced') {
            const peer = ctx.byClusterId(key)
            bad.push(fail(c.name, `cluster ${c.name}: istiod's view of cluster ${key} is "${entry.syncStatus}", not synced: it cannot read everything it needs from cluster ${key}'s API server`,
              `check that cluster ${key}'s API server (${peer?.server || 'the server in the remote secret'}) is up and reachable from istiod's pod, and look for "watch error in cluster ${key}" in istiod's log (\`kubectl -n ${c.istioNamespace} logs deploy/istiod --context ${ctxOf(c)}\`): a "forbidden" there means the reader ClusterRole in ${key} lacks a permission. istiod retries on its own; a token change needs \`${ctx.linkCommand(c, peer ?? key)}\``))
          }
        }
        out.push(...bad)
        if (bad.length === 0) out.push(pass(c.name, `cluster ${c.name}: istiod lists ${keys.length} remote cluster(s) as synced: ${keys.join(', ')}`))
      }
      return out
    },
  },
]
