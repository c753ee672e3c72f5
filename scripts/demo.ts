// `npm run demo`: bring up a 2-cluster test bed and run the kubectl-mesh journey exactly as a
// user types it (`kubectl mesh …`, through kubectl's plugin mechanism), ending with verify.
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {ensureUp, kubectlBin, stateDir} from '../testbed/testbed.ts'

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

const journey = [
  `kubectl mesh ca gen --cluster cluster1 --cluster cluster2 --dir ${ca}`,
  `kubectl mesh ca gen --cluster cluster1 --dir ${ca} --context cluster1`,
  `kubectl mesh ca gen --cluster cluster2 --dir ${ca} --context cluster2`,
  'kubectl mesh cluster link --context cluster1 --remote-context cluster2 --bidirectional',
  'kubectl mesh export httpbin -n bar --context cluster2',
  'kubectl mesh service import httpbin -n bar --from-context cluster2 --context cluster1',
  'kubectl mesh verify --context cluster1 --context cluster2',
]

for (const line of journey) {
  console.log(`\n${bold(`$ ${line}`)}`)
  const r = spawnSync('sh', ['-c', line], {env, stdio: 'inherit', cwd: repo})
  if (r.status !== 0) {
    console.error(`\nThe step above exited ${r.status}. The test bed is still up: export KUBECONFIG=${tb.kubeconfig}`)
    process.exit(r.status ?? 1)
  }
}

console.log(`
${bold('Done: a 2-cluster mesh, linked both ways, httpbin exported from cluster2 and imported into cluster1.')}

Poke at it:
  export KUBECONFIG=${tb.kubeconfig} PATH=${bin}:$PATH
  kubectl --context cluster1 -n istio-system get secrets -l istio/multiCluster=true
  kubectl --context cluster1 -n bar get serviceentries,destinationrules -o yaml
  kubectl --context cluster1 -n istio-system get configmap istio -o jsonpath='{.data.meshNetworks}'
  kubectl mesh verify -o json
Break something and ask verify, e.g.:
  kubectl --context cluster2 -n istio-system delete secret istio-remote-secret-cluster1; kubectl mesh verify --context cluster1 --context cluster2
Tear it down:
  npm run testbed -- down`)
