// `kubectl mesh ca gen` end to end: the built CLI writes files and the cacerts Secret; openssl and
// the test bed's kubectl check the results, and certificates made here with the openssl commands
// of Istio's tools/certs are the reference for every field.
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kget, kubectl, mesh, stats, tempDir, writes} from './harness.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const KEYS = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']

const openssl = (args: string[], cwd?: string) => execFileSync('openssl', args, {encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe']})
const fingerprint = (file: string) => openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256']).trim().replace(/^.*=/, '')
const text = (file: string) => openssl(['x509', '-in', file, '-noout', '-text'])
/** `openssl x509 -text` without the parts that differ between any two issuances (serial, dates, key, signature, key ids). */
const fields = (file: string) => openssl(['x509', '-in', file, '-noout', '-text', '-certopt', 'no_serial,no_validity,no_pubkey,no_sigdump'])
  .replace(/([0-9A-F]{2}:){19}[0-9A-F]{2}/g, '<keyid>')
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

/** Istio's tools/certs (Makefile.selfsigned.mk + common.mk): root-ca, then <name>-cacerts. */
function toolsCerts(dir: string, bits: number, clusters: string[]): void {
  const conf = (ext: string[], dn: string[]) => ['[ req ]', 'encrypt_key = no', 'prompt = no', 'utf8 = yes', 'default_md = sha256', `default_bits = ${bits}`,
    'req_extensions = req_ext', 'x509_extensions = req_ext', 'distinguished_name = req_dn', '[ req_ext ]', 'subjectKeyIdentifier = hash', ...ext, '[ req_dn ]', ...dn, ''].join('\n')
  const ku = 'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign'
  writeFileSync(join(dir, 'root-ca.conf'), conf(['basicConstraints = critical, CA:true', ku], ['O = Istio', 'CN = Root CA']))
  openssl(['genrsa', '-out', 'root-key.pem', String(bits)], dir)
  openssl(['req', '-new', '-key', 'root-key.pem', '-config', 'root-ca.conf', '-out', 'root-cert.csr'], dir)
  openssl(['x509', '-req', '-days', '3650', '-signkey', 'root-key.pem', '-extensions', 'req_ext', '-extfile', 'root-ca.conf', '-in', 'root-cert.csr', '-out', 'root-cert.pem'], dir)
  for (const c of clusters) {
    mkdirSync(join(dir, c))
    writeFileSync(join(dir, c, 'intermediate.conf'), conf(['basicConstraints = critical, CA:true, pathlen:0', ku, 'subjectAltName=@san', '[ san ]', 'DNS.1 = istiod.istio-system.svc'], ['O = Istio', 'CN = Intermediate CA', `L = ${c}`]))
    openssl(['genrsa', '-out', `${c}/ca-key.pem`, String(bits)], dir)
    openssl(['req', '-new', '-config', `${c}/intermediate.conf`, '-key', `${c}/ca-key.pem`, '-out', `${c}/cluster-ca.csr`], dir)
    openssl(['x509', '-req', '-days', '3650', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-extensions', 'req_ext', '-extfile', `${c}/intermediate.conf`, '-in', `${c}/cluster-ca.csr`, '-out', `${c}/ca-cert.pem`], dir)
  }
}

/** A self-signed root that expired in 2021 (openssl ca, which takes explicit dates). */
function expiredRoot(dir: string): void {
  writeFileSync(join(dir, 'index.txt'), '')
  writeFileSync(join(dir, 'serial'), '01\n')
  writeFileSync(join(dir, 'ca.conf'), ['[ ca ]', 'default_ca = d', '[ d ]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256', 'policy = p', 'email_in_dn = no',
    '[ p ]', 'organizationName = supplied', 'commonName = supplied', '[ ext ]', 'basicConstraints = critical, CA:true', ''].join('\n'))
  openssl(['genrsa', '-out', 'expired-key.pem', '2048'], dir)
  openssl(['req', '-new', '-key', 'expired-key.pem', '-subj', '/O=Istio/CN=Root CA', '-out', 'expired.csr'], dir)
  openssl(['ca', '-batch', '-config', 'ca.conf', '-selfsign', '-keyfile', 'expired-key.pem', '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20210101000000Z', '-extensions', 'ext', '-notext'], dir)
}

async function secretOf(context: string) {
  return kget(context, ['secret', 'cacerts', '-n', NS])
}

describe('ca gen', () => {
  const work = tempDir('ca-gen-e2e-')
  const dir = join(work, 'mesh-ca')
  const ref = join(work, 'tools-certs')
  const saved = new Map<string, any>()
  let first: Awaited<ReturnType<typeof mesh>>

  before(async () => {
    // Keep whatever cacerts the test bed had, to restore it afterwards.
    for (const c of [C1, C2]) {
      const s = await secretOf(c)
      if (s) saved.set(c, s)
      await kubectl(['delete', 'secret', 'cacerts', '-n', NS, '--ignore-not-found'], {context: c})
    }
    mkdirSync(ref)
    toolsCerts(ref, 2048, [C1])
    // The defaults: RSA-4096, 3650 days, a root and two intermediates.
    first = await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--dir', dir])
  })

  after(async () => {
    for (const c of [C1, C2]) {
      await kubectl(['delete', 'secret', 'cacerts', '-n', NS, '--ignore-not-found'], {context: c})
      const s = saved.get(c)
      if (s) {
        delete s.metadata.resourceVersion
        delete s.metadata.uid
        delete s.metadata.creationTimestamp
        delete s.metadata.managedFields
        await kubectl(['create', '-f', '-'], {context: c, input: JSON.stringify(s)})
      }
    }
    rmSync(work, {recursive: true, force: true})
  })

  test('writes the tools/certs layout with private modes', () => {
    assert.equal(first.code, 0, first.stderr)
    for (const f of ['root-cert.pem', 'root-key.pem', ...[C1, C2].flatMap((c) => KEYS.map((k) => `${c}/${k}`))]) {
      assert.ok(existsSync(join(dir, f)), `${f} exists`)
      assert.match(first.stdout, new RegExp(`^local\\s+File/${join(dir, f).replaceAll('/', '\\/')}\\s+created$`, 'm'))
    }
    assert.equal(mode(dir), '700')
    assert.equal(mode(join(dir, C1)), '700')
    assert.equal(mode(join(dir, 'root-key.pem')), '600')
    assert.equal(mode(join(dir, C1, 'ca-key.pem')), '600')
    for (const c of [C1, C2]) {
      assert.equal(readFileSync(join(dir, c, 'cert-chain.pem'), 'utf8'), readFileSync(join(dir, c, 'ca-cert.pem'), 'utf8') + readFileSync(join(dir, 'root-cert.pem'), 'utf8'))
      assert.equal(readFileSync(join(dir, c, 'root-cert.pem'), 'utf8'), readFileSync(join(dir, 'root-cert.pem'), 'utf8'))
    }
  })

  test('openssl verifies each chain, and each key belongs to its certificate', () => {
    for (const c of [C1, C2]) {
      assert.match(openssl(['verify', '-CAfile', join(dir, 'root-cert.pem'), join(dir, c, 'ca-cert.pem')]), /: OK/)
      assert.match(openssl(['verify', '-CAfile', join(dir, c, 'root-cert.pem'), '-untrusted', join(dir, c, 'cert-chain.pem'), join(dir, c, 'ca-cert.pem')]), /: OK/)
      assert.equal(openssl(['pkey', '-in', join(dir, c, 'ca-key.pem'), '-pubout']), openssl(['x509', '-in', join(dir, c, 'ca-cert.pem'), '-noout', '-pubkey']))
    }
    assert.equal(openssl(['pkey', '-in', join(dir, 'root-key.pem'), '-pubout']), openssl(['x509', '-in', join(dir, 'root-cert.pem'), '-noout', '-pubkey']))
  })

  test('every field, read with openssl x509 -text', () => {
    const root = text(join(dir, 'root-cert.pem'))
    assert.match(root, /Subject: O = Istio, CN = Root CA\n/)
    assert.match(root, /Issuer: O = Istio, CN = Root CA\n/)
    assert.match(root, /Public-Key: \(4096 bit\)/)
    assert.match(root, /Signature Algorithm: sha256WithRSAEncryption/)
    assert.match(root, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/)
    assert.match(root, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/)
    const dates = openssl(['x509', '-in', join(dir, 'root-cert.pem'), '-noout', '-startdate', '-enddate'])
    const [nb, na] = [...dates.matchAll(/=(.*)/g)].map((m) => Date.parse(m[1]))
    assert.equal((na - nb) / 86_400_000, 3650)
    for (const c of [C1, C2]) {
      const t = text(join(dir, c, 'ca-cert.pem'))
      assert.match(t, new RegExp(`Subject: O = Istio, CN = Intermediate CA, L = ${c}\\n`))
      assert.match(t, /Issuer: O = Istio, CN = Root CA\n/)
      assert.match(t, /Public-Key: \(4096 bit\)/)
      assert.match(t, /Signature Algorithm: sha256WithRSAEncryption/)
      assert.match(t, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/)
      assert.match(t, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/)
      assert.match(t, /X509v3 Subject Alternative Name: \n\s+DNS:istiod\.istio-system\.svc\n/)
      // Made in the same run with the same days: the intermediate ends with the root, no clamp warning.
      assert.equal(openssl(['x509', '-in', join(dir, c, 'ca-cert.pem'), '-noout', '-enddate']), openssl(['x509', '-in', join(dir, 'root-cert.pem'), '-noout', '-enddate']))
    }
    assert.doesNotMatch(first.stderr, /Warning/)
  })

  test('the same fields as the certificates of the tools/certs openssl recipe', () => {
    assert.equal(fields(join(dir, 'root-cert.pem')), fields(join(ref, 'root-cert.pem')))
    assert.equal(fields(join(dir, C1, 'ca-cert.pem')), fields(join(ref, C1, 'ca-cert.pem')))
  })

  test('a second run keeps the root and the intermediates, and reports unchanged', async () => {
    const rootFp = fingerprint(join(dir, 'root-cert.pem'))
    const c1Fp = fingerprint(join(dir, C1, 'ca-cert.pem'))
    const r = await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--dir', dir, '-o', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.ok(out.changes.length > 0)
    assert.ok(out.changes.every((c: {action: string}) => c.action === 'unchanged'))
    assert.equal(out.root.action, 'reuse')
    assert.equal(out.root.fingerprint, rootFp)
    assert.equal(fingerprint(join(dir, 'root-cert.pem')), rootFp)
    assert.equal(fingerprint(join(dir, C1, 'ca-cert.pem')), c1Fp)
  })

  test('--force re-issues an intermediate from the same root', async () => {
    const rootFp = fingerprint(join(dir, 'root-cert.pem'))
    const before2 = fingerprint(join(dir, C2, 'ca-cert.pem'))
    const r = await mesh(['ca', 'gen', '--cluster', C2, '--dir', dir, '--force', '--key-size', '2048'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`File/${join(dir, C2, 'ca-cert.pem').replaceAll('/', '\\/')}\\s+configured`))
    assert.match(r.stdout, new RegExp(`File/${join(dir, 'root-cert.pem').replaceAll('/', '\\/')}\\s+unchanged`))
    assert.notEqual(fingerprint(join(dir, C2, 'ca-cert.pem')), before2)
    assert.equal(fingerprint(join(dir, 'root-cert.pem')), rootFp)
    assert.match(openssl(['verify', '-CAfile', join(dir, 'root-cert.pem'), join(dir, C2, 'ca-cert.pem')]), /: OK/)
  })

  test('--root-cert/--root-key: intermediates from a root made by tools/certs', async () => {
    const d = join(work, 'byo')
    const r = await mesh(['ca', 'gen', '--cluster', 'east', '--dir', d, '--root-cert', join(ref, 'root-cert.pem'), '--root-key', join(ref, 'root-key.pem'), '--key-size', '2048'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(openssl(['verify', '-CAfile', join(ref, 'root-cert.pem'), join(d, 'east', 'ca-cert.pem')]), /: OK/)
    assert.equal(fingerprint(join(d, 'root-cert.pem')), fingerprint(join(ref, 'root-cert.pem')))
    assert.equal(existsSync(join(d, 'root-key.pem')), false, 'a brought root key is not copied')
  })

  test('an intermediate that would outlive the root is clamped, with a warning', async () => {
    const d = join(work, 'clamp')
    const r = await mesh(['ca', 'gen', '--cluster', 'east', '--dir', d, '--root-days', '10', '--days', '30', '--key-size', '2048'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /Warning: intermediate CA of cluster "east" would outlive the root: issued for 10 days/)
    assert.equal(openssl(['x509', '-in', join(d, 'east', 'ca-cert.pem'), '-noout', '-enddate']), openssl(['x509', '-in', join(d, 'root-cert.pem'), '-noout', '-enddate']))
  })

  describe('--context', () => {
    test('-o yaml prints the Secret and writes nothing', async () => {
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', dir, '--context', C1, '-o', 'yaml'], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^# context: cluster1\napiVersion: v1\nkind: Secret\n/)
      assert.match(r.stdout, /name: cacerts\n/)
      assert.match(r.stdout, /type: Opaque/)
      assert.equal(stats(r.stderr).requests, 0)
      assert.equal(await secretOf(C1), undefined)
    })

    test('--dry-run asks the API server and persists nothing', async () => {
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', dir, '--context', C1, '--dry-run'], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^cluster1\s+Secret\/istio-system\/cacerts\s+created$/m)
      assert.equal(stats(r.stderr).byContext[C1].POST, 1)
      assert.equal(await secretOf(C1), undefined)
    })

    test('installs cacerts (Opaque, the four files, stamped) and says istiod must restart', async () => {
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', dir, '--context', C1])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^cluster1\s+Secret\/istio-system\/cacerts\s+created$/m)
      const s = await secretOf(C1)
      assert.equal(s.type, 'Opaque')
      assert.deepEqual(Object.keys(s.data).sort(), KEYS)
      for (const k of KEYS) assert.equal(Buffer.from(s.data[k], 'base64').toString(), readFileSync(join(dir, C1, k), 'utf8'), k)
      assert.equal(s.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-mesh')
      assert.ok(s.metadata.annotations['kubectl-mesh/version'])
      assert.ok(await kget(C1, ['deployment', 'istiod', '-n', NS]), 'the test bed runs an istiod Deployment')
      assert.match(r.stderr, /istiod in context "cluster1" runs without cacerts \(a self-signed CA\) and takes a plugged-in CA only at startup: restart it with `kubectl --context cluster1 -n istio-system rollout restart deployment\/istiod`/)
    })

    test('again: unchanged, no write request, same resourceVersion', async () => {
      const rv = (await secretOf(C1)).metadata.resourceVersion
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', dir, '--context', C1], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Secret\/istio-system\/cacerts\s+unchanged/)
      assert.equal(writes(stats(r.stderr)), 0)
      assert.doesNotMatch(r.stderr, /rollout restart/)
      assert.equal((await secretOf(C1)).metadata.resourceVersion, rv)
    })

    test('a cacerts with another root is refused (exit 2, nothing written) unless --force', async () => {
      const other = join(work, 'other')
      const rv = (await secretOf(C1)).metadata.resourceVersion
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', other, '--context', C1, '--key-size', '2048'], {env: {KUBECTL_MESH_STATS: '1'}})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /Error: context "cluster1": Secret istio-system\/cacerts holds another root/)
      assert.match(r.stderr, /Hint: /)
      assert.equal(writes(stats(r.stderr)), 0)
      assert.equal(existsSync(other), false)
      assert.equal((await secretOf(C1)).metadata.resourceVersion, rv)

      const f = await mesh(['ca', 'gen', '--cluster', C1, '--dir', other, '--context', C1, '--key-size', '2048', '--force'])
      assert.equal(f.code, 0, f.stderr)
      assert.match(f.stdout, /Secret\/istio-system\/cacerts\s+configured/)
      const root = Buffer.from((await secretOf(C1)).data['root-cert.pem'], 'base64').toString()
      assert.equal(root, readFileSync(join(other, 'root-cert.pem'), 'utf8'))
    })

    test('a view-only context fails with exit 1 and names the context', async () => {
      const r = await mesh(['ca', 'gen', '--cluster', C1, '--dir', dir, '--context', `${C1}-viewer`])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /Error: context "cluster1-viewer": forbidden/)
      assert.match(r.stderr, /Hint: /)
    })
  })

  describe('bad input: exit 2, one line, a hint, nothing written', () => {
    let bad: string
    before(() => {
      bad = join(work, 'bad')
      mkdirSync(bad)
      writeFileSync(join(bad, 'not-pem.txt'), 'hello\n')
      openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf-key.pem', '-out', 'leaf.pem', '-subj', '/CN=leaf', '-days', '30', '-addext', 'basicConstraints=critical,CA:false'], bad)
      expiredRoot(bad)
    })
    const cases: Array<[string, () => string[], RegExp]> = [
      ['a cluster name that is not a DNS-1123 label', () => ['--cluster', 'East_1'], /cluster name "East_1" is not a DNS-1123 label/],
      ['a --dir that cannot be written', () => ['--cluster', 'east', '--dir', join(bad, 'not-pem.txt', 'ca')], /--dir .* cannot be written: .*not-pem\.txt is not a directory/],
      ['a root key that does not match the root cert', () => ['--cluster', 'east', '--root-cert', join(ref, 'root-cert.pem'), '--root-key', join(ref, C1, 'ca-key.pem')], /the root key does not match --root-cert/],
      ['a root that is not a CA', () => ['--cluster', 'east', '--root-cert', join(bad, 'leaf.pem'), '--root-key', join(bad, 'leaf-key.pem')], /leaf\.pem is not a CA certificate/],
      ['an expired root', () => ['--cluster', 'east', '--root-cert', join(bad, 'expired.pem'), '--root-key', join(bad, 'expired-key.pem')], /expired\.pem expired on 2021-01-01/],
      ['a file that is not PEM', () => ['--cluster', 'east', '--root-cert', join(bad, 'not-pem.txt'), '--root-key', join(ref, 'root-key.pem')], /not-pem\.txt is not a PEM certificate/],
      ['a key that is not PEM', () => ['--cluster', 'east', '--root-cert', join(ref, 'root-cert.pem'), '--root-key', join(bad, 'not-pem.txt')], /not-pem\.txt is not a PEM private key/],
      ['key size 1024', () => ['--cluster', 'east', '--key-size', '1024'], /key size 1024 is not supported/],
      ['zero days', () => ['--cluster', 'east', '--days', '0'], /--days must be a positive number of days/],
      ['negative days', () => ['--cluster', 'east', '--days=-3'], /--days must be a positive number of days, got -3/],
      ['negative root days', () => ['--cluster', 'east', '--root-days=-1'], /--root-days must be a positive/],
      ['--context with more than one --cluster', () => ['--cluster', 'a', '--cluster', 'b', '--context', C1], /--context installs one cluster's CA, but 2 clusters were named/],
    ]
    for (const [name, args, re] of cases) {
      test(name, async () => {
        const d = join(work, `bad-out-${name.replace(/\W+/g, '-')}`)
        const a = args()
        const r = await mesh(['ca', 'gen', ...(a.includes('--dir') ? [] : ['--dir', d]), ...a], {env: {KUBECTL_MESH_STATS: '1'}})
        assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`)
        const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('kubectl-mesh-stats'))
        assert.equal(lines.length, 2, r.stderr)
        assert.match(lines[0], /^Error: /)
        assert.match(lines[0], re)
        assert.match(lines[1], /^Hint: \S/)
        assert.equal(r.stdout, '')
        assert.equal(existsSync(d), false, 'nothing written')
        assert.equal(writes(stats(r.stderr)), 0)
      })
    }
  })
})

// One root answer (src/cluster/trust.ts, docs/verify.md "Which root"): link, ca gen and verify read
// the same roots from a cacerts in the kubernetes.io/tls layout (tls.crt/tls.key/ca.crt: the roots
// are ca.crt, a stray root-cert.pem beside it is not) and from a root-cert.pem holding two roots
// (mid-rotation: a peer on either root shares one). The contrast cases show each command refusing
// a cluster on another root, so an answer read from elsewhere would fail them.
describe('ca gen, link and verify: one root answer', () => {
  const work = tempDir('ca-root-answer-')
  const dirA = join(work, 'root-a')
  const dirB = join(work, 'root-b')
  const saved = new Map<string, any>()
  const short = (fp: string) => fp.replaceAll(':', '').toLowerCase().slice(0, 16)
  /** Replace cacerts in `ctx` with these files (key → path). */
  const put = async (ctx: string, files: Record<string, string>) => {
    await kubectl(['delete', 'secret', 'cacerts', '-n', NS, '--ignore-not-found'], {context: ctx})
    await kubectl(['create', 'secret', 'generic', 'cacerts', '-n', NS, ...Object.entries(files).map(([k, p]) => `--from-file=${k}=${p}`)], {context: ctx})
  }
  const istioLayout = (dir: string, c: string, root = join(dir, 'root-cert.pem')) =>
    ({'ca-cert.pem': join(dir, c, 'ca-cert.pem'), 'ca-key.pem': join(dir, c, 'ca-key.pem'), 'cert-chain.pem': join(dir, c, 'cert-chain.pem'), 'root-cert.pem': root})
  const linkRefuses = async () => {
    const r = await mesh(['cluster', 'link', '--context', C1, '--remote-context', C2, '--dry-run'])
    return {refused: /different root CAs/.test(r.stderr), r}
  }
  const caGenKeeps = async (dir: string) => {
    const r = await mesh(['ca', 'gen', '--cluster', C1, '--context', C1, '--dir', dir, '--dry-run'])
    assert.ok(r.code === 0 || /holds another root/.test(r.stderr), r.stderr)
    return r.code === 0
  }
  const verifyShared = async () => {
    const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
    const checks = JSON.parse(r.stdout).checks as Array<{id: string; cluster: string; status: string; message: string}>
    return checks.find((c) => c.id === 'trust.shared-root' && c.cluster === C1)!
  }

  before(async () => {
    for (const c of [C1, C2]) {
      const s = await secretOf(c)
      if (s) saved.set(c, s)
    }
    for (const d of [dirA, dirB]) assert.equal((await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--dir', d, '--key-size', '2048'])).code, 0)
  })

  after(async () => {
    for (const c of [C1, C2]) {
      await kubectl(['delete', 'secret', 'cacerts', '-n', NS, '--ignore-not-found'], {context: c})
      const s = saved.get(c)
      if (s) {
        for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields']) delete s.metadata[k]
        await kubectl(['create', '-f', '-'], {context: c, input: JSON.stringify(s)})
      }
    }
    rmSync(work, {recursive: true, force: true})
  })

  test('cacerts as tls.crt/tls.key/ca.crt (root A) beside a stray root-cert.pem (root B): all three answer A', async () => {
    const fpA = fingerprint(join(dirA, 'root-cert.pem'))
    await put(C1, {'tls.crt': join(dirA, C1, 'ca-cert.pem'), 'tls.key': join(dirA, C1, 'ca-key.pem'), 'ca.crt': join(dirA, 'root-cert.pem'), 'root-cert.pem': join(dirB, 'root-cert.pem')})
    await put(C2, istioLayout(dirA, C2))
    const link = await linkRefuses()
    assert.equal(link.refused, false, link.r.stderr)
    assert.equal(await caGenKeeps(dirA), true)
    assert.equal(await caGenKeeps(dirB), false)
    const v = await verifyShared()
    assert.equal(v.status, 'pass', v.message)
    assert.match(v.message, new RegExp(`shares root ${short(fpA)}`))
    // contrast: a peer on root B only is refused by link and fails verify
    await put(C2, istioLayout(dirB, C2))
    assert.equal((await linkRefuses()).refused, true)
    assert.equal((await verifyShared()).status, 'fail')
  })

  test('root-cert.pem with roots A and B (mid-rotation): a peer on B alone shares B in link, ca gen and verify', async () => {
    const fpB = fingerprint(join(dirB, 'root-cert.pem'))
    const both = join(work, 'both-roots.pem')
    writeFileSync(both, readFileSync(join(dirA, 'root-cert.pem'), 'utf8') + readFileSync(join(dirB, 'root-cert.pem'), 'utf8'))
    await put(C1, istioLayout(dirA, C1, both))
    await put(C2, istioLayout(dirB, C2))
    const link = await linkRefuses()
    assert.equal(link.refused, false, link.r.stderr)
    assert.equal(await caGenKeeps(dirA), true)
    assert.equal(await caGenKeeps(dirB), true)
    const v = await verifyShared()
    assert.equal(v.status, 'pass', v.message)
    assert.match(v.message, new RegExp(`shares root ${short(fpB)}… with 1 other cluster\\(s\\) \\(trusts 2 roots\\)`))
  })
})
