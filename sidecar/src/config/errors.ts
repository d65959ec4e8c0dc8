import { formatErrors, type FieldError } from '@palisade/crds/runtime';

/** Why a configuration could not be used. Stable once released: logs and alerts match on it. */
export type ConfigErrorCode =
  /** The file could not be read (missing, permissions, too large). */
  | 'CONFIG_READ_FAILED'
  /** The file is not well-formed YAML/JSON (or holds more than one document). */
  | 'CONFIG_PARSE_FAILED'
  /** The document breaks the SidecarConfig schema or a cross-field rule. */
  | 'CONFIG_INVALID'
  /** A subsystem refused to compile its part of an otherwise valid document. */
  | 'CONFIG_APPLY_FAILED';

/**
 * A configuration that could not be read, parsed, validated or applied. `errors` lists every
 * problem as `field: message` (empty for read failures); the message repeats them, one a line.
 */
export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    readonly errors: readonly FieldError[] = [],
    options?: { cause?: unknown; source?: string },
  ) {
    super(
      errors.length === 0 ? message : `${message}:\n${formatErrors(errors)}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ConfigError';
    this.source = options?.source;
  }

  /** Where the document came from (a file path), when known. */
  readonly source: string | undefined;
}
