// The darwin executables cannot run here; what can be checked is what macOS checks before it
// runs them. This file parses the Mach-O itself (not with scripts/macho-sign.ts): the
// LC_CODE_SIGNATURE, the SuperBlob, the CodeDirectory, and every page hash against the file.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {describe, test} from 'node:test'
import {adhocSign} from '../../scripts/macho-sign.ts'
import {archiveName, completerName, ensurePackage, PLATFORMS} from '../../scripts/package.ts'

const DARWIN = PLATFORMS.filter((p) => p.os === 'darwin')
const SEA_FUSE_ON = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'

/** The files of an uncompressed ustar archive. */
function untar(tgz: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(tgz)
  const files = new Map<string, Buffer>()
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '')
    if (!name) break
    const size = parseInt(tar.toString('ascii', off + 124, off + 136).replace(/\0.*$/s, '').trim(), 8)
    files.set(name, tar.subarray(off + 512, off + 512 + size))
    off += 512 + Math.ceil(size / 512) * 512
  }
  return files
}

interface Checked {cpu: string; identifier: string; flags: number; pages: number; codeLimit: number; segments: string[]}

/** Verify an embedded ad-hoc signature the way the kernel does; throws on the first mismatch. */
function verifySignature(f: Buffer): Checked {
  assert.equal(f.readUInt32LE(0), 0xfeedfacf, 'a thin 64-bit little-endian Mach-O')
  const cputype = f.readUInt32LE(4)
  const ncmds = f.readUInt32LE(16)
  let sig: {dataoff: number; datasize: number} | undefined
  const segments: Array<{name: string; fileoff: number; filesize: number; vmsize: number}> = []
  for (let i = 0, off = 32; i < ncmds; i++) {
    const cmd = f.readUInt32LE(off)
    if (cmd === 0x1d) sig = {dataoff: f.readUInt32LE(off + 8), datasize: f.readUInt32LE(off + 12)}
    if (cmd === 0x19) segments.push({name: f.toString('latin1', off + 8, off + 24).replace(/\0+$/, ''), vmsize: Number(f.readBigUInt64LE(off + 32)), fileoff: Number(f.readBigUInt64LE(off + 40)), filesize: Number(f.readBigUInt64LE(off + 48))})
    off += f.readUInt32LE(off + 4)
  }
  assert.ok(sig, 'LC_CODE_SIGNATURE present')
  const linkedit = segments.find((s) => s.name === '__LINKEDIT')
  assert.ok(linkedit)
  assert.equal(sig.dataoff + sig.datasize, f.length, 'the signature ends the file')
  assert.equal(linkedit.fileoff + linkedit.filesize, f.length, '__LINKEDIT covers the signature')
  assert.ok(linkedit.vmsize >= linkedit.filesize)
  const be = (o: number) => f.readUInt32BE(sig.dataoff + o)
  assert.equal(be(0), 0xfade0cc0, 'embedded-signature SuperBlob')
  const count = be(8)
  const blobs = new Map<number, number>()
  for (let i = 0; i < count; i++) blobs.set(be(12 + i * 8), sig.dataoff + be(16 + i * 8))
  const cd = blobs.get(0)
  assert.ok(cd !== undefined, 'a CodeDirectory in slot 0')
  const u32 = (o: number) => f.readUInt32BE(cd + o)
  assert.equal(u32(0), 0xfade0c02, 'CodeDirectory magic')
  const version = u32(8)
  const flags = u32(12)
  const hashOffset = u32(16)
  const identOffset = u32(20)
  const nSpecial = u32(24)
  const nCode = u32(28)
  const codeLimit = u32(32)
  const hashSize = f[cd + 36]
  const hashType = f[cd + 37]
  const pageSize = 2 ** f[cd + 39]
  assert.ok(version >= 0x20001)
  assert.equal(hashType, 2, 'SHA-256')
  assert.equal(hashSize, 32)
  assert.equal(pageSize, 4096)
  assert.equal(codeLimit, sig.dataoff, 'everything before the signature is covered')
  assert.equal(nCode, Math.ceil(codeLimit / pageSize))
  for (let i = 0; i < nCode; i++) {
    const page = f.subarray(i * pageSize, Math.min((i + 1) * pageSize, codeLimit))
    const want = f.subarray(cd + hashOffset + i * 32, cd + hashOffset + (i + 1) * 32)
    assert.ok(createHash('sha256').update(page).digest().equals(want), `page ${i} of ${nCode} matches its hash`)
  }
  // Special slot -2: the requirements blob, when there is one.
  const req = blobs.get(2)
  if (req !== undefined && nSpecial >= 2) {
    const len = f.readUInt32BE(req + 4)
    assert.ok(createHash('sha256').update(f.subarray(req, req + len)).digest().equals(f.subarray(cd + hashOffset - 64, cd + hashOffset - 32)), 'requirements hash')
  }
  const identifier = f.toString('utf8', cd + identOffset, f.indexOf(0, cd + identOffset))
  return {cpu: cputype === 0x0100000c ? 'arm64' : cputype === 0x01000007 ? 'x86_64' : String(cputype), identifier, flags, pages: nCode, codeLimit, segments: segments.map((s) => s.name)}
}

describe('darwin executables: ad-hoc signature, checked page by page', async () => {
  const r = await ensurePackage({platforms: DARWIN})
  for (const p of DARWIN) {
    test(`${p.os}/${p.arch}: ${archiveName(p)} holds a signed Mach-O with the SEA blob`, () => {
      const files = untar(readFileSync(r.archives[`${p.os}-${p.arch}`]))
      assert.deepEqual([...files.keys()].sort(), ['LICENSE', p.bin, completerName(p)].sort())
      const exe = files.get(p.bin)!
      const c = verifySignature(exe)
      assert.equal(c.cpu, p.arch === 'arm64' ? 'arm64' : 'x86_64')
      assert.equal(c.identifier, 'kubectl-mesh')
      assert.equal(c.flags & 0x2, 0x2, 'CS_ADHOC')
      assert.ok(c.segments.includes('NODE_SEA'), `the injected segment is there (${c.segments.join(', ')})`)
      assert.ok(exe.includes(SEA_FUSE_ON), 'the SEA fuse is flipped')
      assert.ok(c.pages > 20000, `${c.pages} pages hashed`)
    })
  }

  test('the checker rejects a file changed after signing (one byte in one page)', () => {
    const files = untar(readFileSync(r.archives['darwin-arm64']))
    const exe = Buffer.from(files.get('kubectl-mesh')!)
    verifySignature(exe)
    exe[5_000_000] ^= 0xff
    assert.throws(() => verifySignature(exe), /page 1220 of/)
  })

  test('the signer refuses an already-signed file and signs an unsigned one the checker accepts', async () => {
    const {unsign} = await import('macho-unsign')
    const original = readFileSync(join(process.env.KUBECTL_MESH_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'kubectl-mesh'), 'node-dist', r.nodes['darwin-amd64'].replace('@', '-'), 'package', 'bin', 'node'))
    verifySignature(original) // Node's own (Apple) signature passes the same page checks
    assert.throws(() => adhocSign(original, 'x'), /already signed/)
    const resigned = adhocSign(Buffer.from(unsign(original)!), 'node-test')
    assert.equal(verifySignature(resigned).identifier, 'node-test')
  })
})
