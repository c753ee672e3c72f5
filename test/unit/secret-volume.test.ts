// testbed/secret-volume.ts: a Secret volume as the kubelet's atomic writer lays it out, and the
// inotify event istiod's cacerts watcher needs (a Create in the volume directory) on every update.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {lstatSync, watch, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readVolume, secretPayload, writeVolume} from '../../testbed/secret-volume.ts'

const b = (s: string) => Buffer.from(s)

test('writeVolume: keys are symlinks into ..data, which points at one timestamped directory', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'secret-volume-')), 'cacerts')
  assert.equal(writeVolume(dir, {'root-cert.pem': b('R1'), 'ca-key.pem': b('K1')}), true)
  assert.equal(readlinkSync(join(dir, 'root-cert.pem')), join('..data', 'root-cert.pem'))
  const ts = readlinkSync(join(dir, '..data'))
  assert.match(ts, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/)
  assert.deepEqual(readdirSync(dir).sort(), [ts, '..data', 'ca-key.pem', 'root-cert.pem'].sort())
  assert.equal(readFileSync(join(dir, 'root-cert.pem'), 'utf8'), 'R1')
  // same payload: nothing written
  assert.equal(writeVolume(dir, {'root-cert.pem': b('R1'), 'ca-key.pem': b('K1')}), false)
  assert.equal(readlinkSync(join(dir, '..data')), ts)
  // update: new directory, old one gone, a removed key's symlink gone
  assert.equal(writeVolume(dir, {'root-cert.pem': b('R1R2')}), true)
  const ts2 = readlinkSync(join(dir, '..data'))
  assert.notEqual(ts2, ts)
  assert.deepEqual(readdirSync(dir).sort(), [ts2, '..data', 'root-cert.pem'].sort())
  assert.deepEqual(readVolume(dir), {'root-cert.pem': b('R1R2')})
  // Secret deleted (optional volume): empty
  assert.equal(writeVolume(dir, {}), true)
  assert.deepEqual(readVolume(dir), {})
  assert.ok(lstatSync(join(dir, '..data')).isSymbolicLink())
})

test('writeVolume replaces plain files an older test bed copied', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-volume-'))
  writeFileSync(join(dir, 'root-cert.pem'), 'old')
  writeVolume(dir, {'root-cert.pem': b('new')})
  assert.ok(lstatSync(join(dir, 'root-cert.pem')).isSymbolicLink())
  assert.equal(readFileSync(join(dir, 'root-cert.pem'), 'utf8'), 'new')
})

test('secretPayload decodes base64 Secret data', () => {
  assert.deepEqual(secretPayload({a: Buffer.from('x').toString('base64')}), {a: b('x')})
  assert.deepEqual(secretPayload(undefined), {})
})

test('an update renames ..data into the volume directory (inotify IN_MOVED_TO: a Create for istiod\'s fsnotify watcher)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-volume-'))
  writeVolume(dir, {'root-cert.pem': b('R1')})
  const seen: string[] = []
  const w = watch(dir, (event, name) => seen.push(`${event} ${name}`))
  writeVolume(dir, {'root-cert.pem': b('R2')})
  await new Promise((r) => setTimeout(r, 200))
  w.close()
  assert.ok(seen.includes('rename ..data'), seen.join(', '))
})
