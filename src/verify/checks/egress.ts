// Imports through the egress gateway (service import --via-egress), hop by hop: the egress gateway
// exists with ready Pods; per port, a Gateway on it terminates the sidecars' mTLS for <port>.<host>;
// the sidecars' route sends every port there (ISTIO_MUTUAL, that SNI) and the egress gateway's
// route sends it on to the ServiceEntry host (whose DestinationRule imports.sni checks); and no
// port is left to go straight to the remote gateway.
import {EGRESS_GATEWAY_ANNOTATION, IMPORT_VIA_EGRESS, IMPORT_VIA_LABEL, IMPORTED_FROM_LABEL} from '../../istio/names.ts'
import type {KubeObject} from '../../kube/resources.ts'
import {destinations, egressHost, egressPort, namesGateway, podReady, routeFor, selects, sidecarHop as hopOf, subsetTls} from '../../istio/egress.ts'
import {egressPortName, egressSni} from '../../exposure/egress.ts'
import {type CheckContext, type CheckDef, ctxOf, fail, pass, skip, skipUnreadable} from '../check.ts'
import type {ClusterFacts, Finding} from '../types.ts'
import {type Imported, importsOf, seRef} from './imports.ts'

interface EgressImport extends Imported {
  /** namespace/name of the egress gateway Service. */
  gwRef: string
  gwNs: string
  gwName: string
  svc?: KubeObject
  /** Its TLS port. */
  port?: number
  /** Its host in this cluster. */
  gwHost: string
  host: string
  ports: Array<{number: number; name?: string; protocol?: string}>
}

function egressImportsOf(ctx: CheckContext, c: ClusterFacts): EgressImport[] {
  return importsOf(ctx, c).filter((i) => i.se.metadata.labels?.[IMPORT_VIA_LABEL] === IMPORT_VIA_EGRESS).map((i) => {
    const gwRef = i.se.metadata.annotations?.[EGRESS_GATEWAY_ANNOTATION] ?? ''
    const [gwNs, gwName] = gwRef.split('/')
    const svc = (c.lists.Service ?? []).find((s) => s.metadata.namespace === gwNs && s.metadata.name === gwName)
    return {
      ...i, gwRef, gwNs, gwName, svc, port: svc ? egressPort(svc) : undefined,
      gwHost: egressHost({name: gwName ?? '', namespace: gwNs ?? ''}, ctx.id(c).clusterDomain),
      host: String(i.se.spec?.hosts?.[0] ?? ''),
      ports: (i.se.spec?.ports ?? []).map((p: any) => ({number: p.number, name: p.name, protocol: p.protocol})),
    }
  })
}

const sidecarHop = (c: ClusterFacts, i: EgressImport, p: {number: number; protocol?: string}) =>
  hopOf(c.lists.VirtualService ?? [], i.host, {namespace: i.gwNs, name: i.gwName, host: i.gwHost}, p)

const reimport = (c: ClusterFacts, i: EgressImport) =>
  `\`kubectl mesh service import ${i.name} -n ${i.ns} --from-context ${i.source ? ctxOf(i.source) : i.from} --context ${ctxOf(c)}${i.host !== `${i.name}.${i.ns}.global` ? ` --host ${i.host}` : ''} --via-egress ${i.gwRef}\` (writes the egress path again)`

/** Run fn per import through an egress gateway; one pass line per cluster. */
function perEgressImport(ctx: CheckContext, what: string, kinds: Array<'Service' | 'Gateway' | 'VirtualService' | 'DestinationRule'>, fn: (c: ClusterFacts, i: EgressImport) => Finding | undefined): Finding[] {
  const out: Finding[] = []
  for (const c of ctx.reachable) {
    if (!c.lists.ServiceEntry) {
      out.push(skipUnreadable(c, 'ServiceEntry'))
      continue
    }
    const imports = egressImportsOf(ctx, c)
    if (imports.length === 0) {
      out.push(skip(c.name, `cluster ${c.name}: no imports through an egress gateway`))
      continue
    }
    const missing = kinds.find((k) => !c.lists[k])
    if (missing) {
      out.push(skipUnreadable(c, missing))
      continue
    }
    const found = imports.map((i) => fn(c, i)).filter((f): f is Finding => f !== undefined && f.status !== 'pass')
    out.push(...found)
    if (!found.some((f) => f.status === 'fail')) out.push(pass(c.name, `cluster ${c.name}: ${imports.length} import(s) through an egress gateway: ${what}`))
  }
  return out
}

export const egressChecks: CheckDef[] = [
  {
    id: 'imports.egress-gateway',
    category: 'imports',
    title: 'An import through an egress gateway: its egress gateway Service exists, has a TLS port (https/tls or 443), and selects at least one ready Pod.',
    run: (ctx) => perEgressImport(ctx, 'the egress gateway exists with ready Pods', ['Service'], (c, i) => {
      if (!i.svc) return fail(c.name, `cluster ${c.name}: ${seRef(i)} goes through the egress gateway ${i.gwRef || '(unnamed)'}, but that Service does not exist: its traffic goes nowhere`, reimport(c, i).replace(` --via-egress ${i.gwRef}`, ' --via-egress') + `, after installing Istio's egress gateway (istioctl install --set components.egressGateways[0].name=istio-egressgateway --set components.egressGateways[0].enabled=true)`)
      if (i.port === undefined) return fail(c.name, `cluster ${c.name}: the egress gateway Service ${i.gwRef} has no TLS port (named https or tls, or 443) for ${seRef(i)}`, `give it one (Istio's has https: 443 → 8443), then ${reimport(c, i)}`)
      const pods = c.egressPods?.[i.gwRef]
      if (pods === undefined) return skip(c.name, `cluster ${c.name}: the Pods of egress gateway ${i.gwRef} are not readable`, `grant list pods in namespace ${i.gwNs}`)
      const ready = pods.filter(podReady)
      if (ready.length > 0) return undefined
      const deploy = (c.lists.Deployment ?? []).find((d) => d.metadata.namespace === i.gwNs && selects(i.svc!.spec?.selector ?? {}, d.spec?.template?.metadata?.labels))
      const scaledToZero = deploy && deploy.spec?.replicas === 0
      const selector = Object.entries<string>(i.svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
      return fail(c.name, `cluster ${c.name}: the egress gateway ${i.gwRef} has no ready Pod (${pods.length} Pod(s) match ${selector}${scaledToZero ? `; Deployment ${deploy!.metadata.name} is scaled to zero` : ''}), so ${i.host} (${seRef(i)}) cannot leave the cluster`,
        deploy ? `\`kubectl --context ${ctxOf(c)} -n ${i.gwNs} scale deployment ${deploy.metadata.name} --replicas=1\`, then \`kubectl --context ${ctxOf(c)} -n ${i.gwNs} get pods -l ${selector}\` until one is Ready`
          : `start the egress gateway's Pods and check them: \`kubectl --context ${ctxOf(c)} -n ${i.gwNs} get pods -l ${selector}\``)
    }),
  },
  {
    id: 'imports.egress-server',
    category: 'imports',
    title: 'Per port P of an import through an egress gateway, a Gateway selecting that egress gateway has an ISTIO_MUTUAL TLS server on its TLS port for <P>.<host> (where it terminates the sidecars\' mTLS).',
    run: (ctx) => perEgressImport(ctx, 'every port has its ISTIO_MUTUAL server on the egress gateway', ['Service', 'Gateway'], (c, i) => {
      if (!i.svc || i.port === undefined) return undefined
      const targetPort = (i.svc.spec?.ports ?? []).find((p: any) => p.port === i.port)?.targetPort
      for (const p of i.ports) {
        const sni = egressSni(p.number, i.host)
        const has = (c.lists.Gateway ?? []).some((gw) => selects(gw.spec?.selector ?? {}, i.svc!.spec?.selector) && (gw.spec?.servers ?? []).some((s: any) =>
          (s.port?.number === i.port || s.port?.number === targetPort) && ['TLS', 'HTTPS'].includes(String(s.port?.protocol ?? '').toUpperCase()) && s.tls?.mode === 'ISTIO_MUTUAL'
          && (s.hosts ?? []).some((h: string) => [sni, `*/${sni}`, `./${sni}`, `${gw.metadata.namespace}/${sni}`].includes(h))))
        if (!has) {
          return fail(c.name, `cluster ${c.name}: no Gateway on the egress gateway ${i.gwRef} terminates ${sni} (port ${p.number} of ${i.host}, ${seRef(i)}) on port ${i.port} with ISTIO_MUTUAL (expected Gateway ${i.ns}/${egressPortName(i.name, i.from, p.number)}): the sidecars' connections to it are refused`, reimport(c, i))
        }
      }
      return undefined
    }),
  },
  {
    id: 'imports.egress-route',
    category: 'imports',
    title: "Per port P of an import through an egress gateway: the sidecars' route (a mesh VirtualService) sends it to the egress gateway's TLS port in a subset with ISTIO_MUTUAL and SNI <P>.<host>, and the egress gateway's route (a VirtualService on that port's Gateway) sends it on to <host>:P.",
    run: (ctx) => perEgressImport(ctx, 'sidecars → egress gateway → the ServiceEntry host, on every port', ['Service', 'Gateway', 'VirtualService', 'DestinationRule'], (c, i) => {
      if (!i.svc || i.port === undefined) return undefined
      for (const p of i.ports) {
        const sni = egressSni(p.number, i.host)
        const hop = sidecarHop(c, i, p)
        if (hop.to === 'none') return fail(c.name, `cluster ${c.name}: no mesh VirtualService routes port ${p.number} of ${i.host} (${seRef(i)}) to the egress gateway ${i.gwRef} (expected VirtualService ${i.ns}/${i.se.metadata.name}): sidecars do not use the egress gateway`, reimport(c, i))
        if (hop.to === 'elsewhere') continue // imports.egress-only names it
        if (hop.port !== i.port) return fail(c.name, `cluster ${c.name}: VirtualService ${hop.vs!.metadata.namespace}/${hop.vs!.metadata.name} sends port ${p.number} of ${i.host} to port ${hop.port ?? '(unset)'} of the egress gateway, not its TLS port ${i.port}`, reimport(c, i))
        // the subset's TLS: in a DestinationRule for the egress gateway host that sidecars find (its own namespace, or the root namespace)
        const tls = subsetTls(c.lists.DestinationRule ?? [], {namespace: i.gwNs, host: i.gwHost}, c.istioNamespace, hop.subset, i.port)
        if (!tls.found) return fail(c.name, `cluster ${c.name}: port ${p.number} of ${i.host} goes to subset ${hop.subset ?? '(none)'} of ${i.gwHost}, which no DestinationRule in ${i.gwNs} defines: sidecars send it without mTLS or not at all`, reimport(c, i))
        if (tls.mode !== 'ISTIO_MUTUAL' || tls.sni !== sni) return fail(c.name, `cluster ${c.name}: subset ${hop.subset} of ${i.gwHost} has tls ${tls.mode ?? '(unset)'} with SNI ${tls.sni ?? '(none)'}, not ISTIO_MUTUAL with ${sni}: the egress gateway cannot tell port ${p.number} of ${i.host} apart`, reimport(c, i))
        // egress gateway → host:P
        const gws = (c.lists.Gateway ?? []).filter((gw) => selects(gw.spec?.selector ?? {}, i.svc!.spec?.selector) && (gw.spec?.servers ?? []).some((s: any) => (s.hosts ?? []).some((h: string) => h === sni || h.endsWith(`/${sni}`))))
        if (gws.length === 0) continue // no Gateway terminates the SNI: imports.egress-server names it
        const onward = (c.lists.VirtualService ?? []).some((vs) => (vs.spec?.hosts ?? []).includes(sni) && gws.some((gw) => {
          const r = routeFor(vs, 'tcp', i.port!, (ref) => namesGateway(ref, vs.metadata.namespace ?? '', gw))
          return r && destinations(r).some((d) => d.host === i.host && (d.port?.number ?? p.number) === p.number)
        }))
        if (!onward) return fail(c.name, `cluster ${c.name}: no VirtualService on the egress gateway's Gateway for ${sni} routes it to ${i.host}:${p.number} (expected VirtualService ${i.ns}/${egressPortName(i.name, i.from, p.number)}): the egress gateway accepts port ${p.number} of ${i.host} and drops it`, reimport(c, i))
      }
      return undefined
    }),
  },
  {
    id: 'imports.egress-only',
    category: 'imports',
    title: 'An import through an egress gateway leaves no port on the direct path: every port of its ServiceEntry is routed to the egress gateway, and no other mesh VirtualService sends the host elsewhere.',
    run: (ctx) => perEgressImport(ctx, 'no port goes straight to the remote gateway', ['VirtualService'], (c, i) => {
      for (const p of i.ports) {
        const hop = sidecarHop(c, i, p)
        if (hop.to === 'none') {
          return fail(c.name, `cluster ${c.name}: ${seRef(i)} says ${i.host} leaves through the egress gateway ${i.gwRef}, but port ${p.number} has no route there: sidecars go straight to ${i.source?.name ?? i.se.metadata.labels?.[IMPORTED_FROM_LABEL]}'s east-west gateway (the direct path is open)`, reimport(c, i))
        }
        if (hop.to === 'elsewhere') {
          const ref = `${hop.vs!.metadata.namespace}/${hop.vs!.metadata.name}`
          return fail(c.name, `cluster ${c.name}: VirtualService ${ref} sends port ${p.number} of ${i.host} to ${hop.dest || '(no destination)'}, not through the egress gateway ${i.gwRef} (${seRef(i)} goes through it only)`,
            `remove that route (\`kubectl --context ${ctxOf(c)} -n ${hop.vs!.metadata.namespace} delete virtualservice ${hop.vs!.metadata.name}\`), then ${reimport(c, i)}`)
        }
      }
      return undefined
    }),
  },
]
