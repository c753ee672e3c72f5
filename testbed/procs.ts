// The test bed's daemons: started in their own process groups, found again by /proc, killed as groups.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { stateDir } from './paths.ts';
import { sleep } from './util.ts';

// pilot-discovery and testbed-kubelet: istiods and their kubelet stand-ins started by
// testbed/istiod.ts (their working directories live in the state dir)
export const DAEMONS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'pilot-discovery', 'testbed-kubelet', 'testbed-dns'] as const;

interface ProcInfo { pid: number; state: string; pgrp: number; argv: string[] }

export function procInfo(pid: number): ProcInfo | null {
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

export function allProcs(): ProcInfo[] {
  const res: ProcInfo[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = procInfo(Number(e));
    if (p) res.push(p);
  }
  return res;
}

/** Alive (not a zombie) and, when `exe` is given, running that binary. */
export function isAlive(pid: number, exe?: string): boolean {
  if (!pid) return false;
  const p = procInfo(pid);
  if (!p || p.state === 'Z' || p.state === 'X') return false;
  if (exe && (p.argv.length === 0 || basename(p.argv[0]) !== exe)) return false;
  return true;
}

export function groupAlive(pgid: number): boolean {
  if (isAlive(pgid)) return true;
  return allProcs().some((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
}

export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pgid, sig); } catch { /* ESRCH: gone */ }
}

/** SIGTERM the process group, SIGKILL it after graceMs (at once when 0), wait until it is gone. */
export async function killGroup(pgid: number, graceMs = 5000): Promise<void> {
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

export function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  return env;
}

/** Start a daemon in its own process group (setsid), output appended to logFile. */
export function startDaemon(bin: string, args: string[], logFile: string, cwd: string): number {
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
export function strayDaemons(): ProcInfo[] {
  const dir = stateDir() + '/';
  return allProcs().filter((p) =>
    p.pid !== process.pid && p.state !== 'Z' && p.argv.length > 0 &&
    (DAEMONS as readonly string[]).includes(basename(p.argv[0])) &&
    p.argv.some((a) => a.includes(dir)));
}
