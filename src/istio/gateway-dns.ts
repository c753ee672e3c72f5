// Resolving gateway hostnames as istiod does (model/network.go networkGatewayNameCache: its own DNS
// client on /etc/resolv.conf's servers, A and AAAA). Node's Resolver (c-ares) reads the same
// /etc/resolv.conf, so kubectl-mesh sees the answers istiod sees when both run on one resolver.
import {Resolver} from 'node:dns/promises'
import type {DnsAnswers} from './gateway.ts'

/** Look each name up (A and AAAA, concurrently); a name that does not resolve maps to []. */
export async function resolveHostnames(names: string[], timeoutMs = 3000): Promise<DnsAnswers> {
  const out: DnsAnswers = {}
  if (names.length === 0) return out
  const r = new Resolver({timeout: timeoutMs, tries: 2})
  await Promise.all(names.map(async (name) => {
    const [a, aaaa] = await Promise.all([r.resolve4(name).catch(() => [] as string[]), r.resolve6(name).catch(() => [] as string[])])
    out[name] = [...a, ...aaaa].sort()
  }))
  return out
}
