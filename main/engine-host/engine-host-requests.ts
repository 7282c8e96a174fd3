/**
 * Pure facts about the requests the engine host sends: whether two model loads or two preview
 * decoders are the same (so the host skips sending one again), the output size a generation's
 * messages name, and the shape of a request before the host numbers it. Separate from
 * engine-host.ts because they depend on the protocol only, and the app compares LoRA sets too.
 */
import type { EngineLoraLoad, PipelineRequest, PreviewDecoderSpec } from './protocol';

/** The output size of a generation (what the messages about it name). */
export function pipelineSize(pipeline: PipelineRequest): { width: number; height: number } {
  return { width: pipeline.params.width, height: pipeline.params.height };
}

/** Same preview decoder (kind, and for TAESD the graph, provider and budget). */
export function samePreviewSpec(a: PreviewDecoderSpec, b: PreviewDecoderSpec): boolean {
  if (a.kind === 'approx' || b.kind === 'approx') return a.kind === b.kind;
  return a.path === b.path && a.provider === b.provider && a.budget === b.budget;
}

/** Same LoRA set (files and weights, in order): no LoRAs and an empty list are the same. */
export function sameLoras(a: EngineLoraLoad | undefined, b: EngineLoraLoad | undefined): boolean {
  const x = a?.specs ?? [];
  const y = b?.specs ?? [];
  return x.length === y.length && x.every((s, i) => s.path === y[i].path && s.weight === y[i].weight && s.unetWeight === y[i].unetWeight);
}

/** `Omit` over each member of a union (a request message without its `requestId`). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
