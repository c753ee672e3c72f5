// The shape of a check and the context it runs in. Checks are pure: facts in, findings out.
import type {ClusterFacts, Category, Finding, VerifyFacts} from './types.ts'
import {eastWestGateways, identity, type Identity, registryNamedGateways, withRegistryGateways} from './model.ts'
import {remoteSecretEntries, type RemoteSecretEntry, sameServer} from '../cluster/remote-secrets.ts'
import {type EastWestGateway, istiodTargets} from '../istio/gateway.ts'
import {EXPOSE_ANNOTATION} from '../istio/names.ts'
import {type AmbientFacts, ambientFacts, GATEWAY_MANAGED_LABEL, WAYPOINT_MANAGED_VALUE} from '../istio/ambient.ts'
import {installValues} from '../istio/install.ts'
import {injectorConfigMap, istiodDeployment, valuesConfigMap} from './model.ts'

export interface CheckDef {
  /** Stable id, "<category>.<name>". */
  id: string
  category: Category
  /** One line for the catalogue (docs/verify.md). */
  title: string
  run(ctx: CheckContext): Finding[]
}

export class CheckContext {
  readonly facts: VerifyFacts
  readonly clusters: ClusterFacts[]
  private readonly ids = new Map<string, Identity>()
  private readonly entries = new Map<string, RemoteSecretEntry[]>()
  private readonly gatewayLists = new Map<string, EastWestGateway[]>()
  private readonly ambientFacts = new Map<string, AmbientFacts>()

  /** verify --cluster-domain: overrides every cluster's own domain. */
  readonly clusterDomain?: string

  constructor(facts: VerifyFacts, opts: {clusterDomain?: string} = {}) {
    this.facts = facts
    this.clusters = facts.clusters
    this.clusterDomain = opts.clusterDomain
    for (const c of facts.clusters) {
      this.ids.set(c.name, identity(c, opts))
      this.entries.set(c.name, remoteSecretEntries(c))
    }
  }

  /** Clusters whose API answered. */
  get reachable(): ClusterFacts[] {
    return this.clusters.filter((c) => !c.unreachable)
  }

  id(c: ClusterFacts): Identity {
    return this.ids.get(c.name)!
  }

  /**
   * The cluster's east-west gateway candidates, ranked (src/istio/gateway.ts), with the Services any
   * verified cluster's meshNetworks names for it by registryServiceName (src/verify/model.ts registryNamedGateways).
   */
  gateways(c: ClusterFacts): EastWestGateway[] {
    if (!this.gatewayLists.has(c.name)) {
      // a waypoint's Service (istiod's mesh controller stamps the network label on it too) is no east-west gateway
      const own = eastWestGateways(c, this.id(c)).filter((g) => g.service.metadata.labels?.[GATEWAY_MANAGED_LABEL] !== WAYPOINT_MANAGED_VALUE)
      const named = registryNamedGateways(c, this.clusterIdOf(c), this.reachable.map((d) => ({facts: d, clusterDomain: this.id(d).clusterDomain})))
      this.gatewayLists.set(c.name, withRegistryGateways(own, named))
    }
    return this.gatewayLists.get(c.name)!
  }

  /** The east-west gateway link and import use: the best-ranked one. */
  gateway(c: ClusterFacts): EastWestGateway | undefined {
    return this.gateways(c)[0]
  }

  /** The (IP, port) pairs istiod sends the cluster's network traffic to: its gateway's targets, hostnames resolved (src/istio/gateway.ts istiodTargets). */
  istiodTargets(c: ClusterFacts): Array<{address: string; port: number; via?: string}> {
    return istiodTargets(this.gateway(c), this.facts.dns)
  }

  /** The cluster's data plane (src/istio/ambient.ts): ambient, sidecar or none. */
  ambient(c: ClusterFacts): AmbientFacts {
    if (!this.ambientFacts.has(c.name)) {
      this.ambientFacts.set(c.name, ambientFacts({
        istiod: istiodDeployment(c), values: installValues({injector: injectorConfigMap(c), values: valuesConfigMap(c)}),
        daemonSets: c.ambientObjects?.daemonSets ?? [], namespaces: c.lists.Namespace ?? [],
      }))
    }
    return this.ambientFacts.get(c.name)!
  }

  /** True when the cluster runs ambient. */
  isAmbient(c: ClusterFacts): boolean {
    return this.ambient(c).kind === 'ambient'
  }

  /** The remote-secret entries (one per data key) held by a cluster. */
  secrets(c: ClusterFacts): RemoteSecretEntry[] {
    return this.entries.get(c.name) ?? []
  }

  byClusterId(id: string): ClusterFacts | undefined {
    return this.clusters.find((c) => this.id(c).clusterId === id)
  }

  /** The verified cluster a remote secret points at: by API server address, else by cluster ID. */
  peerOf(entry: RemoteSecretEntry): ClusterFacts | undefined {
    return this.clusters.find((c) => sameServer(c.server, entry.server)) ?? this.byClusterId(entry.key)
  }

  /** The cluster ID to show for a cluster: its Istio cluster ID, else its report name. */
  clusterIdOf(c: ClusterFacts): string {
    return this.id(c).clusterId ?? c.name
  }

  /**
   * The `cluster link` command that (re)makes the link from → to, keeping the link's --expose
   * choice (its remote secret's kubectl-mesh/expose annotation, else the mirror link's).
   */
  linkCommand(from: ClusterFacts, to: ClusterFacts | string): string {
    const peer = typeof to === 'string' ? undefined : to
    const of = (a: ClusterFacts, b: ClusterFacts | undefined, key?: string) =>
      this.secrets(a).find((e) => (b ? this.peerOf(e) === b : e.key === key))?.secret.metadata.annotations?.[EXPOSE_ANNOTATION]
    const expose = of(from, peer, typeof to === 'string' ? to : undefined) ?? (peer ? of(peer, from) : undefined)
    return `kubectl mesh cluster link --context ${ctxOf(from)} --remote-context ${peer ? ctxOf(peer) : to}${expose === 'exported' ? ' --expose exported' : ''}`
  }

  probe(c: ClusterFacts, entry: RemoteSecretEntry) {
    return this.facts.probes.find((p) => p.cluster === c.name && p.secret === entry.secret.metadata.name && p.key === entry.key)
  }
}

/** `--context X` for hints: the context, or the cluster's report name when it has none. */
export const ctxOf = (c: ClusterFacts) => c.context ?? c.name

export const pass = (cluster: string, message: string): Finding => ({cluster, status: 'pass', message, hint: ''})
export const warn = (cluster: string, message: string, hint: string): Finding => ({cluster, status: 'warn', message, hint})
export const fail = (cluster: string, message: string, hint: string): Finding => ({cluster, status: 'fail', message, hint})
export const skip = (cluster: string, message: string, hint = ''): Finding => ({cluster, status: 'skip', message, hint})

/** Why a kind could not be read, for skip messages. */
export function unreadable(c: ClusterFacts, kind: string): string {
  const f = (c.failures as Record<string, {reason: string; message: string} | undefined>)[kind]
  return f ? `${kind} not readable (${f.reason})` : `${kind} not readable`
}

/** The skip of a cluster whose `kind` could not be listed: "cluster NAME: KIND not readable (reason)", and what that leaves unknown. */
export const skipUnreadable = (c: ClusterFacts, kind: string, consequence = ''): Finding => skip(c.name, `cluster ${c.name}: ${unreadable(c, kind)}${consequence}`)
