// Which proxy a request to the API server goes through, chosen as kubectl (client-go and Go's
// net/http) chooses it, and the agent that tunnels through it. Pure apart from the agents, which
// are imported only when a proxy is in use (hpagent for http/https proxies, socks-proxy-agent for
// SOCKS; both are @kubernetes/client-node's own dependencies).
import type http from 'node:http'
import {isIP} from 'node:net'
import {UsageError} from '../errors.ts'

/** The schemes client-go accepts in a cluster's proxy-url. */
const PROXY_URL_SCHEMES = ['http:', 'https:', 'socks5:']

export interface ProxyChoice {
  url: URL
  /** Where it came from, for error messages: `proxy-url` or the variable's name. */
  source: string
}

const env1 = (env: NodeJS.ProcessEnv, ...names: string[]): [string, string] | undefined => {
  for (const n of names) if (env[n]) return [n, env[n]!]
  return undefined
}

/**
 * The proxy for a request to `server`: the cluster's proxy-url if set (for every host, loopback
 * included), else HTTPS_PROXY (https servers) or HTTP_PROXY (http servers), upper case first,
 * unless NO_PROXY matches or the host is localhost or a loopback address (Go's
 * httpproxy.FromEnvironment rules).
 */
export function chooseProxy(server: URL, proxyUrl: string | undefined, context: string, env: NodeJS.ProcessEnv = process.env): ProxyChoice | undefined {
  if (proxyUrl) {
    let url: URL
    try {
      url = new URL(proxyUrl)
    } catch {
      throw new UsageError(`context "${context}": the cluster's proxy-url "${proxyUrl}" is not a URL`, 'fix the kubeconfig (`kubectl config view`)')
    }
    if (!PROXY_URL_SCHEMES.includes(url.protocol)) {
      throw new UsageError(`context "${context}": the cluster's proxy-url has the unsupported scheme "${url.protocol.replace(/:$/, '')}" (must be http, https or socks5)`, 'fix the kubeconfig (`kubectl config view`)')
    }
    return {url, source: 'proxy-url'}
  }
  const found = server.protocol === 'https:' ? env1(env, 'HTTPS_PROXY', 'https_proxy') : env1(env, 'HTTP_PROXY', 'http_proxy')
  if (!found) return undefined
  const host = server.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || isLoopback(host)) return undefined
  const port = server.port || (server.protocol === 'https:' ? '443' : '80')
  if (noProxyMatches(host, port, env1(env, 'NO_PROXY', 'no_proxy')?.[1] ?? '')) return undefined
  const [name, value] = found
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`)
  } catch {
    throw new UsageError(`${name}="${value}" is not a proxy URL`, `fix or unset ${name}`)
  }
  if (!['http:', 'https:', 'socks5:', 'socks5h:'].includes(url.protocol)) {
    throw new UsageError(`${name} has the unsupported proxy scheme "${url.protocol.replace(/:$/, '')}"`, `use http, https or socks5 in ${name}, or unset it`)
  }
  return {url, source: name}
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || /^(0+:){7}0*1$/.test(host) || /^::ffff:127\./.test(host)
  return false
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)
}

/** NO_PROXY as Go reads it: `*`, IP addresses, CIDRs, domains (and their subdomains; `.d` subdomains only), each with an optional port. */
export function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  for (let entry of noProxy.split(',').map((e) => e.trim().toLowerCase()).filter(Boolean)) {
    if (entry === '*') return true
    if (entry.includes('/')) {
      const [net, bits] = entry.split('/')
      if (isIP(net) === 4 && isIP(host) === 4) {
        const b = Number(bits)
        const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0
        if (((ipv4ToInt(net) & mask) >>> 0) === ((ipv4ToInt(host) & mask) >>> 0)) return true
      }
      continue
    }
    let entryPort: string | undefined
    const m = /^(.*):(\d+)$/.exec(entry)
    if (m && !entry.endsWith(']') && isIP(entry) !== 6) {
      entry = m[1]
      entryPort = m[2]
    }
    entry = entry.replace(/^\[|\]$/g, '')
    if (entryPort && entryPort !== port) continue
    if (isIP(entry)) {
      if (entry === host) return true
      continue
    }
    if (entry.startsWith('*.')) entry = entry.slice(1)
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return true
    } else if (host === entry || host.endsWith(`.${entry}`)) return true
  }
  return false
}

/** The options an https connection needs, given to the tunnelling agent. */
export interface TlsOptions {
  ca?: Buffer | string
  cert?: Buffer | string
  key?: Buffer | string
  rejectUnauthorized?: boolean
  servername?: string
}

/**
 * An agent that reaches the server through the proxy: CONNECT through an http(s) proxy for an
 * https server, absolute-URI requests for an http server, or a SOCKS5 tunnel. SOCKS5 sends the
 * host name to the proxy, as Go does (socks5h in curl's terms).
 */
export async function proxyAgent(choice: ProxyChoice, server: URL, tls: TlsOptions, keepAlive: boolean): Promise<http.Agent> {
  const url = choice.url
  if (url.protocol === 'socks5:' || url.protocol === 'socks5h:') {
    const {SocksProxyAgent} = await import('socks-proxy-agent')
    const socks = new URL(url.href)
    socks.protocol = 'socks5h:'
    return new SocksProxyAgent(socks, {keepAlive, ...tls}) as unknown as http.Agent
  }
  const {HttpsProxyAgent, HttpProxyAgent} = await import('hpagent')
  const proxy = url.href
  if (server.protocol === 'https:') return new HttpsProxyAgent({proxy, keepAlive, ...tls}) as unknown as http.Agent
  return new HttpProxyAgent({proxy, keepAlive}) as unknown as http.Agent
}

/** `proxy-url http://127.0.0.1:3128` / `HTTPS_PROXY socks5://…`, credentials left out. */
export function describeProxy(choice: ProxyChoice): string {
  return `${choice.source} ${choice.url.protocol}//${choice.url.host}`
}
