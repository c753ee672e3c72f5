// Istio presence and identity: installed, cluster ID set and consistent, IDs unique, mesh ID.
import {type CheckDef, ctxOf, fail, pass, skip, warn, skipUnreadable} from '../check.ts'
import {istioNames, istioNamespace, istiodDeployment, injectorConfigMap} from '../model.ts'
import type {Finding} from '../types.ts'

const installHint = (ctx: string) => `install Istio in the cluster, e.g. \`istioctl install --context ${ctx} --set values.global.multiCluster.clusterName=<cluster ID> --set values.global.network=<network>\``

export const istioChecks: CheckDef[] = [
  {
    id: 'istio.installed',
    category: 'istio',
    title: "Istio's namespace, istiod (Deployment or injector ConfigMap) and the networking.istio.io CRDs exist.",
    run: (ctx) => ctx.reachable.map((c) => {
      const ns = istioNamespace(c)
      if (ns === null) return fail(c.name, `cluster ${c.name}: namespace ${c.istioNamespace} not found`, `${installHint(ctxOf(c))}, or pass --istio-namespace`)
      const dep = istiodDeployment(c)
      const inj = injectorConfigMap(c)
      if (ctx.id(c).install.remoteProfile) return pass(c.name, `cluster ${c.name}: Istio's remote profile is installed in ${c.istioNamespace} (no istiod: its control plane runs in a primary)`)
      if (dep === null && inj === null) return fail(c.name, `cluster ${c.name}: no Deployment ${c.istioNamespace}/${istioNames(c).istiod} and no ConfigMap ${c.istioNamespace}/${istioNames(c).injectorConfigMap}`, installHint(ctxOf(c)))
      if (c.failures.ServiceEntry?.reason === 'notfound' || c.failures.Gateway?.reason === 'notfound') {
        return fail(c.name, `cluster ${c.name}: the Istio CRDs are not installed (networking.istio.io/v1 Gateway/ServiceEntry not served)`, installHint(ctxOf(c)))
      }
      if (ns === undefined && dep === undefined && inj === undefined) return skipUnreadable(c, 'Namespace')
      return pass(c.name, `cluster ${c.name}: Istio is installed in ${c.istioNamespace}${ctx.id(c).istioVersion ? ` (${ctx.id(c).istioVersion})` : ''}`)
    }),
  },
  {
    id: 'istio.cluster-id',
    category: 'istio',
    title: "istiod's CLUSTER_ID and the injector's global.multiCluster.clusterName are set, agree, and are not the default \"Kubernetes\".",
    run: (ctx) => ctx.reachable.map((c) => {
      const id = ctx.id(c)
      const fix = `reinstall with one cluster ID: \`istioctl install --context ${ctxOf(c)} --set values.global.multiCluster.clusterName=<ID>\` (sets both istiod's CLUSTER_ID and the injector values)`
      if (id.envClusterId && id.injectorClusterId && id.envClusterId !== id.injectorClusterId) {
        return fail(c.name, `cluster ${c.name}: Deployment ${c.istioNamespace}/${istioNames(c).istiod} has CLUSTER_ID=${id.envClusterId} but ConfigMap ${c.istioNamespace}/${istioNames(c).injectorConfigMap} says global.multiCluster.clusterName=${id.injectorClusterId}`, fix)
      }
      if (!id.clusterId) {
        if (!id.istiodReadable && !id.injectorReadable) return skipUnreadable(c, 'Deployment')
        return warn(c.name, `cluster ${c.name}: no cluster ID set (istiod CLUSTER_ID and injector values are empty, so Istio uses "Kubernetes")`, fix)
      }
      if (id.clusterId === 'Kubernetes' && ctx.clusters.length > 1) return fail(c.name, `cluster ${c.name}: cluster ID is the default "Kubernetes"; every cluster of a mesh needs its own`, fix)
      return pass(c.name, `cluster ${c.name}: cluster ID ${id.clusterId} (${id.idSource})`)
    }),
  },
  {
    id: 'istio.cluster-id-unique',
    category: 'istio',
    title: 'No two verified clusters share a cluster ID.',
    run: (ctx) => ctx.reachable.map((c) => {
      const id = ctx.id(c).clusterId
      if (!id) return skip(c.name, `cluster ${c.name}: cluster ID unknown`)
      const same = ctx.reachable.filter((o) => o !== c && ctx.id(o).clusterId === id)
      if (same.length > 0) {
        return fail(c.name, `cluster ${c.name}: cluster ID ${id} is also the ID of ${same.map((o) => o.name).join(', ')}; istiod registers only one of them`,
          `give each cluster its own ID: \`istioctl install --context ${ctxOf(c)} --set values.global.multiCluster.clusterName=<unique ID>\``)
      }
      return pass(c.name, `cluster ${c.name}: cluster ID ${id} is unique among ${ctx.reachable.length} cluster(s)`)
    }),
  },
  {
    id: 'istio.mesh-id',
    category: 'istio',
    title: 'Clusters linked into one mesh have the same mesh ID (injector global.meshID).',
    run: (ctx) => {
      const out: Finding[] = []
      for (const c of ctx.reachable) {
        const mine = ctx.id(c).meshId
        const peers = ctx.secrets(c).map((e) => ctx.peerOf(e)).filter((p): p is NonNullable<typeof p> => p !== undefined && p !== c && !p.unreachable)
        const differing = peers.filter((p) => ctx.id(p).meshId && mine && ctx.id(p).meshId !== mine)
        if (differing.length > 0) {
          out.push(warn(c.name, `cluster ${c.name}: mesh ID ${mine} differs from linked cluster(s) ${differing.map((p) => `${p.name} (${ctx.id(p).meshId})`).join(', ')}`,
            `clusters linked with remote secrets form one mesh: set the same values.global.meshID on each (\`istioctl install --context ${ctxOf(c)} --set values.global.meshID=<mesh>\`), or unlink them and use service export/import between separate meshes`))
        } else if (mine) out.push(pass(c.name, `cluster ${c.name}: mesh ID ${mine}${peers.length > 0 ? `, the same as its linked clusters` : ''}`))
        else out.push(skip(c.name, `cluster ${c.name}: no mesh ID set`))
      }
      return out
    },
  },
]
