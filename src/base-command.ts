// The one place errors become output and exit codes: 0 success, 1 failed, 2 bad input.
import {Command} from '@oclif/core'
import {isCliError, OperationError} from './errors.ts'
import {ApiError, toOperationError} from './kube/errors.ts'
import {parseDuration} from './flags.ts'
import {Session} from './kube/session.ts'
import {requestLog} from './kube/client.ts'
import {printError, printStats} from './ui/output.ts'

export abstract class MeshCommand extends Command {
  private session?: Session
  protected verbose = process.argv.includes('--verbose')

  /** The run's kube session (kubeconfig + one client per context). */
  protected kube(flags: {kubeconfig?: string; 'request-timeout'?: string; verbose?: boolean}): Session {
    this.verbose = Boolean(flags.verbose)
    this.session ??= new Session({kubeconfig: flags.kubeconfig, timeoutMs: parseDuration(flags['request-timeout'] ?? '10s')})
    return this.session
  }

  protected async catch(err: Error & {oclif?: {exit?: number}}): Promise<void> {
    if (err instanceof ApiError) {
      // A request failed outside any step that explains its own writes: say whether anything was written.
      const op = toOperationError(err)
      const wrote = requestLog.some((r) => r.method !== 'GET')
      return this.catch(wrote ? op : new OperationError(`${op.message}; nothing was written`, op.hint))
    }
    if (isCliError(err)) {
      printError(err.message, err.hint)
      if (this.verbose && err.stack) process.stderr.write(`${err.stack}\n`)
      process.exitCode = err.exitCode
      return
    }
    if (err.oclif?.exit !== undefined && err.oclif.exit !== 1) {
      // oclif's own parse errors: unknown flag, missing argument, bad option value.
      if (err.oclif.exit === 0) return
      // oclif's multi-line messages start with "The following error occurred:"; show the error itself.
      const lines = err.message.split('\n').map((l) => l.trim()).filter((l) => l && !/^The following errors? occurred:?$/i.test(l) && !/^See more help with/i.test(l))
      const first = lines[0]?.startsWith('Parsing ') && lines[1] ? `${lines[0]}: ${lines[1]}` : lines[0]?.endsWith(':') && lines[1] ? `${lines[0]} ${lines[1].replace(/\s{2,}/g, ': ')}` : lines[0]
      printError(first ?? err.message.split('\n')[0], `see \`kubectl mesh ${this.id?.replaceAll(':', ' ') ?? ''} --help\``)
      process.exitCode = err.oclif.exit
      return
    }
    if ((err as {code?: string}).code === 'EEXIT') throw err
    const wrapped = new OperationError(`unexpected error: ${err.message}`, 'run again with --verbose for the stack trace, and report it')
    printError(wrapped.message, wrapped.hint)
    if (this.verbose && err.stack) process.stderr.write(`${err.stack}\n`)
    process.exitCode = 1
  }

  protected async finally(err: Error | undefined): Promise<void> {
    if (process.env.KUBECTL_MESH_STATS) await printStats()
    this.session?.close()
    return super.finally(err)
  }
}
