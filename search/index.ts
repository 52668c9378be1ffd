// Public API of the search stage (pipeline.md): the accuracy predictor and the evolutionary search per
// device are the next issue. It exports nothing yet: what the search builds on is imported from where it
// lives (space/index.ts: the predictor encoding of ofav2.md s4 and the seeded samplers; profile/predict.ts:
// the latency predictor; train/index.ts: openSupernet for the accuracy data set), not re-exported here.
export {};
