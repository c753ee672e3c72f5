// Completion (src/completion/): what the typed words ask for, from the real oclif manifest
// (npm run build writes it), and the answers that need no cluster, through the answerer itself.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {answer} from '../../src/completion/answer.ts'
import {commandTable, Directive, formatAnswer, request} from '../../src/completion/model.ts'
import {SHELL_SCRIPTS} from '../../src/completion/shell-scripts.ts'
import {completionHeader} from '../../src/commands/completion.ts'

const REPO = join(import.meta.dirname, '..', '..')
const table = commandTable(JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')), JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).oclif.topics)
const values = (out: string) => out.trimEnd().split('\n').slice(0, -1).map((l) => l.split('\t')[0])
const directive = (out: string) => Number(out.trimEnd().split('\n').at(-1)!.slice(1))

let dir: string
const saved = process.env.KUBECONFIG
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubectl-mesh-completion-'))
  const cluster = (name: string) => ({name, cluster: {server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true}})
  writeFileSync(join(dir, 'kubeconfig'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'east',
    clusters: [cluster('east'), cluster('west')], users: [{name: 'u', user: {token: 't'}}],
    contexts: [{name: 'east', context: {cluster: 'east', user: 'u'}}, {name: 'west', context: {cluster: 'west', user: 'u'}}],
  }))
  process.env.KUBECONFIG = join(dir, 'kubeconfig')
})
after(() => {
  process.env.KUBECONFIG = saved
  rmSync(dir, {recursive: true, force: true})
})

describe('completion: what the words ask for', () => {
  test('command words: topics, commands and aliases; hidden commands never offered', async () => {
    const top = await answer(table, [''])
    assert.ok(['ca', 'cluster', 'service', 'verify', 'export', 'completion'].every((w) => values(top).includes(w)), top)
    assert.ok(!values(top).includes('plumbing'))
    assert.equal(directive(top), Directive.NoFileComp)
    assert.deepEqual(values(await answer(table, ['cluster', 'l'])), ['link'])
    assert.deepEqual(values(await answer(table, ['nonsense', ''])), [])
  })
  test('flags: after a dash, without the ones given already unless repeatable; --flag=value', async () => {
    const f = values(await answer(table, ['cluster', 'link', '--context', 'east', '--']))
    assert.ok(f.includes('--remote-context') && !f.includes('--context'), f.join(' '))
    assert.ok(values(await answer(table, ['verify', '--context', 'east', '--c'])).includes('--context'), 'verify --context repeats')
    assert.deepEqual(values(await answer(table, ['verify', '--output=w'])), ['--output=wide'])
    assert.ok(values(await answer(table, ['export', 'x', '-'])).includes('-n'))
  })
  test('every context flag completes the kubeconfig contexts', async () => {
    for (const [cmd, flag] of [['cluster link', '--context'], ['cluster link', '--remote-context'], ['service import', '--from-context'], ['explain', '--peer-context']]) {
      const out = await answer(table, [...cmd.split(' '), flag, ''])
      assert.deepEqual(values(out), ['east', 'west'], `${cmd} ${flag}`)
      assert.equal(directive(out), Directive.NoFileComp)
    }
    assert.match(await answer(table, ['verify', '--context', 'w']), /^west\tcluster west\n:4\n$/)
  })
  test('enumerated values in declared order; files and dirs left to the shell', async () => {
    const o = await answer(table, ['verify', '-o', ''])
    assert.deepEqual(values(o), ['text', 'json', 'wide', 'dot', 'mermaid', 'svg'])
    assert.equal(directive(o), Directive.NoFileComp | Directive.KeepOrder)
    assert.deepEqual(values(await answer(table, ['cluster', 'link', '--expose', ''])), ['all', 'exported'])
    assert.deepEqual(values(await answer(table, ['completion', 'z'])), ['zsh'])
    assert.equal(directive(await answer(table, ['apply', '-f', ''])), Directive.Default)
    assert.equal(directive(await answer(table, ['ca', 'gen', '--dir', ''])), Directive.FilterDirs)
  })
  test('cluster values: sources named; an unreachable cluster gives no candidates', async () => {
    const r = request(table, ['service', 'import', '--from-context', 'west', ''])
    assert.equal(r.kind === 'source' && r.source.kind, 'services')
    assert.deepEqual(r.kind === 'source' && r.source, {kind: 'services', contextFlag: 'from-context'})
    const n = request(table, ['export', '-n', ''])
    assert.equal(n.kind === 'source' && n.source.kind, 'namespaces')
    assert.equal(request(table, ['cluster', 'unlink', '--remote-name', '']).kind === 'source', true)
    const t0 = Date.now()
    const out = await answer(table, ['export', '-n', 'bar', ''])
    assert.equal(out, ':4\n')
    assert.ok(Date.now() - t0 < 2000)
  })
  test('answer format: value\\tdescription, no descriptions for __completeNoDesc', () => {
    assert.equal(formatAnswer([{value: 'a', description: 'x\ty'}], 4), 'a\tx y\n:4\n')
    assert.equal(formatAnswer([{value: 'a', description: 'x'}], 4, {descriptions: false}), 'a\n:4\n')
  })
  test('shell scripts: cobra\'s, calling kubectl-mesh __complete, with how to install', () => {
    for (const shell of ['bash', 'zsh', 'fish', 'powershell'] as const) {
      assert.match(SHELL_SCRIPTS[shell], /__complete/)
      assert.match(SHELL_SCRIPTS[shell], /kubectl-mesh/)
      assert.match(completionHeader(shell), /kubectl_complete-mesh/)
    }
  })
})
