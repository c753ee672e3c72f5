// The test bed's certificates and kubeconfigs (openssl CLI; RSA keys so node-forge and everything else can read them).
// Written for Node's type stripping: erasable TypeScript only, node: builtins and js-yaml.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { ClusterParams } from './fixtures.ts';
import { cacheDir } from './paths.ts';
import { runOk } from './util.ts';

/** What a kubeconfig needs of a cluster. */
export interface KubeconfigCluster { name: string; server: string; dir: string }

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
export async function cachedKey(name: string): Promise<string> {
  const dir = join(cacheDir(), 'keys');
  const file = join(dir, `${name}.key`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await runOk('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', tmp]);
  renameSync(tmp, file);
  return file;
}

export async function makePki(pki: string, p: ClusterParams): Promise<void> {
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

export interface Creds { ca: string; cert: string; key: string }

export function readCreds(dir: string, user: 'admin' | 'viewer' = 'admin'): Creds {
  const pki = join(dir, 'pki');
  return {
    ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(pki, `${user}.crt`), 'utf8'),
    key: readFileSync(join(pki, `${user}.key`), 'utf8'),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export function kubeconfigYaml(clusters: KubeconfigCluster[], withViewer: boolean): string {
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
