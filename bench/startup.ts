// Startup benchmark (npm run bench:startup). Runs every case round-robin (interleaved, so drift on a
// shared machine hits all cases alike), after warm-up rounds, and prints medians, the ratio to
// `node -e 0` of the same Node 24 that the executable embeds, and whether the start-up targets
// hold: --version, --help and completion answers of the executable within 1.3× `node -e 0` and no
// slower than `kubectl version --client`; from npm within 2× `node -e 0`.
//
//   node bench/startup.ts [--runs 21] [--warmup 3] [--json]
//
// Builds the host executable first if it is missing or stale (scripts/package.ts). The command
// measured as "ca gen --help" is `ca gen` when it exists; otherwise the first visible command in
// oclif.manifest.json (the label says which).
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureHostExecutable, REPO} from '../scripts/package.ts'

interface Case {
  label: string
  cmd: string
  args: string[]
  /** The start-up target the case is held to (issue 26): sea ≤ 1.3× node -e 0 and ≤ kubectl version --client; npm ≤ 2× node -e 0. */
  target?: 'baseline' | 'sea' | 'npm' | 'kubectl'
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
  target?: Case['target']
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
  // A completion answer that reads the kubeconfig (contexts) and asks no cluster.
  const complete = ['cluster', 'link', '--remote-context', '']
  const completer = join(exe, '..', 'kubectl_complete-mesh')
  const cases: Case[] = [
    {label: 'node -e 0', cmd: node, args: ['-e', '0'], target: 'baseline'},
    {label: 'kubectl-mesh --version (SEA)', cmd: exe, args: ['--version'], target: 'sea'},
    {label: 'kubectl-mesh --help (SEA)', cmd: exe, args: ['--help'], target: 'sea'},
    {label: `kubectl-mesh ${cmd.join(' ')} --help (SEA)`, cmd: exe, args: [...cmd, '--help'], target: 'sea'},
    {label: `kubectl-mesh __complete ${complete.join(' ')}'' (SEA)`, cmd: exe, args: ['__complete', ...complete], target: 'sea'},
    {label: `kubectl_complete-mesh ${complete.join(' ')}'' (archive: sh → SEA)`, cmd: completer, args: complete, target: 'sea'},
    {label: 'node bin/run.js --version', cmd: node, args: [runJs, '--version'], target: 'npm'},
    {label: 'node bin/run.js --help', cmd: node, args: [runJs, '--help'], target: 'npm'},
    {label: `node bin/run.js ${cmd.join(' ')} --help`, cmd: node, args: [runJs, ...cmd, '--help'], target: 'npm'},
    {label: `node bin/kubectl_complete-mesh.js ${complete.join(' ')}''`, cmd: node, args: [join(REPO, 'bin', 'kubectl_complete-mesh.js'), ...complete], target: 'npm'},
  ]
  // Through kubectl as users run it, when the test bed's kubectl has been built.
  try {
    const {kubectlBin} = await import('../testbed/testbed.ts')
    const kubectl = kubectlBin()
    if (existsSync(kubectl)) {
      cases.push({label: `kubectl mesh ${cmd.join(' ')} --help (kubectl → SEA)`, cmd: kubectl, args: ['mesh', ...cmd, '--help']})
      cases.push({label: `kubectl __complete mesh ${complete.join(' ')}'' (kubectl → sh → SEA)`, cmd: kubectl, args: ['__complete', 'mesh', ...complete]})
      // kubectl's own start-up, the yardstick users feel.
      cases.push({label: 'kubectl version --client', cmd: kubectl, args: ['version', '--client'], target: 'kubectl'})
    }
  } catch {
    // no test bed in this checkout
  }
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-mesh-bench-'))
  const kubeconfig = join(dir, 'config')
  const ctx = (name: string) => ({name, context: {cluster: name, user: 'u'}})
  const cl = (name: string) => ({name, cluster: {server: 'https://127.0.0.1:1'}})
  writeFileSync(kubeconfig, JSON.stringify({apiVersion: 'v1', kind: 'Config', 'current-context': 'east', clusters: ['east', 'west', 'north'].map(cl), contexts: ['east', 'west', 'north'].map(ctx), users: [{name: 'u', user: {token: 't'}}]}))
  const env = {...process.env, NO_COLOR: '1', KUBECONFIG: kubeconfig, PATH: `${join(exe, '..')}:${process.env.PATH}`}
  let measured
  try {
    measured = measure(cases, env)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  const {wall, cpu} = measured
  const base = median(wall[0])
  const baseCpu = cpu ? median(cpu[0]) : 0
  return {
    runs: RUNS,
    cases: cases.map((c, i) => ({
      label: c.label,
      target: c.target,
      median: median(wall[i]),
      min: Math.min(...wall[i]),
      ratio: median(wall[i]) / base,
      ...(cpu ? {cpuMedian: median(cpu[i]), cpuRatio: median(cpu[i]) / baseCpu} : {}),
    })),
  }
}

/**
 * The start-up targets (issue 26), judged on this run's medians: CPU time (user + sys) when
 * measured, which a shared machine disturbs far less than wall time, else wall time.
 */
export function targets(cases: BenchCase[]): string[] {
  const kubectl = cases.find((c) => c.target === 'kubectl')
  const cpu = cases.every((c) => c.cpuMedian !== undefined)
  const value = (c: BenchCase) => (cpu ? c.cpuMedian! : c.median)
  const ratio = (c: BenchCase) => (cpu ? c.cpuRatio! : c.ratio)
  const lines = [`judged on ${cpu ? 'CPU' : 'wall'} medians (wall ratio in brackets):`]
  for (const c of cases) {
    const wall = `[wall ${c.ratio.toFixed(2)}×]`
    if (c.target === 'sea') {
      const k = kubectl ? value(c) / value(kubectl) : undefined
      const met = ratio(c) <= 1.3 && (k === undefined || k <= 1)
      lines.push(`  ${met ? 'met    ' : 'NOT MET'}  ${c.label}: ${ratio(c).toFixed(2)}× node -e 0 ${wall} (≤ 1.30×)${k === undefined ? ', no kubectl to compare with' : `, ${k.toFixed(2)}× kubectl version --client (≤ 1.00×)`}`)
    } else if (c.target === 'npm') {
      lines.push(`  ${ratio(c) <= 2 ? 'met    ' : 'NOT MET'}  ${c.label}: ${ratio(c).toFixed(2)}× node -e 0 ${wall} (≤ 2.00×)`)
    }
  }
  return lines
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
    process.stdout.write(`targets, ${targets(r.cases).join('\n')}\n`)
  }
}
