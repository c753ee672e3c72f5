// `npm run bench [-- NAME…]`: every benchmark, each interleaving its measured command with its
// baseline, on this machine; writes the tables and the machine's details to bench/RESULTS.md
// (with NAMEs: replaces only those sections there).
//   startup  executable / bin/run.js start-up against `node -e 0`          (bench/startup.ts)
//   ca       ca gen, root + 3 clusters RSA-4096, against the tools/certs openssl recipe (bench/ca.ts)
//   import   import --all-exported at 10, 100, 1000 services, first run and repeat   (bench/import.ts)
//   verify   link, and verify over 3 clusters at 10, 100, 1000 imports, against kubectl listing (bench/verify.ts)
//   apply    apply -f of 3 clusters linked both ways with 200 exports and imports, first run and repeat (bench/apply.ts)
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {cpus, freemem, loadavg, totalmem} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {down, ensureUp} from '../testbed/testbed.ts'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const BENCHES: Record<string, {args: string[]; testbed: boolean; title: string}> = {
  startup: {args: ['bench/startup.ts', '--runs', '21'], testbed: false, title: 'Start-up (interleaved with `node -e 0`)'},
  ca: {args: ['bench/ca.ts', '--runs', '10'], testbed: false, title: 'ca gen vs the tools/certs openssl recipe (root + 3 clusters, RSA-4096)'},
  import: {args: ['bench/import.ts', '10', '100', '1000'], testbed: true, title: 'service import --all-exported'},
  verify: {args: ['bench/verify.ts', '10', '100', '1000'], testbed: true, title: 'cluster link, and verify over 3 clusters'},
  apply: {args: ['bench/apply.ts', '200'], testbed: true, title: 'apply -f: 3 clusters linked both ways, 200 exports and imports, and the repeat'},
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const names = wanted.length > 0 ? wanted : Object.keys(BENCHES)
for (const n of names) if (!BENCHES[n]) throw new Error(`unknown benchmark ${n}; known: ${Object.keys(BENCHES).join(', ')}`)

function runBench(args: string[]): Promise<{code: number; out: string; ms: number}> {
  return new Promise((resolve) => {
    const t = performance.now()
    const child = spawn(process.execPath, args, {cwd: REPO, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      process.stdout.write(d)
    })
    child.on('close', (code) => resolve({code: code ?? -1, out, ms: performance.now() - t}))
  })
}

const machine = [
  `- Date: ${new Date().toISOString()}`,
  `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
  `- Load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`,
  `- Node ${process.version} (${process.platform}-${process.arch})`,
]
const sections: string[] = []
if (names.some((n) => BENCHES[n].testbed)) {
  // a fresh test bed, so the mesh measured holds only what the benchmarks make
  await down()
  await ensureUp({clusters: 3})
}
for (const n of names) {
  const b = BENCHES[n]
  process.stdout.write(`\n=== ${n}: node ${b.args.join(' ')}\n`)
  const r = await runBench(b.args)
  const body = r.out.split('\n').filter((l) => !l.startsWith('bench-json ')).join('\n').trim()
  sections.push(`## ${b.title}\n\n\`node ${b.args.join(' ')}\` — ${r.code === 0 ? `finished in ${(r.ms / 1000).toFixed(0)} s` : `FAILED (exit ${r.code})`}\n\n\`\`\`\n${body}\n\`\`\`\n`)
}
machine.push(`- Load average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`)
const file = join(REPO, 'bench', 'RESULTS.md')
let md: string
if (wanted.length > 0 && existsSync(file)) {
  // A subset (`npm run bench -- startup`): replace only those sections, each with this run's
  // machine details; the others keep the figures of the run that wrote them.
  md = readFileSync(file, 'utf8')
  names.forEach((n, i) => {
    const section = sections[i].replace('\n\n', `\n\nRe-measured alone (\`npm run bench -- ${n}\`):\n${machine.join('\n')}\n\n`)
    const start = md.indexOf(`## ${BENCHES[n].title}\n`)
    if (start < 0) md = `${md.trimEnd()}\n\n${section}`
    else {
      const next = md.indexOf('\n## ', start + 1)
      md = `${md.slice(0, start)}${section}${next < 0 ? '' : md.slice(next)}`
    }
  })
} else {
  md = `# Benchmark results\n\nWritten by \`npm run bench\` (bench/run.ts). Every figure was measured on the machine below, in this run; each benchmark interleaves the measured command with its baseline.\n\n${machine.join('\n')}\n\n${sections.join('\n')}`
}
writeFileSync(file, md)
process.stdout.write(`\nwrote bench/RESULTS.md\n`)
// Stop the test bed this run started, as `npm test` does (KEEP_TESTBED=1 leaves it up to look at).
if (names.some((n) => BENCHES[n].testbed) && !process.env.KEEP_TESTBED) await down()
