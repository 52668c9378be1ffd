// `ofa train pack`: a trained supernet as a shipped folder (weights and manifest, no optimiser state).
import { OfaError } from '../lib/errors.ts';
import { helpText, log, out, parseArgs, type CommandSpec } from './args.ts';

export const PACK_SPEC: CommandSpec = {
  name: 'train pack',
  summary: "a checkpoint's weights and manifest (no optimiser state) as a folder every --checkpoint accepts",
  usage: 'ofa train pack --checkpoint DIR --out DIR [--choose best|latest] [--force]',
  flags: {
    checkpoint: { type: 'string', description: 'checkpoint, phase folder (its best) or `ofa train eps` folder (its last phase best)', placeholder: 'DIR' },
    out: { type: 'string', description: 'the supernet folder to write (holds checkpoint/ and latest.json)', placeholder: 'DIR' },
    choose: { type: 'string', description: 'which checkpoint of a phase folder', default: 'default', choices: ['default', 'best', 'latest'], placeholder: 'WHICH' },
    force: { type: 'boolean', description: 'replace --out if it exists' },
  },
  examples: ['ofa train pack --checkpoint runs/eps-fashion/c-ee-d-pet --out supernets/fashion-ee-d'],
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(PACK_SPEC, argv);
  if (parsed.help) {
    out(helpText(PACK_SPEC));
    return 0;
  }
  const f = parsed.flags;
  if (parsed.positionals.length > 0) throw new OfaError('E_ARGS', `ofa train pack: unexpected argument ${JSON.stringify(parsed.positionals[0])}`, { hint: 'run `ofa train pack --help`' });
  if (typeof f.checkpoint !== 'string' || typeof f.out !== 'string') throw new OfaError('E_ARGS', 'ofa train pack: --checkpoint DIR and --out DIR are required', { hint: 'run `ofa train pack --help`' });
  const { packSupernet } = await import('../train/index.ts');
  const manifest = packSupernet(f.checkpoint, f.out, { checkpoint: f.choose as 'default', force: f.force === true });
  log(`packed ${manifest.preset}/${manifest.variant} (phase ${manifest.phase}, step ${manifest.step}) into ${f.out}: weights sha256 ${manifest.files['weights.safetensors'].sha256.slice(0, 16)}..., ${(manifest.files['weights.safetensors'].bytes / 1e6).toFixed(1)} MB`);
  return 0;
}
