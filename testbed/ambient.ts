// The ambient east-west gateway's life on the test bed (`up --istio --ambient`), for the breaks a
// real cluster shows (test/e2e/ambient.test.ts):
// - recreateEastWestGateway: the istio-east-west Gateway deleted and created again, as a user does
//   with `kubectl delete/apply`. The controller-manager's garbage collector takes istiod's
//   Deployment and Service (their owner is the Gateway); the bed removes the gateway's Pod (on a
//   real cluster its ReplicaSet goes with the Deployment). istiod's deployment controller makes a
//   new Deployment and Service; nothing gives that Service a load-balancer address (the bed's
//   load balancer acts once, at install), and the bed plays the Deployment controller (the gateway's
//   Pod again). istiod then writes the Service's ClusterIP into the Gateway's status, Programmed
//   False / AddressNotAssigned (pilot/pkg/config/kube/gateway/conversion.go reportGatewayStatus: no
//   external address → the internal IPs; gatewaycommon/context.go ResolveGatewayInstances: the
//   LoadBalancer address "pending"). Seen on the bed: the ClusterIP is there even before the new
//   Pod is ready (istiod still holds the old Pod's endpoint for the host), and once written it
//   stays ("never remove the address"): a status without any address does not happen here.
// - assignLoadBalancer: what a cloud's load-balancer controller does: the address in the Service's
//   status; istiod then writes it into the Gateway's status.
// Written for Node's type stripping: erasable TypeScript only, node: builtins.
import { clusterIndex, clusterParams } from './fixtures.ts';
import { addGatewayPod, EASTWEST_GATEWAY, samplePodIps, setLoadBalancerIp } from './istio-install.ts';
import { waitUntil } from './istiod.ts';
import { kubectl } from './kubectl.ts';

const NS = 'istio-system';
const GATEWAY = 'gateways.gateway.networking.k8s.io';

async function getJson(cluster: string, args: string[]): Promise<any | undefined> {
  const r = await kubectl(['-n', NS, 'get', ...args, '-o', 'json'], { context: cluster, allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** The addresses in the east-west Gateway's status. */
export async function eastWestStatusAddresses(cluster: string): Promise<string[]> {
  const g = await getJson(cluster, [GATEWAY, EASTWEST_GATEWAY]);
  return ((g?.status?.addresses ?? []) as Array<{ value: string }>).map((a) => a.value);
}

/** Delete and create again the istio-east-west Gateway (see the top of this file); resolves once istiod made the new Service (ClusterIP returned). */
export async function recreateEastWestGateway(cluster: string): Promise<{ clusterIP: string }> {
  const gw = await getJson(cluster, [GATEWAY, EASTWEST_GATEWAY]);
  if (!gw) throw new Error(`${cluster}: no Gateway ${NS}/${EASTWEST_GATEWAY} (npm run testbed -- up --istio --ambient)`);
  const { name, namespace, labels, annotations } = gw.metadata;
  delete annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
  const oldUid = (await getJson(cluster, ['service', EASTWEST_GATEWAY]))?.metadata?.uid;
  await kubectl(['-n', NS, 'delete', GATEWAY, EASTWEST_GATEWAY, '--wait=true'], { context: cluster });
  await kubectl(['-n', NS, 'delete', 'pod', `${EASTWEST_GATEWAY}-0`, '--ignore-not-found', '--grace-period=0', '--force'], { context: cluster, allowFail: true });
  // the garbage collector takes istiod's Deployment and Service (owner: the Gateway)
  await waitUntil(`${cluster}: the old ${EASTWEST_GATEWAY} Service garbage-collected`, async () => (await getJson(cluster, ['service', EASTWEST_GATEWAY]))?.metadata?.uid !== oldUid || undefined, 60_000, 250);
  await kubectl(['create', '-f', '-'], { context: cluster, input: JSON.stringify({ apiVersion: gw.apiVersion, kind: gw.kind, metadata: { name, namespace, labels, ...(annotations && Object.keys(annotations).length ? { annotations } : {}) }, spec: gw.spec }) });
  const made = await waitUntil(`${cluster}: istiod made a new ${EASTWEST_GATEWAY} Deployment and Service`, async () => {
    const d = await getJson(cluster, ['deployment', EASTWEST_GATEWAY]);
    const s = await getJson(cluster, ['service', EASTWEST_GATEWAY]);
    return d && s && s.metadata.uid !== oldUid ? { d, s } : undefined;
  }, 90_000, 250);
  await addGatewayPod(cluster, [made.value.d], EASTWEST_GATEWAY, samplePodIps(clusterParams(clusterIndex(cluster))).eastwest);
  return { clusterIP: made.value.s.spec.clusterIP };
}

/** The cloud's load balancer: the cluster's east-west address in the Service's status; resolves once istiod wrote it into the Gateway's status. */
export async function assignLoadBalancer(cluster: string): Promise<string> {
  const ip = clusterParams(clusterIndex(cluster)).eastWestIP;
  await setLoadBalancerIp(cluster, EASTWEST_GATEWAY, ip);
  await waitUntil(`${cluster}: istiod wrote ${ip} into the ${EASTWEST_GATEWAY} Gateway's status`, async () => (await eastWestStatusAddresses(cluster)).includes(ip) || undefined, 90_000, 250);
  return ip;
}
