// The test bed's DNS for load-balancer hostnames: testbed-dns (testbed/tools/istio/cmd/testbed-dns)
// on a loopback address of its own (127.53.X.Y:53, X.Y from the bed's state directory, so two beds
// on one machine do not collide), answering the names in <state>/dns/zone.json and forwarding the
// rest to the machine's resolver. Processes that must see those names (each istiod, and the CLI
// where a test compares addresses) run in a mount namespace of their own whose /etc/resolv.conf is
// <state>/dns/resolv.conf (`unshare -m` + a bind mount), as on a node whose resolver knows the name.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stateDir } from './paths.ts';

export function dnsDir(): string {
  return join(stateDir(), 'dns');
}

/** The bed's DNS address: 127.53.X.Y, X.Y from a hash of the state directory. */
export function dnsAddress(): string {
  const h = createHash('sha256').update(stateDir()).digest();
  return `127.53.${h[0]}.${(h[1] % 250) + 2}`;
}

export function resolvConfPath(): string {
  return join(dnsDir(), 'resolv.conf');
}

function zonePath(): string {
  return join(dnsDir(), 'zone.json');
}

function readZone(): Record<string, { a: string[]; aaaa: string[] }> {
  try {
    return JSON.parse(readFileSync(zonePath(), 'utf8'));
  } catch {
    return {};
  }
}

/** Answer `name` with these IPv4 addresses (none: forget the name). The server re-reads the zone on every change. */
export function setDnsRecord(name: string, ips: string[]): void {
  mkdirSync(dnsDir(), { recursive: true });
  const z = readZone();
  const key = name.endsWith('.') ? name : `${name}.`;
  if (ips.length === 0) delete z[key];
  else z[key] = { a: ips, aaaa: [] };
  writeFileSync(zonePath(), JSON.stringify(z, null, 2));
}

/** True when this process may make a mount namespace (root or CAP_SYS_ADMIN). */
let nsOk: boolean | undefined;
export function canUnshare(): boolean {
  nsOk ??= spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;
  return nsOk;
}

function alive(pid: number): boolean {
  try {
    return basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]) === 'testbed-dns';
  } catch {
    return false;
  }
}

/** Start the bed's DNS server once (no-op when it runs); returns its address. */
export function ensureDns(bin: string): string {
  mkdirSync(dnsDir(), { recursive: true });
  const pidFile = join(dnsDir(), 'pid');
  const addr = dnsAddress();
  if (!existsSync(zonePath())) writeFileSync(zonePath(), '{}');
  writeFileSync(resolvConfPath(), `# the test bed's DNS (testbed/dns.ts)\nnameserver ${addr}\noptions timeout:2 attempts:2\n`);
  if (existsSync(pidFile) && alive(Number(readFileSync(pidFile, 'utf8')))) return addr;
  // Other names go to the machine's resolver only when it is on loopback (e.g. 127.0.0.53): the bed
  // never sends traffic off 127.0.0.0/8; otherwise they are NXDOMAIN (istiod on the bed resolves
  // nothing else).
  const system = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
  const upstream = system && (/^127\./.test(system) || system === '::1') ? system : undefined;
  const fd = openSync(join(dnsDir(), 'dns.log'), 'a');
  try {
    const child = spawn(bin, ['--listen', `${addr}:53`, '--zone', zonePath(), '--ttl', '30', ...(upstream ? ['--upstream', upstream.includes(':') ? `[${upstream}]:53` : `${upstream}:53`] : [])],
      { detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => {});
    child.unref();
    writeFileSync(pidFile, String(child.pid));
  } finally {
    closeSync(fd);
  }
  return addr;
}

/**
 * `bin args` wrapped to run in a mount namespace of its own whose /etc/resolv.conf is the bed's
 * (the process keeps its pid and, after exec, its argv0); unchanged when namespaces are not allowed.
 */
export function inDnsNamespace(bin: string, args: string[]): { bin: string; args: string[] } {
  if (!canUnshare() || !existsSync(resolvConfPath())) return { bin, args };
  return { bin: 'unshare', args: ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConfPath(), bin, ...args] };
}
