// Exports: every exported Service is reachable through an AUTO_PASSTHROUGH Gateway on the
// east-west gateway, and the kubectl-mesh Gateway lists no stale hosts.
import {EXPORTED_LABEL, EXPORTS_GATEWAY} from '../../istio/names.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, warn, skipUnreadable} from '../check.ts'
import {coveringGateway, objectRef} from '../../istio/gateway.ts'
import type {KubeObject} from '../../kube/resources.ts'
import {exportedFqdn} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'

/** The Gateway (namespace/name) that passes this Service's exported host through the cluster's east-west gateway (src/istio/gateway.ts), or undefined. */
export function passingGateway(ctx: CheckContext, c: ClusterFacts, svc: KubeObject): string | undefined {
  const ew = ctx.gateway(c)
  const gw = ew && coveringGateway(c.lists.Gateway ?? [], ew, exportedFqdn(svc, ctx.id(c)), svc.metadata.namespace ?? '')
  return gw && objectRef(gw)
}

export const exportChecks: CheckDef[] = [
  {
    id: 'exports.gateway',
    category: 'exports',
    title: `Every Service labelled ${EXPORTED_LABEL}=true is listed (exactly or by wildcard) in a Gateway selecting the east-west gateway with a TLS AUTO_PASSTHROUGH server on 15443; Gateway ${EXPORTS_GATEWAY} lists no host whose Service is gone or no longer exported.`,
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.reachable) {
        if (ctx.isAmbient(c)) {
          out.push(skip(c.name, `cluster ${c.name}: ambient mesh: exported Services cross through the istio-east-west Gateway (ambient.service-scope)`))
          continue
        }
        if (!c.lists.Service || !c.lists.Gateway) {
          out.push(skipUnreadable(c, c.lists.Service ? 'Gateway' : 'Service'))
          continue
        }
        const exported = c.lists.Service.filter((s) => s.metadata.labels?.[EXPORTED_LABEL] === 'true')
        if (exported.length > 0 && !ctx.gateway(c)) {
          out.push(skip(c.name, `cluster ${c.name}: no east-west gateway, so no Gateway can pass its ${exported.length} exported Service(s) through (see networks.gateway-address)`))
          continue
        }
        const bad: Finding[] = []
        for (const s of exported) {
          const {name, namespace = ''} = s.metadata
          if (!passingGateway(ctx, c, s)) {
            bad.push(fail(c.name, `cluster ${c.name}: Service ${namespace}/${name} is exported, but no Gateway on the east-west gateway passes ${exportedFqdn(s, ctx.id(c))} through (TLS AUTO_PASSTHROUGH on ${ctx.gateway(c)?.port ?? 15443})`,
              `\`kubectl mesh service export ${name} -n ${namespace} --context ${ctxOf(c)}\``))
          }
        }
        for (const gw of c.lists.Gateway.filter((g) => g.metadata.name === EXPORTS_GATEWAY)) {
          for (const s of gw.spec?.servers ?? []) {
            for (const h of s.hosts ?? []) {
              const m = /^(?:[^/]*\/)?([^.]+)\.([^.]+)\.svc\./.exec(h)
              if (!m) continue
              const svc = c.lists.Service.find((x) => x.metadata.name === m[1] && x.metadata.namespace === m[2])
              if (!svc || svc.metadata.labels?.[EXPORTED_LABEL] !== 'true') {
                bad.push(warn(c.name, `cluster ${c.name}: Gateway ${gw.metadata.namespace}/${EXPORTS_GATEWAY} lists ${h}, but Service ${m[2]}/${m[1]} ${svc ? 'is not labelled exported' : 'does not exist'}`,
                  `\`kubectl mesh service unexport ${m[1]} -n ${m[2]} --context ${ctxOf(c)}\``))
              } else if (exportedFqdn(svc, ctx.id(c)) !== h) {
                bad.push(warn(c.name, `cluster ${c.name}: Gateway ${gw.metadata.namespace}/${EXPORTS_GATEWAY} lists ${h}, but Service ${m[2]}/${m[1]} is exported as ${exportedFqdn(svc, ctx.id(c))}: a leftover host`,
                  `\`kubectl mesh service unexport ${m[1]} -n ${m[2]} --context ${ctxOf(c)}\` removes every host of it; then export it again`))
              }
            }
          }
        }
        out.push(...bad)
        if (bad.length === 0) out.push(exported.length === 0 ? skip(c.name, `cluster ${c.name}: no exported services`) : pass(c.name, `cluster ${c.name}: ${exported.length} exported service(s), each passed through the east-west gateway`))
      }
      return out
    },
  },
]
