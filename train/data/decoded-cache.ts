// A binary cache of decoded images for data sets stored as many small files (Tiny ImageNet: 110,000
// JPEGs take about 45 s to decode with jpeg-js, 0.4 ms each; the cache loads in well under a second).
// Keyed by a fingerprint of the source (every file's relative path, size and mtime), so that any change
// to the source builds a new cache. Layout: <name>.<fingerprint>.u8 = train pixels, test pixels, train
// labels, test labels; <name>.<fingerprint>.json = counts, shape, class names, sha256 of the .u8 file.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic, writeJsonAtomic } from '../../lib/atomic.ts';
import { readJsonFile } from '../../lib/json.ts';
import { count, parseWith, z } from '../../lib/schema.ts';
import { sha256, type DataLog } from './cache.ts';
import type { ImageSet } from './types.ts';

const FORMAT = 'ofav2-decoded-images';
const VERSION = 1;

export interface DecodedSplitsData {
  train: ImageSet;
  test: ImageSet;
  classNames: string[];
}

const HEADER_SCHEMA = z
  .strictObject({
    format: z.string(),
    version: z.int(),
    fingerprint: z.string(),
    height: z.int().min(1).max(4096),
    width: z.int().min(1).max(4096),
    channels: z.int().min(1).max(4),
    trainCount: count(),
    testCount: count(),
    classNames: z.array(z.string()).max(256),
    bytes: count(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .refine((h) => h.bytes === (h.trainCount + h.testCount) * (h.height * h.width * h.channels + 1), { message: 'bytes must be (trainCount + testCount) x (pixels per image + 1 label byte)' });
type Header = z.infer<typeof HEADER_SCHEMA>;

/** sha256 over the sorted relative paths, sizes and mtimes of every file under `root`. */
export function folderFingerprint(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path, `${prefix}${name}/`);
      else hash.update(`${prefix}${name}\t${stat.size}\t${Math.floor(stat.mtimeMs)}\n`);
    }
  };
  walk(root, '');
  return hash.digest('hex').slice(0, 16);
}

function paths(cacheDir: string, name: string, fingerprint: string) {
  return { data: join(cacheDir, `${name}.${fingerprint}.u8`), header: join(cacheDir, `${name}.${fingerprint}.json`) };
}

/** The cached splits, or a reason why there are none (missing, corrupt). */
function read(cacheDir: string, name: string, fingerprint: string): DecodedSplitsData | string {
  const p = paths(cacheDir, name, fingerprint);
  if (!existsSync(p.header)) return 'missing';
  let header: Header;
  try {
    // The cache is the tool's own: a damaged header means "decode again", not a user error.
    header = parseWith(HEADER_SCHEMA, readJsonFile(p.header, `cache header ${p.header}`, { code: 'E_DATA_SOURCE' }), `cache header ${p.header}`, { code: 'E_DATA_SOURCE' });
  } catch (error) {
    return `corrupt (${(error as Error).message.replace(/\n\s*/g, ' ')})`;
  }
  if (header.format !== FORMAT || header.version !== VERSION || header.fingerprint !== fingerprint) return 'corrupt (header of another format or source)';
  if (!existsSync(p.data) || statSync(p.data).size !== header.bytes) return 'corrupt (data file missing or of the wrong size)';
  const bytes = new Uint8Array(readFileSync(p.data));
  if (sha256(bytes) !== header.sha256) return 'corrupt (sha256 mismatch)';
  const imageBytes = header.height * header.width * header.channels;
  const total = header.trainCount + header.testCount;
  const set = (pixelStart: number, labelStart: number, count: number): ImageSet => ({
    count, height: header.height, width: header.width, channels: header.channels,
    pixels: bytes.subarray(pixelStart * imageBytes, (pixelStart + count) * imageBytes),
    labels: bytes.subarray(total * imageBytes + labelStart, total * imageBytes + labelStart + count),
  });
  return { train: set(0, 0, header.trainCount), test: set(header.trainCount, header.trainCount, header.testCount), classNames: header.classNames };
}

function write(cacheDir: string, name: string, fingerprint: string, data: DecodedSplitsData): void {
  const { train, test } = data;
  const bytes = new Uint8Array(train.pixels.length + test.pixels.length + train.count + test.count);
  bytes.set(train.pixels, 0);
  bytes.set(test.pixels, train.pixels.length);
  bytes.set(train.labels, train.pixels.length + test.pixels.length);
  bytes.set(test.labels, train.pixels.length + test.pixels.length + train.count);
  const header: Header = {
    format: FORMAT, version: VERSION, fingerprint, height: train.height, width: train.width, channels: train.channels,
    trainCount: train.count, testCount: test.count, classNames: data.classNames, bytes: bytes.length, sha256: sha256(bytes),
  };
  const p = paths(cacheDir, name, fingerprint);
  writeFileAtomic(p.data, bytes);
  writeJsonAtomic(p.header, header);
}

/** Loads the decoded splits of `sourceDir` from the cache, or decodes them with `build` and caches them. */
export function cachedDecode(cacheDir: string, name: string, sourceDir: string, build: () => DecodedSplitsData, log: DataLog): DecodedSplitsData {
  const fingerprint = folderFingerprint(sourceDir);
  const cached = read(cacheDir, name, fingerprint);
  if (typeof cached !== 'string') return cached;
  log(cached === 'missing'
    ? `${name}: decoding ${sourceDir} into a binary cache in ${cacheDir} (once per version of the folder)`
    : `${name}: cache in ${cacheDir} is ${cached}; decoding ${sourceDir} again`);
  const data = build();
  write(cacheDir, name, fingerprint, data);
  return data;
}
