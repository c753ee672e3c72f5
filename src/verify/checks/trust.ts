// Trust: complete and valid cacerts, one shared root, no public sample CA, expiry, root in use.
import type {X509Certificate} from 'node:crypto'
import {analyzeCacerts, cacertsRoots, decodeSecretData, fingerprint, parseBundle, sampleMatch, shortFingerprint} from '../certs.ts'
import {type CheckDef, type CheckContext, ctxOf, fail, pass, skip, unreadable, warn} from '../check.ts'
import {cacertsSecret, istioNames, rootCertConfigMap, trustedRoots} from '../model.ts'
import type {ClusterFacts, Finding} from '../types.ts'

const DAY = 86_400_000
export const EXPIRY_WARN_DAYS = 30

const caGenHint = (ctx: CheckContext, c: ClusterFacts, force = false) =>
  `issue this cluster's intermediate from the mesh's shared root and install it: \`kubectl mesh ca gen --cluster ${ctx.clusterIdOf(c)} --context ${ctxOf(c)}${force ? ' --force' : ''}\` (run it in the folder holding the mesh's ./mesh-ca, or pass --dir), then \`kubectl rollout restart deployment/istiod -n ${c.istioNamespace} --context ${ctxOf(c)}\``

/** Every certificate a cluster's trust material holds, with where it came from. */
function allCerts(c: ClusterFacts): Array<{cert: X509Certificate; where: string}> {
  const out: Array<{cert: X509Certificate; where: string}> = []
  const s = cacertsSecret(c)
  if (s) {
    const data = decodeSecretData(s.data)
    for (const key of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem', 'tls.crt', 'ca.crt']) {
      try {
        for (const cert of parseBundle(data[key])) out.push({cert, where: `Secret ${c.istioNamespace}/cacerts ${key}`})
      } catch { /* reported by trust.cacerts */ }
    }
  }
  const cm = rootCertConfigMap(c)
  try {
    for (const cert of parseBundle(cm?.data?.['root-cert.pem'])) out.push({cert, where: `ConfigMap ${c.istioNamespace}/istio-ca-root-cert`})
  } catch { /* ignored */ }
  return out
}

const cn = (cert: X509Certificate) => /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? cert.subject.replaceAll('\n', ', ')

export const trustChecks: CheckDef[] = [
  {
    id: 'trust.cacerts',
    category: 'trust',
    title: 'Secret cacerts exists and is complete and valid: all four keys (or tls.crt/tls.key/ca.crt), a CA signing certificate whose key matches, a chain that verifies to root-cert.pem.',
    run: (ctx) => {
      const anyHas = ctx.reachable.some((c) => cacertsSecret(c))
      return ctx.reachable.map((c) => {
        const s = cacertsSecret(c)
        if (s === undefined) return skip(c.name, `cluster ${c.name}: ${unreadable(c, 'Secret')}`)
        if (s === null) {
          const msg = `cluster ${c.name}: no Secret ${c.istioNamespace}/cacerts: istiod signs with its own self-signed root, which the other clusters do not trust`
          return anyHas ? fail(c.name, msg, caGenHint(ctx, c)) : warn(c.name, msg, caGenHint(ctx, c))
        }
        const {problems, material} = analyzeCacerts(decodeSecretData(s.data))
        if (problems.length > 0) return fail(c.name, `cluster ${c.name}: Secret ${c.istioNamespace}/cacerts is invalid: ${problems.join('; ')}`, caGenHint(ctx, c, true))
        const root = material?.roots[0]
        return pass(c.name, `cluster ${c.name}: Secret ${c.istioNamespace}/cacerts is complete; ${material?.signing ? cn(material.signing) : 'signing cert'} chains to root ${root ? shortFingerprint(fingerprint(root)) : '?'}`)
      })
    },
  },
  {
    id: 'trust.sample-ca',
    category: 'trust',
    title: "No certificate in cacerts or istio-ca-root-cert is Istio's public sample CA (samples/certs), matched by fingerprint, public key or e-mail address.",
    run: (ctx) => ctx.reachable.map((c) => {
      const certs = allCerts(c)
      if (certs.length === 0) return skip(c.name, `cluster ${c.name}: no cacerts or istio-ca-root-cert to inspect`)
      const hits = certs.map((x) => ({...x, match: sampleMatch(x.cert)})).filter((x) => x.match)
      if (hits.length > 0) {
        const h = hits[0]
        return fail(c.name, `cluster ${c.name}: ${h.where} is Istio's public sample CA (${h.match}); its private key is public`,
          `generate a new root for the mesh and reissue every cluster's intermediate: \`kubectl mesh ca gen --cluster ${ctx.clusterIdOf(c)} --dir ./new-mesh-ca\` then \`kubectl mesh ca gen --cluster ${ctx.clusterIdOf(c)} --dir ./new-mesh-ca --context ${ctxOf(c)} --force\` (the same for every cluster), and restart istiod`)
      }
      return pass(c.name, `cluster ${c.name}: none of ${certs.length} certificate(s) is Istio's sample CA`)
    }),
  },
  {
    id: 'trust.expiry',
    category: 'trust',
    title: `The certificates in cacerts and istio-ca-root-cert are valid now and for at least ${EXPIRY_WARN_DAYS} more days (warn under ${EXPIRY_WARN_DAYS}, fail when expired).`,
    run: (ctx) => ctx.reachable.map((c) => {
      const certs = allCerts(c)
      if (certs.length === 0) return skip(c.name, `cluster ${c.name}: no cacerts or istio-ca-root-cert to inspect`)
      const now = ctx.facts.now.getTime()
      const sorted = certs.map((x) => ({...x, notAfter: new Date(x.cert.validTo)})).sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())
      const first = sorted[0]
      const days = Math.floor((first.notAfter.getTime() - now) / DAY)
      const what = `${first.where} (${cn(first.cert)})`
      const hint = caGenHint(ctx, c, true)
      if (first.notAfter.getTime() <= now) return fail(c.name, `cluster ${c.name}: ${what} expired on ${first.notAfter.toISOString()}`, hint)
      if (days < EXPIRY_WARN_DAYS) return warn(c.name, `cluster ${c.name}: ${what} expires in ${days} day(s), on ${first.notAfter.toISOString()}`, hint)
      const notYet = certs.find((x) => new Date(x.cert.validFrom).getTime() > now)
      if (notYet) return fail(c.name, `cluster ${c.name}: ${notYet.where} (${cn(notYet.cert)}) is not valid before ${new Date(notYet.cert.validFrom).toISOString()}`, hint)
      return pass(c.name, `cluster ${c.name}: earliest expiry ${first.notAfter.toISOString().slice(0, 10)} (${what}), in ${days} days`)
    }),
  },
  {
    id: 'trust.shared-root',
    category: 'trust',
    title: 'Every verified cluster trusts a common root (istio-ca-root-cert, else cacerts root-cert.pem): the root sets of every pair overlap.',
    run: (ctx) => {
      const roots = new Map(ctx.reachable.map((c) => [c, trustedRoots(c)] as const))
      const known = [...roots].filter(([, r]) => r !== undefined)
      return ctx.reachable.map((c): Finding => {
        const mine = roots.get(c)
        if (!mine) return skip(c.name, `cluster ${c.name}: no root known (no cacerts, no istio-ca-root-cert)`)
        if (known.length < 2) return skip(c.name, `cluster ${c.name}: root ${shortFingerprint(fingerprint(mine.roots[0]))}; no other cluster's root known to compare with`)
        const fps = new Set(mine.roots.map(fingerprint))
        const differ = known.filter(([o, r]) => o !== c && !r!.roots.some((x) => fps.has(fingerprint(x))))
        if (differ.length > 0) {
          return fail(c.name, `cluster ${c.name}: the root in ${mine.from} (${shortFingerprint(fingerprint(mine.roots[0]))}) is not trusted by ${differ.map(([o, r]) => `${o.name} (${shortFingerprint(fingerprint(r!.roots[0]))})`).join(', ')}; mTLS between them fails`,
            caGenHint(ctx, c, true))
        }
        return pass(c.name, `cluster ${c.name}: shares root ${shortFingerprint(fingerprint(mine.roots[0]))} with ${known.length - 1} other cluster(s)`)
      })
    },
  },
  {
    id: 'trust.root-in-use',
    category: 'trust',
    title: "The root istiod publishes (istio-ca-root-cert) is the root of cacerts: istiod was restarted after cacerts was created.",
    run: (ctx) => ctx.reachable.map((c) => {
      const s = cacertsSecret(c)
      const cm = rootCertConfigMap(c)
      if (!s) return skip(c.name, `cluster ${c.name}: no cacerts`)
      if (!cm) return skip(c.name, `cluster ${c.name}: istiod has not published ConfigMap ${c.istioNamespace}/istio-ca-root-cert`)
      const want = new Set(cacertsRoots(decodeSecretData(s.data)).map(fingerprint))
      let have: string[] = []
      try {
        have = parseBundle(cm.data?.['root-cert.pem']).map(fingerprint)
      } catch { /* empty */ }
      if (want.size > 0 && !have.some((f) => want.has(f))) {
        return fail(c.name, `cluster ${c.name}: ConfigMap ${c.istioNamespace}/istio-ca-root-cert does not hold the root of Secret cacerts: istiod still signs with another CA (cacerts created after istiod started?)`,
          `\`kubectl rollout restart deployment/${istioNames(c).istiod} -n ${c.istioNamespace} --context ${ctxOf(c)}\`, then restart the workloads to get new certificates`)
      }
      return pass(c.name, `cluster ${c.name}: istiod publishes the cacerts root`)
    }),
  },
]
