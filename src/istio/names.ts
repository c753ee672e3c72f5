// Every cluster-side name, label and annotation kubectl-mesh reads or writes, in one place.

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
export const MANAGED_BY_VALUE = 'kubectl-mesh'
export const VERSION_ANNOTATION = 'kubectl-mesh/version'

export const DEFAULT_ISTIO_NAMESPACE = 'istio-system'
export const NETWORK_LABEL = 'topology.istio.io/network'
export const CLUSTER_LABEL = 'topology.istio.io/cluster'

// ca gen
export const CACERTS_SECRET = 'cacerts'
export const CACERTS_KEYS = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'] as const
export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert'

// Istio install objects (the per-revision names: src/istio/revision.ts)
export const EASTWEST_GATEWAY_LABEL = 'istio'
export const EASTWEST_GATEWAY_LABEL_VALUE = 'eastwestgateway'
export const CROSS_NETWORK_PORT = 15443

// cluster link
export const REMOTE_SECRET_PREFIX = 'istio-remote-secret-'
export const MULTICLUSTER_LABEL = 'istio/multiCluster'
export const CLUSTER_ANNOTATION = 'networking.istio.io/cluster'
export const READER_SERVICE_ACCOUNT = 'istio-reader-service-account'
export const READER_TOKEN_SECRET = 'istio-reader-service-account-istio-remote-secret-token'
/** cluster link across networks: the Gateway on WEST's east-west gateway that passes WEST's services through (Istio's cross-network-gateway). */
export const CROSS_NETWORK_GATEWAY = 'kubectl-mesh-cross-network'
/** On that Gateway: the IDs of the linking clusters that rely on it, sorted, comma-separated. */
export const EXPOSED_FOR_ANNOTATION = 'kubectl-mesh/exposed-for'
/** On a remote secret: what the link exposes across networks, `all` or `exported` (cluster link --expose). */
export const EXPOSE_ANNOTATION = 'kubectl-mesh/expose'
/** On a cross-network remote secret: how EAST's istiod learns WEST's network gateway (cluster link --network-config): `meshnetworks` or `gateway`. */
export const NETWORK_CONFIG_ANNOTATION = 'kubectl-mesh/network-config'
/** cluster link towards a remote-profile cluster (primary-remote): the primary's istiod passed through its east-west gateway (Istio's samples/multicluster/expose-istiod.yaml). Gateway and VirtualService share the name; the Gateway records the remote clusters relying on it (EXPOSED_FOR_ANNOTATION). */
export const ISTIOD_GATEWAY = 'kubectl-mesh-istiod'
/** istiod's xDS/CA port and its webhook port as a remote cluster reaches them (the istiod Service maps 443 → 15017). */
export const ISTIOD_XDS_PORT = 15012
export const ISTIOD_WEBHOOK_PORT = 15017
export const ISTIOD_WEBHOOK_SERVICE_PORT = 443
/** On a remote-profile cluster's Istio namespace: the cluster IDs of the primaries that run its control plane (Istio reads it to pick the config cluster). */
export const CONTROL_PLANE_CLUSTERS_ANNOTATION = 'topology.istio.io/controlPlaneClusters'
/** The reader ClusterRole (and binding) of the default revision; the one kubectl-mesh creates when a cluster has none. */
export const readerClusterRole = (istioNamespace: string) => `istio-reader-clusterrole-${istioNamespace}`

// service export / import
export const EXPORTS_GATEWAY = 'kubectl-mesh-exports'
export const EXPORTED_LABEL = 'kubectl-mesh/exported'
/** On an exported Service: the host `service export` passes it through as (NAME.NS.svc.<cluster domain>), so unexport, import and verify use the same one. */
export const EXPORTED_HOST_ANNOTATION = 'kubectl-mesh/exported-host'
export const IMPORTED_FROM_LABEL = 'kubectl-mesh/imported-from'
export const IMPORTED_SERVICE_LABEL = 'kubectl-mesh/service'
export const DNS_CAPTURE_ENV = 'ISTIO_META_DNS_CAPTURE'

/** The labels and annotations every object kubectl-mesh creates carries. */
export function stamp(version: string, labels: Record<string, string> = {}): {
  labels: Record<string, string>
  annotations: Record<string, string>
} {
  return {
    labels: {...labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE},
    annotations: {[VERSION_ANNOTATION]: version},
  }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** A DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters. */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value)
}

// cluster link (service-account tokens, gateway port override)
export const SERVICE_ACCOUNT_NAME_ANNOTATION = 'kubernetes.io/service-account.name'
export const SERVICE_ACCOUNT_TOKEN_TYPE = 'kubernetes.io/service-account-token'
export const GATEWAY_PORT_LABEL = 'networking.istio.io/gatewayPort'
/** The HBONE port istiod also accepts on a network gateway (ambient; network.go DefaultNetworkGatewayHBONEPort). */
export const HBONE_PORT = 15008
/** Annotation of a NodePort gateway Service: a JSON label map choosing the Nodes whose ExternalIPs istiod uses. */
export const NODE_SELECTOR_ANNOTATION = 'traffic.istio.io/nodeSelector'
/** The Gateway API class that declares a peer network's gateway by address (istiod reads it only from its config cluster). */
export const REMOTE_GATEWAY_CLASS = 'istio-remote'

// service export / import (exposure)
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local'
export const IMPORT_HOST_SUFFIX = 'global'
/** ConfigMap in the Istio namespace of an importing cluster: the 240.0.0.0/16 addresses handed out, key = address, value = `<namespace>/<ServiceEntry>`. */
export const ADDRESS_LEDGER_CONFIGMAP = 'kubectl-mesh-addresses'
export const IMPORT_ADDRESS_PREFIX = '240.0.'
export const MCS_API_GROUP_VERSION = 'multicluster.x-k8s.io/v1alpha1'
/** The first Istio minor version that allocates ServiceEntry addresses itself (auto-allocation v2 on by default). */
export const ISTIO_AUTO_ALLOCATE_MINOR = 25

// cluster link --token-ttl / rotate-credentials (src/link/token.ts)
/** On an anchor Secret (and a per-link token Secret) in WEST: the cluster ID of the EAST whose token it revokes when deleted. */
export const ANCHOR_FOR_LABEL = 'kubectl-mesh/token-for'
/** On an anchor: the lifetime asked for its token (e.g. "24h"), and when that token expires (RFC 3339). */
export const TOKEN_TTL_ANNOTATION = 'kubectl-mesh/token-ttl'
export const TOKEN_EXPIRES_ANNOTATION = 'kubectl-mesh/token-expires'
/** The Secret a bound reader token for EAST is bound to: deleting it revokes the token. */
export const anchorSecretName = (eastId: string, n: number) => `istio-reader-${eastId}-anchor-${n}`

// service import --via-egress (src/exposure/egress.ts)
/** The label value of Istio's egress gateway Service and Pods (`istio: egressgateway`). */
export const EGRESS_GATEWAY_LABEL_VALUE = 'egressgateway'
/** On every object of an import: how EAST's sidecars reach the host, `egress` (through EAST's egress gateway); absent: direct. */
export const IMPORT_VIA_LABEL = 'kubectl-mesh/via'
export const IMPORT_VIA_EGRESS = 'egress'
/** On the egress gateway's DestinationRule (in the egress gateway's namespace): the namespace of the import it serves. */
export const IMPORTED_NAMESPACE_LABEL = 'kubectl-mesh/namespace'
/** On an egress import's ServiceEntry: the egress gateway Service it goes through (namespace/name). */
export const EGRESS_GATEWAY_ANNOTATION = 'kubectl-mesh/egress-gateway'
/** The default trust domain of an Istio mesh (meshConfig.trustDomain). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local'

// ambient meshes (src/istio/ambient.ts)
/** Namespace (or Pod) label that enrolls workloads in ambient (label.IoIstioDataplaneMode). */
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode'
/** The label `service export` puts on a Service in an ambient mesh; kubectl-mesh's serviceScopeConfigs entry selects it (Istio's ambient multicluster guide uses the same). */
export const GLOBAL_SERVICE_LABEL = 'istio.io/global'
export const GLOBAL_SERVICE_VALUE = 'true'
/** istiod's switch for ambient multi-network (pilot/pkg/features/ambient.go). */
export const MULTI_NETWORK_ENV = 'AMBIENT_ENABLE_MULTI_NETWORK'
export const AMBIENT_ENV = 'PILOT_ENABLE_AMBIENT'
/** The GatewayClass of an ambient east-west gateway (constants.EastWestGatewayClassName). */
export const EASTWEST_GATEWAY_CLASS = 'istio-east-west'
/** The Service/Deployment label istiod's deployment controller stamps on an east-west gateway's objects. */
export const GATEWAY_MANAGED_LABEL = 'gateway.istio.io/managed'
export const EASTWEST_MANAGED_VALUE = 'istio.io-eastwest-controller'
/** …and on a waypoint's (constants.ManagedGatewayMeshControllerLabel). */
export const WAYPOINT_MANAGED_VALUE = 'istio.io-mesh-controller'
/** On a Service or namespace: the waypoint it uses (label.IoIstioUseWaypoint). */
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint'
export const USE_WAYPOINT_NAMESPACE_LABEL = 'istio.io/use-waypoint-namespace'
/** On the mesh ConfigMap: kubectl-mesh added its serviceScopeConfigs entry (unlink removes only an entry it added). */
export const SERVICE_SCOPE_OWNED_ANNOTATION = 'kubectl-mesh/service-scope'
/** The east-west Gateway `cluster link --create-gateway` writes in an ambient mesh (the name gen-eastwest-gateway.sh --ambient uses). */
export const AMBIENT_EASTWEST_GATEWAY = 'istio-eastwestgateway'
/** On an object whose istio.io/global label `service export` (or import) added: the Services that need it, sorted, comma-separated (unexport removes the label when none is left). */
export const GLOBAL_FOR_ANNOTATION = 'kubectl-mesh/global-for'
