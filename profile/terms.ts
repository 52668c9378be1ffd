// Block terms of the latency predictor (issue 17): corrections of the lookup table's entries learnt from
// whole-subnet measurements (profile/fit.ts fits them; the predictor adds them). A table entry is a block
// timed alone; inside a whole network the same block runs with other caches, other fusions and other
// neighbours, so its cost there is its entry times (the calibration's scale + these corrections):
// - block: one table key's own correction (that block is cheaper or dearer inside a network);
// - group: shared by every block of one position type (kind + channels in/out + stride: one stage's
//   first layer, its other layers, a stage's dense sum, an exit head), so blocks the calibration never
//   measured still get their group's correction;
// - pair: the interaction with the block before it (keyed by both blocks' groups): a block after a
//   stride-2 layer, a dense sum or a stage change costs differently than after a plain layer.
// Every correction is relative (a fraction of the entry): 0 is "as the table says".
//
// Pure and small: the predictor (a search calls it 10^5 times) evaluates these per block with three map
// lookups; nothing here imports a runtime.
import type { BlockSpec } from '../space/index.ts';

export interface BlockTerms {
  /** The prior variance ratio the cross-validation chose (profile/fit.ts); 0 = no corrections. */
  rho: number;
  /** Relative correction per table key. */
  block: Record<string, number>;
  /** Relative correction per block group (blockGroup). */
  group: Record<string, number>;
  /** Relative correction per pair `<previous block's group>><this block's group>`. */
  pair: Record<string, number>;
}

/** A block as the terms see it: its key, its group, its entry (ms at the table's speed). */
export interface TermBlock {
  key: string;
  group: string;
  ms: number;
}

/** A block's position type: what the group and pair terms are keyed by. */
export function blockGroup(spec: BlockSpec): string {
  switch (spec.kind) {
    case 'stem':
      return 'stem';
    case 'layer':
      return `layer-c${spec.inChannels}-o${spec.outChannels}-s${spec.stride}`;
    case 'stageOutput':
      return `sum-c${spec.channels}`;
    case 'head':
      return `head-c${spec.inChannels}`;
  }
}

export function pairKey(previousGroup: string, group: string): string {
  return `${previousGroup}>${group}`;
}

/** The block terms' contribution to a subnet's latency, in ms: sum over blocks of entry x corrections. */
export function termsMs(blocks: readonly TermBlock[], terms: BlockTerms): number {
  let total = 0;
  for (let i = 0; i < blocks.length; i++) {
    const { key, group, ms } = blocks[i];
    let factor = (terms.block[key] ?? 0) + (terms.group[group] ?? 0);
    if (i > 0) factor += terms.pair[pairKey(blocks[i - 1].group, group)] ?? 0;
    total += ms * factor;
  }
  return total;
}

/**
 * The design columns of one subnet for the fit: the entry summed per block key, per group, per pair
 * (column names prefixed `block:`, `group:`, `pair:`).
 */
export function termColumns(blocks: readonly TermBlock[]): Map<string, number> {
  const columns = new Map<string, number>();
  const add = (name: string, ms: number) => columns.set(name, (columns.get(name) ?? 0) + ms);
  blocks.forEach(({ key, group, ms }, i) => {
    add(`block:${key}`, ms);
    add(`group:${group}`, ms);
    if (i > 0) add(`pair:${pairKey(blocks[i - 1].group, group)}`, ms);
  });
  return columns;
}

/** Column name -> coefficient back into BlockTerms (coefficients below `epsilon` in magnitude are left out). */
export function termsFromColumns(rho: number, coefficients: ReadonlyMap<string, number>, epsilon = 1e-9): BlockTerms {
  const terms: BlockTerms = { rho, block: {}, group: {}, pair: {} };
  for (const [name, value] of coefficients) {
    if (!(Math.abs(value) > epsilon)) continue;
    const colon = name.indexOf(':');
    const family = name.slice(0, colon) as 'block' | 'group' | 'pair';
    terms[family][name.slice(colon + 1)] = value;
  }
  return terms;
}
