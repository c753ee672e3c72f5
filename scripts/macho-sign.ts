// Ad-hoc code signature for a thin 64-bit Mach-O, the equivalent of `codesign --sign - FILE` on a
// Mac: one SHA-256 CodeDirectory over every 4 KiB page of the file up to the signature, an empty
// requirement set and an empty CMS wrapper, in an LC_CODE_SIGNATURE blob at the end of __LINKEDIT.
// macOS (arm64 always, x86_64 when a signature is present but broken) kills an executable whose
// pages do not match; an ad-hoc signature makes it run (not notarized: Gatekeeper still warns on
// a quarantined browser download; krew downloads carry no quarantine attribute).
//
// Why our own: the npm registry has a well-kept remover (macho-unsign, used before injection)
// but no ad-hoc signer that runs off macOS (@electron/osx-sign and friends call codesign); the Go
// ones (github.com/blacktop/go-macho, github.com/anchore/quill) would make the release build
// need a Go toolchain and module downloads. The format is small and fixed (Apple's
// cs_blobs.h; the same layout Go's linker writes in cmd/internal/codesign).
// test/e2e/sea.test.ts checks the result with a separate parser.
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'

const MH_MAGIC_64 = 0xfeedfacf
const MH_EXECUTE = 2
const LC_SEGMENT_64 = 0x19
const LC_CODE_SIGNATURE = 0x1d
const CPU_TYPE_ARM64 = 0x0100000c
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0
const CSMAGIC_CODEDIRECTORY = 0xfade0c02
const CSMAGIC_REQUIREMENTS = 0xfade0c01
const CSMAGIC_BLOBWRAPPER = 0xfade0b01
const CSSLOT_CODEDIRECTORY = 0
const CSSLOT_REQUIREMENTS = 2
const CSSLOT_SIGNATURESLOT = 0x10000
const CS_ADHOC = 0x2
const CS_EXECSEG_MAIN_BINARY = 0x1
const CS_HASHTYPE_SHA256 = 2
const PAGE_SHIFT = 12
const PAGE = 1 << PAGE_SHIFT
const HASH = 32
const CD_VERSION = 0x20400 // with the exec-segment fields
const CD_HEADER = 88

const align = (n: number, a: number) => Math.ceil(n / a) * a
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest()

interface Segment {name: string; cmdOffset: number; vmsize: bigint; fileoff: number; filesize: number}

function parse(file: Buffer): {ncmds: number; sizeofcmds: number; filetype: number; cputype: number; segments: Segment[]; firstSectionOffset: number; signed: boolean} {
  if (file.length < 32 || file.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a thin little-endian 64-bit Mach-O (fat binaries are not handled)')
  const cputype = file.readUInt32LE(4)
  const filetype = file.readUInt32LE(12)
  const ncmds = file.readUInt32LE(16)
  const sizeofcmds = file.readUInt32LE(20)
  const segments: Segment[] = []
  let firstSectionOffset = Infinity
  let signed = false
  let off = 32
  for (let i = 0; i < ncmds; i++) {
    const cmd = file.readUInt32LE(off)
    const size = file.readUInt32LE(off + 4)
    if (cmd === LC_CODE_SIGNATURE) signed = true
    if (cmd === LC_SEGMENT_64) {
      const name = file.toString('latin1', off + 8, off + 24).replace(/\0+$/, '')
      segments.push({name, cmdOffset: off, vmsize: file.readBigUInt64LE(off + 32), fileoff: Number(file.readBigUInt64LE(off + 40)), filesize: Number(file.readBigUInt64LE(off + 48))})
      const nsects = file.readUInt32LE(off + 64)
      for (let s = 0; s < nsects; s++) {
        const sectOffset = file.readUInt32LE(off + 72 + s * 80 + 48)
        if (sectOffset > 0) firstSectionOffset = Math.min(firstSectionOffset, sectOffset)
      }
    }
    off += size
  }
  return {ncmds, sizeofcmds, filetype, cputype, segments, firstSectionOffset, signed}
}

/** The signed file's bytes. `input` must carry no signature (remove it first, e.g. with macho-unsign). */
export function adhocSign(input: Buffer, identifier: string): Buffer {
  const m = parse(input)
  if (m.signed) throw new Error('the Mach-O is already signed: remove the signature first')
  const text = m.segments.find((s) => s.name === '__TEXT')
  const linkedit = m.segments.find((s) => s.name === '__LINKEDIT')
  if (!text || !linkedit) throw new Error('the Mach-O has no __TEXT or __LINKEDIT segment')
  const linkeditEnd = linkedit.fileoff + linkedit.filesize
  if (m.segments.some((s) => s !== linkedit && s.fileoff + s.filesize > linkedit.fileoff)) throw new Error('__LINKEDIT is not the last segment in the file')
  if (linkeditEnd > input.length) throw new Error('__LINKEDIT extends past the end of the file')
  const loadEnd = 32 + m.sizeofcmds
  if (loadEnd + 16 > m.firstSectionOffset) throw new Error(`no room for LC_CODE_SIGNATURE: load commands end at ${loadEnd}, the first section starts at ${m.firstSectionOffset}`)

  const codeLimit = align(linkeditEnd, 16) // the signature starts here; everything before it is hashed
  const nCodeSlots = Math.ceil(codeLimit / PAGE)
  const ident = Buffer.from(`${identifier}\0`, 'utf8')
  const nSpecialSlots = 2 // -1 Info.plist (none: zero hash), -2 requirements
  const hashOffset = CD_HEADER + ident.length + nSpecialSlots * HASH
  const cdLength = hashOffset + nCodeSlots * HASH
  const requirements = Buffer.alloc(12)
  requirements.writeUInt32BE(CSMAGIC_REQUIREMENTS, 0)
  requirements.writeUInt32BE(12, 4)
  requirements.writeUInt32BE(0, 8)
  const cms = Buffer.alloc(8)
  cms.writeUInt32BE(CSMAGIC_BLOBWRAPPER, 0)
  cms.writeUInt32BE(8, 4)
  const blobs: Array<[number, number]> = [[CSSLOT_CODEDIRECTORY, cdLength], [CSSLOT_REQUIREMENTS, requirements.length], [CSSLOT_SIGNATURESLOT, cms.length]]
  const superHeader = 12 + blobs.length * 8
  const superLength = superHeader + blobs.reduce((n, [, len]) => n + len, 0)
  const sigSize = align(superLength, 16)

  // The file up to the signature, with the header and load commands as they will be (page 0 is hashed).
  const out = Buffer.alloc(codeLimit + sigSize)
  input.copy(out, 0, 0, linkeditEnd)
  out.writeUInt32LE(m.ncmds + 1, 16)
  out.writeUInt32LE(m.sizeofcmds + 16, 20)
  out.writeUInt32LE(LC_CODE_SIGNATURE, loadEnd)
  out.writeUInt32LE(16, loadEnd + 4)
  out.writeUInt32LE(codeLimit, loadEnd + 8)
  out.writeUInt32LE(sigSize, loadEnd + 12)
  const newFilesize = codeLimit + sigSize - linkedit.fileoff
  const vmPage = m.cputype === CPU_TYPE_ARM64 ? 0x4000 : 0x1000
  const newVmsize = BigInt(align(newFilesize, vmPage))
  out.writeBigUInt64LE(BigInt(newFilesize), linkedit.cmdOffset + 48)
  out.writeBigUInt64LE(newVmsize > linkedit.vmsize ? newVmsize : linkedit.vmsize, linkedit.cmdOffset + 32)

  const cd = Buffer.alloc(cdLength)
  let o = 0
  const u32 = (v: number) => { cd.writeUInt32BE(v, o); o += 4 }
  const u8 = (v: number) => { cd.writeUInt8(v, o); o += 1 }
  const u64 = (v: number) => { cd.writeBigUInt64BE(BigInt(v), o); o += 8 }
  u32(CSMAGIC_CODEDIRECTORY); u32(cdLength); u32(CD_VERSION); u32(CS_ADHOC); u32(hashOffset); u32(CD_HEADER)
  u32(nSpecialSlots); u32(nCodeSlots); u32(codeLimit)
  u8(HASH); u8(CS_HASHTYPE_SHA256); u8(0); u8(PAGE_SHIFT)
  u32(0) // spare2
  u32(0) // scatterOffset
  u32(0) // teamOffset
  u32(0) // spare3
  u64(0) // codeLimit64 (codeLimit fits in 32 bits)
  u64(text.fileoff); u64(text.filesize); u64(m.filetype === MH_EXECUTE ? CS_EXECSEG_MAIN_BINARY : 0)
  if (o !== CD_HEADER) throw new Error('CodeDirectory header layout error')
  ident.copy(cd, CD_HEADER)
  sha256(requirements).copy(cd, hashOffset - 2 * HASH) // slot -2; slot -1 stays zero
  for (let i = 0; i < nCodeSlots; i++) sha256(out.subarray(i * PAGE, Math.min((i + 1) * PAGE, codeLimit))).copy(cd, hashOffset + i * HASH)

  let p = codeLimit
  out.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, p)
  out.writeUInt32BE(superLength, p + 4)
  out.writeUInt32BE(blobs.length, p + 8)
  let blobOffset = superHeader
  blobs.forEach(([type, len], i) => {
    out.writeUInt32BE(type, p + 12 + i * 8)
    out.writeUInt32BE(blobOffset, p + 16 + i * 8)
    blobOffset += len
  })
  p += superHeader
  for (const b of [cd, requirements, cms]) {
    b.copy(out, p)
    p += b.length
  }
  return out
}

/** Sign FILE in place. */
export function adhocSignFile(file: string, identifier: string): void {
  writeFileSync(file, adhocSign(readFileSync(file), identifier))
}
