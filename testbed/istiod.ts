// Real Istio control planes for the test bed: one istiod (pilot-discovery, built from Go modules by
// testbed/build-istio.sh) per cluster, running outside the cluster on 127.0.0.1 only, pointed at
// that cluster's kube-apiserver through a one-context kubeconfig. Opt-in per test file:
//
//   const istiod = await startIstiod('cluster1');   // waits until /ready answers 200
//   await clusterz(istiod.debugUrl);                 // [{id, secretName, syncStatus}]
//   await stopIstiod(istiod);                        // and removes what istiod wrote
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { ensureDns, inDnsNamespace } from './dns.ts';
import { basename, join } from 'node:path';
import { secretPayload, writeVolume } from './secret-volume.ts';
import { kubectl } from './kubectl.ts';
import { binDir, cacheDir, stateDir } from './paths.ts';

/** Must match ISTIO_VERSION in testbed/build-istio.sh (not a release tag: the 1.31 line at this commit). */
export const ISTIO_COMMIT = 'eed52ebb66ad';
export const ISTIO_VERSION = `1.31-${ISTIO_COMMIT}`;
const ISTIO_NAMESPACE = 'istio-system';
const READY_TIMEOUT_MS = 120_000;

export function istioBinDir(): string {
  return join(cacheDir(), `istio-${ISTIO_VERSION}`, 'bin');
}
export function pilotDiscoveryBin(): string {
  return join(istioBinDir(), 'pilot-discovery');
}
export function istioctlBin(): string {
  return join(istioBinDir(), 'istioctl');
}
/** testbed/tools/istio/cmd/xds-probe: Istio's ADS client posing as one proxy (testbed/xds.ts). */
export function xdsProbeBin(): string {
  return join(istioBinDir(), 'xds-probe');
}

/** The bed's DNS server for load-balancer hostnames (testbed/tools/istio/cmd/testbed-dns). */
export function dnsServerBin(): string {
  return join(istioBinDir(), 'testbed-dns');
}

/** The ztunnel probe (testbed/tools/istio/cmd/ztunnel-probe): Istio's delta ADS client posing as a ztunnel. */
export function ztunnelProbeBin(): string {
  return join(istioBinDir(), 'ztunnel-probe');
}

/** Build pilot-discovery, istioctl, xds-probe, testbed-dns and ztunnel-probe if missing (testbed/build-istio.sh; tens of minutes cold). */
export function ensureIstioBuilt(log: (m: string) => void = () => {}): void {
  if (existsSync(pilotDiscoveryBin()) && existsSync(istioctlBin()) && existsSync(xdsProbeBin()) && existsSync(dnsServerBin()) && existsSync(ztunnelProbeBin())) return;
  log(`building Istio ${ISTIO_VERSION} (testbed/build-istio.sh)`);
  const r = spawnSync('bash', [join(import.meta.dirname, 'build-istio.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`testbed/build-istio.sh failed (${r.status ?? r.signal})`);
}

export interface IstiodPorts {
  /** --httpAddr: /ready, /debug/* (served here too because monitoringAddr is set) */
  http: number;
  /** --httpsAddr: webhooks */
  https: number;
  /** --grpcAddr: plaintext XDS */
  grpc: number;
  /** --secureGRPCAddr: XDS + CA over mTLS */
  secureGrpc: number;
  /** --monitoringAddr: /metrics, /debug/* */
  monitoring: number;
  /** --ctrlz_port (ControlZ, bound to 127.0.0.1) */
  ctrlz: number;
}

export interface Istiod {
  /** test bed cluster name = Istio cluster ID */
  cluster: string;
  pid: number;
  /** working directory: <repo>/.testbed/istiod-<cluster> (etc/cacerts, kubeconfig, istiod.log) */
  dir: string;
  log: string;
  ports: IstiodPorts;
  /** http://127.0.0.1:<monitoring port>: GET `${debugUrl}/debug/clusterz` */
  debugUrl: string;
  /** ms from spawn until /ready answered 200 */
  readyMs: number;
  /** The Pod that stands for this istiod in its cluster (istio-system, label app=istiod). */
  pod: string;
  /** The Node that Pod runs on, served by testbed-kubelet on this port. */
  node: string;
  kubeletPort: number;
}

export interface StartIstiodOptions {
  /** extra environment for pilot-discovery (e.g. PILOT_REMOTE_CLUSTER_TIMEOUT) */
  env?: Record<string, string>;
  timeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function workDir(cluster: string): string {
  return join(stateDir(), `istiod-${cluster}`);
}

/** Where istiod reads its plugin CA (ROOT_CA_DIR default ./etc/cacerts, relative to its working directory). */
function cacertsDir(dir: string): string {
  return join(dir, 'etc', 'cacerts');
}

async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', () => res()); });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

function alive(pid: number, exe = 'pilot-discovery'): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (st === 'Z' || st === 'X') return false;
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return basename(argv0) === exe;
  } catch {
    return false;
  }
}

async function kill(pid: number, graceMs = 5000, exe = 'pilot-discovery'): Promise<void> {
  if (!alive(pid, exe)) return;
  try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive(pid, exe)) await sleep(50);
  if (alive(pid, exe)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid, exe)) await sleep(50);
  }
}

/** Start a daemon in its own process group (killed as a group), output appended to `log`; returns its pid. */
function spawnDetached(bin: string, args: string[], opts: { cwd: string; log: string; env?: NodeJS.ProcessEnv }): number {
  const fd = openSync(opts.log, 'a');
  try {
    const child = spawn(bin, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
    child.on('error', () => {});
    child.unref();
    if (!child.pid) throw new Error(`could not start ${basename(bin)}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** GET a loopback URL; resolves with status and body (never rejects on HTTP errors). */
export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = http.get(url, { timeout: timeoutMs }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', rej);
  });
}

export interface ClusterzEntry { id: string; secretName: string; syncStatus: string }

/** istiod's /debug/clusterz: the config cluster first, then one entry per remote cluster. */
export async function clusterz(debugUrl: string): Promise<ClusterzEntry[]> {
  const r = await httpGet(`${debugUrl}/debug/clusterz`);
  if (r.status !== 200) throw new Error(`GET ${debugUrl}/debug/clusterz: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as ClusterzEntry[];
}

/** Poll until check() returns a truthy value; returns it and the time it took. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, intervalMs = 200): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return { value: v, ms: Date.now() - t0 };
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** ConfigMaps named istio-ca-root-cert (istiod publishes one per namespace), as ns list. */
async function rootCertConfigMaps(cluster: string): Promise<string[]> {
  const r = await kubectl(['get', 'configmaps', '-A', '--field-selector=metadata.name=istio-ca-root-cert', '-o',
    'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}'], { context: cluster, allowFail: true });
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

async function secretExists(cluster: string, name: string): Promise<boolean> {
  const r = await kubectl(['-n', ISTIO_NAMESPACE, 'get', 'secret', name, '-o', 'name'], { context: cluster, allowFail: true });
  return r.code === 0;
}

interface Snapshot { rootCertNamespaces: string[]; caSecret: boolean }

function snapshotFile(dir: string): string {
  return join(dir, 'before.json');
}

/**
 * Start istiod for one test bed cluster (outside the cluster, loopback ports only) and wait until
 * it is ready. A stale istiod of an earlier run for the same cluster is stopped first.
 *
 * Like the real Deployment mounts Secret `cacerts` (optional) at ./etc/cacerts, the working
 * directory's etc/cacerts follows that Secret as the kubelet's secret volume would
 * (testbed/secret-volume.ts: `..data` symlink swap, keys as symlinks; emptied when the Secret is
 * deleted), from before istiod starts until it exits; istiod watches that directory itself. Without
 * the Secret istiod makes a self-signed CA (Secret istio-ca-secret), which stopIstiod() deletes again.
 * istiod runs with ISTIO_MULTIROOT_MESH=true, so a root added to cacerts is taken without a restart.
 */
export async function startIstiod(cluster: string, opts: StartIstiodOptions = {}): Promise<Istiod> {
  ensureIstioBuilt();
  const dir = workDir(cluster);
  const pidFile = join(dir, 'pid');
  if (existsSync(pidFile)) await kill(Number(readFileSync(pidFile, 'utf8')), 0);
  if (existsSync(join(dir, 'kubelet.pid'))) await kill(Number(readFileSync(join(dir, 'kubelet.pid'), 'utf8')), 0, 'testbed-kubelet');
  if (existsSync(join(dir, 'cacerts-volume.pid'))) await kill(Number(readFileSync(join(dir, 'cacerts-volume.pid'), 'utf8')), 0, basename(process.execPath));
  // An earlier istiod of this cluster that was never stopped (killed by a test, or its run cut
  // off) left its snapshot: what it published is not "before" for this one, so keep that snapshot,
  // or stopIstiod() would keep its root ConfigMaps and self-signed CA for good.
  const earlier = existsSync(snapshotFile(dir)) ? readFileSync(snapshotFile(dir), 'utf8') : undefined;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'etc', 'cacerts'), { recursive: true, mode: 0o700 });

  // A kubeconfig with only this cluster (admin credentials inline).
  const kc = await kubectl(['config', 'view', '--minify', '--flatten', '--raw'], { context: cluster });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kc.stdout, { mode: 0o600 });

  // the volume as the kubelet sets it up before the container starts
  const cacerts = await kubectl(['-n', ISTIO_NAMESPACE, 'get', 'secret', 'cacerts', '-o', 'json'], { context: cluster, allowFail: true });
  if (cacerts.code !== 0 && !/NotFound/.test(cacerts.stderr)) throw new Error(`reading ${cluster} secret cacerts: ${cacerts.stderr.trim()}`);
  writeVolume(cacertsDir(dir), secretPayload(cacerts.code === 0 ? JSON.parse(cacerts.stdout).data as Record<string, string> : {}));
  const before: Snapshot = earlier ? JSON.parse(earlier) as Snapshot : { rootCertNamespaces: await rootCertConfigMaps(cluster), caSecret: await secretExists(cluster, 'istio-ca-secret') };
  writeFileSync(snapshotFile(dir), JSON.stringify(before));

  const [httpP, httpsP, grpcP, secureP, monP, ctrlzP] = await freePorts(6);
  const ports: IstiodPorts = { http: httpP, https: httpsP, grpc: grpcP, secureGrpc: secureP, monitoring: monP, ctrlz: ctrlzP };
  const lo = (p: number): string => `127.0.0.1:${p}`;
  const args = [
    'discovery',
    `--kubeconfig=${kubeconfig}`,
    `--clusterID=${cluster}`,
    `--httpAddr=${lo(ports.http)}`,
    `--httpsAddr=${lo(ports.https)}`,
    `--grpcAddr=${lo(ports.grpc)}`,
    `--secureGRPCAddr=${lo(ports.secureGrpc)}`,
    `--monitoringAddr=${lo(ports.monitoring)}`,
    `--ctrlz_port=${ports.ctrlz}`,
    '--ctrlz_address=127.0.0.1',
    '--domain=cluster.local',
    '--keepaliveMaxServerConnectionAge=30m',
    '--log_output_level=default:info',
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    POD_NAMESPACE: ISTIO_NAMESPACE,
    POD_NAME: `istiod-${cluster}-local`,
    SERVICE_ACCOUNT: 'istiod',
    CLUSTER_ID: cluster,
    REVISION: 'default',
    PILOT_CERT_PROVIDER: 'istiod',
    ISTIOD_ADDR: `127.0.0.1:${ports.secureGrpc}`,
    // one istiod per cluster: no leader election Leases/ConfigMaps written
    ENABLE_LEADER_ELECTION: 'false',
    // trust more than one root (a rotation adds the new root to cacerts' root-cert.pem first)
    ISTIO_MULTIROOT_MESH: 'true',
    ...opts.env,
  };
  const log = join(dir, 'istiod.log');
  const t0 = Date.now();
  // istiod resolves load-balancer hostnames itself from /etc/resolv.conf (model/network.go): it
  // runs in a mount namespace whose resolv.conf names the bed's DNS server (testbed/dns.ts)
  ensureDns(dnsServerBin());
  const cmd = inDnsNamespace(pilotDiscoveryBin(), args);
  const pid = spawnDetached(cmd.bin, cmd.args, { cwd: dir, log, env });
  writeFileSync(pidFile, String(pid));
  if (cmd.bin !== pilotDiscoveryBin()) {
    // until the wrapper has exec'd istiod, its argv0 is unshare or sh
    for (let i = 0; i < 100 && !alive(pid); i++) await sleep(50);
  }
  // keeps etc/cacerts in step with the Secret until istiod exits (it stops by itself then)
  const followPid = spawnDetached(process.execPath, [join(import.meta.dirname, 'secret-volume.ts'),
    '--kubeconfig', kubeconfig, '--namespace', ISTIO_NAMESPACE, '--name', 'cacerts', '--dir', cacertsDir(dir), '--owner', String(pid)],
  { cwd: dir, log: join(dir, 'cacerts-volume.log') });
  writeFileSync(join(dir, 'cacerts-volume.pid'), String(followPid));

  const istiod: Istiod = { cluster, pid, dir, log, ports, debugUrl: `http://127.0.0.1:${ports.monitoring}`, readyMs: 0, pod: podName(cluster), node: nodeName(cluster), kubeletPort: 0 };
  const deadline = t0 + (opts.timeoutMs ?? READY_TIMEOUT_MS);
  for (;;) {
    if (!alive(pid)) throw new Error(`istiod for ${cluster} exited during start; log ${log}:\n${tailLog(log)}`);
    const r = await httpGet(`http://127.0.0.1:${ports.http}/ready`, 2000).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) {
      await kill(pid, 0);
      throw new Error(`istiod for ${cluster} not ready after ${Date.now() - t0} ms; log ${log}:\n${tailLog(log)}`);
    }
    await sleep(250);
  }
  istiod.readyMs = Date.now() - t0;
  // 15014: debug/monitoring; 15012: XDS and CA over TLS (its serving certificate shows which CA signs)
  istiod.kubeletPort = await startKubelet(dir, [`${ISTIO_NAMESPACE}/${istiod.pod}:15014=127.0.0.1:${ports.monitoring}`, `${ISTIO_NAMESPACE}/${istiod.pod}:15012=127.0.0.1:${ports.secureGrpc}`]);
  await registerPod(cluster, istiod.kubeletPort);
  writeFileSync(join(dir, 'istiod.json'), JSON.stringify(istiod, null, 2));
  return istiod;
}

// ---------------------------------------------------------------------------------------------
// The istiod Pod. A real install runs istiod in a Pod, and tools reach its debug port through
// `pods/portforward` (kubectl port-forward, istioctl, kubectl mesh verify). Here istiod runs
// outside the cluster, so each one gets a Pod object (label app=istiod, phase Running, Ready)
// bound to a Node whose kubelet address is 127.0.0.1:<port of testbed-kubelet>: the API server
// then proxies a port-forward of the Pod's port 15014 to testbed-kubelet, which serves it with
// the kubelet's own streaming code and dials istiod's monitoring port on loopback.

function podName(cluster: string): string {
  return `istiod-${cluster}-local`;
}
function nodeName(cluster: string): string {
  return `testbed-${cluster}`;
}

/** Start testbed-kubelet with the given routes (`ns/pod:port=127.0.0.1:N`); returns its port. */
async function startKubelet(dir: string, routes: string[]): Promise<number> {
  const portFile = join(dir, 'kubelet.port');
  rmSync(portFile, { force: true });
  const log = join(dir, 'kubelet.log');
  const args = ['--listen', '127.0.0.1:0', '--port-file', portFile, ...routes.flatMap((r) => ['--forward', r])];
  const pid = spawnDetached(join(binDir(), 'testbed-kubelet'), args, { cwd: dir, log });
  writeFileSync(join(dir, 'kubelet.pid'), String(pid));
  const deadline = Date.now() + 10_000;
  while (!existsSync(portFile) || readFileSync(portFile, 'utf8') === '') {
    if (!alive(pid, 'testbed-kubelet') || Date.now() > deadline) throw new Error(`testbed-kubelet did not start; log ${log}:\n${tailLog(log)}`);
    await sleep(50);
  }
  return Number(readFileSync(portFile, 'utf8'));
}

async function registerPod(cluster: string, kubeletPort: number): Promise<void> {
  const node = nodeName(cluster);
  const pod = podName(cluster);
  await unregisterPod(cluster);
  await kubectl(['apply', '-f', '-'], { context: cluster, input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { 'kubectl-mesh.testbed/node': 'true' } } }) });
  await kubectl(['patch', 'node', node, '--subresource=status', '--type=merge', '-p', JSON.stringify({
    status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } } },
  })], { context: cluster });
  await kubectl(['apply', '-f', '-'], { context: cluster, input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: pod, namespace: ISTIO_NAMESPACE, labels: { app: 'istiod', istio: 'pilot', 'istio.io/rev': 'default' } },
    spec: {
      nodeName: node,
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'discovery', image: `testbed.local/pilot-discovery:${ISTIO_VERSION}`, ports: [{ name: 'http-monitoring', containerPort: 15014 }, { name: 'grpc-xds', containerPort: 15012 }] }],
    },
  }) });
  await kubectl(['-n', ISTIO_NAMESPACE, 'patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  })], { context: cluster });
}

/** Delete the istiod Pod (at once: no kubelet would confirm a graceful delete) and its Node. */
async function unregisterPod(cluster: string): Promise<void> {
  await kubectl(['-n', ISTIO_NAMESPACE, 'delete', 'pod', podName(cluster), '--ignore-not-found', '--grace-period=0', '--force'], { context: cluster, allowFail: true, timeoutMs: 20_000 });
  await kubectl(['delete', 'node', nodeName(cluster), '--ignore-not-found'], { context: cluster, allowFail: true, timeoutMs: 20_000 });
}

/** The istiod running for a cluster (started by any process: startIstiod records it), or null. */
export function runningIstiod(cluster: string): Istiod | null {
  try {
    const i = JSON.parse(readFileSync(join(workDir(cluster), 'istiod.json'), 'utf8')) as Istiod;
    return alive(i.pid) ? i : null;
  } catch {
    return null;
  }
}

/** VmHWM (peak) and VmRSS of a process, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return null;
  }
}

export function tailLog(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The log text written since `from` bytes (use istiodLogSize() to mark a point). */
export function istiodLog(i: Istiod, from = 0): string {
  try {
    return readFileSync(i.log).subarray(from).toString();
  } catch {
    return '';
  }
}
export function istiodLogSize(i: Istiod): number {
  try {
    return readFileSync(i.log).length;
  } catch {
    return 0;
  }
}

/**
 * Stop istiod and delete what it wrote to its cluster: the istio-ca-root-cert ConfigMaps and the
 * self-signed CA Secret that did not exist before it started. Keeps the working directory (log).
 */
export async function stopIstiod(i: Istiod | string): Promise<void> {
  const cluster = typeof i === 'string' ? i : i.cluster;
  const dir = workDir(cluster);
  const pidFile = join(dir, 'pid');
  const pid = typeof i === 'string' ? (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0) : i.pid;
  if (pid) await kill(pid);
  rmSync(pidFile, { force: true });
  rmSync(join(dir, 'istiod.json'), { force: true });
  const followPid = join(dir, 'cacerts-volume.pid');
  if (existsSync(followPid)) await kill(Number(readFileSync(followPid, 'utf8')), 2000, basename(process.execPath));
  rmSync(followPid, { force: true });
  const kubeletPid = join(dir, 'kubelet.pid');
  if (existsSync(kubeletPid)) await kill(Number(readFileSync(kubeletPid, 'utf8')), 2000, 'testbed-kubelet');
  rmSync(kubeletPid, { force: true });
  if (!existsSync(snapshotFile(dir))) return;
  const before = JSON.parse(readFileSync(snapshotFile(dir), 'utf8')) as Snapshot;
  const ok = await kubectl(['get', '--raw', '/readyz'], { context: cluster, allowFail: true, timeoutMs: 10_000 });
  if (ok.code !== 0) return; // API server down: nothing to clean up now
  await unregisterPod(cluster);
  for (const ns of await rootCertConfigMaps(cluster)) {
    if (!before.rootCertNamespaces.includes(ns)) {
      await kubectl(['-n', ns, 'delete', 'configmap', 'istio-ca-root-cert', '--ignore-not-found'], { context: cluster, allowFail: true });
    }
  }
  if (!before.caSecret) {
    await kubectl(['-n', ISTIO_NAMESPACE, 'delete', 'secret', 'istio-ca-secret', '--ignore-not-found'], { context: cluster, allowFail: true });
  }
  rmSync(snapshotFile(dir), { force: true });
}
