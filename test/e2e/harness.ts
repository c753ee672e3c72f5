// Shared helpers for the end-to-end tests: run the built CLI against the test bed, and check
// results with kubectl (the test bed's own, built from Go modules), independently of our code.
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseStats, type RequestStats, writesOf} from '../../src/ui/output.ts'
import {startApiServer, stopApiServer, kubectl as testbedKubectl} from '../../testbed/testbed.ts'
import {run} from '../../testbed/util.ts'
import {appendRun} from '../leak-scan.ts'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const KUBECONFIG = process.env.TESTBED_KUBECONFIG ?? join(REPO, '.testbed', 'kubeconfig')
export const CLI = join(REPO, 'bin', 'run.js')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Log one CLI run to the run log that the global teardown scans for keys and tokens (test/leak-scan.ts). */
export function logRun(args: string[], r: RunResult): void {
  appendRun({file: relative(REPO, process.argv[1] ?? ''), args, ...r})
}

/** logRun for a CLI run made without mesh() (spawnSync of the single executable or krew's plugin); returns it. */
export function logSpawn<T extends {status: number | null; stdout: string; stderr: string}>(args: string[], r: T): T {
  logRun(args, {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr})
  return r
}

/** How a run is started: the command as given, or wrapped (e.g. testbed/dns.ts inDnsNamespace: in the bed's DNS mount namespace). */
export type RunWrapper = (bin: string, args: string[]) => {bin: string; args: string[]}

/** Run `kubectl mesh ARGS` (the built CLI) with the test bed kubeconfig; `wrap` starts it through another command. */
export async function mesh(args: string[], opts: {env?: Record<string, string | undefined>; input?: string; cwd?: string; wrap?: RunWrapper} = {}): Promise<RunResult> {
  const env: Record<string, string | undefined> = {...process.env, KUBECONFIG, NO_COLOR: '1', ...opts.env}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  const cmd = opts.wrap ? opts.wrap(process.execPath, [CLI, ...args]) : {bin: process.execPath, args: [CLI, ...args]}
  const {code, stdout, stderr} = await run(cmd.bin, cmd.args, {env: env as NodeJS.ProcessEnv, cwd: opts.cwd ?? REPO, input: opts.input})
  const r = {code, stdout, stderr}
  logRun(args, r)
  return r
}

/** Run fn while the kube-apiserver of `cluster` is stopped; it is started again however fn ends. */
export async function whileApiServerDown<T>(cluster: string, fn: () => Promise<T>): Promise<T> {
  await stopApiServer(cluster)
  try {
    return await fn()
  } finally {
    await startApiServer(cluster)
  }
}

/** kubectl from the test bed; throws on a non-zero exit unless allowFail. */
export async function kubectl(args: string[], opts: {context?: string; input?: string; allowFail?: boolean} = {}): Promise<RunResult> {
  return testbedKubectl(args, opts)
}

/** `kubectl get … -o json`, parsed; undefined when not found. */
export async function kget(context: string, args: string[]): Promise<any | undefined> {
  const r = await kubectl(['get', ...args, '-o', 'json'], {context, allowFail: true})
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined
    throw new Error(`kubectl get ${args.join(' ')} failed: ${r.stderr}`)
  }
  return JSON.parse(r.stdout)
}

export function tempDir(prefix = 'kubectl-mesh-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** The API request counts the CLI printed with KUBECTL_MESH_STATS=1. */
export function stats(stderr: string): RequestStats {
  const s = parseStats(stderr)
  if (!s) throw new Error(`no stats line in stderr:\n${stderr}`)
  return s
}

/** Number of write requests (POST/PUT/PATCH/DELETE) in a stats record. */
export const writes = writesOf

/** exit 2, one `Error:` line and one `Hint:` line on stderr, nothing on stdout. */
export function assertUsageError(r: {code: number; stdout: string; stderr: string}, pattern: RegExp, hint?: RegExp): void {
  assert.equal(r.code, 2, r.stderr)
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('kubectl-mesh-stats'))
  assert.equal(lines.length, 2, r.stderr)
  assert.match(lines[0], /^Error: /)
  assert.match(lines[0], pattern)
  assert.match(lines[1], /^Hint: /)
  if (hint) assert.match(lines[1], hint)
  assert.equal(r.stdout, '')
}
