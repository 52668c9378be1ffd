// The one JSON reader of the project (issue 18): every JSON file or standard input the tool reads goes
// through here, so that every format refuses the same garbage the same way, before its own schema sees
// the value. Refused, each with the caller's error code, the input's name and where in the text:
// - a missing path, a folder, a file larger than the limit (checked before reading it);
// - an empty file, binary data (a NUL byte or bytes that are not UTF-8), text that is not JSON (with the
//   line and column), text that ends before the value does (truncated);
// - nesting deeper than the limit, found by an iterative scan before JSON.parse (which recurses and
//   overflows the stack on 10^5 levels; a 50 MB file of `[` is refused at its 65th byte);
// - a `__proto__` key anywhere (never meaningful in an ofa file; a validator that tests keys with `in`
//   would take it for a known field), and numbers too large for a double (`1e400` reads as Infinity).
import { readFileSync, statSync } from 'node:fs';
import { OfaError, type ErrorCode } from './errors.ts';
import type { KindOf } from './error-codes.ts';

/** The codes a reader may refuse an input with: bad input (exit 2), as a damaged or wrong file is. */
export type BadInputCode = { [C in ErrorCode]: KindOf<C> extends 'bad-input' ? C : never }[ErrorCode];

export interface JsonLimits {
  /** Largest input accepted, in bytes (default 64 MiB: the largest artifact written here is a few MB). */
  maxBytes?: number;
  /** Deepest nesting of arrays and objects accepted (default 64: the deepest format here nests 8). */
  maxDepth?: number;
}

export const DEFAULT_JSON_LIMITS: Required<JsonLimits> = { maxBytes: 64 * 2 ** 20, maxDepth: 64 };

export interface JsonSource extends JsonLimits {
  /** The error code of the format (default E_JSON). */
  code?: BadInputCode;
  /** What the user can do about a refused input. */
  hint?: string;
}

function refuse(source: JsonSource, message: string): OfaError {
  return new OfaError(source.code ?? 'E_JSON', message, { hint: source.hint ?? 'check the file contents' });
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return `line ${line} column ${offset - start + 1}`;
}

/**
 * The bytes of a file, refused when it is missing, a folder or over the size limit. `input` names it
 * in messages (e.g. `latency table /x/lut.json`).
 */
export function readInputBytes(path: string, input: string, source: JsonSource = {}): Uint8Array {
  const maxBytes = source.maxBytes ?? DEFAULT_JSON_LIMITS.maxBytes;
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw refuse({ ...source, code: source.code ?? 'E_READ' }, `${input} is a folder, not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof OfaError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new OfaError(source.code ?? 'E_READ', `${input} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`}`, { hint: source.hint ?? 'check the path' });
  }
  if (size > maxBytes) throw refuse(source, `${input} is ${formatBytes(size)}; the limit is ${formatBytes(maxBytes)}`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new OfaError(source.code ?? 'E_READ', `${input} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { hint: source.hint ?? 'check the path' });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text of `bytes` (a leading BOM dropped); binary data is refused, naming the first bad byte. */
export function decodeText(bytes: Uint8Array, input: string, source: JsonSource = {}): string {
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw refuse(source, `${input} is binary data, not JSON text (a NUL byte at byte ${nul})`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw refuse(source, `${input} is binary data, not JSON text (its bytes are not UTF-8)`);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Finds where nesting first goes deeper than `maxDepth` (arrays and objects, outside strings): an
 * iterative scan, linear in the text and constant in memory. Returns the offset, or -1.
 */
export function tooDeepAt(text: string, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > maxDepth) return i;
    } else if (c === 93 || c === 125) depth--;
  }
  return -1;
}

/** A JSON path in the house style: `$.entries["stem r32"].medianMs`, `$.stages[2]`. */
export function jsonPath(parts: readonly PropertyKey[]): string {
  let path = '$';
  for (const part of parts) {
    if (typeof part === 'number') path += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) path += `.${part}`;
    else path += `[${JSON.stringify(String(part))}]`;
  }
  return path;
}

/**
 * The first `__proto__` key or non-finite number in a parsed value, with its path: an iterative walk
 * (JSON.parse has already bounded the depth through tooDeepAt).
 */
export function forbiddenValue(value: unknown): { path: string; message: string } | undefined {
  const infinite = (path: PropertyKey[]) => ({ path: jsonPath(path), message: 'a number too large for a double (it reads as Infinity); allowed: finite numbers' });
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : infinite([]);
  // Only containers go on the stack, each with its path; leaves are checked in their parent's loop, so a
  // long array of numbers costs no allocation per element.
  const stack: { value: object; path: PropertyKey[] }[] = value !== null && typeof value === 'object' ? [{ value, path: [] }] : [];
  while (stack.length > 0) {
    const { value: item, path } = stack.pop()!;
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) {
        const child = item[i];
        if (typeof child === 'number') {
          if (!Number.isFinite(child)) return infinite([...path, i]);
        } else if (child !== null && typeof child === 'object') stack.push({ value: child, path: [...path, i] });
      }
    } else {
      if (Object.hasOwn(item, '__proto__')) return { path: jsonPath([...path, '__proto__']), message: 'the key "__proto__" is not allowed in any ofa file' };
      for (const key of Object.keys(item)) {
        const child = (item as Record<string, unknown>)[key];
        if (typeof child === 'number') {
          if (!Number.isFinite(child)) return infinite([...path, key]);
        } else if (child !== null && typeof child === 'object') stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return undefined;
}

/** Parses JSON text: the checks at the top of this file, each refusal naming `input` and where. */
export function parseJsonText(text: string, input: string, source: JsonSource = {}): unknown {
  const maxDepth = source.maxDepth ?? DEFAULT_JSON_LIMITS.maxDepth;
  if (text.trim().length === 0) throw refuse(source, `${input} is empty${text.length > 0 ? ' (only whitespace)' : ''}; expected a JSON value`);
  const deep = tooDeepAt(text, maxDepth);
  if (deep >= 0) throw refuse(source, `${input} nests arrays or objects deeper than ${maxDepth} levels (at ${lineColumn(text, deep)}); allowed: at most ${maxDepth}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = (error as Error).message;
    const at = /at position (\d+)/.exec(reason);
    const where = at ? ` (${lineColumn(text, Number(at[1]))})` : '';
    const atEnd = /Unexpected end of JSON input|Unterminated string/.test(reason) || (at !== null && Number(at[1]) >= text.trimEnd().length);
    const truncated = atEnd ? '; the text ends before the JSON value does (truncated?)' : '';
    const why = reason.replace(/ (in JSON )?at position \d+( \(line \d+ column \d+\))?/, '').replace(/\n/g, '\\n');
    throw refuse(source, `${input} is not valid JSON${where}: ${why}${truncated}`);
  }
  const bad = forbiddenValue(value);
  if (bad) throw refuse(source, `${input}: ${bad.path}: ${bad.message}`);
  return value;
}

/** Reads and parses a JSON file: size limit, text, depth, syntax, forbidden values (see the top). */
export function readJsonFile(path: string, input: string, source: JsonSource = {}): unknown {
  return parseJsonText(decodeText(readInputBytes(path, input, source), input, source), input, source);
}

/** A text file through the same checks as JSON (size, folder, binary), not parsed. */
export function readTextInput(path: string, input: string, source: JsonSource = {}): string {
  return decodeText(readInputBytes(path, input, source), input, source);
}

/**
 * A JSON input given on the command line: a file, or `-` for standard input (named "standard input").
 * Returns the value and the name messages use for it.
 */
export function readJsonInput(pathOrDash: string, what: string, source: JsonSource = {}): { value: unknown; input: string } {
  if (pathOrDash !== '-') {
    const input = `${what} ${pathOrDash}`;
    return { value: readJsonFile(pathOrDash, input, source), input };
  }
  const input = 'standard input';
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(0));
  } catch (error) {
    throw new OfaError(source.code ?? 'E_READ', `standard input cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { hint: 'pipe a JSON document into the command' });
  }
  const maxBytes = source.maxBytes ?? DEFAULT_JSON_LIMITS.maxBytes;
  if (bytes.length > maxBytes) throw refuse(source, `${input} is ${formatBytes(bytes.length)}; the limit is ${formatBytes(maxBytes)}`);
  return { value: parseJsonText(decodeText(bytes, input, source), input, source), input };
}
