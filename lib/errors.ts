// One error type for the whole project (style.md): a stable `code`, a message that names the input,
// the bad value and what is allowed, and an optional hint. The CLI maps `kind` to an exit code.

export type OfaErrorKind = 'bad-input' | 'failure';

export interface OfaErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  /** 'bad-input' (exit code 2) for user mistakes, 'failure' (exit code 1) otherwise. */
  kind?: OfaErrorKind;
  cause?: unknown;
}

export class OfaError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly kind: OfaErrorKind;

  constructor(code: string, message: string, options: OfaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OfaError';
    this.code = code;
    this.hint = options.hint;
    this.kind = options.kind ?? 'bad-input';
  }
}

export function isOfaError(value: unknown): value is OfaError {
  return value instanceof OfaError;
}

/** Renders a value for an error message: JSON where possible, short. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
