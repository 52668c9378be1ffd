// The static world (style.md, OFA's get_active_subnet boundary): the weights of ONE subnet with every
// elastic choice resolved, and its eval-mode forward. The currency between train/ (which produces
// static subnets from a supernet) and export/ (which writes them to ONNX); neither side owns it.
export type {
  StaticSubnet,
  StaticStage,
  StaticLayer,
  StaticMBConv,
  StaticConv,
  StaticBatchNorm,
  StaticHead,
  StaticTensor,
} from './types.ts';
export { staticForward, ensureBackend, type StaticForwardOptions } from './forward.ts';
