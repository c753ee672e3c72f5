// Imports: each ServiceEntry kubectl-mesh imported still matches the remote Service and gateway,
// its DestinationRule's SNI matches, TCP ports have an address, and no host is claimed twice.
import {CROSS_NETWORK_PORT, DNS_CAPTURE_ENV, EXPORTED_LABEL, IMPORTED_FROM_LABEL, IMPORTED_SERVICE_LABEL} from '../../istio/names.ts'
import type {KubeObject} from '../../kube/resources.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, warn, skipUnreadable} from '../check.ts'
import {istiodEnv} from '../../istio/install.ts'
import {outboundSni} from '../../istio/gateway.ts'
import {exportedFqdn, fqdnIn, istioNames, istiodDeployment, meshConfigMap} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'
import {passingGateway} from './exports.ts'

export interface Imported {
  se: KubeObject
  name: string
  ns: string
  from: string
  source?: ClusterFacts
  remote?: KubeObject | null
}

export function importsOf(ctx: CheckContext, c: ClusterFacts): Imported[] {
  return (c.lists.ServiceEntry ?? []).filter((se) => se.metadata.labels?.[IMPORTED_FROM_LABEL]).map((se) => {
    const from = se.metadata.labels![IMPORTED_FROM_LABEL]
    const name = se.metadata.labels?.[IMPORTED_SERVICE_LABEL] ?? se.metadata.name.replace(new RegExp(`-${from}$`), '')
    const ns = se.metadata.namespace ?? ''
    const source = ctx.byClusterId(from)
    const remote = source && source.lists.Service ? source.lists.Service.find((s) => s.metadata.name === name && s.metadata.namespace === ns) ?? null : undefined
    return {se, name, ns, from, source, remote}
  })
}

export const seRef = (i: Imported) => `ServiceEntry ${i.ns}/${i.se.metadata.name}`
const importHint = (ctx: CheckContext, c: ClusterFacts, i: Imported) =>
  `\`kubectl mesh service import ${i.name} -n ${i.ns} --from-context ${i.source ? ctxOf(i.source) : i.from} --context ${ctxOf(c)}\` (updates the ServiceEntry and DestinationRule)`

/** Run fn per import whose source is verified; aggregate the passes into one line per cluster. */
function perImport(ctx: CheckContext, what: string, fn: (c: ClusterFacts, i: Imported) => Finding | undefined, needSource = true): Finding[] {
  const out: Finding[] = []
  for (const c of ctx.reachable) {
    if (!c.lists.ServiceEntry) {
      out.push(skipUnreadable(c, 'ServiceEntry'))
      continue
    }
    const imports = importsOf(ctx, c)
    if (imports.length === 0) {
      out.push(skip(c.name, `cluster ${c.name}: no imported services`))
      continue
    }
    let checked = 0
    const unknown = new Set<string>()
    for (const i of imports) {
      if (needSource && (!i.source || i.source.unreachable || i.remote === undefined)) {
        unknown.add(i.from)
        continue
      }
      checked++
      const f = fn(c, i)
      if (f && f.status !== 'pass') out.push(f)
    }
    if (unknown.size > 0) out.push(skip(c.name, `cluster ${c.name}: imports from ${[...unknown].join(', ')} not checked: that cluster is not among the verified (readable) clusters`, `pass --context for ${[...unknown].join(', ')} too`))
    if (checked > 0 && !out.some((f) => f.cluster === c.name && f.status !== 'skip')) out.push(pass(c.name, `cluster ${c.name}: ${checked} imported service(s): ${what}`))
  }
  return out
}

const NEEDS_ADDRESS = new Set(['TCP', 'MONGO', 'MYSQL', 'REDIS', ''])

function autoAllocates(c: ClusterFacts, se: KubeObject, version: string | undefined): boolean {
  if (se.metadata.labels?.['networking.istio.io/enable-autoallocate-ip'] === 'false') return false
  const env = istiodEnv(istiodDeployment(c))
  if (env.PILOT_ENABLE_IP_AUTOALLOCATE !== undefined) return env.PILOT_ENABLE_IP_AUTOALLOCATE === 'true'
  const m = version ? /^(\d+)\.(\d+)/.exec(version) : null
  return Boolean(m && (Number(m[1]) > 1 || Number(m[2]) >= 25))
}

export const importChecks: CheckDef[] = [
  {
    id: 'imports.remote-service',
    category: 'imports',
    title: 'The Service an import names still exists in the cluster it was imported from (found by the imported-from cluster ID).',
    run: (ctx) => perImport(ctx, 'the remote Services exist', (c, i) => {
      if (i.remote === null) {
        return fail(c.name, `cluster ${c.name}: ${seRef(i)} imports ${i.name}.${i.ns} from ${i.from}, but Service ${i.ns}/${i.name} no longer exists in ${i.source!.name}`,
          `\`kubectl mesh service unimport ${i.name} -n ${i.ns} --context ${ctxOf(c)} --from-name ${i.from}\` (or re-create the Service in ${i.source!.name})`)
      }
      return undefined
    }),
  },
  {
    id: 'imports.exported',
    category: 'imports',
    title: `The remote Service is still exported: labelled ${EXPORTED_LABEL}=true and passed through its cluster's east-west gateway.`,
    run: (ctx) => perImport(ctx, 'the remote Services are exported', (c, i) => {
      if (!i.remote) return undefined
      const src = i.source!
      const hint = `\`kubectl mesh service export ${i.name} -n ${i.ns} --context ${ctxOf(src)}\``
      if (i.remote.metadata.labels?.[EXPORTED_LABEL] !== 'true') return fail(c.name, `cluster ${c.name}: ${seRef(i)} imports Service ${i.ns}/${i.name} from ${src.name}, which is not exported there`, hint)
      if (src.lists.Gateway && !passingGateway(ctx, src, i.remote)) return fail(c.name, `cluster ${c.name}: ${seRef(i)}: ${src.name}'s east-west gateway does not pass ${exportedFqdn(i.remote, ctx.id(src))} through`, hint)
      return undefined
    }),
  },
  {
    id: 'imports.ports',
    category: 'imports',
    title: "The imported ServiceEntry is MESH_INTERNAL, has the remote Service's ports (number and name), and maps every port of every endpoint to the gateway's port istiod uses there (15443, the gatewayPort label, or a NodePort's nodePort).",
    run: (ctx) => perImport(ctx, 'ports current', (c, i) => {
      if (!i.remote) return undefined
      const hint = importHint(ctx, c, i)
      if (i.se.spec?.location !== 'MESH_INTERNAL') return fail(c.name, `cluster ${c.name}: ${seRef(i)} has location ${i.se.spec?.location ?? '(unset)'}, not MESH_INTERNAL, so mTLS is not used`, hint)
      const want = (i.remote.spec?.ports ?? []).map((p: any) => `${p.port}/${p.name ?? ''}`).sort()
      const have = (i.se.spec?.ports ?? []).map((p: any) => `${p.number}/${p.name ?? ''}`).sort()
      if (want.join(',') !== have.join(',')) return fail(c.name, `cluster ${c.name}: ${seRef(i)} has ports ${have.join(', ') || '(none)'}, but Service ${i.ns}/${i.name} in ${i.source!.name} has ${want.join(', ')}`, hint)
      const gw = ctx.gateway(i.source!)
      for (const ep of i.se.spec?.endpoints ?? []) {
        // the port istiod uses at that address (NodePort: the nodePort), else the gateway's port
        const at = gw?.targets.find((t) => t.address === ep.address)
        if (gw && gw.targets.length > 0 && !at) continue // an address the gateway left: imports.gateway-address reports it
        const port = at?.port ?? gw?.port ?? CROSS_NETWORK_PORT
        for (const p of i.se.spec?.ports ?? []) {
          if (ep.ports?.[p.name] !== port) return fail(c.name, `cluster ${c.name}: ${seRef(i)}: endpoint ${ep.address} maps port ${p.name} to ${ep.ports?.[p.name] ?? '(nothing)'}, not the gateway port ${port}`, hint)
        }
      }
      return undefined
    }),
  },
  {
    id: 'imports.gateway-address',
    category: 'imports',
    title: "The imported ServiceEntry's endpoints are exactly the source cluster's current east-west gateway addresses, as istiod uses them (load-balancer IPs or hostnames, NodePort node ExternalIPs, externalIPs).",
    run: (ctx) => perImport(ctx, 'endpoints are the current gateway addresses', (c, i) => {
      const want = [...(ctx.gateway(i.source!)?.addresses ?? [])].sort()
      const have = [...new Set<string>((i.se.spec?.endpoints ?? []).map((e: any) => String(e.address)))].sort()
      if (want.length === 0) return fail(c.name, `cluster ${c.name}: ${seRef(i)}: ${i.source!.name} has no east-west gateway address to send traffic to`, `see networks.gateway-address for ${i.source!.name}, then ${importHint(ctx, c, i)}`)
      if (want.join(',') !== have.join(',')) return fail(c.name, `cluster ${c.name}: ${seRef(i)} sends traffic to ${have.join(', ') || '(no endpoints)'}, but ${i.source!.name}'s east-west gateway is at ${want.join(', ')}`, importHint(ctx, c, i))
      return undefined
    }),
  },
  {
    id: 'imports.sni',
    category: 'imports',
    title: 'A DestinationRule for the imported host sets ISTIO_MUTUAL and, per port, sni outbound_.<port>_._.<the owner\'s exported host> (<name>.<ns>.svc.<its cluster domain>), which the owner\'s AUTO_PASSTHROUGH gateway routes.',
    run: (ctx) => perImport(ctx, 'DestinationRule SNIs match', (c, i) => {
      const hosts: string[] = i.se.spec?.hosts ?? []
      const dr = (c.lists.DestinationRule ?? []).find((d) => d.metadata.namespace === i.ns && d.metadata.name === i.se.metadata.name)
        ?? (c.lists.DestinationRule ?? []).find((d) => hosts.includes(d.spec?.host))
      const hint = importHint(ctx, c, i)
      if (!c.lists.DestinationRule) return skipUnreadable(c, 'DestinationRule')
      if (!dr) return fail(c.name, `cluster ${c.name}: ${seRef(i)} has no DestinationRule for ${hosts.join(',')}: traffic leaves without the SNI the remote gateway routes on`, hint)
      const drRef = `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}`
      if (!hosts.includes(dr.spec?.host)) return fail(c.name, `cluster ${c.name}: ${drRef} is for host ${dr.spec?.host}, not ${hosts.join(',')}`, hint)
      if (dr.spec?.trafficPolicy?.tls?.mode !== 'ISTIO_MUTUAL') return fail(c.name, `cluster ${c.name}: ${drRef} has tls mode ${dr.spec?.trafficPolicy?.tls?.mode ?? '(unset)'}, not ISTIO_MUTUAL`, hint)
      // The owner's exported host when the owner is verified too; else its domain is unknown here, so only the name and namespace are compared.
      const ownerHost = i.remote && i.source ? exportedFqdn(i.remote, ctx.id(i.source)) : undefined
      for (const p of i.se.spec?.ports ?? []) {
        const prefix = outboundSni(p.number, `${i.name}.${i.ns}.svc.`)
        const want = ownerHost ? outboundSni(p.number, ownerHost) : `${prefix}<cluster domain>`
        const pls = (dr.spec?.trafficPolicy?.portLevelSettings ?? []).find((s: any) => s?.port?.number === p.number)
        const sni = pls?.tls?.sni ?? dr.spec?.trafficPolicy?.tls?.sni
        const matches = ownerHost ? sni === want : typeof sni === 'string' && sni.startsWith(prefix) && sni.length > prefix.length
        if (!matches) return fail(c.name, `cluster ${c.name}: ${drRef}: port ${p.number} uses SNI ${sni ?? '(none)'}, but the remote gateway routes ${want}`, hint)
        if (pls && pls.tls?.mode !== 'ISTIO_MUTUAL') return fail(c.name, `cluster ${c.name}: ${drRef}: port ${p.number} has tls mode ${pls.tls?.mode ?? '(unset)'}, not ISTIO_MUTUAL`, hint)
      }
      return undefined
    }, false),
  },
  {
    id: 'imports.address',
    category: 'imports',
    title: "An imported ServiceEntry with TCP (or protocol-less) ports has an address: spec.addresses, status.addresses, or Istio's automatic allocation (1.25+, unless disabled).",
    run: (ctx) => perImport(ctx, 'addresses present where TCP needs one', (c, i) => {
      const tcp = (i.se.spec?.ports ?? []).filter((p: any) => NEEDS_ADDRESS.has(String(p.protocol ?? '').toUpperCase()))
      if (tcp.length === 0) return undefined
      if ((i.se.spec?.addresses ?? []).length > 0 || (i.se.status?.addresses ?? []).length > 0) return undefined
      if (autoAllocates(c, i.se, ctx.id(c).istioVersion)) return undefined
      return fail(c.name, `cluster ${c.name}: ${seRef(i)} has TCP port(s) ${tcp.map((p: any) => p.number).join(', ')} but no address, and Istio ${ctx.id(c).istioVersion ?? ''} does not allocate one: clients cannot match the traffic`,
        `\`kubectl mesh service import ${i.name} -n ${i.ns} --from-context ${i.source ? ctxOf(i.source) : i.from} --context ${ctxOf(c)} --address auto\``)
    }, false),
  },
  {
    id: 'imports.host-conflict',
    category: 'imports',
    title: 'No other ServiceEntry and no local Service claims the imported host.',
    run: (ctx) => perImport(ctx, 'no host conflicts', (c, i) => {
      const hosts: string[] = i.se.spec?.hosts ?? []
      const other = (c.lists.ServiceEntry ?? []).find((se) => se !== i.se && (se.spec?.hosts ?? []).some((h: string) => hosts.includes(h)))
      if (other) {
        return fail(c.name, `cluster ${c.name}: ${seRef(i)} and ServiceEntry ${other.metadata.namespace}/${other.metadata.name} both claim ${hosts.filter((h) => other.spec.hosts.includes(h)).join(',')}`,
          `delete the other one (\`kubectl delete serviceentry ${other.metadata.name} -n ${other.metadata.namespace} --context ${ctxOf(c)}\`) or import under another name with --host`)
      }
      const local = (c.lists.Service ?? []).find((s) => hosts.includes(fqdnIn(ctx.id(c), s.metadata.name, s.metadata.namespace ?? '')))
      if (local) return fail(c.name, `cluster ${c.name}: ${seRef(i)} claims ${fqdnIn(ctx.id(c), local.metadata.name, local.metadata.namespace ?? '')}, the host of local Service ${local.metadata.namespace}/${local.metadata.name}`, `re-import under another host: \`kubectl mesh service import ${i.name} -n ${i.ns} --from-context ${i.source ? ctxOf(i.source) : i.from} --context ${ctxOf(c)} --host ${i.name}.${i.ns}.global\``)
      return undefined
    }, false),
  },
]

export const dnsChecks: CheckDef[] = [
  {
    id: 'dns.capture',
    category: 'dns',
    title: `Clusters that import services have DNS proxying on (meshConfig defaultConfig.proxyMetadata ${DNS_CAPTURE_ENV}="true"), so the imported host names resolve. A warning: pods can also enable it by annotation.`,
    run: (ctx) => ctx.reachable.map((c) => {
      const n = (c.lists.ServiceEntry ?? []).filter((se) => se.metadata.labels?.[IMPORTED_FROM_LABEL]).length
      if (n === 0) return skip(c.name, `cluster ${c.name}: no imported services`)
      const on = meshConfigMap(c) === undefined ? undefined : ctx.id(c).install.dnsCapture
      if (on === undefined) return skipUnreadable(c, 'ConfigMap')
      if (!on) {
        return warn(c.name, `cluster ${c.name}: ${n} imported service(s), but DNS proxying is off (ConfigMap ${c.istioNamespace}/${istioNames(c).meshConfigMap} key mesh lacks defaultConfig.proxyMetadata.${DNS_CAPTURE_ENV}: "true"), so names like *.global do not resolve`,
          `\`istioctl install --context ${ctxOf(c)} --set meshConfig.defaultConfig.proxyMetadata.${DNS_CAPTURE_ENV}=true\` (or add it to the mesh key: \`kubectl edit configmap ${istioNames(c).meshConfigMap} -n ${c.istioNamespace} --context ${ctxOf(c)}\`), then restart the client workloads`)
      }
      return pass(c.name, `cluster ${c.name}: DNS proxying is on for ${n} imported service(s)`)
    }),
  },
]
