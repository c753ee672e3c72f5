// The WebSocket framing under `verify`'s port-forward to istiod (src/kube/portforward.ts). The
// whole path (API server, the kubelet's streaming code, istiod) is exercised by
// test/e2e/istio.test.ts; this pins the byte layout of RFC 6455 frames at the length boundaries.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {decodeFrames, encodeFrame} from '../../src/kube/portforward.ts'

/** A server frame (unmasked), written by hand from RFC 6455 §5.2. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const b0 = (fin ? 0x80 : 0) | opcode
  if (payload.length < 126) return Buffer.concat([Buffer.from([b0, payload.length]), payload])
  if (payload.length < 65_536) return Buffer.concat([Buffer.from([b0, 126, payload.length >> 8, payload.length & 0xff]), payload])
  const len = Buffer.alloc(8)
  len.writeBigUInt64BE(BigInt(payload.length))
  return Buffer.concat([Buffer.from([b0, 127]), len, payload])
}

describe('WebSocket frames (port-forward)', () => {
  test('client frames are masked, with the length in 7, 16 or 64 bits, and decode back', () => {
    for (const n of [0, 1, 125, 126, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(n, 0x5a)
      const mask = Buffer.from([1, 2, 3, 4])
      const f = encodeFrame(0x2, payload, mask)
      assert.equal(f[0], 0x82, `FIN + binary (${n})`)
      assert.equal(f[1] & 0x80, 0x80, `mask bit (${n})`)
      const header = n < 126 ? 2 : n < 65_536 ? 4 : 10
      assert.equal(f.length, header + 4 + n)
      assert.deepEqual(f.subarray(header, header + 4), mask)
      if (n > 0) assert.equal(f[header + 4], 0x5a ^ 1, 'payload xor mask')
      const {frames, rest} = decodeFrames(f)
      assert.equal(frames.length, 1)
      assert.deepEqual(frames[0], {fin: true, opcode: 2, payload})
      assert.equal(rest.length, 0)
    }
  })

  test('server frames split anywhere: complete ones come out, the rest waits', () => {
    const a = serverFrame(0x2, Buffer.from([0, 0x96, 0x3a]))
    const b = serverFrame(0x2, Buffer.concat([Buffer.from([0]), Buffer.alloc(300, 0x41)]), false)
    const c = serverFrame(0x0, Buffer.from('tail'))
    const all = Buffer.concat([a, b, c])
    for (let cut = 0; cut <= all.length; cut++) {
      const first = decodeFrames(all.subarray(0, cut))
      const second = decodeFrames(Buffer.concat([first.rest, all.subarray(cut)]))
      const frames = [...first.frames, ...second.frames]
      assert.deepEqual(frames.map((f) => [f.fin, f.opcode, f.payload.length]), [[true, 2, 3], [false, 2, 301], [true, 0, 4]], `cut at ${cut}`)
      assert.equal(second.rest.length, 0)
    }
  })

  test('a 64-bit length and a close frame', () => {
    const big = serverFrame(0x2, Buffer.alloc(70_000, 1))
    const close = serverFrame(0x8, Buffer.from([0x03, 0xe8]))
    const {frames} = decodeFrames(Buffer.concat([big, close]))
    assert.deepEqual(frames.map((f) => [f.opcode, f.payload.length]), [[2, 70_000], [8, 2]])
  })
})
