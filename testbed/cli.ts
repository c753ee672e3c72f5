// Test bed CLI: node testbed/cli.ts up [--clusters N] | down [--keep] | status [--json]
//                                  | stop-apiserver NAME | start-apiserver NAME
// `up` prints `export KUBECONFIG=<path>` on stdout (progress goes to stderr), so
// `eval "$(node testbed/cli.ts up)"` works.
import {
  DEFAULT_CLUSTERS, MAX_CLUSTERS, down, ensureUp, startApiServer, status, stopApiServer,
} from './testbed.ts';

const USAGE = `usage: node testbed/cli.ts <command>
  up [--clusters N]      start N clusters (default ${DEFAULT_CLUSTERS}, max ${MAX_CLUSTERS}); no-op when already up
  down [--keep]          stop every test bed process; --keep keeps .testbed/ (logs, data)
  status [--json]        clusters, ports, pids, health (exit 1 when not up and healthy)
  stop-apiserver NAME    stop one cluster's kube-apiserver (fault tests)
  start-apiserver NAME   start it again on the same port
`;

function err(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const flag = (name: string): boolean => rest.includes(name);
  switch (cmd) {
    case 'up': {
      let n = DEFAULT_CLUSTERS;
      const i = rest.findIndex((a) => a === '--clusters' || a.startsWith('--clusters='));
      if (i >= 0) {
        const v = rest[i].includes('=') ? rest[i].split('=')[1] : rest[i + 1];
        n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > MAX_CLUSTERS) {
          err(`--clusters must be 1..${MAX_CLUSTERS}`);
          return 2;
        }
      }
      const t0 = Date.now();
      const tb = await ensureUp({ clusters: n, log: (m) => err(`[testbed] ${m}`) });
      err(`[testbed] ${tb.clusters.map((c) => `${c.name}=${c.server}`).join(' ')} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      process.stdout.write(`export KUBECONFIG=${tb.kubeconfig}\n`);
      return 0;
    }
    case 'down': {
      const t0 = Date.now();
      await down({ keepFiles: flag('--keep') });
      err(`[testbed] down (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      return 0;
    }
    case 'status': {
      const st = await status();
      if (flag('--json')) {
        process.stdout.write(JSON.stringify(st, null, 2) + '\n');
        return st.up ? 0 : 1;
      }
      if (st.clusters.length === 0) {
        process.stdout.write('test bed is down\n');
        return 1;
      }
      const rows = [['CLUSTER', 'SERVER', 'ETCD', 'PIDS etcd/apiserver/kcm', 'HEALTHY']];
      for (const c of st.clusters) {
        const pid = (p: number, alive: boolean): string => (p ? `${p}${alive ? '' : '(dead)'}` : '-');
        rows.push([
          c.name, c.server, String(c.etcdPort),
          `${pid(c.pids.etcd, c.alive.etcd)}/${pid(c.pids.apiserver, c.alive.apiserver)}/${pid(c.pids.kcm, c.alive.kcm)}`,
          c.healthy ? 'yes' : 'no',
        ]);
      }
      const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
      for (const r of rows) process.stdout.write(r.map((x, j) => x.padEnd(w[j])).join('  ').trimEnd() + '\n');
      process.stdout.write(`KUBECONFIG=${st.kubeconfig}\n`);
      return st.up ? 0 : 1;
    }
    case 'stop-apiserver':
    case 'start-apiserver': {
      const name = rest[0];
      if (!name) {
        err(USAGE);
        return 2;
      }
      if (cmd === 'stop-apiserver') await stopApiServer(name);
      else await startApiServer(name);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      err(`unknown command ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    err(`[testbed] error: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
