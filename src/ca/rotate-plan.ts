// Pure decisions of `ca rotate`: where each cluster stands in the rotation (from its cacerts), which
// phase the mesh is in, whether that phase's gate holds (from what each istiod publishes and signs
// with), and what to write next. No I/O here; table-tested in test/unit/ca-rotate-plan.test.ts.
//
// Stages of one cluster (old root A = DIR/root-cert.pem, new root B = DIR/next/root-cert.pem):
//   0  root-cert.pem = A,     intermediate from A   (before; also where --abort ends)
//   1  root-cert.pem = A + B, intermediate from A   (phase 1: trust both)
//   2  root-cert.pem = A + B, intermediate from B   (phase 2: issue from new)
//   3  root-cert.pem = B,     intermediate from B   (phase 3: trust new only)
import {parseIstioVersion, reloadsCacerts} from '../istio/install.ts'
import {UsageError} from '../errors.ts'
import {CACERTS_SECRET, stamp} from '../istio/names.ts'
import type {KubeObject} from '../kube/resources.ts'
import {ensureNl} from './plan.ts'

export type Stage = 0 | 1 | 2 | 3

export const STAGE_NAMES: Record<Stage, string> = {
  0: 'old root only',
  1: 'trusts both roots, issues from the old root',
  2: 'trusts both roots, issues from the new root',
  3: 'new root only',
}

/** The phase names of DESIGN.md "ca rotate". */
export const PHASES = {1: 'trust both', 2: 'issue from new', 3: 'trust new only'} as const

/** What one named cluster holds and what its istiods show, as fingerprints (DER SHA-256, colon hex). */
export interface ClusterRotateFacts {
  context: string
  istioNamespace: string
  /** null: no Secret cacerts. */
  cacerts: null | {
    /** The fingerprints in root-cert.pem (or ca.crt), in order. */
    roots: string[]
    /** Fingerprint of ca-cert.pem (the signing intermediate). */
    signing?: string
    /** The root (fingerprint) ca-cert.pem verifies to among A and B, if any. */
    issuedBy?: string
    /** What istiod would reject (incomplete, key mismatch, chain broken). */
    problems: string[]
  }
  /** The DIR folder (cluster name) whose ca-cert.pem is this cluster's intermediate: in DIR, or in DIR/next. */
  folder?: {name: string; in: 'dir' | 'next'}
  /** istiod Deployments (label app=istiod) in the Istio namespace: name, env of the discovery container, image version. */
  istiods: Array<{name: string; env: Record<string, string>; version?: string}>
  /** meshConfig defaultConfig.proxyMetadata.PROXY_CONFIG_XDS_AGENT of the revision's mesh ConfigMap ("true"/…); undefined: unset. */
  proxyConfigXdsAgent?: string
  /** The mesh ConfigMap read (for hints). */
  meshConfigMap: string
  /** Every ConfigMap istio-ca-root-cert (istiod publishes one per namespace): its roots. */
  published: Array<{namespace: string; roots: string[]}>
  /** Each running istiod pod: the fingerprint of the intermediate that issued its serving certificate (port 15012), or why it could not be read. */
  signers: Array<{pod: string; issuer?: string; error?: string}>
}

export interface DirFacts {
  dir: string
  /** DIR/root-cert.pem (A). */
  root: string
  /** DIR/next/root-cert.pem (B), when a rotation is under way. */
  next?: string
  /** DIR/next/root-key.pem exists. */
  nextKey: boolean
  /** DIR/rotation.json says a rotation to DIR's current root finished. */
  finished?: {from: string; to: string; at: string}
}

export interface RotateOptions {
  dir: string
  contexts: string[]
  abort: boolean
  dryRun: boolean
  output: 'text' | 'yaml' | 'json'
  istioNamespace: string
  version: string
}

export interface Wait {
  context: string
  what: string
}

export interface RotatePlan {
  /** The phase this run performs (or waits for): 1..3, or 'abort' steps, 'done', 'finalize'. */
  step: 'start' | 'phase1' | 'phase2' | 'phase3' | 'finalize' | 'done' | 'abort-to-1' | 'abort-to-0' | 'nothing'
  /** One sentence for the user. */
  summary: string
  /** Non-empty: the gate does not hold; nothing is written. */
  waits: Wait[]
  /** The Secret to write per context (only clusters whose stage changes). */
  targets: Array<{context: string; folder: string; stage: Stage}>
  /** Make the new root in DIR/next. */
  newRoot: boolean
  /** Issue a new intermediate from B into DIR/next/<folder>. */
  issue: string[]
  /** Retire the old root and make DIR/next the DIR (phase 3 done everywhere). */
  finalize: boolean
  /** Drop DIR/next (abort finished everywhere). */
  discardNext: boolean
  notes: string[]
  stages: Record<string, Stage>
}

const short = (fp: string) => `${fp.replaceAll(':', '').slice(0, 16).toLowerCase()}…`

/** The stage of a cluster, or why it fits none. */
export function stageOf(c: ClusterRotateFacts, a: string, b: string | undefined): {stage?: Stage; why?: string} {
  const s = c.cacerts
  if (!s) return {why: `has no Secret ${c.istioNamespace}/${CACERTS_SECRET}`}
  if (s.problems.length > 0) return {why: `holds an invalid Secret ${c.istioNamespace}/${CACERTS_SECRET}: ${s.problems.join('; ')}`}
  const roots = new Set(s.roots)
  const hasA = roots.has(a)
  const hasB = b !== undefined && roots.has(b)
  const others = [...roots].filter((r) => r !== a && r !== b)
  if (others.length > 0) return {why: `trusts a root that is neither DIR's (${short(a)})${b ? ` nor DIR/next's (${short(b)})` : ''}: ${others.map(short).join(', ')}`}
  const fromA = s.issuedBy === a
  const fromB = b !== undefined && s.issuedBy === b
  if (!fromA && !fromB) return {why: `has an intermediate that was not issued by DIR's root${b ? ' or by DIR/next\'s' : ''}`}
  if (hasA && !hasB && fromA) return {stage: 0}
  if (hasA && hasB && fromA) return {stage: 1}
  if (hasA && hasB && fromB) return {stage: 2}
  if (!hasA && hasB && fromB) return {stage: 3}
  return {why: hasB && !hasA ? 'trusts only the new root but issues from the old one' : 'issues from the new root but does not trust it'}
}

const rollout = (c: ClusterRotateFacts) => `kubectl --context ${c.context} -n ${c.istioNamespace} rollout restart ${c.istiods.map((d) => `deployment/${d.name}`).join(' ') || 'deployment/istiod'}`

/** Istio releases from 1.18 reload plugged-in cacerts by themselves (the read model's reloadsCacerts). */
export function reloadsByItself(d: {env: Record<string, string>; version?: string}): boolean | undefined {
  return reloadsCacerts({env: d.env, version: parseIstioVersion(d.version)})
}

function restartHint(c: ClusterRotateFacts): string {
  const old = c.istiods.filter((d) => reloadsByItself(d) === false)
  if (old.length === 0) return `istiod reloads cacerts by itself (a file watcher on the mounted Secret, which the kubelet refreshes within about a minute); if it stays behind, restart it: \`${rollout(c)}\``
  return `istiod ${old.map((d) => `${d.name} (Istio ${d.version})`).join(', ')} loads cacerts only at startup: restart it: \`${rollout(c)}\``
}

/** Preconditions of phase 1, each with its fix (UsageError, exit 2). */
export function checkPreconditions(c: ClusterRotateFacts, dir: string): void {
  const ctx = c.context
  if (c.istiods.length === 0) {
    throw new UsageError(`context "${ctx}": no istiod Deployment (label app=istiod) in ${c.istioNamespace}`,
      `ca rotate changes the plugin CA of a cluster's own istiod; install Istio there first, or pass --istio-namespace`)
  }
  const noMulti = c.istiods.filter((d) => d.env.ISTIO_MULTIROOT_MESH !== 'true')
  if (noMulti.length > 0) {
    throw new UsageError(`context "${ctx}": istiod ${noMulti.map((d) => `deployment/${d.name}`).join(', ')} runs without ISTIO_MULTIROOT_MESH=true: it would ignore a second root in cacerts ("Multi root is disabled, updating new ROOT-CA not supported")`,
      `turn on multi-root trust: \`kubectl --context ${ctx} -n ${c.istioNamespace} set env ${noMulti.map((d) => `deployment/${d.name}`).join(' ')} ISTIO_MULTIROOT_MESH=true\` (IstioOperator/Helm: values.pilot.env.ISTIO_MULTIROOT_MESH=true), then run ca rotate again`)
  }
  if (c.proxyConfigXdsAgent !== 'true') {
    throw new UsageError(`context "${ctx}": proxies run without PROXY_CONFIG_XDS_AGENT=true (meshConfig.defaultConfig.proxyMetadata in ConfigMap ${c.istioNamespace}/${c.meshConfigMap}): they would not receive the second root`,
      `set meshConfig.defaultConfig.proxyMetadata.PROXY_CONFIG_XDS_AGENT: "true" (IstioOperator/Helm: meshConfig.defaultConfig.proxyMetadata.PROXY_CONFIG_XDS_AGENT="true", or edit key mesh of \`kubectl --context ${ctx} -n ${c.istioNamespace} edit configmap ${c.meshConfigMap}\`), restart the workloads (\`kubectl rollout restart deployment -n <namespace>\`), then run ca rotate again`)
  }
  if (!c.folder || c.folder.in !== 'dir') {
    throw new UsageError(`context "${ctx}": the intermediate in Secret ${c.istioNamespace}/${CACERTS_SECRET} is not one of the cluster folders of ${dir}`,
      `install the cluster's intermediate from ${dir} first: \`kubectl mesh ca gen --cluster <name> --context ${ctx} --dir ${dir}\`, then restart istiod`)
  }
}

export interface PlanInput {
  o: Pick<RotateOptions, 'dir' | 'abort'>
  dir: DirFacts
  clusters: ClusterRotateFacts[]
}

const empty = (stages: Record<string, Stage>): Omit<RotatePlan, 'step' | 'summary'> =>
  ({waits: [], targets: [], newRoot: false, issue: [], finalize: false, discardNext: false, notes: [], stages})

/** Gate of phase 2 (and of undoing it): every istiod publishes both roots in every namespace. */
export function publishesBoth(c: ClusterRotateFacts, a: string, b: string): Wait[] {
  if (c.published.length === 0) return [{context: c.context, what: `istiod to publish ConfigMap istio-ca-root-cert (none found: is istiod running?)`}]
  const behind = c.published.filter((p) => !p.roots.includes(a) || !p.roots.includes(b))
  if (behind.length === 0) return []
  const ex = behind[0]
  return [{context: c.context, what: `istiod to publish both roots: ConfigMap ${ex.namespace}/istio-ca-root-cert${behind.length > 1 ? ` (and ${behind.length - 1} more)` : ''} holds ${ex.roots.map(short).join(' + ') || 'no root'}; ${restartHint(c)}`}]
}

/** Gate of phase 3 (and of abort's last step): every running istiod signs with the intermediate its cacerts holds now. */
export function signsWithCurrent(c: ClusterRotateFacts, which: 'new' | 'old'): Wait[] {
  const want = c.cacerts?.signing
  if (c.signers.length === 0) return [{context: c.context, what: `a running istiod pod (label app=istiod) in ${c.istioNamespace}, to see which intermediate it signs with`}]
  const behind = c.signers.filter((s) => s.issuer !== want)
  if (behind.length === 0) return []
  const ex = behind[0]
  const detail = ex.error ? `its serving certificate on port 15012 could not be read: ${ex.error}` : `its serving certificate (port 15012) is still issued by intermediate ${short(ex.issuer ?? '?')}`
  return [{context: c.context, what: `istiod pod ${c.istioNamespace}/${ex.pod} to sign with the ${which} intermediate ${short(want ?? '?')}: ${detail}; ${restartHint(c)}`}]
}

/** The mesh's step: from the stages of every cluster, advance (or abort) by at most one phase. */
export function planRotation(input: PlanInput): RotatePlan {
  const {dir, clusters} = input
  const a = dir.root
  const b = dir.next
  const stages: Record<string, Stage> = {}
  for (const c of clusters) {
    const {stage, why} = stageOf(c, a, b)
    if (stage === undefined) {
      const phaseHint = b
        ? `ca rotate only moves clusters it finds in one of its stages; inspect with \`kubectl mesh verify --context ${c.context}\` (trust.rotation), or put the Secret back as the last run wrote it`
        : `install the cluster's intermediate from ${dir.dir} first: \`kubectl mesh ca gen --cluster <name> --context ${c.context} --dir ${dir.dir}\``
      throw new UsageError(`context "${c.context}": ${why} (${b ? `rotation from ${short(a)} to ${short(b)}` : `root of ${dir.dir} is ${short(a)}`})`, phaseHint)
    }
    stages[c.context] = stage
  }
  const list = clusters.map((c) => stages[c.context])
  const min = Math.min(...list) as Stage
  const max = Math.max(...list) as Stage
  const folderOf = (c: ClusterRotateFacts) => c.folder!.name
  const behindAt = (s: Stage) => clusters.filter((c) => stages[c.context] === s)

  if (max - min > 1) {
    const ahead = clusters.find((c) => stages[c.context] === max)!
    const back = clusters.find((c) => stages[c.context] === min)!
    throw new UsageError(`context "${ahead.context}" is ${max - min} steps ahead of "${back.context}" (${STAGE_NAMES[max]} vs ${STAGE_NAMES[min]}): the mesh's trust is split`,
      `put ${ahead.context} back one step at a time: restore its Secret ${ahead.istioNamespace}/${CACERTS_SECRET} to ${STAGE_NAMES[(min + 1) as Stage]}; \`kubectl mesh verify\` (trust.rotation) shows which pairs fail`)
  }

  for (const c of clusters) {
    if (stages[c.context] > 0 && !c.folder) {
      throw new UsageError(`context "${c.context}": the intermediate in Secret ${c.istioNamespace}/${CACERTS_SECRET} is in neither ${dir.dir} nor ${dir.dir}/next`,
        `restore the cluster folders of ${dir.dir} (ca rotate needs both intermediates, to go on or to abort)`)
    }
  }

  if (input.o.abort) {
    if (!b) return {step: 'nothing', summary: `no rotation under way in ${dir.dir} (no ${dir.dir}/next): nothing to abort`, ...empty(stages)}
    if (max === 3) {
      const c = clusters.find((x) => stages[x.context] === 3)!
      throw new UsageError(`phase 3 (${PHASES[3]}) has begun: context "${c.context}" trusts only the new root, so the old one cannot come back without an outage`,
        `finish the rotation instead: \`kubectl mesh ca rotate --dir ${dir.dir} ${clusters.map((x) => `--context ${x.context}`).join(' ')}\``)
    }
    if (max === 2) {
      // Back to issuing from A: safe while every cluster trusts both roots (the gate of phase 2).
      const waits = clusters.flatMap((c) => publishesBoth(c, a, b))
      const targets = behindAt(2).map((c) => ({context: c.context, folder: folderOf(c), stage: 1 as Stage}))
      return {step: 'abort-to-1', summary: waits.length > 0 ? 'abort: waiting before the intermediates go back to the old root' : 'abort: every intermediate goes back to the old root; both roots stay trusted until every istiod signs with it (run again)',
        ...empty(stages), waits, targets: waits.length > 0 ? [] : targets}
    }
    // max <= 1: drop B once every istiod signs from A again.
    const waits = clusters.filter((c) => stages[c.context] === 1).flatMap((c) => signsWithCurrent(c, 'old'))
    const targets = behindAt(1).map((c) => ({context: c.context, folder: folderOf(c), stage: 0 as Stage}))
    if (waits.length > 0) return {step: 'abort-to-0', summary: 'abort: waiting before the new root is dropped', ...empty(stages), waits}
    return {step: 'abort-to-0', summary: `abort: every cluster trusts the old root ${short(a)} alone again; ${dir.dir}/next is set aside`, ...empty(stages), targets, discardNext: true}
  }

  if (!b) {
    if (max !== 0) throw new Error('unreachable: stage > 0 without a new root')
    if (dir.finished && dir.finished.to === a) {
      return {step: 'done', summary: `the rotation to root ${short(a)} finished on ${dir.finished.at}; every cluster trusts it alone: nothing to do`, ...empty(stages),
        notes: [`to rotate again, move ${dir.dir}/rotation.json away and run ca rotate again`]}
    }
    for (const c of clusters) checkPreconditions(c, dir.dir)
    return {step: 'start', summary: `phase 1 (${PHASES[1]}): a new root in ${dir.dir}/next; every cluster trusts the old and the new root, intermediates unchanged`, ...empty(stages),
      newRoot: true, targets: clusters.map((c) => ({context: c.context, folder: folderOf(c), stage: 1 as Stage}))}
  }

  if (min === 0) {
    // Phase 1 did not reach every cluster (an interrupted run): finish it. No gate: adding a root breaks nothing.
    for (const c of behindAt(0)) checkPreconditions(c, dir.dir)
    return {step: 'phase1', summary: `phase 1 (${PHASES[1]}) resumed: ${behindAt(0).map((c) => c.context).join(', ')} still trust${behindAt(0).length === 1 ? 's' : ''} only the old root`, ...empty(stages),
      targets: behindAt(0).map((c) => ({context: c.context, folder: folderOf(c), stage: 1 as Stage}))}
  }
  if (min === 1) {
    const waits = clusters.flatMap((c) => publishesBoth(c, a, b))
    if (waits.length > 0) return {step: 'phase2', summary: `phase 2 (${PHASES[2]}) waits: every istiod must publish both roots first`, ...empty(stages), waits}
    const todo = behindAt(1)
    return {step: 'phase2', summary: `phase 2 (${PHASES[2]}): every cluster's intermediate is re-issued from the new root ${short(b)}; both roots stay trusted`, ...empty(stages),
      issue: todo.filter((c) => c.folder?.in !== 'next').map(folderOf), targets: todo.map((c) => ({context: c.context, folder: folderOf(c), stage: 2 as Stage})),
      notes: ['proxies keep certificates from the old intermediate until they renew them (Istio\'s default workload certificate lives 24 h and is renewed at half its life); before the next run, wait that long or restart the workloads (`kubectl rollout restart deployment -n <namespace>`)']}
  }
  if (min === 2) {
    // A cluster already at stage 3 (an interrupted phase 3) publishes the new root alone, as it should.
    const waits = clusters.flatMap((c) => [...(stages[c.context] === 2 ? publishesBoth(c, a, b) : []), ...signsWithCurrent(c, 'new')])
    if (waits.length > 0) return {step: 'phase3', summary: `phase 3 (${PHASES[3]}) waits: every istiod must sign with its new intermediate first`, ...empty(stages), waits}
    return {step: 'phase3', summary: `phase 3 (${PHASES[3]}): every cluster trusts the new root ${short(b)} alone; the old root ${short(a)} is retired`, ...empty(stages),
      targets: behindAt(2).map((c) => ({context: c.context, folder: folderOf(c), stage: 3 as Stage})), finalize: true}
  }
  // Every cluster at stage 3 but DIR/next still there: the files of phase 3 were not moved yet.
  return {step: 'finalize', summary: `phase 3 (${PHASES[3]}) resumed: every cluster trusts the new root ${short(b)} alone; the old root ${short(a)} is retired now`, ...empty(stages), finalize: true}
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

export interface StageMaterial {
  /** The intermediate of this stage (DIR/<folder> for 0–1, DIR/next/<folder> for 2–3). */
  caCertPem: string
  caKeyPem: string
  oldRootPem: string
  newRootPem?: string
}

/** The four files of cacerts at a stage: cert-chain.pem = intermediate + the root that issued it; root-cert.pem = the stage's trust. */
export function stageFiles(stage: Stage, m: StageMaterial): Record<'ca-cert.pem' | 'ca-key.pem' | 'cert-chain.pem' | 'root-cert.pem', string> {
  const oldRoot = ensureNl(m.oldRootPem)
  const newRoot = m.newRootPem === undefined ? undefined : ensureNl(m.newRootPem)
  if (stage > 0 && newRoot === undefined) throw new Error(`stage ${stage} needs the new root`)
  const issuer = stage >= 2 ? newRoot! : oldRoot
  const trust = stage === 0 ? oldRoot : stage === 3 ? newRoot! : `${oldRoot}${newRoot!}`
  return {
    'ca-cert.pem': ensureNl(m.caCertPem),
    'ca-key.pem': ensureNl(m.caKeyPem),
    'cert-chain.pem': `${ensureNl(m.caCertPem)}${issuer}`,
    'root-cert.pem': trust,
  }
}

/** Secret cacerts (Opaque) at a stage, stamped like every object kubectl-mesh writes. */
export function stageSecret(stage: Stage, m: StageMaterial, namespace: string, version: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: CACERTS_SECRET, namespace, ...stamp(version)},
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(stageFiles(stage, m)).map(([k, v]) => [k, b64(v)])),
  }
}

/** --context given at least once, each once. */
export function validateRotateOptions(o: RotateOptions): void {
  if (o.contexts.length === 0) {
    throw new UsageError('no --context given', 'name every cluster of the mesh: kubectl mesh ca rotate --dir ./mesh-ca --context east --context west')
  }
  const dup = o.contexts.find((c, i) => o.contexts.indexOf(c) !== i)
  if (dup) throw new UsageError(`context "${dup}" is named twice`, 'give each --context once')
}
