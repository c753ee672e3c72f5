// `kubectl mesh verify`: collect, run every check, return the report. Never writes.
import type {Session} from '../kube/session.ts'
import {collectFacts} from './facts.ts'
import {runChecks, type VerifyReport} from './runner.ts'

export interface VerifyOptions {
  contexts: string[]
  istioNamespace: string
}

export async function verify(session: Session, opts: VerifyOptions): Promise<VerifyReport> {
  const {facts, close} = await collectFacts(session, opts)
  try {
    return runChecks(facts)
  } finally {
    close()
  }
}
