// Progress for long steps: listr2 on a terminal (stderr), nothing otherwise. Loaded lazily.

export interface Step<T> {
  title: string
  run: () => Promise<T>
}

/** Run the steps (concurrently or in order) and return their results in order. */
export async function runSteps<T>(steps: Step<T>[], opts: {concurrent?: boolean} = {}): Promise<T[]> {
  const results: T[] = new Array(steps.length)
  if (!process.stderr.isTTY || process.env.CI) {
    if (opts.concurrent) return Promise.all(steps.map((s) => s.run()))
    for (const [i, s] of steps.entries()) results[i] = await s.run()
    return results
  }
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const processOutput = new ProcessOutput(process.stderr, process.stderr)
  const list = new Listr(steps.map((s, i) => ({title: s.title, task: async () => { results[i] = await s.run() }})), {
    concurrent: opts.concurrent ?? false,
    exitOnError: true,
    rendererOptions: {collapseErrors: true, showErrorMessage: false, logger: new ListrLogger({processOutput})},
    renderer: 'default',
    fallbackRenderer: 'silent',
  })
  await list.run()
  return results
}
