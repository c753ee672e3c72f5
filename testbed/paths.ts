// Where the test bed keeps its binaries (cache) and its state (<repo>/.testbed).
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const K8S_VERSION = 'v1.36.3';
export const ISTIO_API_VERSION = 'v1.31.1';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

/** <repo>/.testbed (override: KUBECTL_MESH_TESTBED_DIR). */
export function stateDir(): string {
  const o = process.env.KUBECTL_MESH_TESTBED_DIR;
  return o ? resolve(o) : join(REPO_ROOT, '.testbed');
}

/** ${KUBECTL_MESH_CACHE:-~/.cache/kubectl-mesh}/testbed */
export function cacheDir(): string {
  return join(process.env.KUBECTL_MESH_CACHE || join(homedir(), '.cache', 'kubectl-mesh'), 'testbed');
}

/** Where build.sh puts etcd, kube-apiserver, kube-controller-manager and kubectl. */
export function binDir(): string {
  return join(cacheDir(), `k8s-${K8S_VERSION}`, 'bin');
}

export function kubectlBin(): string {
  return join(binDir(), 'kubectl');
}

/** Istio's CRDs (istio.io/api), copied next to the binaries by build.sh. */
export function istioCrdsFile(): string {
  return join(cacheDir(), `istio-api-${ISTIO_API_VERSION}`, 'customresourcedefinitions.gen.yaml');
}

/** The test bed kubeconfig (exists while the test bed is up). */
export function kubeconfigPath(): string {
  return join(stateDir(), 'kubeconfig');
}

export function statePath(): string {
  return join(stateDir(), 'state.json');
}
