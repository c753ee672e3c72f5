// A Secret as a kubelet mounts it, for processes the test bed runs outside the cluster (istiod's
// `etc/cacerts`). The kubelet's atomic writer (k8s.io/kubernetes pkg/volume/util/atomic_writer.go)
// keeps the payload in a timestamped directory `..<ts>`, points `..data` at it and makes every key a
// symlink `<key> -> ..data/<key>`; an update writes a new timestamped directory and renames a fresh
// `..data_tmp` symlink over `..data` (one atomic step, seen by inotify as a Create in the volume
// directory), then adds or removes the key symlinks. A deleted Secret of an `optional: true` volume
// (istiod's `cacerts`) leaves an empty volume.
//
// Run as a program it follows one Secret into one directory until its owner process exits:
//
//   node testbed/secret-volume.ts --kubeconfig FILE --namespace NS --name NAME --dir DIR --owner PID
//
// polling the Secret every second through the API server (the kubelet's watch-based sync takes up
// to a minute on a real node; here it is faster on purpose, so tests need not wait).
//
// Written for Node's type stripping: erasable TypeScript only, node: builtins and js-yaml.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { load } from 'js-yaml';

const DATA = '..data';

/** The payload as the volume shows it now (key → bytes); {} when empty or missing. */
export function readVolume(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir)) {
    if (e.startsWith('..')) continue;
    try {
      out[e] = readFileSync(join(dir, e));
    } catch { /* dangling */ }
  }
  return out;
}

function samePayload(a: Record<string, Buffer>, b: Record<string, Buffer>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k].equals(b[k]));
}

function tsDirName(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}${String(process.hrtime.bigint() % 1000000n).padStart(6, '0')}`;
}

/**
 * Make `dir` show exactly `payload` (key → bytes; {} = an empty volume), the kubelet's way. Returns
 * false when it already did (nothing written, no inotify event).
 */
export function writeVolume(dir: string, payload: Record<string, Buffer>): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dir, DATA)) && samePayload(readVolume(dir), payload)) return false;
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, DATA));
  } catch { /* first write */ }
  // files written by hand (an older test bed copied the Secret's keys as plain files): replace them
  for (const e of readdirSync(dir)) {
    if (!e.startsWith('..') && !lstatSync(join(dir, e)).isSymbolicLink()) rmSync(join(dir, e), { force: true });
  }
  const ts = tsDirName();
  mkdirSync(join(dir, ts), { mode: 0o700 });
  for (const [k, v] of Object.entries(payload)) writeFileSync(join(dir, ts, k), v, { mode: 0o600 });
  rmSync(join(dir, `${DATA}_tmp`), { force: true });
  symlinkSync(ts, join(dir, `${DATA}_tmp`));
  renameSync(join(dir, `${DATA}_tmp`), join(dir, DATA));
  for (const k of Object.keys(payload)) {
    if (!existsSync(join(dir, k))) symlinkSync(join(DATA, k), join(dir, k));
  }
  for (const e of readdirSync(dir)) {
    if (e.startsWith('..') || e in payload) continue;
    rmSync(join(dir, e), { force: true });
  }
  if (old && old !== ts) rmSync(join(dir, old), { recursive: true, force: true });
  return true;
}

/** Secret `data` (base64 values) → payload. */
export function secretPayload(data: Record<string, string> | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

interface Conn { host: string; port: number; ca: string; cert: string; key: string }

function connFromKubeconfig(file: string): Conn {
  interface Kc {
    clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
    users: Array<{ user: { 'client-certificate-data': string; 'client-key-data': string } }>;
  }
  const kc = load(readFileSync(file, 'utf8')) as Kc;
  const u = new URL(kc.clusters[0].cluster.server);
  const dec = (s: string): string => Buffer.from(s, 'base64').toString();
  return {
    host: u.hostname, port: Number(u.port || 443), ca: dec(kc.clusters[0].cluster['certificate-authority-data']),
    cert: dec(kc.users[0].user['client-certificate-data']), key: dec(kc.users[0].user['client-key-data']),
  };
}

/** GET the Secret: its data, null when it does not exist, undefined when the API server did not answer. */
function getSecret(c: Conn, ns: string, name: string): Promise<Record<string, string> | null | undefined> {
  return new Promise((res) => {
    const req = https.request({
      host: c.host, port: c.port, method: 'GET', path: `/api/v1/namespaces/${ns}/secrets/${name}`,
      ca: c.ca, cert: c.cert, key: c.key, agent: false, timeout: 5000, headers: { accept: 'application/json' },
    }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (b: Buffer) => chunks.push(b));
      r.on('end', () => {
        if (r.statusCode === 404) return res(null);
        if (r.statusCode !== 200) return res(undefined);
        try {
          res((JSON.parse(Buffer.concat(chunks).toString()) as { data?: Record<string, string> }).data ?? {});
        } catch {
          res(undefined);
        }
      });
      r.on('error', () => res(undefined));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => res(undefined));
    req.end();
  });
}

function ownerAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return st !== 'Z' && st !== 'X';
  } catch {
    return false;
  }
}

async function follow(argv: string[]): Promise<void> {
  const arg = (n: string): string => {
    const i = argv.indexOf(`--${n}`);
    if (i < 0 || !argv[i + 1]) throw new Error(`missing --${n}`);
    return argv[i + 1];
  };
  const conn = connFromKubeconfig(arg('kubeconfig'));
  const ns = arg('namespace');
  const name = arg('name');
  const dir = arg('dir');
  const owner = Number(arg('owner'));
  const intervalMs = argv.includes('--interval-ms') ? Number(arg('interval-ms')) : 1000;
  for (;;) {
    if (!ownerAlive(owner)) return;
    const data = await getSecret(conn, ns, name);
    // API server unreachable: a kubelet keeps the volume as it is
    if (data !== undefined && ownerAlive(owner) && writeVolume(dir, secretPayload(data ?? {}))) {
      process.stdout.write(`${new Date().toISOString()} ${ns}/${name} ${data === null ? 'gone: volume emptied' : `-> ${Object.keys(data).sort().join(',')}`}\n`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

if (import.meta.filename === process.argv[1]) {
  follow(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`secret-volume: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
