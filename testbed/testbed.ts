// Local multi-cluster Kubernetes test bed: per cluster one etcd, one kube-apiserver and one
// kube-controller-manager on 127.0.0.1, built from Go modules by testbed/build.sh. All state
// (certificates, etcd data, logs, pids, kubeconfig) lives in <repo>/.testbed/.
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins and js-yaml.
import { spawn } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { clusterParams, clusterIndex, installClusterObjects } from './fixtures.ts';
import type { ClusterParams } from './fixtures.ts';

export const K8S_VERSION = 'v1.36.3';
export const ISTIO_API_VERSION = 'v1.31.1';
export const DEFAULT_CLUSTERS = 2;
export const MAX_CLUSTERS = 4;
const READY_TIMEOUT_MS = 90_000;
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
// pilot-discovery and testbed-kubelet: istiods and their kubelet stand-ins started by
// testbed/istiod.ts (their working directories live in the state dir)
const DAEMONS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'pilot-discovery', 'testbed-kubelet'] as const;

// ---------------------------------------------------------------------------------------------
// Paths

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

function statePath(): string {
  return join(stateDir(), 'state.json');
}

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

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function defaultLog(): (msg: string) => void {
  return process.env.KUBECTL_MESH_TESTBED_VERBOSE === '1'
    ? (m) => process.stderr.write(`[testbed] ${m}\n`)
    : () => {};
}

interface RunResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; stdio?: 'pipe' | 'stderr' } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const so: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env };
    so.stdio = opts.stdio === 'stderr' ? ['ignore', 2, 2] : ['pipe', 'pipe', 'pipe'];
    const child = spawn(cmd, args, so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => { if (timer) clearTimeout(timer); rej(e); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    }
  });
}

async function runOk(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function tail(file: string, lines = 25): string {
  try {
    const t = readFileSync(file, 'utf8').trimEnd().split('\n');
    return t.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', () => res()); });
      ports.push((s.address() as net.AddressInfo).port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
  return ports;
}

// ---------------------------------------------------------------------------------------------
// Processes

interface ProcInfo { pid: number; state: string; pgrp: number; argv: string[] }

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let argv: string[] = [];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
    } catch { /* gone */ }
    return { pid, state: rest[0], pgrp: Number(rest[2]), argv };
  } catch {
    return null;
  }
}

function allProcs(): ProcInfo[] {
  const res: ProcInfo[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = procInfo(Number(e));
    if (p) res.push(p);
  }
  return res;
}

/** Alive (not a zombie) and, when `exe` is given, running that binary. */
function isAlive(pid: number, exe?: string): boolean {
  if (!pid) return false;
  const p = procInfo(pid);
  if (!p || p.state === 'Z' || p.state === 'X') return false;
  if (exe && (p.argv.length === 0 || basename(p.argv[0]) !== exe)) return false;
  return true;
}

function groupAlive(pgid: number): boolean {
  if (isAlive(pgid)) return true;
  return allProcs().some((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pgid, sig); } catch { /* ESRCH: gone */ }
}

/** SIGTERM the process group, SIGKILL it after graceMs (at once when 0), wait until it is gone. */
async function killGroup(pgid: number, graceMs = 5000): Promise<void> {
  if (!pgid || !groupAlive(pgid)) return;
  if (graceMs > 0) {
    signalGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (!groupAlive(pgid)) return;
      await sleep(50);
    }
  }
  signalGroup(pgid, 'SIGKILL');
  const hard = Date.now() + 10_000;
  while (Date.now() < hard) {
    if (!groupAlive(pgid)) return;
    await sleep(50);
  }
  throw new Error(`process group ${pgid} survived SIGKILL`);
}

function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  return env;
}

/** Start a daemon in its own process group (setsid), output appended to logFile. */
function startDaemon(bin: string, args: string[], logFile: string, cwd: string): number {
  if (!existsSync(bin)) throw new Error(`missing binary ${bin}: run testbed/build.sh`);
  const fd = openSync(logFile, 'a');
  try {
    writeFileSync(fd, `\n=== ${new Date().toISOString()} ${basename(bin)} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { cwd, detached: true, stdio: ['ignore', fd, fd], env: daemonEnv() });
    child.on('error', () => {});
    child.unref();
    if (!child.pid) throw new Error(`could not start ${bin}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Test bed daemons not recorded in the state (e.g. from a crashed `up`): matched by binary name and the state dir in their arguments. */
function strayDaemons(): ProcInfo[] {
  const dir = stateDir() + '/';
  return allProcs().filter((p) =>
    p.pid !== process.pid && p.state !== 'Z' && p.argv.length > 0 &&
    (DAEMONS as readonly string[]).includes(basename(p.argv[0])) &&
    p.argv.some((a) => a.includes(dir)));
}

// ---------------------------------------------------------------------------------------------
// Lock (test files run in parallel processes; only one may bring the test bed up or down)

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 45 * 60_000; // a cold build can take this long
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let stale = false;
      try {
        const owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
        stale = owner !== process.pid && !isAlive(owner);
      } catch {
        try { stale = Date.now() - statSync(lock).mtimeMs > 30_000; } catch { /* removed meanwhile */ }
      }
      if (stale) {
        const tomb = `${lock}.stale.${process.pid}.${Date.now()}`;
        try { renameSync(lock, tomb); rmSync(tomb, { recursive: true, force: true }); } catch { /* someone else */ }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the test bed lock ${lock}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
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
// PKI (openssl CLI; RSA keys so node-forge and everything else can read them)

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = testbed
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/**
 * RSA key generation is the slow part (~0.5 s per key on 2 cores), so keys are cached per cluster
 * and role in <cache>/testbed/keys and reused; certificates are issued fresh on every `up`.
 */
async function cachedKey(name: string): Promise<string> {
  const dir = join(cacheDir(), 'keys');
  const file = join(dir, `${name}.key`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await runOk('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', tmp]);
  renameSync(tmp, file);
  return file;
}

async function makePki(pki: string, p: ClusterParams): Promise<void> {
  mkdirSync(pki, { recursive: true });
  writeFileSync(join(pki, 'openssl.cnf'), OPENSSL_CNF);
  const o = (args: string[]): Promise<string> => runOk('openssl', args, { cwd: pki });
  const roles = ['ca', 'sa', 'apiserver', 'admin', 'viewer'];
  const keys = await Promise.all(roles.map((r) => cachedKey(`${p.name}-${r}`)));
  for (let i = 0; i < roles.length; i++) {
    writeFileSync(join(pki, `${roles[i]}.key`), readFileSync(keys[i]), { mode: 0o600 });
  }
  const leaf = async (name: string, subj: string, ext: string): Promise<void> => {
    await o(['req', '-new', '-config', 'openssl.cnf', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
    await o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', '3650', '-sha256',
      '-extfile', 'openssl.cnf', '-extensions', ext, '-out', `${name}.crt`]);
    rmSync(join(pki, `${name}.csr`));
  };
  await Promise.all([
    o(['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'v3_ca', '-key', 'ca.key', '-out', 'ca.crt',
      '-days', '3650', '-sha256', '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-subj', `/CN=${p.name}-ca`]),
    o(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']),
  ]);
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', 'server'),
    leaf('admin', '/O=system:masters/CN=admin', 'client'),
    leaf('viewer', '/CN=viewer', 'client'),
  ]);
}

interface Creds { ca: string; cert: string; key: string }

function readCreds(dir: string, user: 'admin' | 'viewer' = 'admin'): Creds {
  const pki = join(dir, 'pki');
  return {
    ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(pki, `${user}.crt`), 'utf8'),
    key: readFileSync(join(pki, `${user}.key`), 'utf8'),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfigYaml(clusters: ClusterRecord[], withViewer: boolean): string {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [] as unknown[],
    users: [] as unknown[],
    contexts: [] as unknown[],
    'current-context': clusters[0].name,
  };
  for (const c of clusters) {
    const admin = readCreds(c.dir, 'admin');
    cfg.clusters.push({ name: c.name, cluster: { server: c.server, 'certificate-authority-data': b64(admin.ca) } });
    cfg.users.push({ name: `${c.name}-admin`, user: { 'client-certificate-data': b64(admin.cert), 'client-key-data': b64(admin.key) } });
    cfg.contexts.push({ name: c.name, context: { cluster: c.name, user: `${c.name}-admin` } });
  }
  if (withViewer) {
    const c = clusters[0];
    const viewer = readCreds(c.dir, 'viewer');
    cfg.users.push({ name: `${c.name}-viewer`, user: { 'client-certificate-data': b64(viewer.cert), 'client-key-data': b64(viewer.key) } });
    cfg.contexts.push({ name: `${c.name}-viewer`, context: { cluster: c.name, user: `${c.name}-viewer` } });
  }
  return dump(cfg, { lineWidth: -1 });
}

// ---------------------------------------------------------------------------------------------
// HTTP probes

interface HttpResult { status: number; body: string }

function apiGet(port: number, creds: Creds, path: string, timeoutMs = 5000): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const req = https.request({
      host: '127.0.0.1', port, path, method: 'GET', ca: creds.ca, cert: creds.cert, key: creds.key,
      agent: false, timeout: timeoutMs, headers: { accept: 'application/json' },
    }, (r) => collectBody(r, res, rej));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

function collectBody(r: http.IncomingMessage, res: (v: HttpResult) => void, rej: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
  r.on('error', rej);
}

function httpGet(url: string, timeoutMs = 2000): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (r) => collectBody(r, res, rej));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
  });
}

/** Poll `check` every `intervalMs` until it returns true; fail early if a watched process died. */
async function waitFor(what: string, check: () => Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number; pid?: number; exe?: string; log?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? READY_TIMEOUT_MS);
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (opts.pid !== undefined && !isAlive(opts.pid, opts.exe)) {
      throw new Error(`${what}: process ${opts.pid} exited${opts.log ? `; last log lines of ${opts.log}:\n${tail(opts.log)}` : ''}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}${opts.log ? `; last log lines of ${opts.log}:\n${tail(opts.log)}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

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
    if (which === 'apiserver') spawnApiServer(c);
    else spawnKcm(c);
    writeState(s as State);
    if (which === 'apiserver') await waitApiServerReady(c, readCreds(c.dir));
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
