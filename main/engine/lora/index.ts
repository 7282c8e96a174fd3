/**
 * Applying LoRAs to a model at load time (onnxruntime-node 1.30 has no LoRA adapter API and cannot
 * override one named weight — test/engine/lora/ort-facts.test.ts checks both): for each graph a LoRA
 * touches (UNet, text encoder(s)), read the graph's node names and weight locations, merge, and
 * hand back the path of a patched working copy to create the session from.
 *
 *   1. Read each LoRA file (hash, modules); refuse files with adapter types we cannot merge (OFT, IA³…).
 *   2. Read each graph's nodes/weights; refuse graphs whose attention ORT fused.
 *   3. Merge per graph; count matches over all graphs; a LoRA matching nothing is an error.
 *   4. Write the working copy (or reuse the one for this exact LoRA set).
 */
import { readGraphWeightsFile } from './onnx-weights';
import { readLoraFile, type LoraFile } from './lora-file';
import { checkMatches, checkNotFused, checkSupported, mergePatches, moduleTargets, planComponent, type ComponentGraph, type LoraApplication, type LoraMatchReport } from './merge';
import { loraSetKey, prepareWorkingCopy, type WorkingCopy } from './working-copy';
import { createLowRankProduct, type LowRankProduct } from './product';
import type { LoraComponent } from './keys';

export { LoraError, OPTIMIZED_MESSAGE } from './merge';
export type { LoraMatchReport } from './merge';
export type { LoraComponent } from './keys';
export { readLoraFile } from './lora-file';
export { restoreSlot, modelId, loraSetKey, removeWorkingCopiesOf } from './working-copy';

export interface LoraSpec {
  /** Path of the .safetensors file. */
  path: string;
  /** Multiplier for the text encoder(s), and for the UNet unless `unetWeight` is given (A1111 `<lora:name:te:unet>`). */
  weight: number;
  unetWeight?: number;
}

export interface AppliedLoras {
  /** Graph → the model file to open instead of the installed one (only graphs a LoRA changed). */
  paths: Partial<Record<LoraComponent, string>>;
  reports: LoraMatchReport[];
  /** LoRA name → its content hash (A1111's addnet hash, full hex). */
  hashes: Array<{ name: string; hash: string }>;
  copies: Partial<Record<LoraComponent, WorkingCopy['how']>>;
  mergeMs: number;
}

export interface ApplyLorasOptions {
  cacheDir: string;
  maxSlots?: number;
  /** SDXL model (for the "LoRA for another base model" message). */
  sdxl: boolean;
  /** Compute the low-rank products in JavaScript instead of on ORT (tests compare the two). */
  jsProduct?: boolean;
}

export async function applyLoras(graphs: Partial<Record<LoraComponent, string>>, specs: readonly LoraSpec[], opts: ApplyLorasOptions): Promise<AppliedLoras> {
  const started = performance.now();
  // 1. LoRA files.
  const files: LoraFile[] = specs.map((s) => readLoraFile(s.path));
  const apps: LoraApplication[] = files.map((file, i) => ({ file, textWeight: specs[i].weight, unetWeight: specs[i].unetWeight ?? specs[i].weight }));
  checkSupported(apps);

  // 2. Graphs the LoRAs aim at.
  const wanted = new Set<LoraComponent>();
  for (const f of files) for (const m of f.modules.values()) wanted.add(m.component);
  const components: ComponentGraph[] = (Object.entries(graphs) as Array<[LoraComponent, string]>)
    .filter(([c]) => wanted.has(c))
    .map(([component, modelPath]) => ({ component, modelPath, graph: readGraphWeightsFile(modelPath) }));
  const targets = new Map(components.map((g) => [g.component, moduleTargets(g.graph)]));
  checkNotFused(components, targets, apps);

  // 3. Count matches (no weights read yet): every LoRA must match something before anything is written.
  const plans = components.map((g) => ({ g, plan: planComponent(g, apps, targets.get(g.component)) }));
  const matched = new Map(plans.map(({ g, plan }) => [g.component, plan.matched]));
  const reports = checkMatches(apps, matched, opts.sdxl);

  const paths: AppliedLoras['paths'] = {};
  const copies: AppliedLoras['copies'] = {};
  let product: LowRankProduct | null | undefined;
  // 4. Working copies (the product session is created only if some graph has to be merged).
  try {
    for (const { g, plan } of plans) {
      if (plan.terms.size === 0) continue; // nothing matched here, or every multiplier is 0: the installed graph as is
      const key = loraSetKey(g.component, apps.map((a) => ({ hash: a.file.hash, weight: g.component === 'unet' ? a.unetWeight : a.textWeight })));
      const external = [...new Set([...g.graph.weights.values()].map((w) => w.file).filter((f): f is string => f !== null))];
      const patches = async function* () {
        if (product === undefined) product = opts.jsProduct ? null : await createLowRankProduct();
        yield* mergePatches(plan, product);
      };
      const copy = await prepareWorkingCopy(g.modelPath, external, key, { files: plan.files, patches }, { cacheDir: opts.cacheDir, maxSlots: opts.maxSlots });
      paths[g.component] = copy.modelPath;
      copies[g.component] = copy.how;
    }
  } finally {
    // `product` is assigned inside the generator: TypeScript's flow analysis cannot see that.
    await (product as LowRankProduct | null | undefined)?.release();
  }
  return { paths, reports, hashes: files.map((f) => ({ name: f.name, hash: f.hash })), copies, mergeMs: performance.now() - started };
}
