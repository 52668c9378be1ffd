// Public API of the deploy stage (pipeline.md: search + export + verify + measure per device: bundles,
// the CI gate, the HTML report). Today: the CI latency-regression gate (deploy/gate/, issue 15).
export { runGate, recordBaseline, DEFAULT_GATE, type GateOptions, type RecordOptions } from './gate/gate.ts';
export { DECISIONS, DECISION_EXIT_CODES, DEFAULT_SEQUENTIAL, type Decision, type Look } from './gate/decide.ts';
export { GATE_RESULT_FORMAT, VISIT_STATISTICS, type GateResult, type GateBaselineRecord, type VisitStatistic } from './gate/result.ts';
export { DEPLOY_FORMAT } from './gate/baseline.ts';
export { benchmarkJson, markdownSummary, junitXml, checkGateOutputs, writeGateOutputs, type GateOutputs, type BenchmarkEntry } from './gate/formats.ts';
// Bundles (issue 14): one device and budget's verified, measured, scored ONNX model and its manifest.
export { deployBundle, toolVersion, nextBelow, bundleDir, BUNDLE_FORMAT, BUNDLE_DEFAULTS, type BundleOptions, type BundleResult, type BundleManifest, type BundleTry, type DeployCandidate, type DeployData, type LatencyFigures } from './bundle.ts';
export { deployDevices, checkGateRounds, type DeployOptions, type DeployResult, type Deployment, type DeploymentStatus } from './deploy.ts';
export { renderReport, writeReport, readDeployResult, devicePlotSpec, devicePlotSvg, PLOT_LAYERS } from './report.ts';
