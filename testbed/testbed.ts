// Local multi-cluster Kubernetes test bed: per cluster one etcd, one kube-apiserver and one
// kube-controller-manager on 127.0.0.1, built from Go modules by testbed/build.sh. All state
// (certificates, etcd data, logs, pids, kubeconfig) lives in <repo>/.testbed/.
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins and js-yaml.
// Split along its sections: paths.ts (cache and state locations), util.ts, procs.ts (daemons),
// lock.ts, pki.ts (certificates, kubeconfigs), http.ts (probes), kubectl.ts; this file keeps the
// state, the cluster lifecycle and the public API, and re-exports what other files import from it.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { clusterParams, clusterIndex, installClusterObjects } from './fixtures.ts';
import { apiGet, httpGet, waitFor } from './http.ts';
import { withLock } from './lock.ts';
import { binDir, istioCrdsFile, kubeconfigPath, stateDir, statePath } from './paths.ts';
import { kubeconfigYaml, makePki, readCreds } from './pki.ts';
import type { Creds } from './pki.ts';
import { isAlive, killGroup, startDaemon, strayDaemons } from './procs.ts';
import { defaultLog, freePorts, run, sleep } from './util.ts';

export { K8S_VERSION, ISTIO_API_VERSION, REPO_ROOT, binDir, cacheDir, istioCrdsFile, kubeconfigPath, kubectlBin, stateDir } from './paths.ts';
export { kubectl, KubectlError } from './kubectl.ts';
export type { KubectlOptions, KubectlResult } from './kubectl.ts';

export const DEFAULT_CLUSTERS = 2;
export const MAX_CLUSTERS = 4;
const KCM_CONTROLLERS = [
  'serviceaccount-token-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'namespace-controller',
  'garbage-collector-controller',
  // the built-in view/edit/admin ClusterRoles are aggregated by this controller; without it
  // `view` is empty and the cluster1-viewer context could read nothing
  'clusterrole-aggregation-controller',
  // Services with a selector get their EndpointSlices (and Endpoints) from the Pods behind them,
  // as in a real cluster (testbed/workloads.ts makes such Pods)
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
];

// ---------------------------------------------------------------------------------------------
// Types

export interface ClusterPids {
  etcd: number;
  apiserver: number;
  kcm: number;
}

export interface ClusterInfo {
  /** cluster1..clusterN: cluster, context and Istio cluster ID */
  name: string;
  index: number;
  /** kubeconfig context with admin (system:masters) credentials; equals name */
  context: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** kube-apiserver port */
  port: number;
  etcdPort: number;
  etcdPeerPort: number;
  network: string;
  /** east-west gateway load-balancer address (127.0.0.1N) */
  eastWestIP: string;
  serviceCIDR: string;
  /** the cluster's directory: pki/, etcd/, *.log */
  dir: string;
  /** PEM of the cluster CA (signs the serving cert and client certs) */
  caFile: string;
  pids: ClusterPids;
}

export interface Testbed {
  kubeconfig: string;
  clusters: ClusterInfo[];
}

export interface ClusterStatus extends ClusterInfo {
  alive: { etcd: boolean; apiserver: boolean; kcm: boolean };
  /** all processes alive and /readyz answers 200 */
  healthy: boolean;
}

export interface TestbedStatus {
  up: boolean;
  kubeconfig: string | null;
  clusters: ClusterStatus[];
}

export interface EnsureUpOptions {
  /** number of clusters, 1..4 (default 2) */
  clusters?: number;
  /** progress messages (default: silent unless KUBECTL_MESH_TESTBED_VERBOSE=1) */
  log?: (msg: string) => void;
}

interface ClusterRecord extends ClusterInfo {
  args: { etcd: string[]; apiserver: string[]; kcm: string[] };
}

interface State {
  version: 1;
  startedAt: string;
  kubeconfig: string;
  clusters: ClusterRecord[];
}

// ---------------------------------------------------------------------------------------------
// State

function readState(): State | null {
  try {
    const s = JSON.parse(readFileSync(statePath(), 'utf8')) as State;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

function writeState(s: State): void {
  const p = statePath();
  writeFileSync(`${p}.tmp`, JSON.stringify(s, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
}

function publicInfo(c: ClusterRecord): ClusterInfo {
  const { args: _args, ...info } = c;
  return { ...info, pids: { ...c.pids } };
}

/** What the state file says, without health checks (null when the test bed is down). */
export function current(): Testbed | null {
  const s = readState();
  return s ? { kubeconfig: s.kubeconfig, clusters: s.clusters.map(publicInfo) } : null;
}

// ---------------------------------------------------------------------------------------------
// Readiness

async function waitApiServerReady(c: ClusterRecord, creds: Creds): Promise<void> {
  const opts = { pid: c.pids.apiserver, exe: 'kube-apiserver', log: join(c.dir, 'kube-apiserver.log') };
  await waitFor(`${c.name} kube-apiserver /readyz`, async () => (await apiGet(c.port, creds, '/readyz')).status === 200, opts);
  for (const ns of ['default', 'kube-system']) {
    await waitFor(`${c.name} namespace ${ns}`, async () => (await apiGet(c.port, creds, `/api/v1/namespaces/${ns}`)).status === 200, opts);
  }
}

let crdNamesCache: string[] | null = null;

function istioCrdNames(): string[] {
  if (!crdNamesCache) {
    crdNamesCache = [];
    for (const d of loadAll(readFileSync(istioCrdsFile(), 'utf8')) as Array<{ kind?: string; metadata?: { name?: string } } | null>) {
      if (d?.kind === 'CustomResourceDefinition' && d.metadata?.name) crdNamesCache.push(d.metadata.name);
    }
  }
  return crdNamesCache;
}

async function waitCrdsEstablished(c: ClusterRecord, creds: Creds): Promise<void> {
  const want = istioCrdNames();
  await waitFor(`${c.name} Istio CRDs Established`, async () => {
    const r = await apiGet(c.port, creds, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', 15_000);
    if (r.status !== 200) return false;
    const list = JSON.parse(r.body) as { items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> };
    const established = new Set(list.items
      .filter((i) => i.status?.conditions?.some((cond) => cond.type === 'Established' && cond.status === 'True'))
      .map((i) => i.metadata.name));
    return want.every((n) => established.has(n));
  }, { intervalMs: 250, pid: c.pids.apiserver, exe: 'kube-apiserver' });
}

async function waitKcmReady(c: ClusterRecord, creds: Creds): Promise<void> {
  // serviceaccount-controller created the default SA => KCM is up and its informers synced (the
  // token controller is started before it).
  await waitFor(`${c.name} kube-controller-manager (default ServiceAccount)`,
    async () => (await apiGet(c.port, creds, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    { pid: c.pids.kcm, exe: 'kube-controller-manager', log: join(c.dir, 'kube-controller-manager.log') });
}

// ---------------------------------------------------------------------------------------------
// Build

function binariesPresent(): boolean {
  return ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'testbed-kubelet'].every((b) => existsSync(join(binDir(), b))) &&
    existsSync(istioCrdsFile());
}

/** Run testbed/build.sh unless every binary and the CRD file are already in the cache. */
export async function ensureBuilt(log: (m: string) => void = defaultLog()): Promise<void> {
  if (binariesPresent()) return;
  log(`building binaries into ${binDir()} (testbed/build.sh)`);
  const r = await run('bash', [join(import.meta.dirname, 'build.sh')], { stdio: 'stderr' });
  if (r.code !== 0 || !binariesPresent()) throw new Error(`testbed/build.sh failed (exit ${r.code})`);
}

// ---------------------------------------------------------------------------------------------
// Cluster lifecycle

function clusterArgs(c: ClusterRecord): ClusterRecord['args'] {
  const pki = join(c.dir, 'pki');
  const etcd = [
    `--name=${c.name}`,
    `--data-dir=${join(c.dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${c.etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${c.etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${c.etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${c.etcdPeerPort}`,
    `--initial-cluster=${c.name}=http://127.0.0.1:${c.etcdPeerPort}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
  const apiserver = [
    `--etcd-servers=http://127.0.0.1:${c.etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${c.port}`,
    '--advertise-address=127.0.0.1',
    '--endpoint-reconciler-type=none',
    `--cert-dir=${pki}`,
    `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    '--authorization-mode=Node,RBAC',
    `--service-account-issuer=https://${c.name}.testbed.local`,
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    `--service-cluster-ip-range=${c.serviceCIDR}`,
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--profiling=false',
  ];
  const kcm = [
    `--kubeconfig=${join(c.dir, 'kcm.kubeconfig')}`,
    `--controllers=${KCM_CONTROLLERS.join(',')}`,
    `--service-account-private-key-file=${join(pki, 'sa.key')}`,
    `--root-ca-file=${join(pki, 'ca.crt')}`,
    `--cluster-name=${c.name}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--use-service-account-credentials=false',
    '--profiling=false',
  ];
  return { etcd, apiserver, kcm };
}

async function startEtcd(c: ClusterRecord): Promise<void> {
  const logFile = join(c.dir, 'etcd.log');
  c.pids.etcd = startDaemon(join(binDir(), 'etcd'), c.args.etcd, logFile, c.dir);
  await waitFor(`${c.name} etcd /health`, async () => {
    const r = await httpGet(`http://127.0.0.1:${c.etcdPort}/health`);
    return r.status === 200 && r.body.includes('"health":"true"');
  }, { intervalMs: 100, pid: c.pids.etcd, exe: 'etcd', log: logFile });
}

function spawnApiServer(c: ClusterRecord): void {
  c.pids.apiserver = startDaemon(join(binDir(), 'kube-apiserver'), c.args.apiserver, join(c.dir, 'kube-apiserver.log'), c.dir);
}

function spawnKcm(c: ClusterRecord): void {
  c.pids.kcm = startDaemon(join(binDir(), 'kube-controller-manager'), c.args.kcm, join(c.dir, 'kube-controller-manager.log'), c.dir);
}

async function clusterHealthy(c: ClusterRecord): Promise<ClusterStatus> {
  const alive = {
    etcd: isAlive(c.pids.etcd, 'etcd'),
    apiserver: isAlive(c.pids.apiserver, 'kube-apiserver'),
    kcm: isAlive(c.pids.kcm, 'kube-controller-manager'),
  };
  let ready = false;
  if (alive.etcd && alive.apiserver && alive.kcm) {
    try {
      ready = (await apiGet(c.port, readCreds(c.dir), '/readyz', 3000)).status === 200;
    } catch { /* not ready */ }
  }
  return { ...publicInfo(c), alive, healthy: ready };
}

async function downLocked(opts: { keepFiles?: boolean } = {}): Promise<void> {
  const s = readState();
  const groups: number[][] = [];
  if (s) {
    // controller managers and API servers first, etcd last
    groups.push(s.clusters.flatMap((c) => [c.pids.kcm, c.pids.apiserver]));
    groups.push(s.clusters.map((c) => c.pids.etcd));
  }
  for (const g of groups) await Promise.all(g.filter((p) => p > 0).map((p) => killGroup(p)));
  for (const p of strayDaemons()) {
    if (p.pgrp === p.pid) {
      await killGroup(p.pid);
    } else {
      // not a group leader (not started by us): signal only that process
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  if (strayDaemons().length) await sleep(500);
  const left = strayDaemons();
  if (left.length) throw new Error(`test bed processes still running: ${left.map((p) => p.pid).join(' ')}`);
  const dir = stateDir();
  rmSync(statePath(), { force: true });
  if (!opts.keepFiles && existsSync(dir)) {
    for (const e of readdirSync(dir)) {
      if (e === 'lock') continue;
      rmSync(join(dir, e), { recursive: true, force: true });
    }
  }
}

async function upLocked(n: number, log: (m: string) => void): Promise<Testbed> {
  const t0 = Date.now();
  const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  await ensureBuilt(log);
  await downLocked(); // orphans from a crashed run, old files
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });

  const ports = await freePorts(3 * n);
  const clusters: ClusterRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const p = clusterParams(i);
    const cdir = join(dir, p.name);
    mkdirSync(cdir, { recursive: true });
    const port = ports[3 * (i - 1)];
    const c: ClusterRecord = {
      name: p.name, index: i, context: p.name, server: `https://127.0.0.1:${port}`, port,
      etcdPort: ports[3 * (i - 1) + 1], etcdPeerPort: ports[3 * (i - 1) + 2],
      network: p.network, eastWestIP: p.eastWestIP, serviceCIDR: p.serviceCIDR, dir: cdir,
      caFile: join(cdir, 'pki', 'ca.crt'),
      pids: { etcd: 0, apiserver: 0, kcm: 0 },
      args: { etcd: [], apiserver: [], kcm: [] },
    };
    c.args = clusterArgs(c);
    clusters.push(c);
  }
  const state: State = { version: 1, startedAt: new Date().toISOString(), kubeconfig: kubeconfigPath(), clusters };
  const save = (): void => writeState(state);

  await Promise.all(clusters.map((c) => makePki(join(c.dir, 'pki'), clusterParams(c.index))));
  for (const c of clusters) {
    writeFileSync(join(c.dir, 'kcm.kubeconfig'), kubeconfigYaml([c], false), { mode: 0o600 });
  }
  writeFileSync(kubeconfigPath(), kubeconfigYaml(clusters, true), { mode: 0o600 });
  log(`certificates ready (${since()})`);

  try {
    await Promise.all(clusters.map(async (c) => {
      const creds = readCreds(c.dir);
      await startEtcd(c);
      save();
      spawnApiServer(c);
      save();
      await waitApiServerReady(c, creds);
      log(`${c.name}: kube-apiserver ready on ${c.server} (${since()})`);
      spawnKcm(c);
      save();
      await Promise.all([
        (async () => {
          await installClusterObjects(c.name);
          log(`${c.name}: Istio CRDs and fixtures applied (${since()})`);
          await waitCrdsEstablished(c, creds);
          log(`${c.name}: Istio CRDs established (${since()})`);
        })(),
        (async () => {
          await waitKcmReady(c, creds);
          log(`${c.name}: kube-controller-manager ready (${since()})`);
        })(),
      ]);
      log(`${c.name}: ready (${since()})`);
    }));
  } catch (e) {
    save();
    await downLocked({ keepFiles: true }).catch(() => {});
    throw new Error(`test bed failed to start (logs kept in ${dir}): ${(e as Error).message}`);
  }
  save();
  log(`${n} cluster(s) up in ${since()}`);
  return { kubeconfig: state.kubeconfig, clusters: clusters.map(publicInfo) };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Bring the test bed up with `clusters` clusters (default 2, max 4), or return it as is when it
 * is already up and healthy with that many clusters. Otherwise it is torn down and started fresh.
 * Safe to call from parallel test processes (file lock).
 */
export async function ensureUp(opts: EnsureUpOptions = {}): Promise<Testbed> {
  const n = opts.clusters ?? DEFAULT_CLUSTERS;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CLUSTERS) throw new Error(`clusters must be 1..${MAX_CLUSTERS}, got ${n}`);
  const log = opts.log ?? defaultLog();
  return withLock(async () => {
    const s = readState();
    if (s && s.clusters.length === n && existsSync(s.kubeconfig)) {
      const st = await Promise.all(s.clusters.map(clusterHealthy));
      if (st.every((c) => c.healthy)) {
        log(`already up (${n} clusters)`);
        return { kubeconfig: s.kubeconfig, clusters: s.clusters.map(publicInfo) };
      }
      log('test bed unhealthy: restarting it');
    } else if (s) {
      log(`test bed has ${s.clusters.length} cluster(s), want ${n}: restarting it`);
    }
    return upLocked(n, log);
  });
}

/** Stop every test bed process (process groups) and delete .testbed/ contents (keepFiles: keep logs and data). */
export async function down(opts: { keepFiles?: boolean } = {}): Promise<void> {
  await withLock(() => downLocked(opts));
}

/** Clusters, ports, pids and health. */
export async function status(): Promise<TestbedStatus> {
  const s = readState();
  if (!s) return { up: false, kubeconfig: null, clusters: [] };
  const clusters = await Promise.all(s.clusters.map(clusterHealthy));
  return { up: clusters.length > 0 && clusters.every((c) => c.healthy), kubeconfig: s.kubeconfig, clusters };
}

function findCluster(s: State | null, name: string): ClusterRecord {
  clusterIndex(name); // validates the name
  const c = s?.clusters.find((x) => x.name === name);
  if (!s || !c) throw new Error(`test bed cluster ${name} is not up`);
  return c;
}

type Daemon = 'apiserver' | 'kcm'
const PROCESS_NAME: Record<Daemon, string> = {apiserver: 'kube-apiserver', kcm: 'kube-controller-manager'};

async function stopClusterDaemon(name: string, which: Daemon, graceMs: number): Promise<void> {
  await withLock(async () => {
    const s = readState();
    const c = findCluster(s, name);
    await killGroup(c.pids[which], graceMs);
    c.pids[which] = 0;
    writeState(s as State);
  });
}

async function restartClusterDaemon(name: string, which: Daemon): Promise<void> {
  await withLock(async () => {
    const s = readState();
    const c = findCluster(s, name);
    if (isAlive(c.pids[which], PROCESS_NAME[which])) return;
    if (which !== 'apiserver') {
      spawnKcm(c);
      writeState(s as State);
      return;
    }
    // The port must be the same (remote secrets name it). While the server was down another
    // process's outgoing connection may have been given that port as its local (ephemeral) port:
    // the new server then exits with "address already in use". Such a connection is short-lived,
    // so try again for up to 30 s rather than fail the caller.
    for (let attempt = 1; ; attempt++) {
      spawnApiServer(c);
      writeState(s as State);
      try {
        await waitApiServerReady(c, readCreds(c.dir));
        return;
      } catch (e) {
        const inUse = /address already in use/.test(String((e as Error).message));
        if (!inUse || attempt >= 30) throw e;
        await sleep(1000);
      }
    }
  });
}

/**
 * Stop one cluster's kube-apiserver; etcd and KCM keep running. Default: SIGKILL (a crash,
 * immediate). graceful: SIGTERM first (kube-apiserver then takes ~5 s to shut down).
 */
export function stopApiServer(name: string, opts: { graceful?: boolean } = {}): Promise<void> {
  return stopClusterDaemon(name, 'apiserver', opts.graceful ? 10_000 : 0);
}

/** Start one cluster's kube-apiserver again (same port, flags and data) and wait until it is ready. No-op when it runs. */
export function startApiServer(name: string): Promise<void> {
  return restartClusterDaemon(name, 'apiserver');
}

/**
 * Stop one cluster's kube-controller-manager (SIGKILL): the API server keeps answering, but
 * nothing fills in token Secrets any more (for fault tests). startControllerManager undoes it.
 */
export function stopControllerManager(name: string): Promise<void> {
  return stopClusterDaemon(name, 'kcm', 0);
}

/** Start one cluster's kube-controller-manager again (same flags). No-op when it runs. */
export function startControllerManager(name: string): Promise<void> {
  return restartClusterDaemon(name, 'kcm');
}