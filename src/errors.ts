// The small typed error hierarchy. One central handler (base-command.ts) renders these as
// one line plus `Hint:` and picks the exit code; anything else is a bug and shows a stack only
// with --verbose.

/** Invalid usage or input, detected before anything was written. Exit code 2. */
export class UsageError extends Error {
  readonly hint?: string
  readonly exitCode = 2
  constructor(message: string, hint?: string) {
    super(message)
    this.name = 'UsageError'
    this.hint = hint
  }
}

/** The operation failed (an API error, a timeout, a partial write). Exit code 1. */
export class OperationError extends Error {
  readonly hint?: string
  readonly exitCode = 1
  constructor(message: string, hint?: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'OperationError'
    this.hint = hint
  }
}

export type CliError = UsageError | OperationError

export function isCliError(err: unknown): err is CliError {
  return err instanceof UsageError || err instanceof OperationError
}
