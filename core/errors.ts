/** Errors that tell the user what was wrong with their input. */

/** A malformed frame or record: what was expected and where. */
export class CodecError extends Error {
  override readonly name = 'CodecError'
}

/** A bad configuration value or CLI argument: `field` names it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly field: string
  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}
