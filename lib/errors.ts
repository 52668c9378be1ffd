// One error type for the whole project (style.md): a stable `code` from the catalogue
// (lib/error-codes.ts), a message that names the input, the bad value and what is allowed, and an
// optional hint. The code fixes the kind, and the kind the CLI's exit code.
import { ERROR_CODES, type ErrorCode, type KindOf, type OfaErrorKind } from './error-codes.ts';

export { ERROR_CODES, EXIT_CODES, exitCodeOf, isErrorCode, type ErrorCode, type OfaErrorKind } from './error-codes.ts';

export interface OfaErrorOptions<K extends OfaErrorKind = OfaErrorKind> {
  /** What the user can do about it. */
  hint?: string;
  /**
   * The code's kind, as in the catalogue (optional: the code decides; a kind other than the code's
   * does not compile).
   */
  kind?: K;
  cause?: unknown;
}

/**
 * The constructor's arguments: a catalogued code, the message, and options whose kind (if given)
 * matches the code's. A code known only as `ErrorCode` (forwarded from a worker) takes no kind.
 */
export type OfaErrorArgs =
  | { [C in ErrorCode]: [code: C, message: string, options?: OfaErrorOptions<KindOf<C>>] }[ErrorCode]
  | [code: ErrorCode, message: string, options?: OfaErrorOptions<never>];

export class OfaError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly kind: OfaErrorKind;

  constructor(...[code, message, options = {}]: OfaErrorArgs) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OfaError';
    this.code = code;
    this.hint = options.hint;
    // An uncatalogued code can only come from plain JS or a cast: an internal fault.
    this.kind = ERROR_CODES[code]?.kind ?? 'failure';
  }
}

export function isOfaError(value: unknown): value is OfaError {
  return value instanceof OfaError;
}

/** Renders a value for an error message: JSON where possible, short. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 80 ? `${JSON.stringify(value.slice(0, 77))}...` : JSON.stringify(value);
  // JSON would print NaN and Infinity as null: a message must show the value it refuses.
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    // A cycle or nesting too deep to print (String() of such an array would recurse as deep).
    return Array.isArray(value) ? `[a list of ${value.length}]` : `[${typeof value}]`;
  }
}
