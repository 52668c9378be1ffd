// Named tensors laid out back to back in one Float32Array (a SharedArrayBuffer, so that the main
// thread and every worker see the same parameters and gradients without copies between them).
export interface TensorSlot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface Layout {
  slots: TensorSlot[];
  /** Total number of floats. */
  size: number;
}

export function layoutOf(entries: Iterable<[string, number[]]>): Layout {
  const slots: TensorSlot[] = [];
  let offset = 0;
  for (const [name, shape] of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    slots.push({ name, shape: [...shape], offset, size });
    offset += size;
  }
  return { slots, size: offset };
}

export function sharedFloats(size: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(Math.max(1, size) * Float32Array.BYTES_PER_ELEMENT), 0, size);
}

/** Views (no copies) of each named tensor inside `data`, which starts at float `base`. */
export function viewsOf(layout: Layout, data: Float32Array, base = 0): Map<string, Float32Array> {
  const views = new Map<string, Float32Array>();
  for (const slot of layout.slots) views.set(slot.name, data.subarray(base + slot.offset, base + slot.offset + slot.size));
  return views;
}
