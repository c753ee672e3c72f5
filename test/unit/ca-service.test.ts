// The on-disk half of `ca gen` (no cluster): reuse, refusals, --force, brought roots, -o yaml and
// --dry-run, against real temp folders. Everything touching Kubernetes is in test/e2e/ca-gen.test.ts.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {X509Certificate} from 'node:crypto'
import {caGen} from '../../src/ca/service.ts'
import type {CaGenOptions} from '../../src/ca/plan.ts'
import {UsageError} from '../../src/errors.ts'

const work = mkdtempSync(join(tmpdir(), 'ca-service-'))
const noSession = () => {
  throw new Error('no cluster in unit tests')
}
const opts = (dir: string, p: Partial<CaGenOptions> = {}): CaGenOptions => ({
  clusters: ['east'], dir, keySize: 2048, rootDays: 3650, days: 3650, org: 'Istio', force: false,
  install: false, istioNamespace: 'istio-system', output: 'text', dryRun: false, version: '0.0.0-test', ...p,
})
const run = (o: CaGenOptions) => caGen(o, {session: noSession})
const refused = async (o: CaGenOptions, re: RegExp) => assert.rejects(run(o), (e: unknown) => e instanceof UsageError && re.test(e.message))
const fp = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256

describe('ca gen on disk', () => {
  after(() => rmSync(work, {recursive: true, force: true}))

  test('creates, then reuses everything (all unchanged)', async () => {
    const dir = join(work, 'a')
    const r1 = await run(opts(dir, {clusters: ['east', 'west']}))
    assert.equal(r1.root.action, 'create')
    assert.deepEqual(r1.clusters.map((c) => c.action), ['create', 'create'])
    assert.equal(r1.changes.length, 10)
    assert.ok(r1.changes.every((c) => c.action === 'created' && c.kind === 'File'))
    const r2 = await run(opts(dir, {clusters: ['east', 'west']}))
    assert.equal(r2.root.action, 'reuse')
    assert.equal(r2.root.fingerprint, r1.root.fingerprint)
    assert.ok(r2.changes.every((c) => c.action === 'unchanged'))
    // A new cluster later: issued from the same root.
    const r3 = await run(opts(dir, {clusters: ['north']}))
    assert.equal(r3.clusters[0].action, 'create')
    assert.ok(new X509Certificate(readFileSync(join(dir, 'north', 'ca-cert.pem'))).verify(new X509Certificate(readFileSync(join(dir, 'root-cert.pem'))).publicKey))
  })

  test('refuses half a pair, a mismatched key and another root; --force re-issues', async () => {
    const dir = join(work, 'b')
    await run(opts(dir))
    const before = fp(join(dir, 'east', 'ca-cert.pem'))
    const key = readFileSync(join(dir, 'east', 'ca-key.pem'))
    unlinkSync(join(dir, 'east', 'ca-key.pem'))
    await refused(opts(dir), /holds ca-cert\.pem but no ca-key\.pem/)
    writeFileSync(join(dir, 'east', 'ca-key.pem'), readFileSync(join(dir, 'root-key.pem')))
    await refused(opts(dir), /ca-key\.pem does not match/)
    writeFileSync(join(dir, 'east', 'ca-key.pem'), key)
    // An intermediate from another root copied in.
    const other = join(work, 'b-other')
    await run(opts(other))
    writeFileSync(join(dir, 'east', 'ca-cert.pem'), readFileSync(join(other, 'east', 'ca-cert.pem')))
    writeFileSync(join(dir, 'east', 'ca-key.pem'), readFileSync(join(other, 'east', 'ca-key.pem')))
    await refused(opts(dir), /was not issued by the root/)
    const f = await run(opts(dir, {force: true}))
    assert.equal(f.clusters[0].action, 'reissue')
    assert.notEqual(fp(join(dir, 'east', 'ca-cert.pem')), before)
    assert.equal(f.root.action, 'reuse')
  })

  test('a brought root: certificate copied, key not; signing later needs the key again', async () => {
    const src = join(work, 'c-src')
    await run(opts(src))
    const dir = join(work, 'c')
    const r = await run(opts(dir, {rootCertFile: join(src, 'root-cert.pem'), rootKeyFile: join(src, 'root-key.pem')}))
    assert.equal(r.root.action, 'import')
    assert.equal(existsSync(join(dir, 'root-key.pem')), false)
    assert.equal(fp(join(dir, 'root-cert.pem')), fp(join(src, 'root-cert.pem')))
    // Reuse works without the key; a new cluster does not.
    assert.equal((await run(opts(dir))).clusters[0].action, 'reuse')
    await refused(opts(dir, {clusters: ['west']}), /root-key\.pem is missing: the root key is needed to issue "west"/)
    // Another root than the one in the folder is refused.
    const third = join(work, 'c-third')
    await run(opts(third))
    await refused(opts(dir, {rootCertFile: join(third, 'root-cert.pem'), rootKeyFile: join(third, 'root-key.pem')}), /holds another root/)
  })

  test('root-key.pem without root-cert.pem is refused, never overwritten', async () => {
    const dir = join(work, 'd')
    await run(opts(dir))
    const key = readFileSync(join(dir, 'root-key.pem'), 'utf8')
    unlinkSync(join(dir, 'root-cert.pem'))
    await refused(opts(dir), /root-key\.pem exists without/)
    assert.equal(readFileSync(join(dir, 'root-key.pem'), 'utf8'), key)
  })

  test('-o yaml needs the material on disk, and then prints it without writing', async () => {
    const dir = join(work, 'e')
    await refused(opts(dir, {output: 'yaml'}), /-o yaml writes nothing, and the root CA does not exist yet/)
    assert.equal(existsSync(dir), false)
    await run(opts(dir))
    const y = await run(opts(dir, {output: 'yaml', context: 'ctx', install: true}))
    assert.equal(y.yamlDocs?.length, 1)
    assert.equal(y.yamlDocs![0].context, 'ctx')
    assert.equal(Buffer.from(y.yamlDocs![0].object.data['ca-key.pem'], 'base64').toString(), readFileSync(join(dir, 'east', 'ca-key.pem'), 'utf8'))
    await refused(opts(dir, {output: 'yaml', force: true}), /would be re-issued/)
  })

  test('--dry-run writes no file', async () => {
    const dir = join(work, 'f')
    const r = await run(opts(dir, {dryRun: true}))
    assert.ok(r.changes.every((c) => c.action === 'created'))
    assert.equal(existsSync(dir), false)
  })
})
