// Global setup of `npm test`: bring the test bed up once per run (building it on first use),
// and take it down at the end if this run started it (KEEP_TESTBED=1 leaves it running).
// Every e2e run also logs each CLI invocation to a run log, scanned for leaked keys and tokens
// after the last test file (test/leak-scan.ts); a leak, or an empty log, fails the run.
import {existsSync, readFileSync} from 'node:fs'
import {down, ensureUp, status} from '../testbed/testbed.ts'
import {removeRunLog, scanRunLog, startRunLog} from './leak-scan.ts'

const CLUSTERS = Number(process.env.TESTBED_CLUSTERS ?? 3)
let startedHere = false
let runLog: ReturnType<typeof startRunLog> | undefined

export async function globalSetup(): Promise<void> {
  if (process.env.SKIP_E2E) return
  const s = await status().catch(() => undefined)
  const healthy = s && s.clusters.length >= CLUSTERS && s.clusters.every((c: {healthy: boolean}) => c.healthy)
  if (!healthy) {
    await ensureUp({clusters: CLUSTERS})
    startedHere = true
  }
  // Only now: when the setup throws, node --test runs neither the tests nor the teardown.
  runLog = startRunLog()
}

export async function globalTeardown(): Promise<void> {
  try {
    if (runLog) scan(runLog)
  } finally {
    if (startedHere && !process.env.KEEP_TESTBED) await down()
  }
}

/**
 * Scan the run log. A failure sets the exit code rather than throwing: node --test (24.x) swallows
 * an error thrown here and calls the teardown a second time; the exit code alone is kept.
 */
function scan(log: NonNullable<typeof runLog>): void {
  const {ok, report} = scanRunLog(existsSync(log.path) ? readFileSync(log.path, 'utf8') : undefined, log.path)
  process.stderr.write(`${report}\n`)
  if (ok) removeRunLog(log)
  else process.exitCode = 1
}
