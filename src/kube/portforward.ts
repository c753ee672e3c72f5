// One HTTP GET to a pod's port through the API server, as `kubectl port-forward` would carry it,
// without a local listener: `GET pods/NAME/portforward?ports=P` upgraded to a WebSocket with the
// kubelet's `v4.channel.k8s.io` framing. Every WebSocket message starts with a channel byte: for
// the one port asked, channel 0 carries the data and channel 1 the kubelet's error text; the first
// two bytes on each channel are the port number (little endian), not data.
import http from 'node:http'
import {randomBytes} from 'node:crypto'
import {Duplex} from 'node:stream'
import type {KubeClient} from './client.ts'

const PROTOCOL = 'v4.channel.k8s.io'

// --- RFC 6455 framing (pure) ------------------------------------------------------------------

export interface Frame {fin: boolean; opcode: number; payload: Buffer}

/** A client frame (clients must mask what they send). */
export function encodeFrame(opcode: number, payload: Buffer, mask: Buffer = randomBytes(4)): Buffer {
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
    : len < 65_536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b })()])
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3]
  return Buffer.concat([head, mask, body])
}

/** Splits complete frames off the front of buf; returns them and the bytes left over. */
export function decodeFrames(buf: Buffer): {frames: Frame[]; rest: Buffer} {
  const frames: Frame[] = []
  let at = 0
  for (;;) {
    if (buf.length - at < 2) break
    const b0 = buf[at]
    const b1 = buf[at + 1]
    let len = b1 & 0x7f
    let off = at + 2
    if (len === 126) {
      if (buf.length - off < 2) break
      len = buf.readUInt16BE(off)
      off += 2
    } else if (len === 127) {
      if (buf.length - off < 8) break
      len = Number(buf.readBigUInt64BE(off))
      off += 8
    }
    const masked = (b1 & 0x80) !== 0
    const mask = masked ? buf.subarray(off, off + 4) : undefined
    if (masked) off += 4
    if (buf.length - off < len) break
    const payload = Buffer.from(buf.subarray(off, off + len))
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]
    frames.push({fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload})
    at = off + len
  }
  return {frames, rest: buf.subarray(at)}
}

// --- the data channel as a stream ------------------------------------------------------------

/** Channel 0 of a port-forward WebSocket as a Duplex; channel 1's text collects in `errorText`. */
class PortForwardStream extends Duplex {
  errorText = ''
  private pending: Buffer
  private fragments: Buffer[] = []
  private prefix = [2, 2]
  private readonly socket: Duplex

  constructor(socket: Duplex, head: Buffer) {
    super()
    this.socket = socket
    this.pending = Buffer.from(head)
    socket.on('data', (d: Buffer) => this.receive(d))
    socket.on('end', () => this.push(null))
    socket.on('close', () => this.push(null))
    socket.on('error', (e) => this.destroy(e))
    if (head.length > 0) queueMicrotask(() => this.receive(Buffer.alloc(0)))
  }

  private receive(d: Buffer): void {
    const {frames, rest} = decodeFrames(Buffer.concat([this.pending, d]))
    this.pending = rest
    for (const f of frames) {
      if (f.opcode === 0x8) {
        this.push(null)
        this.socket.end(encodeFrame(0x8, Buffer.alloc(0)))
        return
      }
      if (f.opcode === 0x9) this.socket.write(encodeFrame(0xa, f.payload))
      if (f.opcode !== 0x0 && f.opcode !== 0x1 && f.opcode !== 0x2) continue
      this.fragments.push(f.payload)
      if (!f.fin) continue
      this.message(Buffer.concat(this.fragments))
      this.fragments = []
    }
  }

  private message(m: Buffer): void {
    if (m.length === 0) return
    const channel = m[0]
    let data = m.subarray(1)
    if (channel > 1) return
    const skip = Math.min(this.prefix[channel], data.length)
    this.prefix[channel] -= skip
    data = data.subarray(skip)
    if (data.length === 0) return
    if (channel === 0) this.push(data)
    else this.errorText += data.toString('utf8')
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.socket.write(encodeFrame(0x2, Buffer.concat([Buffer.from([0]), chunk])), done)
  }

  /** Closes the WebSocket as RFC 6455 asks (a close frame, 1000), then the socket. */
  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    if (this.socket.writable) {
      this.socket.end(encodeFrame(0x8, Buffer.from([0x03, 0xe8])))
      setTimeout(() => this.socket.destroy(), 1000).unref()
    } else {
      this.socket.destroy()
    }
    done(error)
  }
}

/** Why a GET through a port-forward got no HTTP answer: the API server's or the kubelet's words. */
export class PortForwardError extends Error {}

/**
 * GET `path` from port `port` of pod `namespace/pod` through the API server (and the kubelet).
 * Rejects with the client's ApiError when the API server refuses the port-forward (403, 404, …),
 * with a PortForwardError when the kubelet could not reach the port, or on timeout.
 */
export async function getThroughPortForward(client: KubeClient, namespace: string, pod: string, port: number, path: string, timeoutMs: number): Promise<{status: number; body: string}> {
  const deadline = Date.now() + timeoutMs
  const {socket, head} = await client.upgrade({
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`,
    query: {ports: String(port)}, protocols: [PROTOCOL], timeoutMs,
  })
  const stream = new PortForwardStream(socket, head)
  const left = Math.max(1, deadline - Date.now())
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (f: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stream.destroy()
      f()
    }
    const why = (fallback: string) => new PortForwardError(stream.errorText.trim() || fallback)
    const timer = setTimeout(() => finish(() => reject(why(`no answer from pod ${namespace}/${pod} port ${port} within ${timeoutMs} ms`))), left)
    const req = http.request({createConnection: () => stream as any, method: 'GET', path, headers: {Host: `localhost:${port}`, Connection: 'close'}}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish(() => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')})))
      res.on('error', (e) => finish(() => reject(why(e.message))))
    })
    req.on('error', (e) => finish(() => reject(why(e.message))))
    req.end()
  })
}

/**
 * A raw byte stream to port `port` of pod `namespace/pod` through the API server (and the kubelet),
 * for protocols other than one HTTP GET (e.g. a TLS handshake). The kubelet's error text, if any,
 * collects in `errorText`. The caller destroys the stream.
 */
export async function openPortForward(client: KubeClient, namespace: string, pod: string, port: number, timeoutMs: number): Promise<Duplex & {errorText: string}> {
  const {socket, head} = await client.upgrade({
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`,
    query: {ports: String(port)}, protocols: [PROTOCOL], timeoutMs,
  })
  return new PortForwardStream(socket, head)
}
