// The test bed's kubectl (built from Go modules) with the test bed kubeconfig.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { join } from 'node:path';
import { kubeconfigPath, kubectlBin, stateDir } from './paths.ts';
import { run } from './util.ts';

export interface KubectlOptions {
  /** kubeconfig context, e.g. cluster2 or cluster1-viewer (default: current-context cluster1) */
  context?: string;
  /** stdin */
  input?: string;
  /** return a non-zero exit code instead of throwing */
  allowFail?: boolean;
  /** kill kubectl after this long (default 120 s) */
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class KubectlError extends Error {
  result: KubectlResult;
  args: string[];
  constructor(args: string[], result: KubectlResult) {
    super(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'KubectlError';
    this.result = result;
    this.args = args;
  }
}


/**
 * Run the test bed's kubectl with the test bed kubeconfig. Throws KubectlError on a non-zero
 * exit unless allowFail is set.
 */
export async function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const full = ['--kubeconfig', kubeconfigPath(), '--cache-dir', join(stateDir(), 'kubectl-cache')];
  if (opts.context) full.push('--context', opts.context);
  full.push(...args);
  const env = { ...process.env, KUBECONFIG: kubeconfigPath() };
  const r = await run(kubectlBin(), full, { input: opts.input, env, timeoutMs: opts.timeoutMs ?? 120_000 });
  if (r.code !== 0 && !opts.allowFail) throw new KubectlError(args, r);
  return r;
}
