// HTTP probes of the test bed's API servers and etcds, and polling with early failure when a watched process dies.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import * as http from 'node:http';
import * as https from 'node:https';
import { isAlive } from './procs.ts';
import type { Creds } from './pki.ts';
import { sleep, tail } from './util.ts';

const READY_TIMEOUT_MS = 90_000;

interface HttpResult { status: number; body: string }

export function apiGet(port: number, creds: Creds, path: string, timeoutMs = 5000): Promise<HttpResult> {
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

export function collectBody(r: http.IncomingMessage, res: (v: HttpResult) => void, rej: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
  r.on('error', rej);
}

export function httpGet(url: string, timeoutMs = 2000): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (r) => collectBody(r, res, rej));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
  });
}

/** Poll `check` every `intervalMs` until it returns true; fail early if a watched process died. */
export async function waitFor(what: string, check: () => Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number; pid?: number; exe?: string; log?: string } = {}): Promise<void> {
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
