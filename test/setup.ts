// Global setup of `npm test`: bring the test bed up once per run (building it on first use),
// and take it down at the end if this run started it (KEEP_TESTBED=1 leaves it running).
import {down, ensureUp, status} from '../testbed/testbed.ts'

const CLUSTERS = Number(process.env.TESTBED_CLUSTERS ?? 3)
let startedHere = false

export async function globalSetup(): Promise<void> {
  if (process.env.SKIP_E2E) return
  const s = await status().catch(() => undefined)
  const healthy = s && s.clusters.length >= CLUSTERS && s.clusters.every((c: {healthy: boolean}) => c.healthy)
  if (!healthy) {
    await ensureUp({clusters: CLUSTERS})
    startedHere = true
  }
}

export async function globalTeardown(): Promise<void> {
  if (startedHere && !process.env.KEEP_TESTBED) await down()
}
