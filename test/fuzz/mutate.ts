// Mutations of a valid file for the fuzz suite (issue 18 item 5), as fast-check arbitraries: structure-aware
// edits of its JSON (a value replaced by a hostile one, a field deleted or added, `__proto__`, a number
// written as 1e400), text edits (truncation, a spliced token), byte edits (bit flips, inserted or deleted
// bytes, random bytes), deep nesting and huge sizes. Each case carries a short description for reports.
import fc from 'fast-check';

export interface FuzzCase {
  bytes: Uint8Array;
  /** How the case was made (for failure reports and the bench's tallies). */
  how: string;
}

const encoder = new TextEncoder();
const text = (value: string) => encoder.encode(value);

/** Every path into a JSON value (objects by key, arrays by index), the root included. */
export function jsonPaths(value: unknown, limit = 5000): (string | number)[][] {
  const paths: (string | number)[][] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0 && paths.length < limit) {
    const { value: item, path } = stack.pop()!;
    paths.push(path);
    if (Array.isArray(item)) item.forEach((child, i) => stack.push({ value: child, path: [...path, i] }));
    else if (item !== null && typeof item === 'object') for (const [key, child] of Object.entries(item)) stack.push({ value: child, path: [...path, key] });
  }
  return paths;
}

/** Hostile replacement values: wrong types, out-of-range and non-finite-looking numbers, odd strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(-1, 0, -0.0001, 0.5, 1.5, 1e308, -1e308, 2 ** 53 + 2, 1e-320, 4294967296, -2147483649, '', 'NaN', 'Infinity', '1e400', '0x10', '5', null, true, false, [], {}, [[]], { __proto__: null }) },
  { weight: 2, arbitrary: fc.integer({ min: -1e6, max: 1e6 }) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const hostileKey: fc.Arbitrary<string> = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '', 'format', 'x', '$schema'), fc.string({ maxLength: 12 }));

type Edit = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown } | { kind: 'wrap' } | { kind: 'duplicate' };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 6, arbitrary: hostileValue.map((value) => ({ kind: 'replace' as const, value })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'delete' as const }) },
  { weight: 2, arbitrary: fc.record({ key: hostileKey, value: hostileValue }).map((r) => ({ kind: 'add' as const, ...r })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'wrap' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
);

/** Applies an edit at a path of a copy of `value`; returns the JSON text (keys such as __proto__ kept as data). */
function applyEdit(value: unknown, path: (string | number)[], change: Edit): string {
  // JSON.parse of a JSON copy keeps "__proto__" keys as own data properties (an object literal would not).
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const set = (parent: unknown, key: string | number, next: unknown) => Object.defineProperty(parent, key, { value: next, enumerable: true, writable: true, configurable: true });
  if (path.length === 0) {
    if (change.kind === 'replace') return JSON.stringify(change.value) ?? 'null';
    if (change.kind === 'wrap') return JSON.stringify([copy]);
    if (change.kind === 'add' && copy !== null && typeof copy === 'object' && !Array.isArray(copy)) set(copy, change.key, change.value);
    return JSON.stringify(copy);
  }
  let parent = copy as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  const key = path[path.length - 1];
  const current = parent[key];
  switch (change.kind) {
    case 'replace':
      set(parent, key, change.value);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'add':
      if (current !== null && typeof current === 'object' && !Array.isArray(current)) set(current, change.key, change.value);
      else set(parent, change.key, change.value);
      break;
    case 'wrap':
      set(parent, key, [current]);
      break;
    case 'duplicate':
      if (Array.isArray(current)) current.push(...current);
      else if (Array.isArray(parent)) parent.push(current);
      break;
  }
  return JSON.stringify(copy);
}

/** A number token of the text rewritten as one that overflows a double, or as a bare word JSON lacks. */
function spliceNumber(source: string, index: number, token: string): string {
  const numbers = [...source.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
  if (numbers.length === 0) return source + token;
  const match = numbers[index % numbers.length];
  return source.slice(0, match.index) + token + source.slice(match.index! + match[0].length);
}

/** Byte-level damage: flips, insertions, deletions, truncation. */
export function byteMutations(seed: Uint8Array): fc.Arbitrary<FuzzCase> {
  const length = Math.max(1, seed.length);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.array(fc.record({ at: fc.nat({ max: length - 1 }), bit: fc.nat({ max: 7 }) }), { minLength: 1, maxLength: 8 }).map((flips) => {
        const bytes = Uint8Array.from(seed);
        for (const { at, bit } of flips) if (at < bytes.length) bytes[at] ^= 1 << bit;
        return { bytes, how: `bit flips at ${flips.map((f) => f.at).join(',')}` };
      }),
    },
    { weight: 3, arbitrary: fc.nat({ max: length }).map((at) => ({ bytes: seed.slice(0, at), how: `truncated to ${at} bytes` })) },
    {
      weight: 2,
      arbitrary: fc.record({ at: fc.nat({ max: length }), insert: fc.uint8Array({ minLength: 1, maxLength: 16 }) }).map(({ at, insert }) => {
        const bytes = new Uint8Array(seed.length + insert.length);
        bytes.set(seed.subarray(0, at), 0);
        bytes.set(insert, at);
        bytes.set(seed.subarray(at), at + insert.length);
        return { bytes, how: `${insert.length} bytes inserted at ${at}` };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ at: fc.nat({ max: length }), count: fc.integer({ min: 1, max: 64 }) }).map(({ at, count }) => ({
        bytes: Uint8Array.from([...seed.subarray(0, at), ...seed.subarray(at + count)]),
        how: `${count} bytes deleted at ${at}`,
      })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ bytes, how: `${bytes.length} random bytes` })) },
  );
}

/** Mutations of a valid JSON document (its text and its parsed value). */
export function jsonMutations(valid: unknown, options: { maxDepthCase?: number } = {}): fc.Arbitrary<FuzzCase> {
  const source = JSON.stringify(valid, null, 2);
  const paths = jsonPaths(valid);
  const deepest = options.maxDepthCase ?? 200_000;
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ path: fc.constantFrom(...paths), change: edit }).map(({ path, change }) => ({ bytes: text(applyEdit(valid, path, change)), how: `${change.kind} at ${JSON.stringify(path)}` })) },
    {
      weight: 2,
      arbitrary: fc.record({ index: fc.nat(), token: fc.constantFrom('1e400', '-1e400', '1e308', 'NaN', 'Infinity', '-', '1.', '.5', '01', '1e', '"1"', 'null', '1e-400') }).map(({ index, token }) => ({
        bytes: text(spliceNumber(source, index, token)),
        how: `number #${index} written as ${token}`,
      })),
    },
    { weight: 4, arbitrary: byteMutations(text(source)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 10, max: deepest }).map((depth) => ({ bytes: text(`${'['.repeat(depth)}${source}${']'.repeat(depth)}`), how: `wrapped in ${depth} arrays` })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 65, max: deepest }).map((depth) => ({ bytes: text(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`), how: `${depth} nested objects` })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(1, 4, 8).chain((megabytes) =>
        fc.constantFrom('whitespace', 'array', 'string').map((kind) => {
          const size = megabytes * 2 ** 20;
          const body = kind === 'whitespace' ? `${source}${' '.repeat(size)}` : kind === 'array' ? `[${'0,'.repeat(size / 2)}0]` : JSON.stringify('x'.repeat(size));
          return { bytes: text(body), how: `${megabytes} MB of ${kind}` };
        }),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\ufeff', 'null', '[]', '{}', '0', '"x"', 'true', '\u0000').map((body) => ({ bytes: text(body), how: `the document ${JSON.stringify(body)}` })) },
  );
}

/** Mutations of a JSON-lines file: one line's JSON mutated (structure-aware), or the whole text damaged. */
export function jsonLinesMutations(lines: unknown[]): fc.Arbitrary<FuzzCase> {
  const source = `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`;
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.nat({ max: lines.length - 1 }).chain((index) =>
        jsonMutations(lines[index], { maxDepthCase: 5000 }).map((mutated) => {
          const line = new TextDecoder().decode(mutated.bytes).replace(/\n\s*/g, ' ');
          const out = lines.map((l, i) => (i === index ? line : JSON.stringify(l)));
          return { bytes: text(`${out.join('\n')}\n`), how: `line ${index + 1}: ${mutated.how}` };
        }),
      ),
    },
    { weight: 3, arbitrary: byteMutations(text(source)) },
  );
}
