// A tiny schema language: the SubnetConfig type is inferred from the schema and the validator walks
// the same schema, so the type and the runtime checks cannot drift apart (style.md: one source of truth).
// Allowed values depend on the preset and variant, so each rule receives a context.
import type { Dimensions, Preset, Variant } from './presets.ts';

export interface SchemaContext {
  preset: Preset;
  variant: Variant;
  /** Allowed values per elastic dimension (the full space, or a phase's restriction). */
  dimensions: Dimensions;
  /** The object that holds the value being checked (for rules that depend on siblings). */
  parent: Record<string, unknown>;
  /** The top-level document. */
  root: Record<string, unknown>;
  /** Index of the value in its array, when it is an array item. */
  index?: number;
}

export interface Fault {
  path: string;
  value: unknown;
  message: string;
}

export type Schema = IntSchema | StringSchema | ObjectSchema<Record<string, Field>> | ArraySchema<Schema>;

export interface IntSchema {
  kind: 'int';
  description: string;
  allowed: (ctx: SchemaContext) => readonly number[];
}
export interface StringSchema {
  kind: 'string';
  description: string;
  allowed: (ctx: SchemaContext) => readonly string[];
}
export interface Field<S extends Schema = Schema> {
  schema: S;
  /** Whether the field must (true) or must not (false) be present in this context. */
  present: (ctx: SchemaContext) => boolean;
  /** Why it must or must not be present, for the error message. */
  presence: string;
}
export interface ObjectSchema<F extends Record<string, Field>> {
  kind: 'object';
  description: string;
  fields: F;
}
export interface ArraySchema<S extends Schema> {
  kind: 'array';
  description: string;
  items: S;
  /** Required length in this context. */
  length: (ctx: SchemaContext) => number;
  lengthRule: string;
}

type AlwaysField = { alwaysPresent: true };
export type Infer<S> = S extends IntSchema
  ? number
  : S extends StringSchema
    ? string
    : S extends ArraySchema<infer I>
      ? Infer<I>[]
      : S extends ObjectSchema<infer F>
        ? { -readonly [K in keyof F as F[K] extends AlwaysField ? K : never]: F[K] extends Field<infer FS> ? Infer<FS> : never } & {
            -readonly [K in keyof F as F[K] extends AlwaysField ? never : K]?: F[K] extends Field<infer FS> ? Infer<FS> : never;
          }
        : never;

export const always = <S extends Schema>(schema: S): Field<S> & AlwaysField => ({
  schema,
  present: () => true,
  presence: 'required',
  alwaysPresent: true,
});

export const when = <S extends Schema>(schema: S, present: (ctx: SchemaContext) => boolean, presence: string): Field<S> => ({
  schema,
  present,
  presence,
});

function list(values: readonly (number | string)[]): string {
  return values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ');
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A missing field's message, with the values it may take when it is a scalar. */
export function missingMessage(key: string, field: Field, ctx: SchemaContext): string {
  const { schema } = field;
  const allowed = schema.kind === 'int' || schema.kind === 'string' ? `; allowed: ${list(schema.allowed(ctx))}` : '';
  return `missing field "${key}" (${field.presence})${allowed}`;
}

/** Walks `value` against `schema`, collecting every fault (path, bad value, what is allowed). */
export function check(schema: Schema, value: unknown, path: string, ctx: SchemaContext, faults: Fault[]): void {
  switch (schema.kind) {
    case 'int': {
      const allowed = schema.allowed(ctx);
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        faults.push({ path, value, message: `${schema.description} must be an integer, one of ${list(allowed)}` });
      } else if (!allowed.includes(value)) {
        faults.push({ path, value, message: `${schema.description} ${value} is not allowed; allowed: ${list(allowed)}` });
      }
      return;
    }
    case 'string': {
      const allowed = schema.allowed(ctx);
      if (typeof value !== 'string') {
        faults.push({ path, value, message: `${schema.description} must be a string, one of ${list(allowed)}` });
      } else if (!allowed.includes(value)) {
        faults.push({ path, value, message: `${schema.description} ${JSON.stringify(value)} is not allowed; allowed: ${list(allowed)}` });
      }
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) {
        faults.push({ path, value, message: `${schema.description} must be an array (got ${typeName(value)})` });
        return;
      }
      const length = schema.length(ctx);
      if (value.length !== length) {
        faults.push({ path, value, message: `${schema.description} must have ${length} entries (${schema.lengthRule}); got ${value.length}` });
      }
      value.forEach((item, index) => check(schema.items, item, `${path}[${index}]`, { ...ctx, index }, faults));
      return;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        faults.push({ path, value, message: `${schema.description} must be an object (got ${typeName(value)})` });
        return;
      }
      const record = value as Record<string, unknown>;
      const inner: SchemaContext = { ...ctx, parent: record, index: undefined };
      // Own keys only: `"__proto__" in fields` is true for every object, so `in` would take it for a field.
      for (const key of Object.keys(record)) {
        if (!Object.hasOwn(schema.fields, key)) {
          faults.push({
            path: `${path}.${key}`,
            value: record[key],
            message: `unknown field "${key}" in ${schema.description}; allowed fields: ${Object.keys(schema.fields).join(', ')}`,
          });
        }
      }
      for (const [key, field] of Object.entries(schema.fields)) {
        const present = field.present(inner);
        const has = Object.hasOwn(record, key) && record[key] !== undefined;
        if (present && !has) {
          faults.push({ path: `${path}.${key}`, value: undefined, message: missingMessage(key, field, inner) });
        } else if (!present && has) {
          faults.push({ path: `${path}.${key}`, value: record[key], message: `field "${key}" is not allowed here (${field.presence})` });
        } else if (has) {
          check(field.schema, record[key], `${path}.${key}`, inner, faults);
        }
      }
      return;
    }
  }
}
