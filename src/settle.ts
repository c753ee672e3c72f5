/**
 * Like Promise.all, but waits for every promise and then rejects with the FIRST rejection in list
 * order, not the first in time. Concurrent reads then report the same error on every run (the
 * namespace before the secrets, EAST before WEST), whichever request the server refused first.
 */
export async function allInOrder<T extends readonly unknown[] | []>(values: T): Promise<{-readonly [K in keyof T]: Awaited<T[K]>}> {
  const settled = await Promise.allSettled(values as readonly unknown[])
  const results: unknown[] = []
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason
    results.push(s.value)
  }
  return results as {-readonly [K in keyof T]: Awaited<T[K]>}
}
