// Public API of supernet checkpoints (pipeline.md "Supernet checkpoint").
export * from './safetensors.ts';
export * from './checkpoint.ts';
