// Benchmark: `kubectl mesh ca gen` (the built CLI) for a root and 3 clusters at RSA-4096, against
// Istio's tools/certs openssl recipe (Makefile.selfsigned.mk + common.mk) for the same material,
// run interleaved (alternating order) in one script. Prints medians, the ratio and peak memory.
//
//   npm run build && node bench/ca.ts [--runs 10] [--key-size 4096] [--clusters 3]
//
// Wall time per run from the parent; peak memory = ru_maxrss of the run's process tree, read with
// GNU time (`/usr/bin/time -f %M`) when it is installed. Target: ratio (ca gen / openssl) ≤ 0.7.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(REPO, 'bin', 'run.js')
const {values} = parseArgs({options: {runs: {type: 'string', default: '10'}, 'key-size': {type: 'string', default: '4096'}, clusters: {type: 'string', default: '3'}}})
const RUNS = Number(values.runs)
const BITS = Number(values['key-size'])
const CLUSTERS = Array.from({length: Number(values.clusters)}, (_, i) => `cluster${i + 1}`)
const GNU_TIME = existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true'], {encoding: 'utf8'}).status === 0 ? '/usr/bin/time' : undefined

if (!existsSync(join(REPO, 'dist', 'commands', 'ca', 'gen.js'))) {
  process.stderr.write('bench/ca.ts: the CLI is not built; run `npm run build` first\n')
  process.exit(2)
}

// The tools/certs recipe, command for command (root-ca, then <name>-cacerts per cluster), as make
// runs it: one step after another.
function opensslRecipe(bits: number, clusters: string[]): string {
  const req = (bitsLine: string, ext: string[], dn: string[]) => ['[ req ]', 'encrypt_key = no', 'prompt = no', 'utf8 = yes', 'default_md = sha256', bitsLine,
    'req_extensions = req_ext', 'x509_extensions = req_ext', 'distinguished_name = req_dn', '[ req_ext ]', 'subjectKeyIdentifier = hash', ...ext, '[ req_dn ]', ...dn].join('\n')
  const rootConf = req(`default_bits = ${bits}`, ['basicConstraints = critical, CA:true', 'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign'], ['O = Istio', 'CN = Root CA'])
  const lines = [
    'set -e',
    `cat > root-ca.conf <<'EOF'\n${rootConf}\nEOF`,
    `openssl genrsa -out root-key.pem ${bits} 2>/dev/null`,
    'openssl req -new -key root-key.pem -config root-ca.conf -out root-cert.csr',
    'openssl x509 -req -days 3650 -signkey root-key.pem -extensions req_ext -extfile root-ca.conf -in root-cert.csr -out root-cert.pem 2>/dev/null',
  ]
  for (const c of clusters) {
    const conf = req(`default_bits = ${bits}`, ['basicConstraints = critical, CA:true, pathlen:0', 'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign', 'subjectAltName=@san', '[ san ]', 'DNS.1 = istiod.istio-system.svc'], ['O = Istio', 'CN = Intermediate CA', `L = ${c}`])
    lines.push(
      `mkdir -p ${c}`,
      `openssl genrsa -out ${c}/ca-key.pem ${bits} 2>/dev/null`,
      `cat > ${c}/intermediate.conf <<'EOF'\n${conf}\nEOF`,
      `openssl req -new -config ${c}/intermediate.conf -key ${c}/ca-key.pem -out ${c}/cluster-ca.csr`,
      `openssl x509 -req -days 3650 -CA root-cert.pem -CAkey root-key.pem -CAcreateserial -extensions req_ext -extfile ${c}/intermediate.conf -in ${c}/cluster-ca.csr -out ${c}/ca-cert.pem 2>/dev/null`,
      `cat ${c}/ca-cert.pem root-cert.pem > ${c}/cert-chain.pem`,
      `cp root-cert.pem ${c}/`,
    )
  }
  return `${lines.join('\n')}\n`
}

interface Sample {ms: number; maxRssKb?: number}

function timed(cmd: string, args: string[], cwd: string): Sample {
  const memFile = join(cwd, '.maxrss')
  const [file, argv] = GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', memFile, cmd, ...args]] : [cmd, args]
  const t0 = process.hrtime.bigint()
  const r = spawnSync(file, argv, {cwd, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  const maxRssKb = GNU_TIME ? Number(readFileSync(memFile, 'utf8').trim().split('\n').pop()) : undefined
  return {ms, maxRssKb}
}

function runMesh(): Sample {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ca-mesh-'))
  try {
    return timed(process.execPath, [CLI, 'ca', 'gen', ...CLUSTERS.flatMap((c) => ['--cluster', c]), '--dir', join(dir, 'mesh-ca'), '--key-size', String(BITS), '-o', 'json'], dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

function runOpenssl(): Sample {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ca-openssl-'))
  try {
    writeFileSync(join(dir, 'recipe.sh'), opensslRecipe(BITS, CLUSTERS))
    return timed('bash', ['recipe.sh'], dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const mesh: Sample[] = []
const ossl: Sample[] = []
process.stderr.write(`ca gen vs tools/certs openssl: root + ${CLUSTERS.length} clusters, RSA-${BITS}, ${RUNS} runs each, interleaved\n`)
for (let i = 0; i < RUNS; i++) {
  // Alternate which goes first, so drift (other load, thermal) hits both equally.
  if (i % 2 === 0) {
    mesh.push(runMesh())
    ossl.push(runOpenssl())
  } else {
    ossl.push(runOpenssl())
    mesh.push(runMesh())
  }
  process.stderr.write(`  run ${i + 1}/${RUNS}: ca gen ${mesh[i].ms.toFixed(0)} ms, openssl ${ossl[i].ms.toFixed(0)} ms\n`)
}

const mMed = median(mesh.map((s) => s.ms))
const oMed = median(ossl.map((s) => s.ms))
const ratio = mMed / oMed
const peak = (xs: Sample[]) => (GNU_TIME ? Math.max(...xs.map((s) => s.maxRssKb ?? 0)) / 1024 : undefined)
const fmtMb = (v: number | undefined) => (v === undefined ? 'n/a (no GNU time)' : `${v.toFixed(1)} MiB`)
process.stdout.write([
  `ca gen (kubectl mesh, built CLI)   median ${mMed.toFixed(0)} ms   min ${Math.min(...mesh.map((s) => s.ms)).toFixed(0)}   max ${Math.max(...mesh.map((s) => s.ms)).toFixed(0)}   peak RSS ${fmtMb(peak(mesh))}`,
  `tools/certs openssl recipe         median ${oMed.toFixed(0)} ms   min ${Math.min(...ossl.map((s) => s.ms)).toFixed(0)}   max ${Math.max(...ossl.map((s) => s.ms)).toFixed(0)}   peak RSS ${fmtMb(peak(ossl))}`,
  `ratio (ca gen / openssl)           ${ratio.toFixed(2)}   target ≤ 0.70: ${ratio <= 0.7 ? 'met' : 'NOT met'}`,
  `bench-json ${JSON.stringify({bench: 'ca', runs: RUNS, keySize: BITS, clusters: CLUSTERS.length, medianMs: {caGen: Math.round(mMed), openssl: Math.round(oMed)}, ratio: Number(ratio.toFixed(3)), peakRssMiB: {caGen: peak(mesh), openssl: peak(ossl)}})}`,
].join('\n') + '\n')
