// Steps and the progress runner (src/steps.ts, src/ui/progress.ts). What a terminal shows is tested
// under a pseudo-terminal in test/e2e/contract.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {counting, quietSteps, runStep} from '../../src/steps.ts'
import {progressFor, showsProgress} from '../../src/ui/progress.ts'

const later = <T>(ms: number, value: T, fail = false) => new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms))

test('no progress unless stderr is a terminal and the output is text', () => {
  // node --test runs this file with stderr on a pipe.
  assert.equal(showsProgress('text'), Boolean(process.stderr.isTTY) && !process.env.CI && process.env.TERM !== 'dumb')
  assert.equal(showsProgress('json'), false)
  assert.equal(showsProgress('yaml'), false)
  assert.equal(progressFor('json'), quietSteps)
  assert.equal(progressFor('yaml'), quietSteps)
  if (!process.stderr.isTTY) assert.equal(progressFor('text'), quietSteps)
})

test('quietSteps: results in order; concurrent failures are the first in list order, after every step settled', async () => {
  assert.deepEqual(await quietSteps([{title: 'a', run: () => later(20, 1)}, {title: 'b', run: () => later(1, 2)}], {concurrent: true}), [1, 2])
  const settled: string[] = []
  await assert.rejects(quietSteps([
    {title: 'a', run: () => later(30, 'first', true).finally(() => settled.push('a'))},
    {title: 'b', run: () => later(1, 'second', true).finally(() => settled.push('b'))},
    {title: 'c', run: () => later(10, 'third').finally(() => settled.push('c'))},
  ], {concurrent: true}), /first/)
  assert.deepEqual(settled.sort(), ['a', 'b', 'c'])
  const order: string[] = []
  assert.deepEqual(await quietSteps([{title: 'a', run: async () => { order.push('a'); return later(10, 'x') }}, {title: 'b', run: async () => { order.push('b'); return 'y' }}]), ['x', 'y'])
  assert.deepEqual(order, ['a', 'b'])
})

test('runStep without a runner just runs; counting retitles with n/total', async () => {
  assert.equal(await runStep(undefined, 'one', async () => 42), 42)
  const titles: string[] = []
  const run = counting((t) => titles.push(t), 'Write 2 imports', 2, async (x: number) => x * 2)
  assert.deepEqual(await Promise.all([run(1), run(2)]), [2, 4])
  assert.deepEqual(titles, ['Write 2 imports (0/2)', 'Write 2 imports (1/2)', 'Write 2 imports (2/2)'])
})
