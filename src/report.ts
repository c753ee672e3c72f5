/** Where a service's warnings and notes go as they arise: the command passes src/ui's printers (services never print). */
export interface Reporter {
  warn(message: string): void
  note(message: string): void
}
