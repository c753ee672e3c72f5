// Fixture templates for the test bed: a simulated Istio install, sample workloads and a viewer
// user per cluster. Templates live in testbed/fixtures/*.yaml with ${VAR} placeholders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { kubectl } from './kubectl.ts';
import { istioCrdsFile } from './paths.ts';

export const MESH_ID = 'mesh1';
export const FIELD_MANAGER = 'testbed';
const FIXTURES_DIR = join(import.meta.dirname, 'fixtures');

export interface ClusterParams {
  /** cluster1, cluster2, ... (also the kubeconfig context and Istio cluster ID) */
  name: string;
  /** 1-based index */
  index: number;
  /** network1, network2, ... */
  network: string;
  meshID: string;
  /** the east-west gateway's load-balancer address: 127.0.0.1N */
  eastWestIP: string;
  /** --service-cluster-ip-range: 10.96.N.0/24 */
  serviceCIDR: string;
  /** pod IPs used in sample EndpointSlices: 10.244.N.0/24 */
  podCIDR: string;
}

export function clusterParams(index: number): ClusterParams {
  if (!Number.isInteger(index) || index < 1 || index > 9) throw new Error(`bad cluster index ${index}`);
  return {
    name: `cluster${index}`,
    index,
    network: `network${index}`,
    meshID: MESH_ID,
    eastWestIP: `127.0.0.1${index}`,
    serviceCIDR: `10.96.${index}.0/24`,
    podCIDR: `10.244.${index}.0/24`,
  };
}

/** Index from a cluster name (`cluster2` -> 2). */
export function clusterIndex(name: string): number {
  const m = /^cluster([1-9])$/.exec(name);
  if (!m) throw new Error(`unknown test bed cluster ${JSON.stringify(name)} (expected cluster1..cluster4)`);
  return Number(m[1]);
}

function render(file: string, p: ClusterParams): string {
  const vars: Record<string, string> = {
    CLUSTER: p.name,
    NETWORK: p.network,
    MESH_ID: p.meshID,
    N: String(p.index),
  };
  const text = readFileSync(join(FIXTURES_DIR, file), 'utf8');
  return text.replace(/\$\{([A-Z_]+)\}/g, (_m, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`${file}: unknown placeholder \${${k}}`);
    return v;
  });
}

/** istio-system namespace, istio + istio-sidecar-injector ConfigMaps, istiod, reader RBAC, east-west gateway Service. */
export function renderIstioFixtures(p: ClusterParams): string {
  return render('istio.yaml', p);
}

/** Namespaces foo/bar, Services sleep/httpbin and their EndpointSlices. */
export function renderSampleFixtures(p: ClusterParams): string {
  return render('samples.yaml', p);
}

/** ClusterRoleBinding of user `viewer` to the built-in `view` ClusterRole. */
export function renderViewerFixtures(p: ClusterParams): string {
  return render('viewer.yaml', p);
}

/** Everything a fresh cluster gets, except CRDs, as one multi-document YAML stream. */
export function renderAllFixtures(p: ClusterParams): string {
  return [renderIstioFixtures(p), renderSampleFixtures(p), renderViewerFixtures(p)].join('\n---\n');
}

/** Status patch that gives the east-west gateway its load-balancer address. */
export function eastWestStatusPatch(p: ClusterParams): string {
  return JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: p.eastWestIP }] } } });
}

async function patchEastWestStatus(p: ClusterParams): Promise<void> {
  await kubectl(
    ['-n', 'istio-system', 'patch', 'service', 'istio-eastwestgateway', '--subresource=status', '--type=merge',
      '-p', eastWestStatusPatch(p)],
    { context: p.name },
  );
}

const APPLY = ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`];

/**
 * Install a fresh cluster's objects: Istio CRDs plus all fixtures, in one kubectl call, then the
 * east-west gateway status. Used by ensureUp().
 */
export async function installClusterObjects(name: string): Promise<void> {
  const p = clusterParams(clusterIndex(name));
  await kubectl([...APPLY, '-o', 'name', '-f', istioCrdsFile(), '-f', '-'], {
    context: name,
    input: renderAllFixtures(p),
  });
  await patchEastWestStatus(p);
}

export interface ApplyIstioFixturesOptions {
  /** Delete the Istio fixture objects first (not the namespace, not the CRDs), then create them again. */
  recreate?: boolean;
  /** Also re-apply the sample workloads (foo/sleep, bar/httpbin). Default false. */
  samples?: boolean;
  /** Also re-apply the Istio CRDs. Default false. */
  crds?: boolean;
}

/**
 * Put a cluster's simulated Istio install back to its initial state (server-side apply with the
 * `testbed` field manager, forcing conflicts), e.g. after a test broke it. Fields that other
 * managers added stay unless `recreate` is set. Objects the plugin created (Secrets, ...) are not
 * touched.
 */
export async function applyIstioFixtures(name: string, opts: ApplyIstioFixturesOptions = {}): Promise<void> {
  const p = clusterParams(clusterIndex(name));
  const istio = renderIstioFixtures(p);
  if (opts.recreate) {
    const refs: string[] = [];
    const namespaced: string[] = [];
    for (const doc of loadAll(istio) as Array<{ kind: string; metadata: { name: string; namespace?: string } } | null>) {
      if (!doc || doc.kind === 'Namespace') continue;
      const ref = `${doc.kind.toLowerCase()}/${doc.metadata.name}`;
      (doc.metadata.namespace ? namespaced : refs).push(ref);
    }
    await kubectl(['-n', 'istio-system', 'delete', '--ignore-not-found', ...namespaced], { context: name });
    await kubectl(['delete', '--ignore-not-found', ...refs], { context: name });
  }
  const parts = [istio];
  if (opts.samples) parts.push(renderSampleFixtures(p));
  const args = [...APPLY, '-o', 'name'];
  if (opts.crds) args.push('-f', istioCrdsFile());
  args.push('-f', '-');
  await kubectl(args, { context: name, input: parts.join('\n---\n') });
  await patchEastWestStatus(p);
}
