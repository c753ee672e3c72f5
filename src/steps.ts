// Named steps of a long operation, for progress. A service names its steps and runs them through
// the StepRunner it was given (options.progress); the command makes the runner (src/ui/progress.ts:
// listr2 on a terminal). Without one, steps just run: services never print.
import {allInOrder} from './settle.ts'

export interface Step<T> {
  title: string
  /** `update` retitles the step while it runs (e.g. a count); a no-op when nothing is shown. */
  run: (update: (title: string) => void) => Promise<T>
}

/** Runs steps in order, or concurrently (then fails with the first failure in list order, as allInOrder). */
export type StepRunner = <T>(steps: Step<T>[], opts?: {concurrent?: boolean}) => Promise<T[]>

const ignore = () => {}

export const quietSteps: StepRunner = async <T>(steps: Step<T>[], opts: {concurrent?: boolean} = {}): Promise<T[]> => {
  if (opts.concurrent) return allInOrder(steps.map((s) => s.run(ignore))) as Promise<T[]>
  const results: T[] = []
  for (const s of steps) results.push(await s.run(ignore))
  return results
}

/** One step through `runner` (quiet when undefined). */
export async function runStep<T>(runner: StepRunner | undefined, title: string, run: Step<T>['run']): Promise<T> {
  const [result] = await (runner ?? quietSteps)([{title, run}])
  return result
}

/** Wraps a per-item function so that each finished item retitles the step: `title (n/total)`. */
export function counting<A extends unknown[], R>(update: (title: string) => void, title: string, total: number, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let done = 0
  update(`${title} (0/${total})`)
  return async (...args: A) => {
    const result = await fn(...args)
    update(`${title} (${++done}/${total})`)
    return result
  }
}
