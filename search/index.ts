// Public API of the search stage (pipeline.md): the accuracy predictor and the evolutionary search per
// device are the next issue. What they build on already exists upstream and is re-exported here: the
// predictor encoding of ofav2.md s4 (space/encoding.ts) and the seeded samplers the search mutates from.
export { encodeConfig, encodingLayout, sampleRandom, sampleMin, sampleMax, type EncodingSegment } from '../space/index.ts';
