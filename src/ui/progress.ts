// Progress for long steps: listr2 tasks on stderr, only when stderr is a terminal and the output
// is text (never on a pipe, in CI, with TERM=dumb, or with -o json|yaml). listr2 is loaded only when shown.
import {quietSteps, type Step, type StepRunner} from '../steps.ts'

/** Whether progress is shown for this output format. */
export function showsProgress(output: string = 'text'): boolean {
  return output === 'text' && Boolean(process.stderr.isTTY) && !process.env.CI && process.env.TERM !== 'dumb'
}

/** The step runner a command passes to its service (options.progress). */
export function progressFor(output?: string): StepRunner {
  return showsProgress(output) ? runSteps : quietSteps
}

/** Run the steps as listr2 tasks on stderr; results in order. Failures as quietSteps: the first in list order. */
export const runSteps: StepRunner = async <T>(steps: Step<T>[], opts: {concurrent?: boolean} = {}): Promise<T[]> => {
  const {DefaultRenderer, Listr, ListrLogger, ProcessOutput} = await import('listr2')
  // listr2 picks its renderer by stdout; ours draws on stderr, which is the terminal here (stdout may be a pipe).
  class StderrRenderer extends DefaultRenderer {
    static nonTTY = true
  }
  const processOutput = new ProcessOutput(process.stderr, process.stderr)
  const started: Array<Promise<T> | undefined> = new Array(steps.length)
  const list = new Listr(steps.map((s, i) => ({
    title: s.title,
    task: (_ctx: unknown, task: {title: string}) => (started[i] = s.run((title) => { task.title = title })),
  })), {
    concurrent: opts.concurrent ?? false,
    exitOnError: true,
    registerSignalListeners: false,
    renderer: StderrRenderer,
    rendererOptions: {collapseErrors: true, showErrorMessage: false, logger: new ListrLogger({processOutput})},
    fallbackRenderer: 'silent',
  })
  // listr2 hides the cursor while it draws: on Ctrl-C show it again, then end as the signal would.
  const interrupted = (signal: NodeJS.Signals) => {
    // (process.stderr.write is listr2's buffer while it draws: write through its own stream.)
    processOutput.toStderr('\x1b[?25h')
    process.kill(process.pid, signal)
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    await list.run().catch(() => undefined)
  } finally {
    process.removeListener('SIGINT', interrupted)
    process.removeListener('SIGTERM', interrupted)
  }
  await Promise.allSettled(started.filter((p) => p !== undefined))
  const results: T[] = []
  for (const [i, p] of started.entries()) {
    if (!p) throw new Error(`step "${steps[i].title}" did not run`)
    results.push(await p)
  }
  return results
}
