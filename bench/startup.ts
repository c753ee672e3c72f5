// Startup benchmark (npm run bench:startup). Runs every case round-robin (interleaved, so drift on a
// shared machine hits all cases alike), after warm-up rounds, and prints medians and the ratio to
// `node -e 0` of the same Node 24 that the executable embeds.
//
//   node bench/startup.ts [--runs 21] [--warmup 3] [--json]
//
// Builds the host executable first if it is missing or stale (scripts/package.ts). The command
// measured as "ca gen --help" is `ca gen` when it exists; otherwise the first visible command in
// oclif.manifest.json (the label says which).
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ensureHostExecutable, REPO} from '../scripts/package.ts'

interface Case {
  label: string
  cmd: string
  args: string[]
}

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

const RUNS = argValue('--runs', 21)
const WARMUP = argValue('--warmup', 3)
const JSON_OUT = process.argv.includes('--json')

function commandForBench(): string[] {
  const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'))
  const ids = Object.keys(manifest.commands)
  const id = ids.includes('ca:gen') ? 'ca:gen' : (ids.find((i) => !manifest.commands[i].hidden) ?? ids[0])
  return id.split(':')
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

export async function benchStartup(): Promise<{cases: {label: string; median: number; min: number; ratio: number}[]; runs: number}> {
  const exe = await ensureHostExecutable()
  const node = process.execPath
  const cmd = commandForBench()
  const runJs = join(REPO, 'bin', 'run.js')
  const cases: Case[] = [
    {label: 'node -e 0', cmd: node, args: ['-e', '0']},
    {label: 'kubectl-mesh --version (SEA)', cmd: exe, args: ['--version']},
    {label: 'kubectl-mesh --help (SEA)', cmd: exe, args: ['--help']},
    {label: `kubectl-mesh ${cmd.join(' ')} --help (SEA)`, cmd: exe, args: [...cmd, '--help']},
    {label: 'node bin/run.js --help', cmd: node, args: [runJs, '--help']},
    {label: `node bin/run.js ${cmd.join(' ')} --help`, cmd: node, args: [runJs, ...cmd, '--help']},
  ]
  // Through kubectl as users run it, when the test bed's kubectl has been built.
  try {
    const {kubectlBin} = await import('../testbed/testbed.ts')
    const kubectl = kubectlBin()
    if (existsSync(kubectl)) cases.push({label: `kubectl mesh ${cmd.join(' ')} --help (kubectl → SEA)`, cmd: kubectl, args: ['mesh', ...cmd, '--help']})
  } catch {
    // no test bed in this checkout
  }
  const env = {...process.env, NO_COLOR: '1', PATH: `${join(exe, '..')}:${process.env.PATH}`}
  const times = cases.map(() => [] as number[])
  for (let round = 0; round < WARMUP + RUNS; round++) {
    cases.forEach((c, i) => {
      const t = performance.now()
      const r = spawnSync(c.cmd, c.args, {env, stdio: ['ignore', 'ignore', 'pipe']})
      const ms = performance.now() - t
      if (r.status !== 0) throw new Error(`${c.label} exited ${r.status}: ${r.stderr}`)
      if (round >= WARMUP) times[i].push(ms)
    })
  }
  const base = median(times[0])
  return {
    runs: RUNS,
    cases: cases.map((c, i) => ({label: c.label, median: median(times[i]), min: Math.min(...times[i]), ratio: median(times[i]) / base})),
  }
}

if (import.meta.main) {
  const r = await benchStartup()
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
  else {
    process.stdout.write(`startup, ${r.runs} interleaved runs each (median / min ms, ratio of medians to node -e 0)\n`)
    const w = Math.max(...r.cases.map((c) => c.label.length))
    for (const c of r.cases) process.stdout.write(`  ${c.label.padEnd(w)}  ${c.median.toFixed(1).padStart(7)}  ${c.min.toFixed(1).padStart(7)}  ${c.ratio.toFixed(2)}x\n`)
  }
}
