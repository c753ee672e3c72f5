// explain's renderers (pure): text grouped by port and source cluster, and the -o json of DESIGN.md.
import type {ExplainResult} from './service.ts'

export interface Painter {
  green: (s: string) => string
  yellow: (s: string) => string
  red: (s: string) => string
  dim: (s: string) => string
  bold: (s: string) => string
}

const plain: Painter = {green: (s) => s, yellow: (s) => s, red: (s) => s, dim: (s) => s, bold: (s) => s}

/** `{"service","from":{"context","namespace"},"endpoints":[…],"dropped":[…]}` */
export function renderJson(r: ExplainResult): string {
  return `${JSON.stringify({service: r.service, from: r.from, endpoints: r.endpoints, dropped: r.dropped, ...(r.egress ? {egress: r.egress} : {})}, null, 2)}\n`
}

export function renderText(r: ExplainResult, p: Painter = plain): string {
  const d = r.detail
  const lines: string[] = []
  lines.push(p.bold(`${r.service}`) + ` for a sidecar in namespace ${r.from.namespace} of ${r.from.context} (cluster ${d.proxy.cluster}, network ${d.proxy.network ?? '(none)'})`)
  lines.push(p.dim(`istiod's view: ${d.istiod}; gateways it knows: ${d.gateways.length === 0 ? 'none (multi-network off: every endpoint is sent as is)' : d.gateways.map((g) => `${g.network}${g.cluster ? `/${g.cluster}` : ''}=${g.addr}:${g.port}`).join(', ')}`))
  if (r.egress) {
    lines.push('')
    lines.push(`through the egress gateway ${r.egress.gateway} (two hops per port):`)
    for (const h of r.egress.hops) {
      const first = h.sidecar.to === 'egress'
        ? `${p.green('sidecar → egress gateway')}:${h.sidecar.port} (${h.sidecar.tls ?? 'no TLS'}${h.sidecar.sni ? `, SNI ${h.sidecar.sni}` : ''})`
        : h.sidecar.to === 'none' ? p.red('no route to the egress gateway: the sidecar goes straight to the remote gateway') : p.red(`routed to ${h.sidecar.dest || '(nowhere)'}, not the egress gateway`)
      lines.push(`  port ${h.port}: ${first}`)
      lines.push(`    ${p.green('egress gateway → ')}${h.egress.endpoints.join(', ') || '(no endpoints)'} (${h.egress.tls ?? 'no TLS'}${h.egress.sni ? `, SNI ${h.egress.sni}` : ''})`)
    }
  }
  for (const port of d.ports) {
    lines.push('')
    lines.push(`port ${port.port.port}${port.port.name ? ` (${port.port.name})` : ''}: ${port.endpoints.length} endpoint${port.endpoints.length === 1 ? '' : 's'}${d.discovery && d.discovery !== 'EDS' ? p.dim(` (a ${d.discovery} cluster: sent in the cluster's load assignment, not EDS; Envoy resolves the names itself)`) : ''}`)
    const clusters = [...new Set(port.endpoints.map((e) => e.cluster))]
    for (const c of clusters) {
      lines.push(`  ${c}`)
      for (const e of port.endpoints.filter((x) => x.cluster === c)) {
        const via = e.via === 'gateway' ? p.green(`via gateway`) + p.dim(` (network ${e.network || '(none)'}, weight ${e.weight})`) : e.crossNetworkPod ? p.yellow('via pod') + p.dim(` (network ${e.network}: another network, no gateway known)`) : p.green('via pod')
        lines.push(`    ${`${e.address}:${e.port}`.padEnd(22)} ${via}`)
      }
    }
    const lost = port.dropped
    if (lost.length > 0) {
      lines.push(p.dim(`  not sent: ${lost.map((e) => `${e.cluster} ${e.address}:${e.port} (${e.cause})`).join(', ')}`))
    }
  }
  lines.push('')
  if (r.dropped.length === 0) {
    lines.push(p.green('✔') + ' every peer cluster that has the service contributes a usable endpoint')
  } else {
    lines.push('Missing:')
    for (const x of r.dropped) {
      lines.push(`  ${p.red('✖')} ${x.cluster}: ${x.reason}`)
      lines.push(`    ${p.dim('Hint:')} ${x.hint}`)
    }
  }
  return `${lines.join('\n')}\n`
}
