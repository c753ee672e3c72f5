// The e2e files that need the --istio install on cluster1 and cluster2 (datapath, explain): one
// root as cacerts before istiod starts (as on a real cluster), then Istio as istioctl renders it
// with a real istiod per cluster; and the undo of exactly what was added here.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {kget, kubectl, mesh} from './harness.ts'
import {type IstioInstall, installIstio, istioInstalled, uninstallIstio} from '../../testbed/istio-install.ts'
import {ensureIstioBuilt, runningIstiod} from '../../testbed/istiod.ts'

const NS = 'istio-system'

/** What this run added, for downIstio. */
export interface IstioBed {
  cacerts: string[]
  installed: string[]
}

export function ok(r: {code: number; stdout: string; stderr: string}, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
}

/** cacerts from one root (ca gen in dir/mesh-ca) where missing, then the --istio install where no istiod runs. */
export async function upIstio(contexts: string[], dir: string, onInstalled?: (ctx: string, inst: IstioInstall, ms: number) => void): Promise<IstioBed> {
  const log = (m: string) => process.stderr.write(`# ${m}\n`)
  ensureIstioBuilt(log)
  const bed: IstioBed = {cacerts: [], installed: []}
  const caDir = join(dir, 'mesh-ca')
  ok(await mesh(['ca', 'gen', ...contexts.flatMap((c) => ['--cluster', c]), '--dir', caDir, '--key-size', '2048']), 'ca gen')
  for (const ctx of contexts) {
    if (await kget(ctx, ['-n', NS, 'secret', 'cacerts'])) continue
    ok(await mesh(['ca', 'gen', '--cluster', ctx, '--context', ctx, '--dir', caDir]), `ca gen --context ${ctx}`)
    bed.cacerts.push(ctx)
  }
  for (const ctx of contexts) {
    if (istioInstalled(ctx) && runningIstiod(ctx)) continue
    const t0 = Date.now()
    const inst = await installIstio(ctx, {log})
    bed.installed.push(ctx)
    onInstalled?.(ctx, inst, Date.now() - t0)
  }
  return bed
}

/** Put back the simulated install and remove the cacerts where upIstio added them. */
export async function downIstio(bed: IstioBed): Promise<void> {
  for (const ctx of bed.installed) await uninstallIstio(ctx)
  for (const ctx of bed.cacerts) await kubectl(['-n', NS, 'delete', 'secret', 'cacerts', '--ignore-not-found'], {context: ctx})
}
