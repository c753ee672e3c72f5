// Test bed CLI: node testbed/cli.ts up [--clusters N] [--istio [--remote NAME]...] | down [--keep] | status [--json]
//                                  | stop-apiserver NAME [--graceful] | start-apiserver NAME
//                                  | workload --context CTX -n NS NAME --port P... [--no-sidecar]
//                                  | xds --context CTX (--pod NS/NAME | --app NS/APP | --eastwest | --egress)
//                                  | gateway --context CTX SHAPE [--address A]
// `up` prints `export KUBECONFIG=<path>` on stdout (progress goes to stderr), so
// `eval "$(node testbed/cli.ts up)"` works.
import {
  DEFAULT_CLUSTERS, MAX_CLUSTERS, down, ensureUp, startApiServer, status, stopApiServer,
} from './testbed.ts';
import { ambientInstalled, installIstio, installRemoteIstio, istioInstalled, remoteInstalled, uninstallIstio } from './istio-install.ts';
import { memoryMiB, runningIstiod } from './istiod.ts';
import { addWorkload, parsePort } from './workloads.ts';
import { xds } from './xds.ts';
import { GATEWAY_SHAPES, type GatewayShape, parseGatewayArg, setGatewayShape } from './gateways.ts';
import { ztunnelView } from './ztunnel.ts';

const USAGE = `usage: node testbed/cli.ts <command>
  up [--clusters N] [--istio [--ambient [--sidecar NAME]...] [--remote NAME]... [--gateway [CLUSTER=]SHAPE]...]
                         start N clusters (default ${DEFAULT_CLUSTERS}, max ${MAX_CLUSTERS}); no-op when already up;
                         --istio: Istio as istioctl renders it, one real istiod per cluster, injected sample Pods;
                         --ambient: Istio's ambient profile with istiod's AMBIENT_ENABLE_MULTI_NETWORK=true, the
                         istio-east-west Gateway (gen-eastwest-gateway.sh --ambient; istiod makes its Deployment and
                         Service, the bed gives it a load-balancer address), ambient-captured sample Pods
                         --sidecar NAME (with --ambient): that cluster gets the sidecar install instead (a mixed
                         mesh: a sidecar cluster beside ambient ones, istio/istio#57878)
                         --remote NAME: that cluster gets Istio's remote profile instead (no istiod; its
                         control plane is cluster1's istiod, remotePilotAddress = cluster1's east-west gateway)
                         --gateway: the east-west gateway's shape (${GATEWAY_SHAPES.join('|')}; default lb-ip),
                         for every cluster or CLUSTER= only (testbed/gateways.ts)
  gateway --context CTX SHAPE [--address A]
                         turn a running bed's east-west gateway into SHAPE; --address moves it (the IP, the
                         DNS answer of lb-hostname, node -a's ExternalIP for nodeport, the load-balancer IP of
                         the Service istiod makes for gateway-api's Gateway); prints what istiod uses
  down [--keep]          stop every test bed process; --keep keeps .testbed/ (logs, data)
  status [--json]        clusters, ports, pids, health (exit 1 when not up and healthy)
  stop-apiserver NAME [--graceful]
                         stop one cluster's kube-apiserver (SIGKILL; --graceful: SIGTERM)
  start-apiserver NAME   start it again on the same port
  workload --context CTX -n NS NAME --port [NAME:]PORT[:TARGET]... [--no-sidecar] [--ip IP]
                         a Service and a Pod NAME-0 behind it (Running, Ready, pod IP; injected
                         when an injector answers, else labelled as an injected Pod)
  xds --context CTX (--pod NS/NAME | --app NS/APP | --eastwest | --egress) [--istiod-context CTX2] [--timeout S]
                         what that cluster's istiod (or CTX2's: a remote-profile cluster's control plane) sends to the Pod's proxy, as JSON
                         {clusters, endpoints, listeners, routes, nameTable} (Istio's ADS client)
  xds --ztunnel --context CTX [--istiod-context CTX2] [--timeout S]
                         what istiod sends a ztunnel of CTX (delta xDS, istio.workload.Address; Istio's delta ADS
                         client), as JSON {addresses: [{name, address: {workload}|{service}}]}
`;

function err(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const flag = (name: string): boolean => rest.includes(name);
  /** Every value of --name V / --name=V (and -s for a short alias). */
  const values = (name: string, short?: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === name || (short && rest[i] === short)) out.push(rest[++i] ?? '');
      else if (rest[i].startsWith(`${name}=`)) out.push(rest[i].slice(name.length + 1));
    }
    return out;
  };
  const value = (name: string, short?: string): string | undefined => values(name, short).pop();
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
      const remotes = values('--remote');
      if (flag('--ambient') && !flag('--istio')) {
        err('--ambient needs --istio (the ambient profile runs on a real istiod)');
        return 2;
      }
      if (flag('--ambient') && remotes.length > 0) {
        err('--ambient and --remote: the bed has no ambient primary-remote install; use --ambient alone');
        return 2;
      }
      const sidecars = values('--sidecar');
      if (sidecars.length > 0 && !flag('--ambient')) {
        err('--sidecar needs --ambient (without it every cluster runs sidecars)');
        return 2;
      }
      const badSidecar = sidecars.find((r) => !/^cluster\d+$/.test(r) || Number(r.slice(7)) < 1 || Number(r.slice(7)) > n);
      if (badSidecar !== undefined) {
        err(`--sidecar ${badSidecar}: name a cluster of the bed: cluster1..cluster${n} (--clusters N for more)`);
        return 2;
      }
      if (remotes.length > 0 && !flag('--istio')) {
        err('--remote needs --istio (the remote profile needs a primary with a real istiod)');
        return 2;
      }
      const bad = remotes.find((r) => !/^cluster\d+$/.test(r) || Number(r.slice(7)) < 2 || Number(r.slice(7)) > n);
      if (bad !== undefined) {
        err(`--remote ${bad}: name a cluster of the bed other than cluster1 (its primary): cluster2..cluster${n}`);
        return 2;
      }
      const gatewayArgs = values('--gateway');
      if (gatewayArgs.length > 0 && !flag('--istio')) {
        err('--gateway needs --istio (the shapes are of the installed east-west gateway)');
        return 2;
      }
      const names = Array.from({ length: n }, (_, i) => `cluster${i + 1}`);
      let shapes: Array<{ cluster: string; shape: GatewayShape }>;
      try {
        shapes = gatewayArgs.flatMap((a) => parseGatewayArg(a, names.filter((c) => !remotes.includes(c))));
      } catch (e) {
        err((e as Error).message);
        return 2;
      }
      const t0 = Date.now();
      const log = (m: string): void => err(`[testbed] ${m}`);
      const tb = await ensureUp({ clusters: n, log });
      err(`[testbed] ${tb.clusters.map((c) => `${c.name}=${c.server}`).join(' ')} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      if (flag('--istio')) {
        for (const c of tb.clusters) {
          if (remotes.includes(c.name)) continue;
          const ambient = flag('--ambient') && !sidecars.includes(c.name);
          if (istioInstalled(c.name) && runningIstiod(c.name) && ambientInstalled(c.name) === ambient) {
            log(`${c.name}: Istio${ambient ? ' (ambient)' : ''} already installed, istiod running`);
            continue;
          }
          if (istioInstalled(c.name) && ambientInstalled(c.name) !== ambient) await uninstallIstio(c.name);
          const t1 = Date.now();
          const inst = await installIstio(c.name, { log, ambient });
          const mem = memoryMiB(inst.istiod.pid);
          log(`${c.name}: Istio installed in ${((Date.now() - t1) / 1000).toFixed(1)}s (${Object.entries(inst.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}); istiod pid ${inst.istiod.pid}, xDS 127.0.0.1:${inst.istiod.ports.grpc}, debug ${inst.istiod.debugUrl}, RSS ${mem?.rss ?? '?'} MiB`);
        }
        for (const r of remotes) {
          if (remoteInstalled(r)) {
            log(`${r}: Istio's remote profile already installed`);
            continue;
          }
          if (istioInstalled(r)) await uninstallIstio(r);
          const t1 = Date.now();
          const inst = await installRemoteIstio(r, 'cluster1', { log });
          log(`${r}: remote profile installed in ${((Date.now() - t1) / 1000).toFixed(1)}s (${Object.entries(inst.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}); no istiod: its control plane is cluster1 (link it: kubectl mesh cluster link --context cluster1 --remote-context ${r})`);
        }
      }
      for (const { cluster, shape } of shapes) {
        const r = await setGatewayShape(cluster, shape);
        log(`${cluster}: east-west gateway ${r.shape}, istiod uses ${r.targets.join(', ')}`);
      }
      process.stdout.write(`export KUBECONFIG=${tb.kubeconfig}\n`);
      return 0;
    }
    case 'gateway': {
      const context = value('--context');
      const shape = rest.find((a, i) => !a.startsWith('-') && !['--context', '--address'].includes(rest[i - 1] ?? ''));
      if (!context || !shape || !(GATEWAY_SHAPES as readonly string[]).includes(shape)) {
        err(USAGE);
        return 2;
      }
      const r = await setGatewayShape(context, shape as GatewayShape, value('--address'));
      process.stdout.write(`${context}: east-west gateway ${r.shape}, istiod uses ${r.targets.join(', ')}\n`);
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
      if (cmd === 'stop-apiserver') await stopApiServer(name, { graceful: flag('--graceful') });
      else await startApiServer(name);
      return 0;
    }
    case 'workload': {
      const context = value('--context');
      const namespace = value('--namespace', '-n');
      const name = rest.find((a, i) => !a.startsWith('-') && !['--context', '--namespace', '-n', '--port', '--ip'].includes(rest[i - 1] ?? ''));
      const ports = values('--port');
      if (!context || !namespace || !name || ports.length === 0) {
        err(USAGE);
        return 2;
      }
      const w = await addWorkload({ context, namespace, name, ports: ports.map(parsePort), sidecar: !flag('--no-sidecar'), ip: value('--ip') });
      process.stdout.write(`${context}: ${namespace}/${w.pod} ${w.ip} (sidecar: ${w.sidecar})\n`);
      return 0;
    }
    case 'xds': {
      const context = value('--context');
      if (!context) {
        err(USAGE);
        return 2;
      }
      const timeout = value('--timeout');
      if (flag('--ztunnel')) {
        const z = await ztunnelView({ context, istiodContext: value('--istiod-context'), timeoutMs: timeout ? Number(timeout) * 1000 : undefined });
        process.stdout.write(JSON.stringify(z, null, 1) + '\n');
        return 0;
      }
      const d = await xds({ context, pod: value('--pod'), app: value('--app'), eastwest: flag('--eastwest') || undefined, egress: flag('--egress') || undefined, istiodContext: value('--istiod-context'), timeoutMs: timeout ? Number(timeout) * 1000 : undefined });
      process.stdout.write(JSON.stringify(d, null, 1) + '\n');
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
