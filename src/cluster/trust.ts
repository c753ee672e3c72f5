// The one trust-root reader: which roots a cluster's workloads trust, read the same way by
// `cluster link`, `ca gen`, `ca rotate` and `verify` (docs/verify.md, "Which root").
//
// The Secret `cacerts` comes in two layouts, as istiod reads them at start-up
// (pilot/pkg/bootstrap/istio_ca.go detectSigningCABundleAndCRL): when `tls.crt` exists it is a
// kubernetes.io/tls-style (cert-manager) Secret — signing cert tls.crt, key tls.key, roots ca.crt;
// otherwise Istio's own — ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem. Every
// certificate of the roots file is a root (a rotation trusts two).
//
// Precedence: the ConfigMap `istio-ca-root-cert` istiod publishes (the root bundle of the CA it
// runs with: KeyCertBundle.GetRootCertPem, written by its namespace controller) when it is there
// and holds a certificate; else the roots of `cacerts`. The published copy is what workloads
// mount and what istiod signs under now; `cacerts` is what it will run with once it has loaded
// it (verify's trust.root-in-use says when the two differ).
import type {X509Certificate} from 'node:crypto'
import type {KubeObject} from '../kube/resources.ts'
import {CACERTS_SECRET, ROOT_CERT_CONFIGMAP} from '../istio/names.ts'
import {cacertsKeys, parseBundle} from './certs.ts'

export {cacertsKeys, type CacertsKeys} from './certs.ts'

/** The roots file of a cacerts Secret (data base64 as the API returns it), decoded; undefined when absent. */
export function cacertsRootPem(secret: KubeObject | null | undefined): string | undefined {
  const data = secret?.data as Record<string, string> | undefined
  const b64 = data?.[cacertsKeys(data).roots]
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined
}

function bundle(pem: string | undefined): X509Certificate[] {
  try {
    return parseBundle(pem)
  } catch {
    return []
  }
}

export interface TrustRoots {
  roots: X509Certificate[]
  source: 'istio-ca-root-cert' | 'cacerts'
  /** "ConfigMap NS/istio-ca-root-cert" or "Secret NS/cacerts" */
  from: string
}

/** The roots a cluster trusts, by the one precedence above; undefined: neither object holds a readable certificate. */
export function trustRoots(o: {istioNamespace: string; cacerts?: KubeObject | null; rootCertConfigMap?: KubeObject | null}): TrustRoots | undefined {
  const published = bundle(o.rootCertConfigMap?.data?.['root-cert.pem'])
  if (published.length > 0) return {roots: published, source: 'istio-ca-root-cert', from: `ConfigMap ${o.istioNamespace}/${ROOT_CERT_CONFIGMAP}`}
  const secret = bundle(cacertsRootPem(o.cacerts))
  if (secret.length > 0) return {roots: secret, source: 'cacerts', from: `Secret ${o.istioNamespace}/${CACERTS_SECRET}`}
  return undefined
}
