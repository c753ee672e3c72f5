// Every check, in report order.
import type {CheckDef} from '../check.ts'
import {exportChecks} from './exports.ts'
import {dnsChecks, importChecks} from './imports.ts'
import {istioChecks} from './istio.ts'
import {linkChecks} from './links.ts'
import {networkChecks} from './networks.ts'
import {reachabilityChecks} from './reachability.ts'
import {trustChecks} from './trust.ts'

export const CHECKS: CheckDef[] = [
  ...reachabilityChecks, ...istioChecks, ...trustChecks, ...linkChecks, ...networkChecks, ...exportChecks, ...importChecks, ...dnsChecks,
]
