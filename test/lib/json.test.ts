// The one JSON reader (lib/json.ts) and the schema layer (lib/schema.ts): every refusal is an OfaError
// with the caller's code, naming the input and where; deep nesting and huge files are refused without
// recursion or a full parse.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeValue, isOfaError } from '../../lib/errors.ts';
import { jsonPath, parseJsonText, readJsonFile, tooDeepAt } from '../../lib/json.ts';
import { parseWith, schemaFaults, z } from '../../lib/schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'ofa-json-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

function refusal(read: () => unknown): { code: string; message: string; hint?: string } {
  try {
    read();
  } catch (error) {
    if (!isOfaError(error)) throw error;
    return error;
  }
  throw new Error('accepted');
}

test('empty, whitespace, truncated, binary, non-UTF-8 and non-JSON files are refused with the code, the file and the reason', (t) => {
  const source = { code: 'E_CALIBRATION', hint: 'run it again' } as const;
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['empty.json', '', /empty\.json is empty; expected a JSON value$/],
    ['blank.json', ' \n\t', /blank\.json is empty \(only whitespace\)/],
    ['cut.json', '{"coefficients": {"scale": 1', /cut\.json is not valid JSON \(line 1 column 29\): .*truncated\?\)$/],
    ['cut-string.json', '{"a": "abc', /Unterminated string; the text ends before the JSON value does/],
    ['binary.json', Uint8Array.from([0x7b, 0x00, 0xff, 0x10]), /binary\.json is binary data, not JSON text \(a NUL byte at byte 1\)/],
    ['latin1.json', Uint8Array.from([0x22, 0xe9, 0x22]), /latin1\.json is binary data, not JSON text \(its bytes are not UTF-8\)/],
    ['garbage.json', '{"a": 1,\n "b": nope}', /garbage\.json is not valid JSON: Unexpected token/],
    ['trailing.json', '{"a": 1} {"b": 2}', /trailing\.json is not valid JSON \(line 1 column 10\): Unexpected non-whitespace character after JSON$/],
  ];
  for (const [name, data, pattern] of cases) {
    const error = refusal(() => readJsonFile(write(name, data), `calibration ${join(dir, name)}`, source));
    t.is(error.code, 'E_CALIBRATION', name);
    t.regex(error.message, pattern, name);
    t.true(error.message.startsWith(`calibration ${join(dir, name)}`), name);
    t.is(error.hint, 'run it again');
  }
  // A leading byte-order mark is text, not binary.
  t.deepEqual(readJsonFile(write('bom.json', '\ufeff{"a": 1}'), 'x'), { a: 1 });
});

test('missing paths and folders are E_READ (or the caller\'s code), naming the path', (t) => {
  t.regex(refusal(() => readJsonFile(join(dir, 'nope.json'), 'device file nope.json')).message, /^device file nope\.json does not exist$/);
  mkdirSync(join(dir, 'folder.json'), { recursive: true });
  const folder = refusal(() => readJsonFile(join(dir, 'folder.json'), 'ONNX model folder.json', { code: 'E_ONNX' }));
  t.is(folder.code, 'E_ONNX');
  t.regex(folder.message, /folder\.json is a folder, not a file/);
});

test('nesting deeper than the limit is refused before parsing, also for a 50 MB file of "["; strings do not count', (t) => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  t.regex(refusal(() => parseJsonText(deep, 'config c.json')).message, /^config c\.json nests arrays or objects deeper than 64 levels \(at line 1 column 65\); allowed: at most 64$/);
  const brackets = write('brackets.json', '['.repeat(50 * 2 ** 20));
  t.regex(refusal(() => readJsonFile(brackets, 'brackets.json')).message, /deeper than 64 levels/);
  t.is(tooDeepAt(`{"a": "${'['.repeat(1000)}\\"["}`, 2), -1);
  t.is(tooDeepAt('[[[]]]', 3), -1);
  t.is(tooDeepAt('[[[[]]]]', 3), 3);
  t.deepEqual(parseJsonText('[[1]]', 'x', { maxDepth: 2 }), [[1]]);
  // Size: over the limit is refused from the file's size, before reading it.
  t.regex(refusal(() => readJsonFile(write('big.json', `[${'1,'.repeat(600)}1]`), 'big.json', { maxBytes: 1024 })).message, /^big\.json is 1\.2 KiB; the limit is 1\.0 KiB$/);
});

test('a "__proto__" key anywhere and numbers that overflow to Infinity are refused with their JSON path', (t) => {
  t.regex(refusal(() => parseJsonText('{"stages": [{"__proto__": {"depth": 2}}]}', 'c.json')).message, /^c\.json: \$\.stages\[0\]\.__proto__: the key "__proto__" is not allowed/);
  t.regex(refusal(() => parseJsonText('{"resolution": 1e400}', 'c.json')).message, /^c\.json: \$\.resolution: a number too large for a double \(it reads as Infinity\)/);
  t.regex(refusal(() => parseJsonText('{"entries": {"stem r32": {"minMs": -1e999}}}', 't.json')).message, /\$\.entries\["stem r32"\]\.minMs: a number too large/);
  t.is(jsonPath(['entries', 'a:b', 'minMs', 0]), '$.entries["a:b"].minMs[0]');
  t.deepEqual(parseJsonText('{"proto": 1, "constructor": 2}', 'x'), { proto: 1, constructor: 2 });
});

test('describeValue shows NaN and Infinity as themselves, not as JSON null', (t) => {
  t.is(describeValue(Infinity), 'Infinity');
  t.is(describeValue(Number.NaN), 'NaN');
  t.is(describeValue(-0.5), '-0.5');
  t.is(describeValue('x'.repeat(200)).length, 82);
});

test('schema faults speak the house form: path, what is allowed, the value; unknown fields list the allowed ones', (t) => {
  const schema = z.strictObject({
    minMs: z.number().positive(),
    runs: z.int().min(0).max(9),
    statistic: z.enum(['min', 'median']),
    entries: z.record(z.string(), z.strictObject({ medianMs: z.number() })),
    format: z.literal('ofav2/lut'),
    budgets: z.array(z.number()).min(1),
    name: z.string().min(1),
  });
  const error = refusal(() =>
    parseWith(schema, { minMs: -1, runs: 1.5, statistic: 'mean', entries: { 'a b': { medianMs: '3', p90: 1 } }, format: 'x', budgets: [], name: '', extra: 1 }, 'latency table t.json', { code: 'E_LUT', hint: 'rebuild it' }),
  );
  t.is(error.code, 'E_LUT');
  t.is(error.hint, 'rebuild it');
  const lines = error.message.split('\n');
  t.is(lines[0], 'latency table t.json is invalid:');
  t.deepEqual(lines.slice(1), [
    '  $.minMs: must be > 0 (value -1)',
    '  $.runs: must be an integer (value 1.5)',
    '  $.statistic: must be one of "min", "median" (value "mean")',
    '  $.entries["a b"].medianMs: must be a finite number (got string) (value "3")',
    '  $.entries["a b"].p90: unknown field "p90"; allowed fields: medianMs (value 1)',
    '  $.format: must be "ofav2/lut" (value "x")',
    '  $.budgets: must have at least 1 entry (value [])',
    '  $.name: must not be empty (value "")',
    '  $.extra: unknown field "extra"; allowed fields: minMs, runs, statistic, entries, format, budgets, name (value 1)',
  ]);
  t.deepEqual(schemaFaults(schema, null), [{ path: '$', value: null, message: 'must be an object (got null)' }]);
  t.regex(schemaFaults(z.strictObject({ a: z.number() }), {})[0].message, /^missing field "a" \(required; a finite number\)$/);
  t.regex(schemaFaults(z.strictObject({ a: z.number() }), { a: Infinity })[0].message, /got Infinity/);
  // The parsed value is a fresh copy: refining it cannot reach the input.
  const input = { a: 1 };
  t.not(parseWith(z.strictObject({ a: z.number() }), input, 'x', { code: 'E_JSON' }), input);
});
