// The release as users get it: krew (built from sigs.k8s.io/krew, pinned in testbed/tools/krew)
// validates the generated krew/mesh.yaml and installs the plugin from it and the archive into a
// temporary KREW_ROOT; the test bed's kubectl then runs the plugin with no Node on PATH.
// The executable and archive are built by scripts/package.ts only when missing or stale.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {load} from 'js-yaml'
import {archiveName, completerName, ensurePackage, hostPlatform, PLATFORMS, platformId, PLUGIN_NAME, REPO, sha256File} from '../../scripts/package.ts'
import {kubectlBin} from '../../testbed/testbed.ts'
import {kget, kubectl, KUBECONFIG, logSpawn, tempDir} from './harness.ts'

let krewDir = ''
let manifestPath = ''
let archives: Record<string, string> = {}

function krew(args: string[], env: Record<string, string>) {
  return spawnSync(join(krewDir, 'krew'), args, {encoding: 'utf8', env: {PATH: '/usr/bin:/bin', HOME: tempDir(), KREW_NO_UPGRADE_CHECK: '1', ...env}})
}

before(async () => {
  const build = spawnSync(join(REPO, 'testbed', 'tools', 'krew', 'build.sh'), {encoding: 'utf8'})
  assert.equal(build.status, 0, build.stderr)
  krewDir = build.stdout.trim().split('\n').pop()!
  // Every platform (reused when `npm run package` or an earlier test built it).
  const r = await ensurePackage()
  manifestPath = r.manifest
  archives = r.archives
})

describe('krew', () => {
  test("krew's manifest validator accepts the generated manifest", () => {
    // Offline: -skip-install (the validator would download each uri), then the install check it
    // would do, per platform, from the local archive (testbed-recipe.md §7).
    const v = spawnSync(join(krewDir, 'validate-krew-manifest'), ['-manifest', manifestPath, '-skip-install'], {encoding: 'utf8'})
    assert.equal(v.status, 0, `${v.stdout}${v.stderr}`)
    const manifest = load(readFileSync(manifestPath, 'utf8')) as any
    assert.equal(manifest.metadata.name, PLUGIN_NAME)
    assert.deepEqual(manifest.spec.platforms.map((p: any) => `${p.selector.matchLabels.os}-${p.selector.matchLabels.arch}`).sort(), PLATFORMS.map(platformId).sort())
    // The header notes name each platform's Node.
    for (const p of PLATFORMS) assert.match(readFileSync(manifestPath, 'utf8'), new RegExp(`^#   ${p.os}/${p.arch}: Node 24\\.\\d+\\.\\d+ \\(npm ${p.npm}@24\\.`, 'm'))
    assert.equal(manifest.spec.version, `v${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version}`)
    for (const platform of manifest.spec.platforms) {
      const {os, arch} = platform.selector.matchLabels
      assert.match(platform.sha256, /^[a-f0-9]{64}$/)
      assert.ok(platform.uri.endsWith(`/${archiveName({os, arch})}`), platform.uri)
      const archive = archives[`${os}-${arch}`]
      assert.ok(archive, `no archive for ${os}-${arch}`)
      assert.equal(platform.sha256, sha256File(archive), `${os}/${arch}: sha256 of ${archive}`)
      const root = tempDir('krew-root-')
      const i = krew(['install', `--manifest=${manifestPath}`, `--archive=${archive}`], {KREW_ROOT: root, KREW_OS: os, KREW_ARCH: arch})
      assert.equal(i.status, 0, `${os}/${arch}: ${i.stdout}${i.stderr}`)
      const store = join(root, 'store', PLUGIN_NAME)
      const [version] = readdirSync(store)
      const files = readdirSync(join(store, version))
      assert.ok(files.some((f) => /^(license|copying)/i.test(f)), `${os}/${arch}: no license among ${files}`)
      assert.ok(files.includes(platform.bin), `${os}/${arch}: ${platform.bin} not among ${files}`)
      // kubectl's plugin completion executable ships next to it (krew does not link it: docs/completion.md).
      assert.ok(files.includes(completerName({os, arch} as (typeof PLATFORMS)[number])), `${os}/${arch}: kubectl_complete-mesh not among ${files}`)
      rmSync(root, {recursive: true, force: true})
    }
  })

  describe('installed with krew, run through kubectl', () => {
    const root = tempDir('krew-root-')
    let env: Record<string, string> = {}
    const HOST = 'httpbin.bar.svc.cluster.local'
    let gatewayBefore: any
    let serviceBefore: any

    before(async () => {
      const p = hostPlatform()
      const i = krew(['install', `--manifest=${manifestPath}`, `--archive=${archives[`${p.os}-${p.arch}`]}`], {KREW_ROOT: root})
      assert.equal(i.status, 0, `${i.stdout}${i.stderr}`)
      assert.ok(existsSync(join(root, 'bin', `kubectl-${PLUGIN_NAME}`)))
      // Only krew's bin and the test bed's kubectl: no node anywhere on PATH.
      const path = [join(root, 'bin'), dirname(kubectlBin())]
      for (const d of path) assert.ok(!existsSync(join(d, 'node')), `node found in ${d}`)
      env = {PATH: path.join(':'), HOME: tempDir(), KUBECONFIG, NO_COLOR: '1'}
      gatewayBefore = await kget('cluster2', ['gateway.networking.istio.io', 'kubectl-mesh-exports', '-n', 'istio-system'])
      serviceBefore = await kget('cluster2', ['service', 'httpbin', '-n', 'bar'])
    })

    after(async () => {
      // Undo the export with kubectl, back to exactly what was there before.
      if (!gatewayBefore) {
        await kubectl(['delete', 'gateway.networking.istio.io', 'kubectl-mesh-exports', '-n', 'istio-system', '--ignore-not-found'], {context: 'cluster2'})
      } else {
        const {resourceVersion, uid, creationTimestamp, managedFields, generation, ...metadata} = gatewayBefore.metadata
        void [resourceVersion, uid, creationTimestamp, managedFields, generation]
        await kubectl(['replace', '-f', '-'], {context: 'cluster2', input: JSON.stringify({...gatewayBefore, metadata})})
      }
      if (serviceBefore && !serviceBefore.metadata.labels?.['kubectl-mesh/exported']) {
        await kubectl(['label', 'service', 'httpbin', '-n', 'bar', 'kubectl-mesh/exported-'], {context: 'cluster2', allowFail: true})
      }
      rmSync(root, {recursive: true, force: true})
    })

    const kubectlMesh = (args: string[]) => logSpawn(args, spawnSync(kubectlBin(), ['mesh', ...args], {encoding: 'utf8', env, timeout: 120_000}))

    test('kubectl mesh --help', () => {
      const r = kubectlMesh(['--help'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /USAGE\n\s+\$ kubectl mesh/)
      assert.equal(r.stderr, '')
    })

    test('kubectl mesh export httpbin -n bar --context cluster2', async () => {
      const r = kubectlMesh(['export', 'httpbin', '-n', 'bar', '--context', 'cluster2'])
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
      const gw = await kget('cluster2', ['gateway.networking.istio.io', 'kubectl-mesh-exports', '-n', 'istio-system'])
      assert.ok(gw, 'Gateway istio-system/kubectl-mesh-exports not found in cluster2')
      const hosts = gw.spec.servers.flatMap((s: {hosts?: string[]}) => s.hosts ?? [])
      assert.ok(hosts.includes(HOST), `hosts: ${hosts}`)
    })
  })
})
