// A small argument parser for the sub-commands: typed flags with defaults, --help text generated from
// the same declaration, and errors that name the flag, the bad value and what is allowed.
import { OfaError } from '../lib/errors.ts';

export type FlagType = 'string' | 'int' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  type: FlagType;
  description: string;
  default?: string | number | boolean | string[];
  /** Allowed values (string flags). */
  choices?: readonly string[];
  alias?: string;
  /** Placeholder shown in help, e.g. N or FILE. */
  placeholder?: string;
  /** Former names of this flag: refused with a pointer to the current one (one spelling per meaning). */
  formerly?: readonly string[];
  /**
   * The range of an int or number flag, inclusive (int flags default to 0 .. 2^32-1: no count, size or
   * seed of this tool is negative, and seeds are 32-bit). A count that sizes an allocation sets its max.
   */
  min?: number;
  max?: number;
}

/** The default range of an int flag (seeds are 32-bit: lib/rng.ts). */
export const INT_RANGE = { min: 0, max: 2 ** 32 - 1 } as const;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /**
   * Positional arguments: their names, for the help text and the count. Without them, any argument is
   * refused; with them, more than listed is refused (a last name ending in `...` takes any number).
   */
  positionals?: string[];
  examples?: string[];
}

export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  flags: ParsedFlags;
  positionals: string[];
  help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const flags: ParsedFlags = {};
  const positionals: string[] = [];
  let help = false;
  const byAlias = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec.flags)) if (flag.alias) byAlias.set(flag.alias, name);
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--help' || token === '-h') {
      help = true;
      continue;
    }
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      if (!spec.positionals?.length) {
        throw new OfaError('E_ARGS', `ofa ${spec.name}: unexpected argument ${JSON.stringify(token)}; this command takes flags only`, { hint: `run \`ofa ${spec.name} --help\`` });
      }
      const names = spec.positionals;
      if (!names[names.length - 1].endsWith('...') && positionals.length >= names.length) {
        throw new OfaError('E_ARGS', `ofa ${spec.name}: unexpected argument ${JSON.stringify(token)}; this command takes ${names.length === 1 ? `one ${names[0]}` : `${names.length} arguments (${names.join(' ')})`}`, {
          hint: `run \`ofa ${spec.name} --help\``,
        });
      }
      positionals.push(token);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
      inline = eq >= 0 ? token.slice(eq + 1) : undefined;
    } else {
      // A single dash introduces an alias (-o) and nothing else: -json is not --json.
      name = byAlias.get(token.slice(1));
    }
    let flag = name === undefined ? undefined : spec.flags[name];
    let negated = false;
    if (!flag && name?.startsWith('no-') && spec.flags[name.slice(3)]?.type === 'boolean') {
      name = name.slice(3);
      flag = spec.flags[name];
      negated = true;
    }
    if (!flag || name === undefined) throw unknownFlag(spec, token);
    if (flag.type === 'boolean') {
      flags[name] = inline === undefined ? !negated : booleanValue(spec.name, name, inline) !== negated;
      continue;
    }
    const raw = inline ?? argv[++i];
    // `--out --json`: the next token is a flag, not the value (an inline --out=--x is taken as given).
    if (raw === undefined || (inline === undefined && raw.startsWith('--'))) {
      throw new OfaError('E_ARGS', `ofa ${spec.name}: flag --${name} needs a value (${flag.placeholder ?? flag.type})${raw === undefined ? '' : `; got the flag ${JSON.stringify(raw)}`}`, {
        hint: `run \`ofa ${spec.name} --help\``,
      });
    }
    flags[name] = convert(spec.name, name, flag, raw, flags[name]);
  }
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flags[name] === undefined && flag.default !== undefined) flags[name] = flag.default;
  }
  return { flags, positionals, help };
}

/** The refusal of an unknown flag: a renamed flag points at its new name, a typo at the closest one. */
function unknownFlag(spec: CommandSpec, token: string): OfaError {
  const given = token.replace(/^--?/, '').replace(/=.*$/, '');
  const names = Object.keys(spec.flags);
  const renamed = names.find((name) => spec.flags[name].formerly?.includes(given));
  const near = renamed ?? closest(given, names);
  const pointer = renamed ? `; it is now --${renamed}` : near ? `; did you mean --${near}?` : '';
  return new OfaError('E_ARGS', `ofa ${spec.name}: unknown flag ${JSON.stringify(token)}${pointer} (allowed: ${names.map((f) => `--${f}`).join(', ')})`, {
    hint: `run \`ofa ${spec.name} --help\``,
  });
}

/** The flag name within edit distance 2 of `given` (or that `given` abbreviates), if exactly one is. */
function closest(given: string, names: string[]): string | undefined {
  const near = names.filter((name) => editDistance(given, name) <= Math.min(2, Math.floor(name.length / 2)) || (given.length >= 2 && name.startsWith(given)));
  return near.length === 1 ? near[0] : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

function booleanValue(command: string, name: string, raw: string): boolean {
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new OfaError('E_ARGS', `ofa ${command}: --${name}=${raw} is not valid; allowed: true, false (or 1, 0, yes, no)`, { hint: `run \`ofa ${command} --help\`` });
}

function convert(command: string, name: string, flag: FlagSpec, raw: string, previous: ParsedFlags[string]): ParsedFlags[string] {
  const bad = (allowed: string) =>
    new OfaError('E_ARGS', `ofa ${command}: --${name} ${JSON.stringify(raw)} is not valid; allowed: ${allowed}`, { hint: `run \`ofa ${command} --help\`` });
  const inRange = (value: number, min: number | undefined, max: number | undefined, what: string): number => {
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      const range = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `>= ${min}` : `<= ${max}`;
      throw new OfaError('E_ARGS', `ofa ${command}: --${name} ${raw} is out of range; allowed: ${what} ${range}`, { hint: `run \`ofa ${command} --help\`` });
    }
    return value;
  };
  switch (flag.type) {
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw bad('an integer');
      return inRange(Number(raw), flag.min ?? INT_RANGE.min, flag.max ?? INT_RANGE.max, 'an integer');
    }
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw bad('a number');
      return inRange(value, flag.min, flag.max, 'a number');
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
      return [...(Array.isArray(previous) ? previous : []), ...items];
    }
    default: {
      if (flag.choices && !flag.choices.includes(raw)) throw bad(flag.choices.join(', '));
      return raw;
    }
  }
}

export function helpText(spec: CommandSpec): string {
  const lines = [`ofa ${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, ''];
  const entries = Object.entries(spec.flags);
  if (entries.length > 0) {
    lines.push('Options:');
    for (const [name, flag] of entries) {
      const left = `  --${name}${flag.type === 'boolean' ? '' : ` ${flag.placeholder ?? flag.type.toUpperCase()}`}${flag.alias ? `, -${flag.alias}` : ''}`;
      const extras: string[] = [];
      if (flag.choices) extras.push(`one of: ${flag.choices.join(', ')}`);
      if (flag.min !== undefined || flag.max !== undefined) extras.push(`range: ${flag.min ?? '-inf'}..${flag.max ?? 'inf'}`);
      if (flag.default !== undefined) extras.push(`default: ${Array.isArray(flag.default) ? flag.default.join(',') : flag.default}`);
      lines.push(`${left.padEnd(30)} ${flag.description}${extras.length ? ` (${extras.join('; ')})` : ''}`);
    }
    lines.push('  --help, -h                   show this help');
  }
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const example of spec.examples) lines.push(`  ${example}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Output helpers (stdout for results, stderr for logs). */
export const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
export const log = (text: string) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);

/** A group of sub-commands (`ofa space info`, `ofa profile lut`): its help text, and the parsed call. */
export interface CommandGroupSpec {
  name: string;
  summary: string;
  commands: Record<string, CommandSpec>;
}

export function groupHelpText(group: CommandGroupSpec): string {
  const lines = [`ofa ${group.name}: ${group.summary}`, '', `Usage: ofa ${group.name} <${Object.keys(group.commands).join('|')}> [options]`, '', 'Commands:'];
  for (const [name, spec] of Object.entries(group.commands)) lines.push(`  ${name.padEnd(10)} ${spec.summary}`);
  lines.push('', `Run \`ofa ${group.name} <command> --help\` for its options.`);
  return `${lines.join('\n')}\n`;
}

/**
 * Picks the sub-command and parses its flags. Returns an exit code when the call is answered already
 * (help printed: 0; no command given: 2), else the command's name and parsed arguments.
 */
export function parseGroup(group: CommandGroupSpec, argv: string[]): number | { command: string; parsed: Parsed } {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    out(groupHelpText(group));
    return command ? 0 : 2;
  }
  const spec = group.commands[command];
  if (!spec) {
    throw new OfaError('E_COMMAND', `ofa ${group.name}: unknown command ${JSON.stringify(command)}; allowed: ${Object.keys(group.commands).join(', ')}`, {
      hint: `run \`ofa ${group.name} --help\``,
    });
  }
  const parsed = parseArgs(spec, rest);
  if (parsed.help) {
    out(helpText(spec));
    return 0;
  }
  return { command, parsed };
}
