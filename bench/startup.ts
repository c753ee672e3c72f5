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

export interface BenchCase {
  label: string
  median: number
  min: number
  ratio: number
  cpuMedian?: number
  cpuRatio?: number
}

export async function benchStartup(): Promise<{cases: BenchCase[]; runs: number}> {
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
    if (existsSync(kubectl)) {
      cases.push({label: `kubectl mesh ${cmd.join(' ')} --help (kubectl → SEA)`, cmd: kubectl, args: ['mesh', ...cmd, '--help']})
      // kubectl's own start-up, the yardstick users feel.
      cases.push({label: 'kubectl version --client', cmd: kubectl, args: ['version', '--client']})
    }
  } catch {
    // no test bed in this checkout
  }
  const env = {...process.env, NO_COLOR: '1', PATH: `${join(exe, '..')}:${process.env.PATH}`}
  const {wall, cpu} = measure(cases, env)
  const base = median(wall[0])
  const baseCpu = cpu ? median(cpu[0]) : 0
  return {
    runs: RUNS,
    cases: cases.map((c, i) => ({
      label: c.label,
      median: median(wall[i]),
      min: Math.min(...wall[i]),
      ratio: median(wall[i]) / base,
      ...(cpu ? {cpuMedian: median(cpu[i]), cpuRatio: median(cpu[i]) / baseCpu} : {}),
    })),
  }
}

// Wall time is what users feel, but on a shared 2-core machine it mostly measures the other
// processes; CPU time (user + sys of the child, from wait4's rusage) is far steadier. python3's
// os.wait4 gives it; without python3 only wall time is reported.
const PY = `
import json, os, subprocess, sys, time
spec = json.load(sys.stdin)
wall = [[] for _ in spec["cases"]]; cpu = [[] for _ in spec["cases"]]
for rnd in range(spec["warmup"] + spec["runs"]):
    for i, c in enumerate(spec["cases"]):
        t = time.perf_counter()
        p = subprocess.Popen([c["cmd"]] + c["args"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=spec["env"])
        _, status, ru = os.wait4(p.pid, 0)
        ms = (time.perf_counter() - t) * 1000
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit(c["label"] + " exited " + str(p.returncode))
        if rnd >= spec["warmup"]:
            wall[i].append(ms); cpu[i].append((ru.ru_utime + ru.ru_stime) * 1000)
json.dump({"wall": wall, "cpu": cpu}, sys.stdout)
`

function measure(cases: Case[], env: NodeJS.ProcessEnv): {wall: number[][]; cpu?: number[][]} {
  const py = spawnSync('python3', ['-c', PY], {input: JSON.stringify({cases, env, runs: RUNS, warmup: WARMUP}), encoding: 'utf8', maxBuffer: 16 << 20})
  if (py.status === 0) return JSON.parse(py.stdout)
  if (!py.error) throw new Error(`benchmark failed: ${py.stderr}`)
  const wall = cases.map(() => [] as number[])
  for (let round = 0; round < WARMUP + RUNS; round++) {
    cases.forEach((c, i) => {
      const t = performance.now()
      const r = spawnSync(c.cmd, c.args, {env, stdio: ['ignore', 'ignore', 'pipe']})
      const ms = performance.now() - t
      if (r.status !== 0) throw new Error(`${c.label} exited ${r.status}: ${r.stderr}`)
      if (round >= WARMUP) wall[i].push(ms)
    })
  }
  return {wall}
}

if (import.meta.main) {
  const r = await benchStartup()
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
  else {
    process.stdout.write(`startup, ${r.runs} interleaved runs each; medians in ms; ratio = median / median of node -e 0\n`)
    const w = Math.max(...r.cases.map((c) => c.label.length))
    process.stdout.write(`  ${'case'.padEnd(w)}  ${'wall'.padStart(7)}  ${'ratio'.padStart(6)}  ${'cpu'.padStart(7)}  ${'ratio'.padStart(6)}\n`)
    for (const c of r.cases) {
      const cpu = c.cpuMedian === undefined ? '' : `  ${c.cpuMedian.toFixed(1).padStart(7)}  ${c.cpuRatio!.toFixed(2).padStart(5)}x`
      process.stdout.write(`  ${c.label.padEnd(w)}  ${c.median.toFixed(1).padStart(7)}  ${c.ratio.toFixed(2).padStart(5)}x${cpu}\n`)
    }
  }
}
