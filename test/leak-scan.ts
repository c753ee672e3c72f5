// The whole-run secret scan. Every e2e run logs each CLI invocation (args, exit code, stdout,
// stderr) as one JSON line to a run log (test/e2e/harness.ts); the global teardown (test/setup.ts)
// scans that log after the last test file: private keys and tokens may appear only on the stdout
// of `-o yaml`. A finding names the invocation and the kind of secret, never the secret.
import {appendFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

/** The run log's path; the global setup sets it (to a fresh file, or to the path already given). */
export const RUN_LOG_ENV = 'KUBECTL_MESH_E2E_LOG'

export interface RunRecord {
  /** The test file that ran the CLI. */
  file: string
  args: string[]
  code: number
  stdout: string
  stderr: string
}

// A PEM private key block with key material after it (lines, spaces or JSON's \n between), not
// just its header: an error that names the expected header ("-----BEGIN PRIVATE KEY-----") is fine.
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:\s|\\[nr])*[A-Za-z0-9+/]{32,}/
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/
const BEARER = /\bBearer [A-Za-z0-9._~+/-]{16,}/
// base64 of a PEM block (`-----BEGIN …`), as in a Secret's data or a kubeconfig's client-key-data
const BASE64_PEM = /LS0tLS1CRUdJTi[A-Za-z0-9+/=]+/g

/** The kinds of secret in a piece of output ([] when clean); `tokens`: known tokens to look for as well. */
export function leaks(text: string, tokens: Iterable<string> = []): string[] {
  const found: string[] = []
  if (PRIVATE_KEY.test(text)) found.push('a PEM private key')
  if ((text.match(BASE64_PEM) ?? []).some((b) => PRIVATE_KEY.test(Buffer.from(b, 'base64').toString('latin1')))) found.push('a base64 PEM private key')
  if (JWT.test(text)) found.push('a JWT (service-account token)')
  if (BEARER.test(text)) found.push('a bearer token')
  for (const t of tokens) if (text.includes(t)) found.push('the reader token')
  return found
}

/** `-o yaml` prints keys and tokens by design (with a warning): its stdout is the one allowed place. */
export function isYaml(args: string[]): boolean {
  const i = args.findIndex((a) => a === '-o' || a === '--output')
  return (i >= 0 && args[i + 1] === 'yaml') || args.includes('-oyaml') || args.includes('--output=yaml')
}

/** Where a secret is not allowed in one run: `stderr`, and `stdout` unless -o yaml. */
export function leaksOf(run: Pick<RunRecord, 'args' | 'stdout' | 'stderr'>, tokens: Iterable<string> = []): string[] {
  return [
    ...leaks(run.stderr, tokens).map((l) => `${l} on stderr`),
    ...(isYaml(run.args) ? [] : leaks(run.stdout, tokens).map((l) => `${l} on stdout`)),
  ]
}

/**
 * Scan a run log's text (undefined: there is none). Not ok when a run leaks, a line is not a run
 * record, or no run was logged at all (a scan of nothing would pass vacuously).
 */
export function scanRunLog(text: string | undefined, where: string): {ok: boolean; report: string} {
  if (text === undefined) return {ok: false, report: `leak scan: FAILED: there is no run log at ${where}, so nothing could be scanned`}
  const findings: string[] = []
  const files = new Set<string>()
  let runs = 0
  text.split('\n').forEach((line, i) => {
    if (line === '') return
    let run: RunRecord
    try {
      run = JSON.parse(line)
      if (!Array.isArray(run.args) || typeof run.stdout !== 'string' || typeof run.stderr !== 'string') throw new Error('not a run record')
    } catch {
      findings.push(`line ${i + 1} of the log is not a run record`)
      return
    }
    runs++
    files.add(run.file)
    for (const l of leaksOf(run)) findings.push(`${l} of \`kubectl mesh ${run.args.join(' ')}\` (${run.file}, exit ${run.code})`)
  })
  if (runs === 0) return {ok: false, report: `leak scan: FAILED: the run log ${where} holds no CLI run, so the scan would pass vacuously (this setup is for e2e files, whose every CLI run is logged; SKIP_E2E=1 runs unit tests alone)`}
  const scanned = `${runs} CLI run${runs === 1 ? '' : 's'} from ${files.size} test file${files.size === 1 ? '' : 's'}`
  if (findings.length > 0) return {ok: false, report: `leak scan: FAILED: ${findings.length} finding${findings.length === 1 ? '' : 's'} in ${scanned} (log: ${where}):\n${findings.map((f) => `  - ${f}`).join('\n')}`}
  return {ok: true, report: `leak scan: ${scanned}: no private key or token outside the stdout of -o yaml`}
}

/** Append one CLI run to the run log, when there is one (e2e runs under test/setup.ts). */
export function appendRun(run: RunRecord): void {
  const log = process.env[RUN_LOG_ENV]
  if (log) appendFileSync(log, `${JSON.stringify(run)}\n`, {mode: 0o600})
}

/**
 * Start this run's log, empty: the path in KUBECTL_MESH_E2E_LOG when given, else a fresh file in a
 * new private temporary folder. Exported through the environment to the test files. `fresh`: the
 * folder can be removed after a clean scan.
 */
export function startRunLog(): {path: string; fresh: boolean} {
  const given = process.env[RUN_LOG_ENV]
  const path = given ? resolve(given) : join(mkdtempSync(join(tmpdir(), 'kubectl-mesh-e2e-')), 'runs.jsonl')
  writeFileSync(path, '', {mode: 0o600})
  process.env[RUN_LOG_ENV] = path
  return {path, fresh: !given}
}

/** Remove a fresh run log's folder (it holds the test bed's keys and tokens from -o yaml runs). */
export function removeRunLog(log: {path: string; fresh: boolean}): void {
  if (log.fresh) rmSync(dirname(log.path), {recursive: true, force: true})
}
