// The schema layer of the file formats (issue 18): each format's TypeScript type is inferred from its zod
// schema (one definition: the type and the validator cannot drift apart), and every refusal is the house
// error: the format's code, the input's name, and each fault as `$.json.path: what is allowed (value X)`
// (the form space/'s SubnetConfig validator prints). zod's own messages are replaced here so that all
// formats speak alike; a schema's refine() messages are kept as written.
import { z } from 'zod';
import { OfaError, describeValue } from './errors.ts';
import { jsonPath, readJsonFile, type BadInputCode, type JsonSource } from './json.ts';

export { z };

export interface SchemaFault {
  path: string;
  value: unknown;
  message: string;
}

/** How many faults one error lists (the rest are counted). */
const MAX_LISTED = 20;

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

const EXPECTED: Record<string, string> = {
  number: 'a finite number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  map: 'an object',
  array: 'a list',
  tuple: 'a list',
  null: 'null',
  bigint: 'an integer',
};

// zod 4 keeps each schema's definition in `def`: enough to find the fields an object allows.
type Def = { type?: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown; items?: unknown[]; innerType?: unknown; in?: unknown; getter?: () => unknown };
const defOf = (schema: unknown): Def | undefined => (schema as { def?: Def } | undefined)?.def;

function unwrap(schema: unknown): unknown {
  for (let i = 0; i < 16; i++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.innerType !== undefined) schema = def.innerType;
    else if (def.type === 'pipe') schema = def.in;
    else if (def.type === 'lazy' && def.getter) schema = def.getter();
    else return schema;
  }
  return schema;
}

/** The schema at `path` inside `schema` (for the allowed fields of an object), when it can be followed. */
function schemaAt(schema: unknown, path: readonly PropertyKey[]): unknown {
  let at = unwrap(schema);
  for (const part of path) {
    const def = defOf(at);
    if (!def) return undefined;
    if (def.type === 'object') at = def.shape?.[String(part)];
    else if (def.type === 'array') at = def.element;
    else if (def.type === 'record') at = def.valueType;
    else if (def.type === 'tuple') at = def.items?.[Number(part)];
    else return undefined;
    at = unwrap(at);
  }
  return at;
}

function allowedFields(schema: unknown, path: readonly PropertyKey[]): string {
  const def = defOf(schemaAt(schema, path));
  return def?.type === 'object' && def.shape ? `; allowed fields: ${Object.keys(def.shape).join(', ')}` : '';
}

function bound(issue: { origin?: string; inclusive?: boolean }, side: 'min' | 'max', limit: unknown): string {
  const value = typeof limit === 'bigint' ? limit.toString() : String(limit);
  switch (issue.origin) {
    case 'array':
    case 'set':
      return side === 'min' ? `must have at least ${value} entr${value === '1' ? 'y' : 'ies'}` : `must have at most ${value} entries`;
    case 'string':
      return side === 'min' ? (value === '1' ? 'must not be empty' : `must have at least ${value} characters`) : `must have at most ${value} characters`;
    default:
      return `must be ${side === 'min' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<'} ${value}`;
  }
}

type Issue = z.core.$ZodIssue & { input?: unknown };

/** The faults of one zod issue in the house form (an unknown-keys issue gives one fault per key). */
function issueFaults(issue: Issue, schema: unknown, root: unknown): SchemaFault[] {
  const parts = issue.path as PropertyKey[];
  const path = jsonPath(parts);
  const value = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      // zod reports a non-number given to z.int() as "expected number": say integer.
      const integer = issue.expected === 'number' && (defOf(schemaAt(schema, parts)) as { format?: string } | undefined)?.format?.includes('int');
      const expected = integer ? EXPECTED.int : (EXPECTED[issue.expected] ?? issue.expected);
      const key = parts.at(-1);
      // A missing field reads as undefined (JSON has no undefined): say it is missing.
      if (value === undefined && parts.length > 0 && typeof key === 'string') return [{ path, value, message: `missing field "${key}" (required; ${expected})` }];
      const got = typeof value === 'number' && Number.isFinite(value) && issue.expected === 'int' ? '' : ` (got ${typeName(value)})`;
      return [{ path, value, message: `must be ${expected}${got}` }];
    }
    case 'too_small':
      return [{ path, value, message: bound(issue, 'min', issue.minimum) }];
    case 'too_big':
      return [{ path, value, message: bound(issue, 'max', issue.maximum) }];
    case 'invalid_value': {
      const values = issue.values.map((v) => describeValue(v));
      return [{ path, value, message: values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}` }];
    }
    case 'unrecognized_keys': {
      const record = (value ?? {}) as Record<string, unknown>;
      return issue.keys.map((key) => ({ path: jsonPath([...parts, key]), value: record[key], message: `unknown field "${key}"${allowedFields(schema, parts)}` }));
    }
    case 'invalid_format':
      return [{ path, value, message: `must be ${issue.format === 'regex' ? `a string matching ${(issue as { pattern?: string }).pattern}` : `a ${issue.format} string`}` }];
    case 'not_multiple_of':
      return [{ path, value, message: `must be a multiple of ${String(issue.divisor)}` }];
    case 'invalid_key':
      return [{ path, value, message: `has a key that is not allowed (${issue.issues.map((i) => i.message).join('; ')})` }];
    case 'invalid_element':
      return issue.issues.flatMap((inner) => issueFaults({ ...inner, path: [...parts, issue.key as PropertyKey, ...inner.path] } as Issue, schema, root));
    case 'invalid_union':
      return [{ path, value, message: 'matches none of the allowed forms' }];
    default:
      return [{ path, value, message: issue.message }];
  }
}

/** Every fault of `value` against `schema` (empty when it fits). */
export function schemaFaults(schema: z.ZodType, value: unknown): SchemaFault[] {
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? [] : result.error.issues.flatMap((issue) => issueFaults(issue as Issue, schema, value));
}

export function formatSchemaFault(fault: SchemaFault): string {
  return `${fault.path}: ${fault.message}${fault.value === undefined ? '' : ` (value ${describeValue(fault.value)})`}`;
}

/** The one refusal of an input with faults: its name, then one fault per line. */
export function faultsError(code: BadInputCode, input: string, faults: readonly SchemaFault[], hint?: string): OfaError {
  const listed = faults.slice(0, MAX_LISTED).map((f) => `  ${formatSchemaFault(f)}`);
  if (faults.length > MAX_LISTED) listed.push(`  ... and ${faults.length - MAX_LISTED} more`);
  return Object.assign(new OfaError(code, `${input} is invalid:\n${listed.join('\n')}`, { hint }), { faults: [...faults] });
}

export interface SchemaSource {
  code: BadInputCode;
  hint?: string;
}

/** `value` checked against `schema`: the parsed value (a fresh copy), or one OfaError naming `input`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, input: string, source: SchemaSource): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw faultsError(source.code, input, result.error.issues.flatMap((issue) => issueFaults(issue as Issue, schema, value)), source.hint);
}

/** A JSON file read by lib/json.ts and checked against `schema`, both refusing with the format's code. */
export function readJsonAs<S extends z.ZodType>(schema: S, path: string, input: string, source: SchemaSource & JsonSource): z.output<S> {
  return parseWith(schema, readJsonFile(path, input, source), input, source);
}

// Building blocks the formats share.

/** A finite number > 0 (a latency, a size). */
export const positive = () => z.number().positive();
/** A finite number >= 0. */
export const nonNegative = () => z.number().nonnegative();
/** An integer >= 0 (a count, an index, a step). */
export const count = () => z.int().nonnegative();
/** A non-empty string. */
export const text = () => z.string().min(1);
/** The format tag fields every JSON artifact starts with (pipeline.md). */
export const formatTag = <F extends string, V extends number>(tag: { format: F; formatVersion: V }) => ({ format: z.literal(tag.format), formatVersion: z.literal(tag.formatVersion) });
/**
 * A string from `values`, typed as string (a preset or variant name: the types elsewhere say string, and
 * the list lives in space/).
 */
export const oneOf = (values: readonly string[]) =>
  z.string().refine((value) => values.includes(value), { message: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });
