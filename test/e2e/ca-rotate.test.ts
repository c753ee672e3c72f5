// `kubectl mesh ca rotate` end to end, decided by real istiods (pilot-discovery, one per cluster on
// 127.0.0.1, ISTIO_MULTIROOT_MESH=true, etc/cacerts following the Secret as a kubelet volume
// would). What each cluster holds is checked with openssl on the Secret's own bytes; what each
// istiod does is read from what it publishes (ConfigMap istio-ca-root-cert, via the test bed's
// kubectl) and from the certificate it serves on its XDS/CA TLS port (openssl s_client, directly
// on loopback). Everything written is undone in after().
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kget, kubectl, mesh, stats, tempDir, writes} from './harness.ts'
import {startApiServer, stopApiServer} from '../../testbed/testbed.ts'
import {ensureIstioBuilt, startIstiod, stopIstiod, waitUntil} from '../../testbed/istiod.ts'
import type {Istiod} from '../../testbed/istiod.ts'

const NS = 'istio-system'
const C1 = 'cluster1'
const C2 = 'cluster2'
const CLUSTERS = [C1, C2]
const work = tempDir('ca-rotate-e2e-')
const dir = join(work, 'mesh-ca')
const istiod: Record<string, Istiod> = {}
const original: {mesh: Record<string, string>; cacerts: Record<string, any>; rootCms: Record<string, string[]>} = {mesh: {}, cacerts: {}, rootCms: {}}
/** Figures for the report: ms per gate, per run. */
const timings: Record<string, number> = {}
const GATE_TIMEOUT_MS = 120_000

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, {encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe']})
const opensslOk = (args: string[]) => {
  try {
    return {ok: true, out: openssl(args)}
  } catch (e) {
    return {ok: false, out: String((e as {stdout?: string}).stdout ?? '') + String((e as {stderr?: string}).stderr ?? '')}
  }
}
const pemBlocks = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
const fp = (pem: string) => openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem).trim().replace(/^.*=/, '')
const fps = (text: string | undefined) => pemBlocks(text ?? '').map(fp)
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)
const fileFp = (p: string) => fp(readFileSync(p, 'utf8'))
const rotate = (extra: string[] = [], env: Record<string, string> = {}) => mesh(['ca', 'rotate', '--dir', dir, '--context', C1, '--context', C2, ...extra], {env: {KUBECTL_MESH_STATS: '1', ...env}})
const ok = (r: {code: number; stdout: string; stderr: string}, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)

/** The Secret's keys as text, and the same written to files for openssl. */
async function cacerts(ctx: string): Promise<{data: Record<string, string>; file: (k: string) => string; rv: string}> {
  const s = await kget(ctx, ['-n', NS, 'secret', 'cacerts'])
  const data: Record<string, string> = {}
  const d = join(work, `secret-${ctx}-${Date.now()}`)
  mkdirSync(d, {mode: 0o700})
  for (const [k, v] of Object.entries<string>(s.data)) {
    data[k] = Buffer.from(v, 'base64').toString('utf8')
    writeFileSync(join(d, k), data[k], {mode: 0o600})
  }
  return {data, file: (k) => join(d, k), rv: s.metadata.resourceVersion}
}

/** `openssl verify` of the Secret's ca-cert.pem against a root file, with the Secret's cert-chain.pem as untrusted. */
function issuedBy(s: Awaited<ReturnType<typeof cacerts>>, rootFile: string): boolean {
  return opensslOk(['verify', '-CAfile', rootFile, '-untrusted', s.file('cert-chain.pem'), s.file('ca-cert.pem')]).ok
}

/** The roots istiod published in a namespace. */
async function published(ctx: string, ns = NS): Promise<string[]> {
  const cm = await kget(ctx, ['-n', ns, 'configmap', 'istio-ca-root-cert'])
  return fps(cm?.data?.['root-cert.pem']).sort()
}

/** The leaf certificate istiod serves on its XDS/CA TLS port (what its CA signed last for itself). */
function servingLeaf(i: Istiod): string {
  const out = opensslOk(['s_client', '-connect', `127.0.0.1:${i.ports.secureGrpc}`, '-servername', 'istiod.istio-system.svc', '-showcerts']).out
  const leaf = pemBlocks(out)[0]
  if (!leaf) throw new Error(`no certificate from istiod ${i.cluster}: ${out.slice(0, 300)}`)
  return leaf
}

/** istiod's serving certificate was issued by this intermediate (openssl, the intermediate as the only trust anchor). */
function signsWith(i: Istiod, intermediatePem: string): boolean {
  const f = join(work, `int-${i.cluster}-${Date.now()}.pem`)
  const l = join(work, `leaf-${i.cluster}-${Date.now()}.pem`)
  writeFileSync(f, intermediatePem)
  writeFileSync(l, servingLeaf(i))
  return opensslOk(['verify', '-partial_chain', '-CAfile', f, l]).ok
}

async function waitPublished(what: string, want: string[]): Promise<number> {
  const sorted = [...want].sort()
  const {ms} = await waitUntil(`${what}: both istiods publish ${sorted.length} root(s)`, async () => {
    for (const c of CLUSTERS) for (const ns of [NS, 'default']) if ((await published(c, ns)).join() !== sorted.join()) return false
    return true
  }, GATE_TIMEOUT_MS, 250)
  timings[what] = ms
  return ms
}

async function waitSigning(what: string): Promise<number> {
  const {ms} = await waitUntil(`${what}: every istiod signs with the intermediate of its cacerts`, async () => {
    for (const c of CLUSTERS) if (!signsWith(istiod[c], (await cacerts(c)).data['ca-cert.pem'])) return false
    return true
  }, GATE_TIMEOUT_MS, 250)
  timings[what] = ms
  return ms
}

/** verify of both clusters: its trust checks (none may fail) and trust.rotation. */
async function verifyTrust(): Promise<{failing: string[]; rotation: Array<{cluster: string; status: string; message: string; hint: string}>; code: number}> {
  const r = await mesh(['verify', '--context', C1, '--context', C2, '-o', 'json'])
  const json = JSON.parse(r.stdout)
  const trust = json.checks.filter((c: any) => c.category === 'trust')
  return {failing: trust.filter((c: any) => c.status === 'fail').map((c: any) => `${c.id} ${c.cluster}: ${c.message}`), rotation: trust.filter((c: any) => c.id === 'trust.rotation'), code: r.code}
}

/** Every file under DIR with its mode, and every folder's mode (0600 keys, 0700 folders). */
function dirModes(d = dir): Array<[string, string]> {
  const out: Array<[string, string]> = [[d, mode(d)]]
  for (const e of readdirSync(d, {withFileTypes: true})) {
    const p = join(d, e.name)
    if (e.isDirectory()) out.push(...dirModes(p))
    else out.push([p, mode(p)])
  }
  return out
}
function assertModes() {
  for (const [p, m] of dirModes()) {
    if (statSync(p).isDirectory()) assert.equal(m, '700', `${p} is ${m}`)
    else if (p.endsWith('-key.pem')) assert.equal(m, '600', `${p} is ${m}`)
  }
}

const killIstiod = (c: string) => { try { process.kill(-istiod[c].pid, 'SIGKILL') } catch { /* gone */ } }

before(async () => {
  ensureIstioBuilt((m) => process.stderr.write(`# ${m}\n`))
  for (const c of CLUSTERS) {
    original.mesh[c] = (await kget(c, ['-n', NS, 'configmap', 'istio'])).data.mesh
    const s = await kget(c, ['-n', NS, 'secret', 'cacerts'])
    if (s) original.cacerts[c] = s
    await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: c})
    const r = await kubectl(['get', 'configmaps', '-A', '--field-selector=metadata.name=istio-ca-root-cert', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}'], {context: c})
    original.rootCms[c] = r.stdout.split('\n').filter(Boolean)
  }
  // 4096-bit keys, as ca gen makes them by default: the new intermediates then take long enough to
  // generate that the "killed run" test can stop an API server between the two clusters' writes.
  ok(await mesh(['ca', 'gen', '--cluster', C1, '--cluster', C2, '--dir', dir]), 'ca gen')
  for (const c of CLUSTERS) ok(await mesh(['ca', 'gen', '--cluster', c, '--context', c, '--dir', dir]), `ca gen --context ${c}`)
  for (const c of CLUSTERS) istiod[c] = await startIstiod(c)
  await waitPublished('istiods up: publish root A', [fileFp(join(dir, 'root-cert.pem'))])
}, {timeout: 60 * 60_000})

after(async () => {
  await startApiServer(C2).catch(() => {})
  for (const c of CLUSTERS) await stopIstiod(c)
  for (const c of CLUSTERS) {
    await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'ISTIO_MULTIROOT_MESH-'], {context: c, allowFail: true})
    await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh: original.mesh[c]}})], {context: c, allowFail: true})
    await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: c})
    const s = original.cacerts[c]
    if (s) {
      for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields']) delete s.metadata[k]
      await kubectl(['create', '-f', '-'], {context: c, input: JSON.stringify(s)})
    }
    const r = await kubectl(['get', 'configmaps', '-A', '--field-selector=metadata.name=istio-ca-root-cert', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}'], {context: c, allowFail: true})
    for (const ns of r.stdout.split('\n').filter(Boolean)) {
      if (!original.rootCms[c].includes(ns)) await kubectl(['-n', ns, 'delete', 'configmap', 'istio-ca-root-cert', '--ignore-not-found'], {context: c, allowFail: true})
    }
  }
  process.stderr.write(`# ca rotate timings (ms): ${JSON.stringify(timings)}\n`)
  rmSync(work, {recursive: true, force: true})
})

describe('ca rotate', () => {
  let rootA = ''
  const intA: Record<string, string> = {}

  test('preconditions: each refused with its exact fix, nothing written', async () => {
    rootA = fileFp(join(dir, 'root-cert.pem'))
    for (const c of CLUSTERS) intA[c] = (await cacerts(c)).data['ca-cert.pem']
    const rv = Object.fromEntries(await Promise.all(CLUSTERS.map(async (c) => [c, (await cacerts(c)).rv])))
    const r1 = await rotate()
    assert.equal(r1.code, 2, r1.stderr)
    assert.match(r1.stderr, /^Error: context "cluster1": istiod deployment\/istiod runs without ISTIO_MULTIROOT_MESH=true/m)
    const fix1 = /Hint: turn on multi-root trust: `(kubectl --context cluster1 -n istio-system set env deployment\/istiod ISTIO_MULTIROOT_MESH=true)`/.exec(r1.stderr)
    assert.ok(fix1, r1.stderr)
    assert.equal(writes(stats(r1.stderr)), 0)
    // the fix, exactly as printed (the test bed's istiod processes already run with it)
    for (const c of CLUSTERS) await kubectl(['-n', NS, 'set', 'env', 'deployment/istiod', 'ISTIO_MULTIROOT_MESH=true'], {context: c})
    const r2 = await rotate()
    assert.equal(r2.code, 2, r2.stderr)
    assert.match(r2.stderr, /proxies run without PROXY_CONFIG_XDS_AGENT=true \(meshConfig\.defaultConfig\.proxyMetadata in ConfigMap istio-system\/istio\)/)
    assert.match(r2.stderr, /Hint: set meshConfig\.defaultConfig\.proxyMetadata\.PROXY_CONFIG_XDS_AGENT: "true"/)
    for (const c of CLUSTERS) {
      const meshYaml = original.mesh[c].replace('proxyMetadata:\n', 'proxyMetadata:\n    PROXY_CONFIG_XDS_AGENT: "true"\n')
      assert.notEqual(meshYaml, original.mesh[c])
      await kubectl(['-n', NS, 'patch', 'configmap', 'istio', '--type=merge', '-p', JSON.stringify({data: {mesh: meshYaml}})], {context: c})
    }
    assert.equal(existsSync(join(dir, 'next')), false)
    for (const c of CLUSTERS) assert.equal((await cacerts(c)).rv, rv[c], `${c}: Secret cacerts untouched`)
  })

  test('--dry-run: the change lines, nothing persists', async () => {
    const r = await rotate(['--dry-run'])
    ok(r, 'dry run')
    assert.match(r.stdout, /^cluster1\s+Secret\/istio-system\/cacerts\s+configured$/m)
    assert.match(r.stdout, /^local\s+File\/.*\/next\/root-key\.pem\s+created$/m)
    assert.equal(existsSync(join(dir, 'next')), false)
    for (const c of CLUSTERS) assert.deepEqual(fps((await cacerts(c)).data['root-cert.pem']), [rootA])
  })

  describe('a rotation that is aborted in phase 2', () => {
    let rootB = ''
    test('run 1 (trust both): root-cert.pem = A + B, intermediates unchanged, istiod publishes both', async () => {
      const r = await rotate()
      ok(r, 'run 1')
      for (const c of CLUSTERS) assert.match(r.stdout, new RegExp(`^${c}\\s+Secret/istio-system/cacerts\\s+configured$`, 'm'))
      assert.match(r.stderr, /phase 1 \(trust both\)/)
      rootB = fileFp(join(dir, 'next', 'root-cert.pem'))
      assertModes()
      for (const c of CLUSTERS) {
        const s = await cacerts(c)
        assert.deepEqual(fps(s.data['root-cert.pem']), [rootA, rootB])
        assert.equal(s.data['ca-cert.pem'], intA[c])
        assert.ok(issuedBy(s, join(dir, 'root-cert.pem')), `${c}: intermediate still from A`)
      }
      await waitPublished('abort rotation: run 1 → both published', [rootA, rootB])
    })
    test('a cluster that drops the old root before its peer issues from the new one fails verify', async () => {
      // by hand, as an operator might: cluster1 gets an intermediate from B (openssl) and trusts B alone
      const saved = await kget(C1, ['-n', NS, 'secret', 'cacerts'])
      const d = join(work, 'by-hand')
      mkdirSync(d, {mode: 0o700})
      openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'ca-key.pem'), '-subj', '/O=Istio/CN=Intermediate CA/L=cluster1', '-out', join(d, 'csr.pem')])
      writeFileSync(join(d, 'ext.cnf'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign\nsubjectAltName=DNS:istiod.istio-system.svc\n')
      openssl(['x509', '-req', '-in', join(d, 'csr.pem'), '-CA', join(dir, 'next', 'root-cert.pem'), '-CAkey', join(dir, 'next', 'root-key.pem'), '-CAserial', join(d, 'serial'), '-CAcreateserial', '-days', '30', '-extfile', join(d, 'ext.cnf'), '-out', join(d, 'ca-cert.pem')])
      const rootBPem = readFileSync(join(dir, 'next', 'root-cert.pem'), 'utf8')
      const cert = readFileSync(join(d, 'ca-cert.pem'), 'utf8')
      const b64 = (s: string) => Buffer.from(s).toString('base64')
      await kubectl(['-n', NS, 'patch', 'secret', 'cacerts', '--type=merge', '-p', JSON.stringify({data: {
        'ca-cert.pem': b64(cert), 'ca-key.pem': b64(readFileSync(join(d, 'ca-key.pem'), 'utf8')), 'cert-chain.pem': b64(cert + rootBPem), 'root-cert.pem': b64(rootBPem)}})], {context: C1})
      await waitUntil('cluster1 istiod publishes B alone', async () => (await published(C1)).join() === rootB, GATE_TIMEOUT_MS, 250)
      const v = await verifyTrust()
      const f = v.rotation.find((x) => x.cluster === C1)!
      assert.equal(f.status, 'fail', JSON.stringify(v))
      assert.match(f.message, /cluster cluster1 trusts only root [0-9a-f]{16}…, but cluster cluster2 issues from root [0-9a-f]{16}…, which cluster1 does not trust/)
      assert.match(f.hint, /finish phase 2|--abort/)
      assert.equal(v.code, 1)
      // ca rotate refuses to move a mesh whose trust is split, and writes nothing
      const r = await rotate()
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /context "cluster1" is 2 steps ahead of "cluster2"/)
      assert.equal(writes(stats(r.stderr)), 0)
      // put it back as run 1 wrote it
      await kubectl(['-n', NS, 'patch', 'secret', 'cacerts', '--type=merge', '-p', JSON.stringify({data: saved.data})], {context: C1})
      await waitPublished('abort rotation: cluster1 restored → both published', [rootA, rootB])
      const v2 = await verifyTrust()
      assert.deepEqual(v2.failing, [])
    })
    test('run 2 (issue from new), then --abort twice: both clusters on A alone, verify green', async () => {
      ok(await rotate(), 'run 2')
      for (const c of CLUSTERS) assert.ok(issuedBy(await cacerts(c), join(dir, 'next', 'root-cert.pem')), `${c}: intermediate from B`)
      await waitSigning('abort rotation: run 2 → istiods sign with B intermediates')
      const a1 = await rotate(['--abort'])
      ok(a1, 'abort 1')
      assert.match(a1.stderr, /abort: every intermediate goes back to the old root/)
      for (const c of CLUSTERS) {
        const s = await cacerts(c)
        assert.equal(s.data['ca-cert.pem'], intA[c])
        assert.deepEqual(fps(s.data['root-cert.pem']), [rootA, rootB])
      }
      await waitSigning('abort: istiods sign with A intermediates again')
      const a2 = await rotate(['--abort'])
      ok(a2, 'abort 2')
      assert.match(a2.stderr, /trusts the old root [0-9a-f]{16}… alone again/)
      for (const c of CLUSTERS) {
        const s = await cacerts(c)
        assert.deepEqual(fps(s.data['root-cert.pem']), [rootA])
        assert.ok(issuedBy(s, join(dir, 'root-cert.pem')))
        assert.equal(opensslOk(['verify', '-CAfile', s.file('root-cert.pem'), s.file('ca-cert.pem')]).ok, true)
      }
      assert.equal(existsSync(join(dir, 'next')), false)
      assert.ok(readdirSync(dir).some((n) => n.startsWith('aborted-')))
      assertModes()
      await waitPublished('abort: both publish A alone', [rootA])
      assert.deepEqual((await verifyTrust()).failing, [])
      const again = await rotate(['--abort'])
      ok(again, 'abort again')
      assert.match(again.stderr, /nothing to abort/)
      assert.equal(writes(stats(again.stderr)), 0)
    })
  })

  describe('a rotation from A to B in three runs', () => {
    let rootB = ''
    const oldRootPem = () => readFileSync(join(dir, 'root-cert.pem'), 'utf8')
    test('run 1: trust both (cluster2\'s istiod is down: the next run must wait for it)', async () => {
      killIstiod(C2)
      const r = await rotate(['-o', 'json'])
      ok(r, 'run 1')
      const json = JSON.parse(r.stdout)
      assert.equal(json.step, 'start')
      assert.deepEqual(json.changes.filter((c: any) => c.kind === 'Secret').map((c: any) => `${c.context} ${c.action}`), ['cluster1 configured', 'cluster2 configured'])
      rootB = fileFp(join(dir, 'next', 'root-cert.pem'))
      for (const c of CLUSTERS) assert.deepEqual(fps((await cacerts(c)).data['root-cert.pem']), [rootA, rootB])
      await waitUntil('cluster1 publishes both', async () => (await published(C1)).join() === [rootA, rootB].sort().join(), GATE_TIMEOUT_MS, 250)
      // the gate of phase 2 does not hold in cluster2: say so, exit 0, write nothing
      const w = await rotate()
      ok(w, 'waiting run')
      assert.match(w.stderr, /^waiting: cluster2: istiod to publish both roots: ConfigMap [a-z0-9-]+\/istio-ca-root-cert .*holds [0-9a-f]{16}…;/m)
      assert.doesNotMatch(w.stderr, /waiting: cluster1/)
      assert.equal(writes(stats(w.stderr)), 0)
      assert.equal(w.stdout, '')
      const t0 = Date.now()
      istiod[C2] = await startIstiod(C2)
      await waitPublished('run 1 → both published (cluster2 after restart)', [rootA, rootB])
      timings['istiod cluster2 restart → publishes both'] = Date.now() - t0
      assert.deepEqual((await verifyTrust()).failing, [])
    })
    test('run 2: issue from new — an API server stopped mid-phase, the next run resumes the phase', async () => {
      // Stop cluster2's API server once cluster1's new intermediate is on disk: cluster2's key is
      // still being generated, so cluster1's Secret is written and cluster2's write fails.
      const run = rotate()
      await waitUntil('cluster1 intermediate in DIR/next', async () => existsSync(join(dir, 'next', C1, 'ca-key.pem')), 60_000, 5)
      await stopApiServer(C2)
      const r = await run
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
      assert.match(r.stderr, /^Error: context "cluster2": .*\(Secret istio-system\/cacerts was written in cluster1; the files in .* are kept\)/m)
      assert.match(r.stderr, /run the same command again/)
      const c1 = await cacerts(C1)
      assert.ok(issuedBy(c1, join(dir, 'next', 'root-cert.pem')), 'cluster1 already issues from B')
      const c1Int = fileFp(join(dir, 'next', C1, 'ca-cert.pem'))
      await startApiServer(C2)
      assert.ok(issuedBy(await cacerts(C2), join(dir, 'root-cert.pem')), 'cluster2 still from A')
      // the resumed run checks phase 2's gate again and writes only what is missing
      const r2 = await rotate()
      ok(r2, 'resumed run 2')
      assert.match(r2.stdout, /^cluster2\s+Secret\/istio-system\/cacerts\s+configured$/m)
      assert.doesNotMatch(r2.stdout, /^cluster1\s/m)
      assert.equal(fileFp(join(dir, 'next', C1, 'ca-cert.pem')), c1Int, 'cluster1 not issued twice')
      for (const c of CLUSTERS) {
        const s = await cacerts(c)
        assert.ok(issuedBy(s, join(dir, 'next', 'root-cert.pem')), `${c}: intermediate from B`)
        assert.equal(issuedBy(s, join(dir, 'root-cert.pem')), false, `${c}: not from A`)
        assert.deepEqual(fps(s.data['root-cert.pem']), [rootA, rootB])
        assert.equal(pemBlocks(s.data['cert-chain.pem']).at(-1) && fp(pemBlocks(s.data['cert-chain.pem']).at(-1)!), rootB, 'cert-chain.pem ends at B')
      }
      assertModes()
      // the next phase is not taken before every istiod signs with its new intermediate
      killIstiod(C2)
      const w = await rotate()
      ok(w, 'waiting run')
      assert.match(w.stderr, /^waiting: cluster2: istiod pod istio-system\/istiod-cluster2-local to sign with the new intermediate/m)
      assert.equal(writes(stats(w.stderr)), 0)
      istiod[C2] = await startIstiod(C2)
      await waitSigning('run 2 → istiods sign with B intermediates')
      for (const c of CLUSTERS) assert.deepEqual(await published(c), [rootA, rootB].sort())
      assert.deepEqual((await verifyTrust()).failing, [])
    })
    test('run 3: trust new only — B alone, A retired, DIR/next is DIR', async () => {
      const aPem = oldRootPem()
      const t0 = Date.now()
      const r = await rotate()
      timings['run 3 (phase 3) CLI'] = Date.now() - t0
      ok(r, 'run 3')
      assert.match(r.stderr, /phase 3 \(trust new only\)/)
      assert.match(r.stdout, /^local\s+File\/.*\/retired-\d{4}-\d{2}-\d{2}\/root-cert\.pem\s+created$/m)
      for (const c of CLUSTERS) {
        const s = await cacerts(c)
        assert.deepEqual(fps(s.data['root-cert.pem']), [rootB])
        assert.equal(opensslOk(['verify', '-CAfile', s.file('root-cert.pem'), s.file('ca-cert.pem')]).ok, true)
        assert.ok(issuedBy(s, join(dir, 'root-cert.pem')))
      }
      assert.equal(fileFp(join(dir, 'root-cert.pem')), rootB)
      assert.equal(existsSync(join(dir, 'next')), false)
      const retired = readdirSync(dir).filter((n) => n.startsWith('retired-'))
      assert.equal(retired.length, 1)
      assert.equal(readFileSync(join(dir, retired[0], 'root-cert.pem'), 'utf8'), aPem)
      assert.ok(existsSync(join(dir, retired[0], 'root-key.pem')))
      assert.ok(existsSync(join(dir, retired[0], C1, 'ca-key.pem')))
      assertModes()
      await waitPublished('run 3 → both publish B alone', [rootB])
      const v = await verifyTrust()
      assert.deepEqual(v.failing, [])
      assert.ok(v.rotation.every((x) => x.status === 'pass'))
    })
    test('a finished rotation run again writes nothing', async () => {
      const before = dirModes().map(([p]) => `${p} ${existsSync(p) && statSync(p).isFile() ? statSync(p).mtimeMs : ''}`)
      const rvs = await Promise.all(CLUSTERS.map(async (c) => (await cacerts(c)).rv))
      const r = await rotate()
      ok(r, 'run 4')
      assert.match(r.stderr, /finished on .*: nothing to do/)
      assert.equal(r.stdout, '')
      assert.equal(writes(stats(r.stderr)), 0)
      assert.deepEqual(dirModes().map(([p]) => `${p} ${existsSync(p) && statSync(p).isFile() ? statSync(p).mtimeMs : ''}`), before)
      assert.deepEqual(await Promise.all(CLUSTERS.map(async (c) => (await cacerts(c)).rv)), rvs)
    })
    test('no private key in any output; the retired folder keeps its modes', () => {
      // the leak scan (test/leak-scan.ts) checks every run of this file at the end; here DIR's modes
      assertModes()
      assert.equal(mode(join(dir, 'root-key.pem')), '600')
    })
  })
})
