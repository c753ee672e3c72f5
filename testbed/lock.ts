// The test bed lock: test files run in parallel processes; only one may bring the test bed up or down.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from './paths.ts';
import { isAlive } from './procs.ts';
import { sleep } from './util.ts';

export async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 45 * 60_000; // a cold build can take this long
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let stale = false;
      try {
        const owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
        stale = owner !== process.pid && !isAlive(owner);
      } catch {
        try { stale = Date.now() - statSync(lock).mtimeMs > 30_000; } catch { /* removed meanwhile */ }
      }
      if (stale) {
        const tomb = `${lock}.stale.${process.pid}.${Date.now()}`;
        try { renameSync(lock, tomb); rmSync(tomb, { recursive: true, force: true }); } catch { /* someone else */ }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the test bed lock ${lock}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
