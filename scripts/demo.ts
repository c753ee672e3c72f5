// `npm run demo`: bring up a 2-cluster test bed with Istio as istioctl installs it and a real istiod
// per cluster (testbed/istio-install.ts), and run the kubectl-mesh journey exactly as a user types
// it (`kubectl mesh …`, through kubectl's plugin mechanism), ending with verify (its istiod sync
// check included), explain (the endpoints istiod gives foo's sidecars for httpbin), the mesh as a
// Mermaid picture, and what cluster1's istiod sends the sleep sidecar for httpbin (testbed/xds.ts).
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {installIstio, istioInstalled} from '../testbed/istio-install.ts'
import {runningIstiod} from '../testbed/istiod.ts'
import {ensureUp, kubectlBin, stateDir} from '../testbed/testbed.ts'
import {endpointsOf, xds} from '../testbed/xds.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s)

console.log(bold('# Bringing up a 2-cluster test bed (real etcd + kube-apiserver + kube-controller-manager) …'))
const tb = await ensureUp({clusters: 2, log: (m) => console.log(`  ${m}`)})

// kubectl finds plugins on PATH: put the test bed's kubectl and a kubectl-mesh shim there.
const bin = join(stateDir(), 'demo-bin')
rmSync(bin, {recursive: true, force: true})
mkdirSync(bin, {recursive: true})
symlinkSync(kubectlBin(), join(bin, 'kubectl'))
writeFileSync(join(bin, 'kubectl-mesh'), `#!/bin/sh\nexec "${process.execPath}" "${join(repo, 'bin', 'run.js')}" "$@"\n`)
chmodSync(join(bin, 'kubectl-mesh'), 0o755)
const ca = join(stateDir(), 'mesh-ca')
rmSync(ca, {recursive: true, force: true})
const env = {...process.env, KUBECONFIG: tb.kubeconfig, PATH: `${bin}:${process.env.PATH}`}

function runAll(lines: string[]): void {
  for (const line of lines) {
    console.log(`\n${bold(`$ ${line}`)}`)
    const r = spawnSync('sh', ['-c', line], {env, stdio: 'inherit', cwd: repo})
    if (r.status !== 0) {
      console.error(`\nThe step above exited ${r.status}. The test bed is still up: export KUBECONFIG=${tb.kubeconfig}`)
      process.exit(r.status ?? 1)
    }
  }
}

// the shared root goes in before istiod starts, as on a real cluster
const fresh = ['cluster1', 'cluster2'].filter((c) => !(istioInstalled(c) && runningIstiod(c)))
if (fresh.length > 0) {
  runAll([
    `kubectl mesh ca gen --cluster cluster1 --cluster cluster2 --dir ${ca}`,
    ...fresh.map((c) => `kubectl mesh ca gen --cluster ${c} --dir ${ca} --context ${c}`),
  ])
  console.log(bold('\n# Installing Istio (istioctl manifest generate) and starting one istiod per cluster …'))
  for (const c of fresh) await installIstio(c, {log: (m) => console.log(`  ${m}`)})
}

const journey = [
  'kubectl mesh cluster link --context cluster1 --remote-context cluster2 --bidirectional',
  'kubectl mesh export httpbin -n bar --context cluster2',
  'kubectl mesh service import httpbin -n bar --from-context cluster2 --context cluster1',
  'kubectl mesh verify --context cluster1 --context cluster2',
  'kubectl mesh explain httpbin -n bar --context cluster1 --from foo',
  'kubectl mesh verify --context cluster1 --context cluster2 -o mermaid',
]

runAll(journey)

console.log(`\n${bold('$ npm run -s testbed -- xds --context cluster1 --app foo/sleep   # what istiod sends the sleep sidecar')}`)
for (let i = 0; ; i++) {
  const d = await xds({context: 'cluster1', app: 'foo/sleep'})
  const eps = endpointsOf(d, 'outbound|8000||httpbin.bar.global')
  if (eps?.length || i >= 20) {
    console.log(`  outbound|8000||httpbin.bar.global → ${JSON.stringify(eps ?? [])}`)
    console.log(`  name table httpbin.bar.global → ${JSON.stringify(d.nameTable?.table?.['httpbin.bar.global']?.ips ?? [])}`)
    break
  }
  await new Promise((r) => setTimeout(r, 500))
}

console.log(`
${bold('Done: a 2-cluster mesh, linked both ways, httpbin exported from cluster2 and imported into cluster1.')}

Poke at it:
  npm run -s testbed -- xds --context cluster2 --eastwest
  export KUBECONFIG=${tb.kubeconfig} PATH=${bin}:$PATH
  kubectl --context cluster1 -n istio-system get secrets -l istio/multiCluster=true
  kubectl --context cluster1 -n bar get serviceentries,destinationrules -o yaml
  kubectl --context cluster1 -n istio-system get configmap istio -o jsonpath='{.data.meshNetworks}'
  kubectl mesh verify -o json
Break something and ask verify, e.g.:
  kubectl --context cluster2 -n istio-system delete secret istio-remote-secret-cluster1; kubectl mesh verify --context cluster1 --context cluster2
Tear it down:
  npm run testbed -- down`)
