// Kubeconfig fidelity, with kubectl as the oracle: each kubeconfig shape below is used by the
// test bed's kubectl (`get service httpbin`, namespace from the context) and by kubectl-mesh
// (`service export httpbin -o yaml`, which reads the same Service from the context's namespace
// and writes nothing), and both must come to the same outcome: it works, or it fails for the
// named cause. Proxies, a path-prefix reverse proxy and exec plugins are started here, on
// loopback; the proxies' logs prove which requests went through them.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import {delimiter, join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {dump, load} from 'js-yaml'
import {ensureHostExecutable} from '../../scripts/package.ts'
import {kubectlBin} from '../../testbed/testbed.ts'
import {run} from '../../testbed/util.ts'
import {KUBECONFIG, kubectl, logSpawn, mesh, tempDir} from './harness.ts'

const NS = 'bar' // the test bed's sample namespace: Service bar/httpbin
const SA_NS = 'kubeconfig-e2e'
const dir = tempDir('kubectl-mesh-kubeconfig-')
const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']

type Outcome = 'works' | 'not-found' | 'forbidden' | 'unauthorized' | 'tls' | 'refused' | 'proxy-refused' | 'dns' | 'exec-failed' | 'config' | 'hangs' | 'exec-timeout'

// What each tool prints for each cause. Checked in this order (a refused proxy is also "refused").
const CAUSES: Array<[Outcome, RegExp, RegExp]> = [
  // [outcome, kubectl stderr, kubectl-mesh stderr]
  ['config', /unsupported scheme|interactiveMode must be specified|context was not found|does not exist/, /unsupported scheme|interactiveMode must be specified|not found in kubeconfig/],
  ['exec-failed', /getting credentials: exec: executable .* failed with exit code|getting credentials: exec/, /cannot obtain credentials: the exec plugin ".*" failed/],
  ['exec-timeout', /$^/, /cannot obtain credentials: the exec plugin ".*" gave no credentials within/],
  ['proxy-refused', /proxyconnect tcp: .*connection refused|socks connect tcp .*connection refused/, /connection refused.*through the proxy of/],
  ['refused', /connection refused/, /connection refused/],
  ['dns', /no such host|server misbehaving/, /ENOTFOUND|EAI_AGAIN/],
  ['tls', /x509: |tls: /, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|ERR_TLS_CERT_ALTNAME_INVALID|unable to verify|self[- ]signed|certificate/i],
  ['unauthorized', /Unauthorized|must be logged in/, /unauthorized to /],
  ['forbidden', /Forbidden|forbidden/, /forbidden to /],
  ['not-found', /NotFound|not found/, /not found|does not exist/],
]

interface Run {code: number | null; stdout: string; stderr: string; killed: boolean}

function classify(tool: 'kubectl' | 'mesh', r: Run): Outcome | string {
  if (r.killed) return 'hangs'
  if (r.code === 0) {
    const ok = tool === 'kubectl' ? r.stdout.trim() === NS : new RegExp(`httpbin\\.${NS}\\.svc\\.`).test(r.stdout)
    return ok ? 'works' : `exit 0 but unexpected output: ${r.stdout.slice(0, 300)}`
  }
  for (const [outcome, k, m] of CAUSES) if ((tool === 'kubectl' ? k : m).test(r.stderr)) return outcome
  return `unclassified (exit ${r.code}): ${r.stderr.trim().slice(0, 400)}`
}

/** Run kubectl (the oracle) with this env; killed after `deadlineMs`. */
async function runKubectl(args: string[], env: Record<string, string | undefined>, deadlineMs: number): Promise<Run> {
  const e: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, ...env})) if (v !== undefined) e[k] = v
  const {code, stdout, stderr, timedOut} = await run(kubectlBin(), args, {env: e, cwd: '/', timeoutMs: deadlineMs})
  return {code, stdout, stderr, killed: timedOut}
}

// ---------------------------------------------------------------------------------------------
// Loopback helpers: an HTTP CONNECT (and forward) proxy, a SOCKS5 proxy, a path-prefix reverse proxy.
// They connect only to loopback: *.mesh.test names stand for 127.0.0.1 (resolved by the proxy,
// as a real proxy resolves names the client cannot).

const loopbackTarget = (host: string): string | undefined =>
  host === '127.0.0.1' || host === 'localhost' ? '127.0.0.1' : host.endsWith('.mesh.test') ? '127.0.0.1' : undefined

interface Proxy {port: number; log: string[]; close(): Promise<void>}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)))
}
const closer = (server: net.Server, sockets: Set<net.Socket>) => () => new Promise<void>((resolve) => {
  for (const s of sockets) s.destroy()
  server.close(() => resolve())
})

async function startHttpProxy(): Promise<Proxy> {
  const log: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`)
    res.writeHead(501).end('only CONNECT here')
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.on('connect', (req, sock: net.Socket, head) => {
    log.push(`CONNECT ${req.url}`)
    const m = /^(.*):(\d+)$/.exec(req.url ?? '')
    const target = m ? loopbackTarget(m[1].replace(/^\[|\]$/g, '')) : undefined
    if (!m || !target) return sock.end('HTTP/1.1 403 Forbidden\r\n\r\n')
    const up = net.connect(Number(m[2]), target, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      up.write(head)
      up.pipe(sock)
      sock.pipe(up)
    })
    sockets.add(up)
    up.on('close', () => sockets.delete(up))
    up.on('error', () => sock.destroy())
    sock.on('error', () => up.destroy())
  })
  return {port: await listen(server), log, close: closer(server, sockets)}
}

async function startSocksProxy(): Promise<Proxy> {
  const log: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    sock.once('data', (greeting) => {
      if (greeting[0] !== 5) return sock.destroy()
      sock.write(Buffer.from([5, 0])) // no authentication
      sock.once('data', (req) => {
        let host: string
        let off: number
        if (req[3] === 1) { host = [...req.subarray(4, 8)].join('.'); off = 8 }
        else if (req[3] === 3) { host = req.toString('utf8', 5, 5 + req[4]); off = 5 + req[4] }
        else { host = `[ipv6 ${req.subarray(4, 20).toString('hex')}]`; off = 20 }
        const port = req.readUInt16BE(off)
        log.push(`SOCKS5 CONNECT ${req[3] === 3 ? 'name' : 'address'} ${host}:${port}`)
        const target = req[1] === 1 ? loopbackTarget(host) : undefined
        if (!target) return sock.end(Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]))
        const up = net.connect(port, target, () => {
          sock.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
          up.pipe(sock)
          sock.pipe(up)
        })
        sockets.add(up)
        up.on('close', () => sockets.delete(up))
        up.on('error', () => sock.destroy())
      })
    })
  })
  return {port: await listen(server), log, close: closer(server, sockets)}
}

/** Plain HTTP on loopback at /k8s/…, forwarded to the API server with the admin's certificate. */
async function startPrefixProxy(upstream: URL, tls: {ca: Buffer; cert: Buffer; key: Buffer}): Promise<Proxy> {
  const log: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`)
    if (!req.url?.startsWith('/k8s/')) return res.writeHead(404, {'Content-Type': 'text/plain'}).end('404 page not found: no /k8s prefix')
    const up = https.request({hostname: upstream.hostname, port: upstream.port, path: req.url.slice('/k8s'.length), method: req.method, headers: {...req.headers, host: upstream.host}, ...tls}, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', (e) => res.writeHead(502).end(String(e)))
    req.pipe(up)
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  return {port: await listen(server), log, close: closer(server, sockets)}
}

async function deadPort(): Promise<number> {
  const s = net.createServer()
  const port = await listen(s)
  await new Promise((r) => s.close(r))
  return port
}

// ---------------------------------------------------------------------------------------------

interface Shape {
  name: string
  /** kubeconfig documents; the first is --kubeconfig unless `list` makes a KUBECONFIG list. */
  files: () => Record<string, unknown>
  list?: string[]
  env?: () => Record<string, string>
  context?: string
  expect: Outcome
  /** A different, documented outcome for kubectl-mesh. */
  meshExpect?: Outcome
  /** After both runs: what the proxy logs must show. */
  check?: () => void
  /** Also run the single executable (the proxy agents and client-node are bundled parts there). */
  sea?: boolean
}

/** The host's single executable, run like the CLI above (no Node on PATH), logged for the leak scan. */
async function runSea(exe: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const e: Record<string, string> = {PATH: '/nonexistent', HOME: dir, NO_COLOR: '1'}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) e[k] = v
  const {code, stdout, stderr} = await run(exe, args, {env: e, cwd: '/'})
  logSpawn(args, {status: code, stdout, stderr})
  return {code, stdout, stderr, killed: false}
}

describe('kubeconfig shapes: kubectl and kubectl-mesh agree', () => {
  const full = load(readFileSync(KUBECONFIG, 'utf8')) as any
  const cl1 = full.clusters.find((c: any) => c.name === 'cluster1').cluster
  const admin = full.users.find((u: any) => u.name === 'cluster1-admin').user
  const server = new URL(cl1.server)
  const ca = Buffer.from(cl1['certificate-authority-data'], 'base64')
  const cert = Buffer.from(admin['client-certificate-data'], 'base64')
  const key = Buffer.from(admin['client-key-data'], 'base64')
  let httpProxy: Proxy
  let socksProxy: Proxy
  let prefixProxy: Proxy
  let dead: number
  let token = ''
  let exe = ''
  const results: string[] = []

  // Files next to the kubeconfigs, referenced absolutely or relatively.
  const pki = join(dir, 'pki')
  mkdirSync(join(dir, 'sub', 'creds'), {recursive: true})
  mkdirSync(pki, {recursive: true})
  writeFileSync(join(pki, 'ca.crt'), ca)
  writeFileSync(join(pki, 'admin.crt'), cert)
  writeFileSync(join(pki, 'admin.key'), key, {mode: 0o600})
  writeFileSync(join(dir, 'sub', 'creds', 'ca.crt'), ca)
  writeFileSync(join(dir, 'sub', 'creds', 'admin.crt'), cert)
  writeFileSync(join(dir, 'sub', 'creds', 'admin.key'), key, {mode: 0o600})
  const plugin = (name: string, body: string) => {
    const f = join(dir, 'sub', 'creds', name)
    writeFileSync(f, `#!/bin/sh\n${body}\n`)
    chmodSync(f, 0o755)
    return f
  }

  const kc = (cluster: Record<string, unknown>, user: Record<string, unknown>, ctx: Record<string, unknown> = {}) => ({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{name: 'k', cluster}], users: [{name: 'u', user}], contexts: [{name: 'c', context: {cluster: 'k', user: 'u', namespace: NS, ...ctx}}],
  })
  const good = () => ({server: server.href.replace(/\/$/, ''), 'certificate-authority-data': cl1['certificate-authority-data']})
  const adminUser = () => ({'client-certificate-data': admin['client-certificate-data'], 'client-key-data': admin['client-key-data']})
  const execUser = (apiVersion: string, command: string, extra: Record<string, unknown> = {}) => ({exec: {apiVersion, command, ...extra}})
  const atHost = (host: string) => `https://${host}:${server.port}`

  const shapes: Shape[] = [
    {name: 'client certificate and CA inline (the test bed\'s own)', files: () => kc(good(), adminUser()), expect: 'works'},
    {name: 'client-certificate, client-key and certificate-authority files (absolute paths)', files: () => kc({server: good().server, 'certificate-authority': join(pki, 'ca.crt')}, {'client-certificate': join(pki, 'admin.crt'), 'client-key': join(pki, 'admin.key')}), expect: 'works'},
    {name: 'relative file paths, relative to the kubeconfig file (sub/config → sub/creds/*)', files: () => ({'sub/config': kc({server: good().server, 'certificate-authority': 'creds/ca.crt'}, {'client-certificate': 'creds/admin.crt', 'client-key': './creds/admin.key'})}), expect: 'works'},
    {name: 'token (a ServiceAccount\'s, from kubectl create token)', files: () => kc(good(), {token}), expect: 'works'},
    {name: 'tokenFile, relative path', files: () => ({'sub/config': kc(good(), {tokenFile: 'creds/token'})}), expect: 'works'},
    {name: 'a token the API server rejects', files: () => kc(good(), {token: 'not-a-valid-token'}), expect: 'unauthorized'},
    {name: 'no certificate-authority: the server certificate is not trusted', files: () => kc({server: good().server}, adminUser()), expect: 'tls'},
    {name: 'insecure-skip-tls-verify without a CA', files: () => kc({server: good().server, 'insecure-skip-tls-verify': true}, adminUser()), expect: 'works'},
    {name: 'tls-server-name that the certificate names (kubernetes.default)', files: () => kc({...good(), 'tls-server-name': 'kubernetes.default'}, adminUser()), expect: 'works'},
    {name: 'tls-server-name that the certificate does not name', files: () => kc({...good(), 'tls-server-name': 'wrong.example'}, adminUser()), expect: 'tls'},
    {name: 'exec plugin, client.authentication.k8s.io/v1beta1', files: () => kc(good(), execUser('client.authentication.k8s.io/v1beta1', plugin('v1beta1.sh', `printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$(/bin/cat ${join(dir, 'sub', 'creds', 'token')})"`))), expect: 'works', sea: true},
    {name: 'exec plugin, client.authentication.k8s.io/v1 with interactiveMode Never', files: () => kc(good(), execUser('client.authentication.k8s.io/v1', plugin('v1.sh', `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(/bin/cat ${join(dir, 'sub', 'creds', 'token')})"`), {interactiveMode: 'Never'})), expect: 'works'},
    {name: 'exec plugin, v1 without interactiveMode (required by v1)', files: () => kc(good(), execUser('client.authentication.k8s.io/v1', join(dir, 'sub', 'creds', 'v1.sh'))), expect: 'config'},
    {name: 'exec plugin, relative command (./creds/v1.sh next to sub/config)', files: () => ({'sub/config': kc(good(), execUser('client.authentication.k8s.io/v1', './creds/v1.sh', {interactiveMode: 'Never'}))}), expect: 'works'},
    {name: 'exec plugin that fails (exit 1)', files: () => kc(good(), execUser('client.authentication.k8s.io/v1beta1', plugin('fail.sh', 'echo "no credentials for you" >&2; exit 1'))), expect: 'exec-failed'},
    {
      name: 'exec plugin that hangs: kubectl waits for ever, kubectl-mesh ends it after --request-timeout',
      files: () => kc(good(), execUser('client.authentication.k8s.io/v1beta1', plugin('hang.sh', 'exec sleep 20'), {interactiveMode: 'Never'})),
      expect: 'hangs', meshExpect: 'exec-timeout',
    },
    {
      name: 'KUBECONFIG list with duplicate names: the first file\'s context, cluster and user win',
      files: () => ({
        'a.yaml': {...kc(good(), adminUser()), contexts: [{name: 'dup', context: {cluster: 'k', user: 'u', namespace: NS}}], 'current-context': 'dup'},
        'b.yaml': {...kc({server: `https://127.0.0.1:${dead}`, 'certificate-authority-data': cl1['certificate-authority-data']}, {token: 'bad'}), contexts: [{name: 'dup', context: {cluster: 'k', user: 'u', namespace: 'default'}}], 'current-context': 'dup'},
      }),
      list: ['a.yaml', 'b.yaml'], expect: 'works',
    },
    {
      name: 'the same KUBECONFIG list the other way round: the dead server of the first file wins',
      files: () => ({
        'a.yaml': {...kc(good(), adminUser()), contexts: [{name: 'dup', context: {cluster: 'k', user: 'u', namespace: NS}}], 'current-context': 'dup'},
        'b.yaml': {...kc({server: `https://127.0.0.1:${dead}`, 'certificate-authority-data': cl1['certificate-authority-data']}, adminUser()), contexts: [{name: 'dup', context: {cluster: 'k', user: 'u', namespace: NS}}], 'current-context': 'dup'},
      }),
      list: ['b.yaml', 'a.yaml'], expect: 'refused',
    },
    {name: 'context namespace default: the Service is not there', files: () => kc(good(), adminUser(), {namespace: 'default'}), expect: 'not-found'},
    {name: 'an unknown --context', files: () => kc(good(), adminUser()), context: 'nope', expect: 'config'},
    {name: 'IPv6 server [::1] (the API servers listen on 127.0.0.1 only)', files: () => kc({...good(), server: atHost('[::1]')}, adminUser()), expect: 'refused'},
    {
      name: 'server URL with a path prefix (http://127.0.0.1:P/k8s, a reverse proxy)',
      files: () => kc({server: `http://127.0.0.1:${prefixProxy.port}/k8s`}, {}),
      expect: 'works',
      check: () => {
        assert.ok(prefixProxy.log.length > 0)
        assert.deepEqual(prefixProxy.log.filter((l) => !l.includes(' /k8s/')), [], 'every request carried the prefix')
        assert.ok(prefixProxy.log.some((l) => l.startsWith(`GET /k8s/api/v1/namespaces/${NS}/services/httpbin`)), prefixProxy.log.join('\n'))
      },
    },
    {name: 'impersonation: as a user with no rights', files: () => kc(good(), {...adminUser(), as: 'nobody'}), expect: 'forbidden'},
    {name: 'impersonation: as a user, as-groups system:masters', files: () => kc(good(), {...adminUser(), as: 'nobody', 'as-groups': ['system:authenticated', 'system:masters']}), expect: 'works', sea: true},
    {
      name: 'proxy-url http:// (CONNECT through a proxy on loopback)',
      files: () => kc({...good(), 'proxy-url': `http://127.0.0.1:${httpProxy.port}`}, adminUser()),
      expect: 'works',
      sea: true,
      check: () => assert.ok(httpProxy.log.filter((l) => l === `CONNECT 127.0.0.1:${server.port}`).length >= 2, `both tools tunnelled: ${httpProxy.log.join(', ')}`),
    },
    {name: 'proxy-url http:// to a dead proxy', files: () => kc({...good(), 'proxy-url': `http://127.0.0.1:${dead}`}, adminUser()), expect: 'proxy-refused'},
    {
      name: 'proxy-url socks5:// (the host name goes to the proxy)',
      files: () => kc({...good(), server: atHost('kube.mesh.test'), 'tls-server-name': 'kubernetes.default', 'proxy-url': `socks5://127.0.0.1:${socksProxy.port}`}, adminUser()),
      expect: 'works',
      sea: true,
      check: () => assert.ok(socksProxy.log.filter((l) => l === `SOCKS5 CONNECT name kube.mesh.test:${server.port}`).length >= 2, `both tools tunnelled: ${socksProxy.log.join(', ')}`),
    },
    {name: 'proxy-url socks5:// to a dead proxy', files: () => kc({...good(), 'proxy-url': `socks5://127.0.0.1:${dead}`}, adminUser()), expect: 'proxy-refused'},
    {name: 'proxy-url with an unsupported scheme (socks4://)', files: () => kc({...good(), 'proxy-url': `socks4://127.0.0.1:${dead}`}, adminUser()), expect: 'config'},
    {
      name: 'HTTPS_PROXY and a server on 127.0.0.1: loopback never goes through an environment proxy',
      files: () => kc(good(), adminUser()),
      env: () => ({HTTPS_PROXY: `http://127.0.0.1:${dead}`}),
      expect: 'works',
    },
    {
      name: 'HTTPS_PROXY and a server name only the proxy resolves',
      files: () => kc({...good(), server: atHost('api.mesh.test'), 'tls-server-name': 'kubernetes.default'}, adminUser()),
      env: () => ({HTTPS_PROXY: `127.0.0.1:${httpProxy.port}`, NO_PROXY: 'example.com,10.0.0.0/8'}),
      expect: 'works',
      sea: true,
      check: () => assert.ok(httpProxy.log.filter((l) => l === `CONNECT api.mesh.test:${server.port}`).length >= 2, `both tools tunnelled: ${httpProxy.log.join(', ')}`),
    },
    {
      name: 'HTTPS_PROXY with NO_PROXY=.mesh.test: direct, and the name does not resolve',
      files: () => kc({...good(), server: atHost('api.mesh.test'), 'tls-server-name': 'kubernetes.default'}, adminUser()),
      env: () => ({https_proxy: `http://127.0.0.1:${httpProxy.port}`, no_proxy: '.mesh.test'}),
      expect: 'dns',
      check: () => assert.deepEqual(httpProxy.log.filter((l) => l.includes('api.mesh.test')), [], 'nothing went through the proxy'),
    },
    {
      name: 'HTTPS_PROXY pointing at a dead proxy',
      files: () => kc({...good(), server: atHost('api.mesh.test'), 'tls-server-name': 'kubernetes.default'}, adminUser()),
      env: () => ({HTTPS_PROXY: `http://127.0.0.1:${dead}`}),
      expect: 'proxy-refused',
    },
  ]

  before(async () => {
    exe = await ensureHostExecutable()
    httpProxy = await startHttpProxy()
    socksProxy = await startSocksProxy()
    prefixProxy = await startPrefixProxy(server, {ca, cert, key})
    dead = await deadPort()
    // A ServiceAccount and a short-lived token for it.
    await kubectl(['create', 'namespace', SA_NS], {context: 'cluster1', allowFail: true})
    await kubectl(['create', 'serviceaccount', 'reader', '-n', SA_NS], {context: 'cluster1', allowFail: true})
    // export reads istio-system too (Gateways, meshConfig): the account gets cluster-admin.
    await kubectl(['create', 'clusterrolebinding', 'kubeconfig-e2e-reader', '--clusterrole=cluster-admin', `--serviceaccount=${SA_NS}:reader`], {context: 'cluster1', allowFail: true})
    token = (await kubectl(['create', 'token', 'reader', '-n', SA_NS, '--duration=1h'], {context: 'cluster1'})).stdout.trim()
    assert.ok(token.length > 100)
    writeFileSync(join(dir, 'sub', 'creds', 'token'), `${token}\n`, {mode: 0o600})
  })

  after(async () => {
    await Promise.all([httpProxy?.close(), socksProxy?.close(), prefixProxy?.close()])
    await kubectl(['delete', 'clusterrolebinding', 'kubeconfig-e2e-reader', '--ignore-not-found'], {context: 'cluster1', allowFail: true})
    await kubectl(['delete', 'namespace', SA_NS, '--ignore-not-found', '--wait=false'], {context: 'cluster1', allowFail: true})
    process.stderr.write(`\nkubeconfig shapes (shape | kubectl | kubectl-mesh):\n${results.join('\n')}\n`)
  })

  test(`at least 20 shapes (${shapes.length})`, () => assert.ok(shapes.length >= 20))

  shapes.forEach((shape, i) => {
    test(shape.name, {timeout: 120_000}, async () => {
      const base = join(dir, `shape-${i}`)
      for (const p of [httpProxy, socksProxy, prefixProxy]) p.log.length = 0
      const docs = shape.files()
      const named = 'apiVersion' in docs ? {config: docs} : (docs as Record<string, unknown>)
      for (const [name, doc] of Object.entries(named)) {
        // Files under sub/ sit next to the shared sub/creds.
        const f = name.startsWith('sub/') ? join(dir, name.replace('sub/', `sub/${i}-`)) : join(base, name)
        mkdirSync(join(f, '..'), {recursive: true})
        writeFileSync(f, dump(doc), {mode: 0o600})
      }
      const path = (name: string) => (name.startsWith('sub/') ? join(dir, name.replace('sub/', `sub/${i}-`)) : join(base, name))
      const files = shape.list ? shape.list.map(path) : [path(Object.keys(named)[0])]
      const env: Record<string, string | undefined> = Object.fromEntries(PROXY_VARS.map((v) => [v, undefined]))
      Object.assign(env, shape.env?.(), {KUBECONFIG: files.join(delimiter)})
      const ctx = shape.context ? ['--context', shape.context] : []
      const k = await runKubectl(['--cache-dir', join(base, 'kubectl-cache'), '--request-timeout=5s', ...ctx, 'get', 'service', 'httpbin', '-o', 'jsonpath={.metadata.namespace}'], env, 8_000)
      const m = await mesh(['service', 'export', 'httpbin', ...ctx, '-o', 'yaml', '--request-timeout', '4s'], {env, cwd: '/'})
      const ko = classify('kubectl', k)
      const mo = classify('mesh', {...m, killed: false})
      results.push(`${shape.name} | ${ko} | ${mo}`)
      assert.equal(ko, shape.expect, `kubectl: ${k.stderr}`)
      assert.equal(mo, shape.meshExpect ?? shape.expect, `kubectl-mesh: ${m.stderr}`)
      if (m.code !== 0) {
        const lines = m.stderr.trim().split('\n')
        assert.match(lines[0], /^Error: /, 'one Error: line')
        assert.doesNotMatch(m.stderr, /\n\s+at /, 'no stack trace')
      }
      shape.check?.()
      if (shape.sea) {
        const before = [...httpProxy.log, ...socksProxy.log].length
        const r = await runSea(exe, ['service', 'export', 'httpbin', ...ctx, '-o', 'yaml', '--request-timeout', '4s'], env)
        assert.equal(classify('mesh', r), shape.expect, `single executable: ${r.stderr}`)
        if (shape.check) assert.ok([...httpProxy.log, ...socksProxy.log].length > before, 'the single executable went through the proxy too')
      }
    })
  })
})
