// Small helpers of the test bed: sleep, child processes, log tails, free loopback ports.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { spawn } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function defaultLog(): (msg: string) => void {
  return process.env.KUBECTL_MESH_TESTBED_VERBOSE === '1'
    ? (m) => process.stderr.write(`[testbed] ${m}\n`)
    : () => {};
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** wall-clock milliseconds from the spawn to the exit */
  ms: number;
  /** killed because timeoutMs passed */
  timedOut: boolean;
}

/**
 * Run a command to its end and collect its output (stdin: `input`, else closed). Never rejects for
 * the exit code: `code` is the exit code, 128 when a signal ended it (timeoutMs: SIGKILL after so long).
 */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; stdio?: 'pipe' | 'stderr' } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const started = performance.now();
    const so: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env };
    so.stdio = opts.stdio === 'stderr' ? ['ignore', 2, 2] : ['pipe', 'pipe', 'pipe'];
    const child = spawn(cmd, args, so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs) timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.on('error', (e) => { if (timer) clearTimeout(timer); rej(e); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: performance.now() - started, timedOut });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    }
  });
}

export async function runOk(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function tail(file: string, lines = 25): string {
  try {
    const t = readFileSync(file, 'utf8').trimEnd().split('\n');
    return t.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function freePorts(n: number): Promise<number[]> {
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
