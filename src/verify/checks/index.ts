// Every check, in report order.
import type {CheckDef} from '../check.ts'
import {ambientChecks} from './ambient.ts'
import {controlPlaneChecks} from './control-plane.ts'
import {exportChecks} from './exports.ts'
import {dnsChecks, importChecks} from './imports.ts'
import {egressChecks} from './egress.ts'
import {istioChecks} from './istio.ts'
import {istiodChecks} from './istiod.ts'
import {linkChecks} from './links.ts'
import {networkChecks} from './networks.ts'
import {reachabilityChecks} from './reachability.ts'
import {staleChecks} from './stale.ts'
import {trustChecks} from './trust.ts'

export const CHECKS: CheckDef[] = [
  ...reachabilityChecks, ...istioChecks, ...controlPlaneChecks, ...trustChecks, ...linkChecks, ...istiodChecks, ...staleChecks, ...networkChecks, ...exportChecks, ...importChecks, ...egressChecks, ...dnsChecks, ...ambientChecks,
]
