// Pure decisions of `ca rotate`: stage detection, phase choice, gates, preconditions, the Secret.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {UsageError} from '../../src/errors.ts'
import {type ClusterRotateFacts, type DirFacts, planRotation, reloadsByItself, type Stage, stageFiles, stageOf, stageSecret, validateRotateOptions} from '../../src/ca/rotate-plan.ts'

const A = 'AA:AA'
const B = 'BB:BB'
const IA = {east: 'IA:EA', west: 'IA:WE'} as Record<string, string>
const IB = {east: 'IB:EA', west: 'IB:WE'} as Record<string, string>

/** A cluster at a stage whose istiod has caught up (publishes the Secret's roots, signs with its intermediate) unless told otherwise. */
function cluster(name: string, stage: Stage, p: Partial<ClusterRotateFacts> & {publishes?: string[]; signsWith?: string} = {}): ClusterRotateFacts {
  const roots = stage === 0 ? [A] : stage === 3 ? [B] : [A, B]
  const fromB = stage >= 2
  const signing = fromB ? IB[name] : IA[name]
  return {
    context: name,
    istioNamespace: 'istio-system',
    cacerts: {roots, signing, issuedBy: fromB ? B : A, problems: []},
    folder: {name, in: fromB ? 'next' : 'dir'},
    istiods: [{name: 'istiod', env: {ISTIO_MULTIROOT_MESH: 'true'}, version: '1.31'}],
    proxyConfigXdsAgent: 'true',
    meshConfigMap: 'istio',
    published: [{namespace: 'istio-system', roots: p.publishes ?? roots}, {namespace: 'bar', roots: p.publishes ?? roots}],
    signers: [{pod: `istiod-${name}`, issuer: p.signsWith ?? signing}],
    ...p,
  }
}

const dirAt = (next: boolean, p: Partial<DirFacts> = {}): DirFacts => ({dir: 'mesh-ca', root: A, next: next ? B : undefined, nextKey: next, ...p})
const plan = (next: boolean, clusters: ClusterRotateFacts[], abort = false, d: Partial<DirFacts> = {}) => planRotation({o: {dir: 'mesh-ca', abort}, dir: dirAt(next, d), clusters})
const usage = (fn: () => unknown, re: RegExp, hint?: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message) && Boolean(e.hint) && (!hint || hint.test(e.hint!)))
const targets = (p: ReturnType<typeof plan>) => p.targets.map((t) => `${t.context}:${t.stage}`).sort()

describe('stageOf', () => {
  const cases: Array<[string, string[], string, Stage | RegExp]> = [
    ['old root only', [A], A, 0],
    ['both, issued from old', [A, B], A, 1],
    ['both (new first), issued from old', [B, A], A, 1],
    ['both, issued from new', [A, B], B, 2],
    ['new only', [B], B, 3],
    ['new only but issued from old', [B], A, /trusts only the new root but issues from the old one/],
    ['old only but issued from new', [A], B, /issues from the new root but does not trust it/],
    ['a third root', [A, 'CC:CC'], A, /neither DIR's/],
    ['intermediate from elsewhere', [A], 'CC:CC', /not issued by DIR's root/],
  ]
  for (const [name, roots, issuedBy, want] of cases) {
    test(name, () => {
      const c = cluster('east', 0, {cacerts: {roots, signing: 'X', issuedBy, problems: []}})
      const r = stageOf(c, A, B)
      if (typeof want === 'number') assert.equal(r.stage, want)
      else assert.match(r.why ?? '', want)
    })
  }
  test('no Secret', () => assert.match(stageOf(cluster('east', 0, {cacerts: null}), A, B).why!, /no Secret istio-system\/cacerts/))
  test('invalid Secret', () => assert.match(stageOf(cluster('east', 0, {cacerts: {roots: [A], issuedBy: A, problems: ['missing ca-key.pem']}}), A, B).why!, /invalid.*missing ca-key.pem/))
  test('without a new root, A+X is not a stage', () => assert.equal(stageOf(cluster('east', 1), A, undefined).stage, undefined))
})

describe('planRotation: forward', () => {
  test('start: both clusters on A → new root, both to stage 1', () => {
    const p = plan(false, [cluster('east', 0), cluster('west', 0)])
    assert.equal(p.step, 'start')
    assert.equal(p.newRoot, true)
    assert.deepEqual(targets(p), ['east:1', 'west:1'])
    assert.deepEqual(p.waits, [])
  })
  test('phase 1 interrupted (east written, west not): finish phase 1 only', () => {
    const p = plan(true, [cluster('east', 1), cluster('west', 0)])
    assert.equal(p.step, 'phase1')
    assert.deepEqual(targets(p), ['west:1'])
    assert.equal(p.newRoot, false)
  })
  test('phase 2 waits while one istiod still publishes A only', () => {
    const p = plan(true, [cluster('east', 1), cluster('west', 1, {publishes: [A]})])
    assert.equal(p.step, 'phase2')
    assert.deepEqual(p.targets, [])
    assert.equal(p.waits.length, 1)
    assert.equal(p.waits[0].context, 'west')
    assert.match(p.waits[0].what, /publish both roots: ConfigMap istio-system\/istio-ca-root-cert \(and 1 more\) holds aaaa…/)
  })
  test('phase 2 waits while no istio-ca-root-cert exists', () => {
    const p = plan(true, [cluster('east', 1, {published: []}), cluster('west', 1)])
    assert.match(p.waits[0].what, /none found: is istiod running/)
  })
  test('phase 2: gate holds → issue and write both', () => {
    const p = plan(true, [cluster('east', 1), cluster('west', 1)])
    assert.deepEqual(p.issue, ['east', 'west'])
    assert.deepEqual(targets(p), ['east:2', 'west:2'])
    assert.match(p.notes.join('\n'), /24 h/)
  })
  test('phase 2 interrupted: the written cluster is not issued again, the gate is checked again', () => {
    const p = plan(true, [cluster('east', 2), cluster('west', 1)])
    assert.deepEqual(p.issue, ['west'])
    assert.deepEqual(targets(p), ['west:2'])
    const waiting = plan(true, [cluster('east', 2), cluster('west', 1, {publishes: [A]})])
    assert.deepEqual(waiting.targets, [])
    assert.equal(waiting.waits[0].context, 'west')
  })
  test('phase 2 after a crash between files and Secret: an intermediate in DIR/next no Secret refers to is issued again', () => {
    const p = plan(true, [cluster('east', 1, {folder: {name: 'east', in: 'dir'}}), cluster('west', 1)])
    assert.deepEqual(p.issue, ['east', 'west'])
  })
  test('phase 3 waits while an istiod signs with the old intermediate', () => {
    const p = plan(true, [cluster('east', 2), cluster('west', 2, {signsWith: IA.west})])
    assert.equal(p.step, 'phase3')
    assert.deepEqual(p.targets, [])
    assert.equal(p.waits[0].context, 'west')
    assert.match(p.waits[0].what, /istiod pod istio-system\/istiod-west to sign with the new intermediate/)
  })
  test('phase 3 waits when istiod cannot be asked', () => {
    const p = plan(true, [cluster('east', 2, {signers: [{pod: 'istiod-east', error: 'connection refused'}]}), cluster('west', 2)])
    assert.match(p.waits[0].what, /could not be read: connection refused/)
    const none = plan(true, [cluster('east', 2, {signers: []}), cluster('west', 2)])
    assert.match(none.waits[0].what, /a running istiod pod/)
  })
  test('phase 3: gate holds → B only, finalize', () => {
    const p = plan(true, [cluster('east', 2), cluster('west', 2)])
    assert.deepEqual(targets(p), ['east:3', 'west:3'])
    assert.equal(p.finalize, true)
  })
  test('phase 3 interrupted: rest of the clusters, still gated', () => {
    assert.deepEqual(targets(plan(true, [cluster('east', 3), cluster('west', 2)])), ['west:3'])
    assert.deepEqual(plan(true, [cluster('east', 3), cluster('west', 2, {signsWith: IA.west})]).targets, [])
  })
  test('all on B, DIR/next still there: finalize the files only', () => {
    const p = plan(true, [cluster('east', 3), cluster('west', 3)])
    assert.equal(p.step, 'finalize')
    assert.deepEqual(p.targets, [])
    assert.equal(p.finalize, true)
  })
  test('finished: DIR root = B, rotation.json says so → nothing to do', () => {
    const onB = (n: string) => cluster(n, 0, {cacerts: {roots: [B], signing: IB[n], issuedBy: B, problems: []}, folder: {name: n, in: 'dir'}})
    const p = planRotation({o: {dir: 'mesh-ca', abort: false}, dir: {dir: 'mesh-ca', root: B, nextKey: false, finished: {from: A, to: B, at: '2026-12-02T00:00:00Z'}}, clusters: [onB('east'), onB('west')]})
    assert.equal(p.step, 'done')
    assert.deepEqual(p.targets, [])
    assert.equal(p.newRoot, false)
  })
  test('split trust (east on B only, west still issuing from A) is refused', () => {
    usage(() => plan(true, [cluster('east', 3), cluster('west', 1)]), /"east" is 2 steps ahead of "west"/, /trust\.rotation/)
  })
  test('a cluster in no stage is refused with its reason', () => {
    usage(() => plan(true, [cluster('east', 1), cluster('west', 1, {cacerts: {roots: [B], signing: IA.west, issuedBy: A, problems: []}})]), /context "west": trusts only the new root but issues from the old one/)
  })
})

describe('preconditions (before phase 1)', () => {
  const cases: Array<[string, Partial<ClusterRotateFacts>, RegExp, RegExp]> = [
    ['no istiod', {istiods: []}, /no istiod Deployment/, /install Istio/],
    ['multi-root off', {istiods: [{name: 'istiod', env: {}, version: '1.31'}]}, /runs without ISTIO_MULTIROOT_MESH=true/, /set env deployment\/istiod ISTIO_MULTIROOT_MESH=true/],
    ['proxies without PROXY_CONFIG_XDS_AGENT', {proxyConfigXdsAgent: undefined}, /PROXY_CONFIG_XDS_AGENT=true/, /proxyMetadata\.PROXY_CONFIG_XDS_AGENT/],
    ['PROXY_CONFIG_XDS_AGENT false', {proxyConfigXdsAgent: 'false'}, /PROXY_CONFIG_XDS_AGENT=true/, /edit configmap istio/],
    ['an intermediate not in DIR', {folder: undefined}, /not one of the cluster folders of mesh-ca/, /ca gen --cluster <name> --context west --dir mesh-ca/],
  ]
  for (const [name, patch, re, hint] of cases) {
    test(name, () => usage(() => plan(false, [cluster('east', 0), cluster('west', 0, patch)]), re, hint))
  }
  test('no cacerts at all', () => usage(() => plan(false, [cluster('east', 0), cluster('west', 0, {cacerts: null})]), /"west": has no Secret istio-system\/cacerts/, /ca gen/))
  test('a cacerts from another root', () => usage(() => plan(false, [cluster('east', 0), cluster('west', 0, {cacerts: {roots: ['CC:CC'], issuedBy: undefined, signing: 'x', problems: []}})]), /neither DIR's/))
  test('also when phase 1 is resumed', () => usage(() => plan(true, [cluster('east', 1), cluster('west', 0, {proxyConfigXdsAgent: undefined})]), /PROXY_CONFIG_XDS_AGENT/))
  test('revisioned istiod names its deployment and ConfigMap', () => {
    usage(() => plan(false, [cluster('east', 0, {istiods: [{name: 'istiod-canary', env: {}, version: '1.31'}]})]), /deployment\/istiod-canary/)
  })
})

describe('planRotation: abort', () => {
  test('nothing under way', () => assert.equal(plan(false, [cluster('east', 0), cluster('west', 0)], true).step, 'nothing'))
  test('from phase 1: straight to A alone (every istiod still signs from A)', () => {
    const p = plan(true, [cluster('east', 1), cluster('west', 1)], true)
    assert.equal(p.step, 'abort-to-0')
    assert.deepEqual(targets(p), ['east:0', 'west:0'])
    assert.equal(p.discardNext, true)
  })
  test('from phase 2: intermediates back to A first, both roots kept', () => {
    const p = plan(true, [cluster('east', 2), cluster('west', 2)], true)
    assert.equal(p.step, 'abort-to-1')
    assert.deepEqual(targets(p), ['east:1', 'west:1'])
    assert.equal(p.discardNext, false)
  })
  test('from phase 2, second run: waits until istiod signs from A again', () => {
    const back = (n: string) => cluster(n, 1, {signsWith: IB[n]})
    const p = plan(true, [back('east'), back('west')], true)
    assert.equal(p.step, 'abort-to-0')
    assert.deepEqual(p.targets, [])
    assert.match(p.waits[0].what, /to sign with the old intermediate/)
  })
  test('phase 3 begun: refused', () => usage(() => plan(true, [cluster('east', 3), cluster('west', 2)], true), /phase 3 \(trust new only\) has begun: context "east"/, /finish the rotation/))
  test('abort finished everywhere, DIR/next still there: only set it aside', () => {
    const p = plan(true, [cluster('east', 0), cluster('west', 0)], true)
    assert.deepEqual(p.targets, [])
    assert.equal(p.discardNext, true)
  })
})

describe('the Secret at each stage', () => {
  const m = {caCertPem: 'INT', caKeyPem: 'KEY', oldRootPem: 'ROOTA', newRootPem: 'ROOTB'}
  const cases: Array<[Stage, string, string]> = [
    [0, 'INT\nROOTA\n', 'ROOTA\n'],
    [1, 'INT\nROOTA\n', 'ROOTA\nROOTB\n'],
    [2, 'INT\nROOTB\n', 'ROOTA\nROOTB\n'],
    [3, 'INT\nROOTB\n', 'ROOTB\n'],
  ]
  for (const [stage, chain, roots] of cases) {
    test(`stage ${stage}`, () => {
      const f = stageFiles(stage, m)
      assert.equal(f['cert-chain.pem'], chain)
      assert.equal(f['root-cert.pem'], roots)
      assert.equal(f['ca-key.pem'], 'KEY\n')
    })
  }
  test('stamped Opaque Secret cacerts', () => {
    const s = stageSecret(1, m, 'istio-system', '1.2.3')
    assert.equal(s.type, 'Opaque')
    assert.equal(s.metadata.name, 'cacerts')
    assert.equal(s.metadata.labels?.['app.kubernetes.io/managed-by'], 'kubectl-mesh')
    assert.equal(Buffer.from(s.data['root-cert.pem'], 'base64').toString(), 'ROOTA\nROOTB\n')
  })
})

describe('options and reload', () => {
  const o = {dir: 'd', abort: false, dryRun: false, output: 'text' as const, istioNamespace: 'istio-system', version: '0'}
  test('no --context', () => usage(() => validateRotateOptions({...o, contexts: []}), /no --context/))
  test('a --context twice', () => usage(() => validateRotateOptions({...o, contexts: ['a', 'a']}), /"a" is named twice/))
  test('istiod reloads cacerts itself from 1.18, or with AUTO_RELOAD_PLUGIN_CERTS', () => {
    assert.equal(reloadsByItself({env: {}, version: '1.31'}), true)
    assert.equal(reloadsByItself({env: {}, version: '1.18.0'}), true)
    assert.equal(reloadsByItself({env: {}, version: '1.17.2'}), false)
    assert.equal(reloadsByItself({env: {AUTO_RELOAD_PLUGIN_CERTS: 'true'}, version: '1.14'}), true)
    assert.equal(reloadsByItself({env: {}}), undefined)
  })
  test('an old istiod gets a restart hint in the wait', () => {
    const p = plan(true, [cluster('east', 1, {publishes: [A], istiods: [{name: 'istiod', env: {ISTIO_MULTIROOT_MESH: 'true'}, version: '1.16.1'}]}), cluster('west', 1)])
    assert.match(p.waits[0].what, /loads cacerts only at startup: restart it: `kubectl --context east -n istio-system rollout restart deployment\/istiod`/)
  })
})
