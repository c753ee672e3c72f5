// Trust: complete and valid cacerts, one shared root, no public sample CA, expiry, root in use.
import type {X509Certificate} from 'node:crypto'
import {analyzeCacerts, cacertsRoots, cacertsSigning, decodeSecretData, fingerprint, issuingRoot, parseBundle, sampleMatch, shortFingerprint} from '../../cluster/certs.ts'
import {type CheckDef, type CheckContext, ctxOf, fail, pass, skip, warn, skipUnreadable} from '../check.ts'
import {cacertsSecret, istioNames, meshConfigMap, rootCertConfigMap, trustedRoots} from '../model.ts'
import {IMPORTED_FROM_LABEL} from '../../istio/names.ts'
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
        if (s === undefined) return skipUnreadable(c, 'Secret')
        if (s === null && ctx.id(c).install.remoteProfile) return skip(c.name, `cluster ${c.name}: Istio's remote profile, no istiod: its workloads get their certificates from the primary's istiod (istio.control-plane)`)
        if (s === null) {
          const msg = `cluster ${c.name}: no Secret ${c.istioNamespace}/cacerts: istiod signs with its own self-signed root, which the other clusters do not trust`
          return anyHas ? fail(c.name, msg, caGenHint(ctx, c)) : warn(c.name, msg, caGenHint(ctx, c))
        }
        const {problems, material} = analyzeCacerts(decodeSecretData(s.data))
        if (problems.length > 0) return fail(c.name, `cluster ${c.name}: Secret ${c.istioNamespace}/cacerts is invalid: ${problems.join('; ')}`, caGenHint(ctx, c, true))
        const roots = material?.roots ?? []
        const root = (material?.signing ? issuingRoot(material.signing, material.chain, roots) : undefined) ?? roots[0]
        const more = roots.length > 1 ? `; root-cert.pem holds ${roots.length} roots (${roots.map((r) => shortFingerprint(fingerprint(r))).join(', ')}: a root rotation)` : ''
        return pass(c.name, `cluster ${c.name}: Secret ${c.istioNamespace}/cacerts is complete; ${material?.signing ? cn(material.signing) : 'signing cert'} chains to root ${root ? shortFingerprint(fingerprint(root)) : '?'}${more}`)
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
        const shared = mine.roots.find((x) => known.every(([o, r]) => o === c || r!.roots.some((y) => fingerprint(y) === fingerprint(x)))) ?? mine.roots[0]
        return pass(c.name, `cluster ${c.name}: shares root ${shortFingerprint(fingerprint(shared))} with ${known.length - 1} other cluster(s)${mine.roots.length > 1 ? ` (trusts ${mine.roots.length} roots)` : ''}`)
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
      const missing = [...want].filter((f) => !have.includes(f))
      if (missing.length > 0) {
        return warn(c.name, `cluster ${c.name}: ConfigMap ${c.istioNamespace}/istio-ca-root-cert does not hold ${missing.length === 1 ? 'root' : 'roots'} ${missing.map(shortFingerprint).join(', ')} of Secret cacerts yet (it holds ${have.map(shortFingerprint).join(', ')}): istiod has not taken the changed cacerts (a rotation in progress?)`,
          `istiod reloads cacerts by itself (Istio 1.18+, with ISTIO_MULTIROOT_MESH=true for a changed root) once the kubelet refreshed the mounted Secret (about a minute); if it stays behind: \`kubectl rollout restart deployment/${istioNames(c).istiod} -n ${c.istioNamespace} --context ${ctxOf(c)}\``)
      }
      return pass(c.name, `cluster ${c.name}: istiod publishes the cacerts root${want.size > 1 ? 's' : ''}`)
    }),
  },
  {
    id: 'trust.rotation',
    category: 'trust',
    title: 'During a root rotation (a root-cert.pem with two roots, or clusters on different roots): every pair of clusters shares a root, and each cluster trusts the root every peer issues from (the root its cacerts ca-cert.pem chains to).',
    run: (ctx) => {
      const views = new Map(ctx.reachable.map((c) => [c, rotationView(c)] as const))
      const allRoots = new Map<string, X509Certificate>()
      for (const v of views.values()) for (const r of v?.roots ?? []) allRoots.set(fingerprint(r), r)
      for (const [c, v] of views) if (v) v.issuer = issuerOf(c, [...allRoots.values()])
      const known = [...views].filter(([, v]) => v !== undefined) as Array<[ClusterFacts, RotationView]>
      // A rotation shows as a root-cert.pem with two roots somewhere; clusters on unrelated single roots are trust.shared-root's.
      const rotating = known.some(([, v]) => v.trust.length > 1)
      const fp = (f: string) => shortFingerprint(f)
      return ctx.reachable.map((c): Finding => {
        const v = views.get(c)
        if (!v) return skip(c.name, `cluster ${c.name}: no root known (no cacerts, no istio-ca-root-cert)`)
        if (!rotating) return pass(c.name, `cluster ${c.name}: no root rotation under way (trusts root ${fp(v.trust[0])} alone)`)
        const rotateCmd = `\`kubectl mesh ca rotate --dir <mesh-ca> ${known.map(([o]) => `--context ${ctxOf(o)}`).join(' ')}\``
        for (const [p, pv] of known) {
          if (p === c) continue
          const shared = v.trust.filter((f) => pv.trust.includes(f))
          if (shared.length === 0) {
            return fail(c.name, `cluster ${c.name} (roots ${v.trust.map(fp).join(', ')}) and cluster ${p.name} (roots ${pv.trust.map(fp).join(', ')}) share no root: mTLS between them fails`,
              `give both clusters both roots again (phase 1 of the rotation, "trust both"): run ${rotateCmd} from the mesh's CA folder, which resumes the rotation, or \`--abort\` it; never drop a root from one cluster before every peer issues from the other`)
          }
          if (pv.issuer && !v.trust.includes(pv.issuer)) {
            const mine = v.trust.map((f) => allRoots.get(f)).filter((x): x is X509Certificate => x !== undefined)
            const theirs = allRoots.get(pv.issuer)
            const issuerNewer = theirs !== undefined && mine.length > 0 && mine.every((m) => new Date(theirs.validFrom).getTime() > new Date(m.validFrom).getTime())
            const msg = `cluster ${c.name} trusts only ${v.trust.length === 1 ? `root ${fp(v.trust[0])}` : `roots ${v.trust.map(fp).join(', ')}`}, but cluster ${p.name} issues from root ${fp(pv.issuer)}, which ${c.name} does not trust: ${c.name}'s workloads reject ${p.name}'s certificates`
            return fail(c.name, msg, issuerNewer
              ? `finish phase 1 ("trust both") on ${c.name} before ${p.name} issues from the new root: run ${rotateCmd} (it adds root ${fp(pv.issuer)} to ${c.name}), or \`--abort\` the rotation`
              : `${c.name} dropped root ${fp(pv.issuer)} before ${p.name} issues from the new root: put root ${fp(pv.issuer)} back into ${c.name}'s Secret ${c.istioNamespace}/cacerts root-cert.pem, then finish phase 2 ("issue from new") with ${rotateCmd}, or \`--abort\` the rotation`)
          }
        }
        const issues = v.issuer ? `; issues from ${fp(v.issuer)}` : ''
        return pass(c.name, `cluster ${c.name}: rotation in progress, trusts ${v.trust.map(fp).join(' + ')}${issues}; shares a root with every peer and trusts the root each peer issues from`)
      })
    },
  },
]

interface RotationView {
  /** Fingerprints of the roots the cluster's workloads trust now and once istiod took cacerts: cacerts roots ∩ published roots (either alone when only one is known). */
  trust: string[]
  roots: X509Certificate[]
  /** Fingerprint of the root the cluster's cacerts intermediate chains to. */
  issuer?: string
}

function rotationView(c: ClusterFacts): RotationView | undefined {
  const s = cacertsSecret(c)
  const secretRoots = s ? cacertsRoots(decodeSecretData(s.data)) : []
  let published: X509Certificate[] = []
  try {
    published = parseBundle(rootCertConfigMap(c)?.data?.['root-cert.pem'])
  } catch { /* ignored */ }
  const fs = secretRoots.map(fingerprint)
  const fp = published.map(fingerprint)
  const trust = fs.length > 0 && fp.length > 0 ? fs.filter((f) => fp.includes(f)) : fs.length > 0 ? fs : fp
  if (fs.length === 0 && fp.length === 0) return undefined
  return {trust: trust.length > 0 ? trust : fs, roots: [...secretRoots, ...published]}
}

function issuerOf(c: ClusterFacts, roots: X509Certificate[]): string | undefined {
  const s = cacertsSecret(c)
  if (!s) return undefined
  const {signing, chain} = cacertsSigning(decodeSecretData(s.data))
  const r = signing ? issuingRoot(signing, chain, roots) : undefined
  return r ? fingerprint(r) : undefined
}

/** A cluster's trust domain and aliases (src/istio/install.ts), or undefined when its mesh config was not readable. */
function domainsOf(ctx: CheckContext, c: ClusterFacts): {domain: string; aliases: string[]; source: string} | undefined {
  if (meshConfigMap(c) === undefined) return undefined
  const i = ctx.id(c).install
  return {domain: i.trustDomain, aliases: i.trustDomainAliases, source: i.trustDomainSource}
}

const aliasHint = (c: ClusterFacts, add: string[]) =>
  `list ${add.map((d) => `"${d}"`).join(', ')} in ${c.name}'s mesh config: \`kubectl -n ${c.istioNamespace} edit configmap ${istioNames(c).meshConfigMap} --context ${ctxOf(c)}\`, key \`mesh\`: \`trustDomainAliases: [${add.join(', ')}]\` (with istioctl: \`--set meshConfig.trustDomainAliases[0]=${add[0]}\`); istiod reads the change without a restart, workloads with their next certificate`

trustChecks.push({
  id: 'trust.domain',
  category: 'trust',
  title: "Clusters of one mesh (linked, or the same mesh ID) share a trust domain or list each other's in trustDomainAliases (mesh config); a cluster importing from another mesh trusts the owner's domain, or the import pins the identity (subjectAltNames on its ServiceEntry or DestinationRule).",
  run: (ctx) => {
    const out: Finding[] = []
    const linked = (a: ClusterFacts, b: ClusterFacts) => ctx.secrets(a).some((e) => ctx.peerOf(e) === b) || ctx.secrets(b).some((e) => ctx.peerOf(e) === a)
    const sameMesh = (a: ClusterFacts, b: ClusterFacts) => {
      const ma = ctx.id(a).meshId
      const mb = ctx.id(b).meshId
      return linked(a, b) || (Boolean(ma) && ma === mb)
    }
    for (const c of ctx.reachable) {
      const mine = domainsOf(ctx, c)
      if (!mine) {
        out.push(skipUnreadable(c, 'ConfigMap', ': its trust domain is unknown'))
        continue
      }
      const trusts = (d: string) => d === mine.domain || mine.aliases.includes(d)
      const bad: Finding[] = []
      let peers = 0
      for (const p of ctx.reachable) {
        if (p === c || !sameMesh(c, p)) continue
        const theirs = domainsOf(ctx, p)
        if (!theirs) continue
        peers++
        if (!trusts(theirs.domain)) {
          bad.push(fail(c.name, `cluster ${c.name}: trust domain "${mine.domain}" (${mine.source}${mine.aliases.length > 0 ? `, aliases ${mine.aliases.join(', ')}` : ''}); cluster ${p.name} of the same mesh has trust domain "${theirs.domain}", which ${c.name} neither shares nor lists in trustDomainAliases: mTLS and authorization from ${p.name}'s workloads fail in ${c.name}`,
            aliasHint(c, [theirs.domain])))
        }
      }
      // imports from another mesh: the consumer trusts the owner's domain, or the ServiceEntry pins the identity
      for (const se of (c.lists.ServiceEntry ?? []).filter((s) => s.metadata.labels?.[IMPORTED_FROM_LABEL])) {
        const ownerId = se.metadata.labels![IMPORTED_FROM_LABEL]
        const owner = ctx.byClusterId(ownerId)
        const theirs = owner && !owner.unreachable ? domainsOf(ctx, owner) : undefined
        if (!owner || !theirs || sameMesh(c, owner)) continue
        peers++
        // the identity pinned: the ServiceEntry's subjectAltNames, or a DestinationRule's tls.subjectAltNames for its host
        const hosts: string[] = se.spec?.hosts ?? []
        const drSans = (c.lists.DestinationRule ?? []).filter((d) => hosts.includes(d.spec?.host))
          .flatMap((d) => [d.spec?.trafficPolicy?.tls?.subjectAltNames ?? [], ...((d.spec?.trafficPolicy?.portLevelSettings ?? []) as any[]).map((p) => p?.tls?.subjectAltNames ?? [])].flat())
        const pinned: string[] = [...(se.spec?.subjectAltNames ?? []), ...drSans]
        if (!trusts(theirs.domain) && pinned.length === 0) {
          bad.push(fail(c.name, `cluster ${c.name}: imports ${(se.spec?.hosts ?? [se.metadata.name]).join(', ')} (ServiceEntry ${se.metadata.namespace}/${se.metadata.name}) from ${ownerId} of another mesh, whose trust domain is "${theirs.domain}"; ${c.name}'s is "${mine.domain}"${mine.aliases.length > 0 ? ` (aliases ${mine.aliases.join(', ')})` : ''} and the import pins no identity (no subjectAltNames on the ServiceEntry or its DestinationRule)`,
            `${aliasHint(c, [theirs.domain])}; or pin the owner's identity on the import: \`spec.subjectAltNames: [spiffe://${theirs.domain}/ns/${se.metadata.namespace}/sa/SERVICE_ACCOUNT]\``))
        }
      }
      out.push(...bad)
      if (bad.length === 0) out.push(peers === 0 ? skip(c.name, `cluster ${c.name}: trust domain "${mine.domain}"; no other verified cluster of its mesh and no import from another mesh`) : pass(c.name, `cluster ${c.name}: trust domain "${mine.domain}"${mine.aliases.length > 0 ? ` (aliases ${mine.aliases.join(', ')})` : ''} trusts each of ${peers} cluster(s) of its mesh and imported owner(s)`))
    }
    return out
  },
})
