// The profiler's page (served by profile/runtimes/chromium/server.ts, driven by ../chromium.ts through
// playwright-core). It loads one onnxruntime-web entry, opens sessions from model URLs of the same
// server, and runs the profiler's timing protocol here, where the model runs, with performance.now():
// the same loop as profile/runtimes/ort.ts runs in Node. Plain JavaScript, loaded as it is: nothing in
// the repository compiles it. Every call answers {ok: true, value} or {ok: false, error: {kind,
// message}}; the runtime turns the kinds into OfaErrors. Inputs arrive as bytes (generated in Node by
// profile/inputs.ts, so both sides feed identical values), outputs leave as bytes.

const sessions = new Map();
let ort;
let entry;
let nextId = 1;
let lastBeat = 0;
let creating = Promise.resolve();

/** A sign of life for the runtime's watchdog, at most every 250 ms, never inside a timed run. */
function beat() {
  const now = performance.now();
  if (now - lastBeat < 250) return;
  lastBeat = now;
  if (typeof globalThis.ofaAlive === 'function') globalThis.ofaAlive().catch(() => {});
}

function fail(kind, message) {
  const error = new Error(message);
  error.kind = kind;
  return error;
}

const TYPED = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function tensorOf(spec) {
  const Typed = TYPED[spec.type];
  if (!Typed) throw fail('input', `input ${JSON.stringify(spec.name)}: type ${spec.type} cannot be fed by the page`);
  const bytes = fromBase64(spec.base64);
  return new ort.Tensor(spec.type, new Typed(bytes.buffer, 0, bytes.byteLength / Typed.BYTES_PER_ELEMENT), spec.dims);
}

function metadata(list) {
  return list.map((m) => ({ name: m.name, type: m.isTensor ? m.type ?? 'unknown' : 'non-tensor', shape: m.shape ?? [] }));
}

function session(id) {
  const open = sessions.get(id);
  if (!open) throw fail('page', `session ${id} is not open in this page`);
  return open;
}

async function adapterFacts() {
  if (!navigator.gpu) return { navigatorGpu: false };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { navigatorGpu: true, adapter: null };
  const info = adapter.info ?? {};
  return {
    navigatorGpu: true,
    adapter: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '', isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) },
  };
}

async function createSession({ modelUrl, options, executionProvider, numThreads }) {
  if (executionProvider === 'webgpu') {
    const gpu = await adapterFacts();
    if (!gpu.adapter) {
      throw fail('ep-unavailable', gpu.navigatorGpu ? 'navigator.gpu.requestAdapter() gave no adapter' : `there is no navigator.gpu in this page (secure context: ${globalThis.isSecureContext})`);
    }
  }
  const response = await fetch(modelUrl);
  if (!response.ok) throw fail('page', `fetching the model gave HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let created;
  try {
    created = await ort.InferenceSession.create(bytes, options);
  } catch (error) {
    const message = String(error?.message ?? error);
    if (/fallback to CPU EP has been explicitly disabled|assigned to the default CPU EP/i.test(message)) throw fail('ep-unsupported', message);
    if (/no available backend|backend not found|webgpu is not supported|failed to get.*adapter/i.test(message)) throw fail('ep-unavailable', message);
    throw fail('model', message);
  }
  // No silent fallback to one thread: onnxruntime-web lowers the count when the page cannot run threads.
  if (ort.env.wasm.numThreads !== numThreads) {
    await created.release();
    throw fail('ep-unavailable', `onnxruntime-web runs ${ort.env.wasm.numThreads} wasm thread(s), not the ${numThreads} asked for (cross-origin isolated: ${globalThis.crossOriginIsolated === true})`);
  }
  const id = nextId++;
  sessions.set(id, { session: created, feedsKey: undefined, feeds: undefined });
  return { id, inputs: metadata(created.inputMetadata), outputs: metadata(created.outputMetadata), wasmNumThreads: ort.env.wasm.numThreads };
}

const api = {
  /** Loads the entry once per page and sets the wasm thread count (fixed at the first session). */
  async init({ module, numThreads, executionProvider }) {
    if (ort && entry !== module) throw fail('page', `this page already loaded ${entry}; one entry per page`);
    if (!ort) {
      ort = await import(`./ort/${module}`);
      entry = module;
      ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
      ort.env.wasm.numThreads = numThreads;
      ort.env.wasm.proxy = false;
      ort.env.logLevel = 'error';
    }
    const facts = {
      userAgent: navigator.userAgent,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      hardwareConcurrency: navigator.hardwareConcurrency,
      ortVersion: ort.env.versions?.web ?? 'unknown',
      wasmNumThreads: ort.env.wasm.numThreads,
    };
    if (executionProvider === 'webgpu') Object.assign(facts, await adapterFacts());
    return facts;
  },

  /** One creation at a time per page (onnxruntime-web's WebGPU EP refuses a second one meanwhile). */
  create(args) {
    const created = creating.then(() => createSession(args));
    creating = created.catch(() => {});
    return created;
  },

  /** Feeds for one input plan (bytes made by profile/inputs.ts in Node), kept until the next plan. */
  feed({ id, key, tensors }) {
    const open = session(id);
    const feeds = {};
    for (const spec of tensors) feeds[spec.name] = tensorOf(spec);
    open.feedsKey = key;
    open.feeds = feeds;
    return true;
  },

  /** The timing request (profile/runtimes/types.ts TimingRequest), as timeOrtSession runs it in Node. */
  async time({ id, key, request }) {
    const open = session(id);
    if (open.feedsKey !== key) throw fail('page', 'the inputs of this plan were not sent to the page');
    const { session: s, feeds } = open;
    let firstRunMs;
    if (request.firstRun) {
      const start = performance.now();
      await s.run(feeds);
      firstRunMs = performance.now() - start;
      beat();
    }
    for (let i = 0; i < request.warmupRuns; i++) {
      await s.run(feeds);
      beat();
    }
    const samplesMs = [];
    const begin = performance.now();
    let elapsed = 0;
    while (samplesMs.length < request.minSamples || elapsed < request.minTimeMs) {
      const start = performance.now();
      await s.run(feeds);
      const end = performance.now();
      samplesMs.push(end - start);
      elapsed = end - begin;
      beat();
    }
    return { ...(firstRunMs === undefined ? {} : { firstRunMs }), samplesMs, samplingMs: performance.now() - begin };
  },

  /** One run on float32 inputs; every output back as float32 bytes with its dims. */
  async infer({ id, inputs }) {
    const { session: s } = session(id);
    const feeds = {};
    for (const input of inputs) feeds[input.name] = tensorOf({ ...input, type: 'float32' });
    const results = await s.run(feeds);
    const outputs = {};
    for (const [name, tensor] of Object.entries(results)) {
      const data = tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data, Number);
      outputs[name] = { dims: [...tensor.dims], base64: toBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
    }
    return outputs;
  },

  async release({ id }) {
    const open = sessions.get(id);
    sessions.delete(id);
    if (open) await open.session.release();
    return true;
  },
};

/** The one entry point the runtime calls: never throws, answers plain data. */
globalThis.ofa = {
  ready: true,
  async call(method, args) {
    try {
      if (!Object.hasOwn(api, method)) throw fail('page', `no page method ${JSON.stringify(method)}`);
      return { ok: true, value: await api[method](args) };
    } catch (error) {
      return { ok: false, error: { kind: error?.kind ?? 'page', message: String(error?.message ?? error) } };
    }
  },
};
