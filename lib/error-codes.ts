// The catalogue of error codes (style.md: one place, each code with its kind and exit code). A code
// is stable: scripts and tests match on it. `new OfaError(code, ...)` accepts only the codes listed
// here, so a new failure mode starts with a line in this table.
//
// Kinds: 'bad-input' is a user mistake (a flag, a file, a value the user can change): exit code 2, no
// stack trace. 'failure' is everything else (a corrupt file on disk, a runtime that cannot start, an
// internal invariant, a diverged run): exit code 1.

export type OfaErrorKind = 'bad-input' | 'failure';

/** The exit code of each kind (the CLI's contract, README "Commands"). */
export const EXIT_CODES = { 'bad-input': 2, failure: 1 } as const satisfies Record<OfaErrorKind, number>;

export type ErrorCodeEntry =
  | { readonly kind: 'bad-input'; readonly exitCode: typeof EXIT_CODES['bad-input']; readonly meaning: string }
  | { readonly kind: 'failure'; readonly exitCode: typeof EXIT_CODES['failure']; readonly meaning: string };

const badInput = (meaning: string) => ({ kind: 'bad-input', exitCode: EXIT_CODES['bad-input'], meaning }) as const;
const failure = (meaning: string) => ({ kind: 'failure', exitCode: EXIT_CODES.failure, meaning }) as const;

export const ERROR_CODES = {
  // The command line and files (cli/, lib/).
  E_ARGS: badInput('the command line: an unknown or malformed flag, a missing flag, a missing or unexpected argument'),
  E_FLAG_CONFLICT: badInput('two flags that cannot be used together'),
  E_COMMAND: badInput('an unknown command or sub-command'),
  E_READ: badInput('an input file does not exist or cannot be read'),
  E_JSON: badInput('an input is not valid JSON'),
  E_OUTPUT_DIR: badInput('the folder an output would be written to does not exist'),
  E_ARTIFACT_FORMAT: badInput('a JSON artifact without the expected format tag or with another format version'),
  E_ARTIFACT_MISMATCH: badInput('a latency table, calibration or validation made for another device, preset or variant than it is used with'),

  // The search space (space/).
  E_PRESET: badInput('an unknown preset'),
  E_VARIANT: badInput('an unknown variant'),
  E_CONFIG: badInput('a subnet config, or a list of them, is not valid (each fault names its JSON path)'),
  E_CONFIG_SUPERNET: badInput('a subnet config of another preset or variant than the supernet, checkpoint or table it is used with'),
  E_DIMENSIONS: badInput('sampler dimensions (kernel, expand, depth) outside the search space'),
  E_BLOCK: badInput('a block specification that is not valid'),

  // Data sets (train/data/).
  E_DATASET: badInput('an unknown data set'),
  E_DATASET_DIR: badInput('a data set that needs its folder was given none'),
  E_DATA_SOURCE: badInput("a file of the user's data set folder is missing or not in the expected layout"),
  E_DATA_PACKAGE: failure('the installed fashion-mnist package is missing or corrupt, and no built cache can stand in'),
  E_DATA_CACHE: failure('the converted data cache cannot be written or read back'),
  E_DATA_SHAPE: badInput('images of another size or channel count than the data set spec'),
  E_DATA_TRANSFORM: failure('a data set spec whose train or evaluation transform is unknown or has parameters out of range'),
  E_EMPTY_SET: badInput('an empty image set where images are needed'),
  E_BATCH_SIZE: badInput('a batch size that is not a positive integer'),
  E_MAX_IMAGES: badInput('an image count that is not a positive integer'),
  E_VALIDATION_SIZE: badInput('a validation split size outside the training split'),
  E_RESOLUTION: badInput('an empty or invalid list of resolutions'),
  E_ITERATOR_STATE: badInput('a saved data iterator state that does not fit the data set, batch size or seed'),
  E_PRESET_DATA: badInput('a preset with no data set to train or evaluate on'),

  // Training (train/).
  E_BACKEND: badInput('an unknown tfjs backend preference'),
  E_BACKEND_UNAVAILABLE: badInput('the requested tfjs backend cannot be loaded here'),
  E_BACKEND_INIT: failure('the tfjs backend failed to initialise'),
  E_THREADS: badInput('a thread count that is not an integer >= 1'),
  E_PHASE: badInput('a training phase that is unknown or does not apply to the variant'),
  E_SCALE: badInput('an epoch scale outside (0, 1]'),
  E_EPOCHS: badInput('an epoch count that is not an integer >= 1'),
  E_SCHEDULE: badInput('a learning-rate schedule that is not valid'),
  E_OPTIMIZER: badInput('an optimiser hyperparameter out of range'),
  E_GRADIENT: failure('a gradient or momentum buffer that fits no parameter (an internal fault)'),
  E_NON_FINITE: failure('training diverged: a NaN or Inf loss or gradient (nothing was updated or saved)'),
  E_SORT_OPTIONS: badInput('channel sorting options that are not valid'),
  E_LOSS_INPUT: badInput('inputs of the loss (configs, labels, teacher) that do not fit together'),
  E_SUPERNET_INPUT: badInput('images or batches that do not fit the subnet'),
  E_SUPERNET_KERNELS: badInput('kernel sizes the supernet does not support'),
  E_SUPERNET_EXITS: badInput('an exit-related call on a variant or config without that exit'),
  E_SUPERNET_HEAD: failure('an exit head missing from the supernet (an internal fault)'),
  E_SUPERNET_NAME: failure('a supernet variable defined twice (an internal fault)'),
  E_PARALLEL_OPTION: badInput('a parallel trainer option that is not an integer >= 1'),
  E_PARALLEL_BATCH: badInput('a batch too small or too large for the BN shards'),
  E_PARALLEL_LOAD: badInput('weights whose names or sizes do not match the parallel trainer'),
  E_PARALLEL_CLOSED: failure('a parallel trainer used after it was closed'),
  E_PARALLEL_WORKER: failure('a training worker thread failed or crashed'),
  E_RUN_EXISTS: badInput('a run folder that already holds a checkpoint (use --resume, or another --out)'),
  E_RESUME_NONE: badInput('--resume with no complete checkpoint to resume from'),
  E_RESUME_MISMATCH: badInput('--resume with other settings than the run was started with'),
  E_EPS_MISMATCH: badInput('an `ofa train eps` folder resumed with another preset, variant, teacher, scale or seed'),
  E_EPS_STATE: badInput("a phase-sequence state file that is not valid"),

  // Checkpoints (train/checkpoint/, train/open.ts).
  E_CHECKPOINT: badInput('a folder that is not a checkpoint or holds none (or of another format version)'),
  E_CHECKPOINT_MISMATCH: badInput('a checkpoint of another preset, variant or supernet layout than requested'),
  E_CHECKPOINT_CHECKSUM: badInput('a checkpoint file that is missing or whose sha256 or size differs from its manifest (corrupt): a bad input file, like every other checkpoint fault'),
  E_CHECKPOINT_MANIFEST: failure('a checkpoint manifest that cannot be written as given'),
  E_CHECKPOINT_WRITE: failure('a checkpoint that could not be written'),
  E_SAFETENSORS: badInput('a weights file that is not valid safetensors (truncated or corrupt): a bad input file, like every other checkpoint fault'),
  E_TENSOR_NAME: badInput('a tensor name that safetensors does not allow'),
  E_TENSOR_SHAPE: badInput('a tensor shape that is not a list of non-negative integers'),
  E_TENSOR_DATA: failure("a tensor whose data length differs from its shape's element count"),

  // Export and ONNX files (export/).
  E_ONNX: badInput('a file that is not a readable ONNX model of the exporter'),
  E_ONNX_COUNT: failure('an ONNX graph whose costs cannot be counted (unknown op or shape)'),
  E_NOT_ONNX: badInput('a file that is not an ONNX model'),
  E_MODEL: badInput('an ONNX model that the runtime refuses'),

  // Profiling, devices and latency prediction (profile/, devices/).
  E_DEVICE: badInput('a device profile that is not valid'),
  E_DEVICE_UNKNOWN: badInput('an unknown device'),
  E_RUNTIME_UNKNOWN: badInput('an unknown runtime'),
  E_EP_UNAVAILABLE: failure('the execution provider cannot start on this host (no silent fallback)'),
  E_SESSION: failure('the runtime could not create a session'),
  E_BROWSER: failure('the browser of a browser runtime failed: it did not launch or connect, its page crashed or closed, or the page reported an error'),
  E_BROWSER_TIMEOUT: failure('a browser page that gave no answer and no sign of life within its time limit (a hung page)'),
  E_SERVER_BIND: badInput('a model server asked to listen on a non-loopback address without allowNonLoopback'),
  E_DIM: badInput('a --dim value that is not a positive integer'),
  E_DIM_UNKNOWN: badInput('a --dim for a symbolic dimension the model does not have'),
  E_DIM_UNSET: badInput('a symbolic dimension of the model left without a value'),
  E_INPUT_TYPE: badInput('a model input of a type the profiler cannot fill'),
  E_PROTOCOL: badInput('measurement protocol settings out of range'),
  E_LUT: badInput('a latency table that cannot be read'),
  E_LUT_MISSING: badInput('a device with no latency table for the preset and variant'),
  E_LUT_MISMATCH: badInput('a latency table that cannot be resumed with these settings'),
  E_LUT_MISSING_BLOCK: failure('a latency table without an entry for a block of the subnet'),
  E_LUT_OUTDATED: failure('a latency table built by an older version, without the figures asked for'),
  E_CALIBRATION: badInput('a calibration file that cannot be read or is not valid'),
  E_CALIBRATION_MISSING: badInput('a device with no calibration for the preset and variant'),
  E_CALIBRATION_FIT: badInput("block-term fit settings out of range (the prior variance ratios, the cross-validation folds)"),
  E_PROFILE_RUN_MISMATCH: badInput('an `ofa profile device` run resumed with other settings than it was started with'),
  E_PREDICTION: badInput("a predicted latency that is not a finite number of ms > 0: the table or calibration that produced it is wrong for the subnet (the error names its terms)"),
  E_PREDICTOR_SPACE: badInput("a subnet of another preset or variant than the predictor's table"),
  E_SEED: badInput('a seed that must differ (held-out subnets need another seed than the calibration)'),
  E_SPACE_SMALL: badInput('a search space with fewer distinct subnets than asked for'),

  // The CI latency gate (deploy/gate/).
  E_GATE_THRESHOLD: badInput('a gate threshold outside (0, 100%)'),
  E_GATE_OPTION: badInput('gate settings out of range (time limit, alpha, rounds, runs per visit, growth)'),
  E_GATE_INPUTS: badInput('baseline and candidate models whose inputs differ (names, types or shapes)'),
  E_GATE_DEVICE: badInput('the device the gate was asked to measure on cannot start on this host'),
  E_GATE_BASELINE: badInput('a baseline file that is broken or holds no usable latency record'),
  E_GATE_BASELINE_DEVICE: badInput('a baseline file measured on another device, or with other device or protocol settings'),

  // Search: accuracy data sets, the accuracy predictor, the evolutionary search (search/).
  E_ACCURACY_DATA: badInput('an accuracy data set file that cannot be read, or a line of it that is not a measured subnet (the error names the line)'),
  E_ACCURACY_DATA_MISMATCH: badInput('an accuracy data set resumed with another supernet, split, image counts or seed than it was started with'),
  E_ACCURACY_DATA_SMALL: badInput('too few measured subnets to fit an accuracy predictor and judge it on held-out ones'),
  E_ACCURACY_PREDICTOR: badInput('an accuracy predictor file that cannot be read or is not valid'),
  E_ACCURACY_PREDICTOR_SPACE: badInput('an accuracy predictor fitted for another preset, variant or supernet than the search is for'),
  E_SEARCH_OPTIONS: badInput('search options out of range: population, generations, budgets, devices, fit settings'),
  E_SEARCH_BUDGET: badInput("a latency budget below the smallest predicted latency any subnet reaches on the device"),

  // Deploy (deploy/): bundles per device and budget.
  E_DEPLOY_OPTIONS: badInput('deploy options out of range: budgets, tries, image counts, an empty candidate list'),
  E_DEPLOY_RESULT: badInput('a deploy.json that is not a valid deploy result (a figure missing, out of range or of the wrong type)'),
  E_DEPLOY_VERIFY: failure("an exported model whose outputs in onnxruntime differ from the supernet's own forward by more than the tolerance"),
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The kind of an error code. */
export type KindOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]['kind'];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function exitCodeOf(code: ErrorCode): number {
  return ERROR_CODES[code]?.exitCode ?? EXIT_CODES.failure;
}
