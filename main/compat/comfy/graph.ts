/**
 * A ComfyUI API-format prompt (`{id: {class_type, inputs}}`) → one Atelier GenerateRequest.
 *
 * Validation follows ComfyUI's `validate_prompt` (execution.py): every class must exist, at least
 * one output node, links must point at existing nodes with the right output type, required inputs
 * present, numbers within their bounds, combo values in their lists — and no dependency cycles.
 * Errors come back in ComfyUI's shape (`{error, node_errors}`), each naming its node.
 *
 * Mapping: the output nodes must show the images of one VAEDecode of one KSampler, whose latent
 * is an EmptyLatentImage (txt2img), a VAEEncode (img2img, denoise = strength), a
 * VAEEncodeForInpaint or SetLatentNoiseMask with a LoadImage mask (inpaint), or a
 * VAEEncodeForInpaint of an ImagePadForOutpaint with its own mask (outpaint). Anything else is
 * refused with a 400 naming the node that cannot be mapped. mapGraph reads as numbered steps; the
 * latent step (step 5, with its init images and masks) lives in graph-latent.ts.
 *
 * LoraLoader nodes between the checkpoint and the sampler's MODEL / the positive CLIPTextEncode's
 * CLIP become `<lora:name:strength_clip:strength_model>` tags appended to the prompt (common/
 * lora-prompt.ts: text-encoder weight first, then UNet), which Atelier merges at load.
 */
import type { ModelSummary } from '../../../common/api/contract';
import type { GenerateRequest } from '../../../common/api/schemas';
import { formatPromptLora } from '../../../common/lora-prompt';
import { fromComfy } from '../../../common/schedulers';
import { seed32 } from '../jobs';
import { mapLatent } from './graph-latent';
import { asLink, GraphMappingError, mapContext, type ComfyErrorDetail, type ComfyGraph, type ComfyNode, type MapContext, type NodeErrors, type PromptError } from './graph-nodes';
import { LORA_EXT, RUNNABLE_NODES, type InputSpec, type NodeDef } from './node-defs';
import type { InputFiles } from './uploads';

export { GraphMappingError };
export type { ComfyErrorDetail, ComfyGraph, ComfyNode, NodeErrors, PromptError };

export type Validated = { ok: true; graph: ComfyGraph; outputs: string[] } | { ok: false; error: PromptError };

const PRIMITIVES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN']);
/** Graphs Atelier can map have a dozen nodes; anything this large is refused before it is walked. */
const MAX_NODES = 500;

function promptError(type: string, message: string, details = '', extra: Record<string, unknown> = {}): PromptError {
  return { error: { type, message, details, extra_info: extra }, node_errors: {} };
}

export async function validateGraph(raw: unknown, defs: Record<string, NodeDef>, inputs: InputFiles): Promise<Validated> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    return { ok: false, error: promptError('invalid_prompt', 'Cannot execute because the prompt is not a graph of nodes ({"id": {"class_type", "inputs"}})') };
  }
  if (Object.keys(raw).length > MAX_NODES) {
    return { ok: false, error: promptError('invalid_prompt', `Cannot execute a graph of more than ${MAX_NODES} nodes`) };
  }
  const graph: ComfyGraph = {};
  for (const [id, node] of Object.entries(raw as Record<string, unknown>)) {
    const n = node as Partial<ComfyNode> | null;
    if (typeof n !== 'object' || n === null || typeof n.class_type !== 'string') {
      return { ok: false, error: promptError('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`) };
    }
    if (!Object.prototype.hasOwnProperty.call(defs, n.class_type)) {
      return {
        ok: false,
        error: promptError('missing_node_type', `Node '${n.class_type}' not found. Atelier runs ${RUNNABLE_NODES.join(', ')}.`, `Node ID '#${id}'`, {
          node_id: id,
          class_type: n.class_type,
          node_title: n._meta?.title ?? n.class_type,
        }),
      };
    }
    const nodeInputs = typeof n.inputs === 'object' && n.inputs !== null && !Array.isArray(n.inputs) ? n.inputs : {};
    graph[id] = { class_type: n.class_type, inputs: nodeInputs, ...(n._meta ? { _meta: n._meta } : {}) };
  }
  const outputs = Object.keys(graph).filter((id) => defs[graph[id].class_type].output_node);
  if (outputs.length === 0) return { ok: false, error: promptError('prompt_no_outputs', 'Prompt has no outputs') };

  const nodeErrors: Record<string, NodeErrors> = {};
  const memo = new Map<string, boolean>();
  const onStack: string[] = [];
  const fail = (id: string, output: string, e: ComfyErrorDetail) => {
    const entry = (nodeErrors[id] ??= { errors: [], dependent_outputs: [], class_type: graph[id].class_type });
    entry.errors.push(e);
    if (!entry.dependent_outputs.includes(output)) entry.dependent_outputs.push(output);
  };

  const validate = async (id: string, output: string): Promise<boolean> => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    if (onStack.includes(id)) {
      const cycle = [...onStack.slice(onStack.indexOf(id)), id].map((n) => `#${n}`).join(' → ');
      fail(id, output, { type: 'dependency_cycle', message: 'Dependency cycle detected', details: cycle, extra_info: { node_id: id } });
      return false;
    }
    onStack.push(id);
    const node = graph[id];
    const def = defs[node.class_type];
    let ok = true;
    for (const [name, spec] of Object.entries(def.input.required)) {
      const problem = await checkInput(graph, defs, inputs, node, name, spec);
      if (problem === 'recurse') {
        const link = asLink(node.inputs[name])!;
        if (!(await validate(link[0], output))) ok = false;
      } else if (problem) {
        fail(id, output, problem);
        ok = false;
      }
    }
    onStack.pop();
    memo.set(id, ok);
    return ok;
  };
  for (const out of outputs) await validate(out, out);

  if (Object.keys(nodeErrors).length > 0) {
    const details = Object.entries(nodeErrors)
      .flatMap(([id, e]) => e.errors.map((x) => `${e.class_type} #${id}: ${x.message}${x.details ? ` (${x.details})` : ''}`))
      .join('; ');
    return { ok: false, error: { error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details, extra_info: {} }, node_errors: nodeErrors } };
  }
  return { ok: true, graph, outputs };
}

/** One input against its spec: null when fine, 'recurse' for a good link, else the problem. */
async function checkInput(graph: ComfyGraph, defs: Record<string, NodeDef>, files: InputFiles, node: ComfyNode, name: string, spec: InputSpec): Promise<ComfyErrorDetail | 'recurse' | null> {
  const [type, opts = {}] = spec;
  const value = node.inputs[name];
  const extra = { input_name: name, input_config: spec, received_value: value };
  if (value === undefined || value === null) return { type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } };
  const link = asLink(value);
  const isWidget = Array.isArray(type) || PRIMITIVES.has(type);
  if (link) {
    if (isWidget) return { type: 'link_not_supported', message: `Atelier needs a value for ${name}, not a link`, details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
    const source = graph[link[0]];
    if (!source) return { type: 'bad_linked_input', message: `Linked node #${link[0]} does not exist`, details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
    const received = defs[source.class_type].output[link[1]];
    if (received === undefined) return { type: 'bad_linked_input', message: `${source.class_type} #${link[0]} has no output ${link[1]}`, details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
    if (received !== type) return { type: 'return_type_mismatch', message: 'Return type mismatch between linked nodes', details: `${name}, received_type(${received}) mismatch input_type(${type})`, extra_info: extra };
    return 'recurse';
  }
  if (!isWidget) return { type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
  if (Array.isArray(type)) {
    if (node.class_type === 'LoadImage' && name === 'image') {
      return typeof value === 'string' && (await files.resolveExisting(value)) ? null : { type: 'custom_validation_failed', message: 'Custom validation failed for node', details: `image - Invalid image file: ${String(value)}`, extra_info: extra };
    }
    return type.includes(value as string) ? null : { type: 'value_not_in_list', message: 'Value not in list', details: `${name}: '${String(value)}' not in ${JSON.stringify(type)}`, extra_info: extra };
  }
  if (type === 'STRING') return typeof value === 'string' || typeof value === 'number' ? null : { type: 'invalid_input_type', message: `Failed to convert an input value to a ${type} value`, details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
  if (type === 'BOOLEAN') return typeof value === 'boolean' ? null : { type: 'invalid_input_type', message: 'Failed to convert an input value to a BOOLEAN value', details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return { type: 'invalid_input_type', message: `Failed to convert an input value to a ${type} value`, details: `${name}, ${JSON.stringify(value)}`, extra_info: extra };
  const { min, max } = opts as { min?: number; max?: number };
  if (min !== undefined && n < min) return { type: 'value_smaller_than_min', message: `Value ${n} smaller than min of ${min}`, details: name, extra_info: extra };
  if (max !== undefined && n > max) return { type: 'value_bigger_than_max', message: `Value ${n} bigger than max of ${max}`, details: name, extra_info: extra };
  return null;
}

export interface ComfyOutput {
  id: string;
  classType: 'SaveImage' | 'PreviewImage';
  prefix: string;
}

export interface ComfyPlan {
  request: GenerateRequest;
  samplerId: string;
  samplerType: string;
  /** Nodes upstream of the sampler in execution order, then what runs after it (decode, outputs). */
  before: string[];
  after: string[];
  outputs: ComfyOutput[];
  /** Which node a GenerateRequest field came from (to name it when the API refuses the value). */
  fieldNodes: Record<string, string>;
  notes: string[];
}


export async function mapGraph(graph: ComfyGraph, outputIds: string[], models: ModelSummary[], files: InputFiles): Promise<ComfyPlan> {
  const ctx = mapContext(graph, models, files);
  // 1. Outputs → one VAEDecode → one sampler.
  const { samplerId, decodeIds, outputs } = traceOutputs(ctx, outputIds);
  // 2. The checkpoint: the sampler's MODEL (through any LoraLoaders), and the same checkpoint for CLIP and VAE.
  const checkpoint = findCheckpoint(ctx, samplerId);
  for (const d of decodeIds) requireSameCheckpoint(ctx, checkpoint, d, 'vae');
  // 3. Prompts (the positive one carries the LoRA tags: text-encoder weight from its CLIP path, UNet weight from the MODEL path).
  const prompts = mapPrompts(ctx, samplerId, checkpoint);
  // 4. Sampler settings.
  const settings = samplerSettings(ctx, samplerId);
  const request: GenerateRequest = {
    modelId: checkpoint.model.id,
    prompt: prompts.prompt,
    negativePrompt: prompts.negativePrompt,
    steps: settings.steps,
    guidanceScale: settings.guidanceScale,
    seed: settings.seed,
    source: 'comfyui',
    ...(settings.schedule.runnable ? { scheduler: settings.schedule.scheduler } : {}),
  };
  const fieldNodes: Record<string, string> = {
    steps: samplerId,
    guidanceScale: samplerId,
    seed: samplerId,
    scheduler: samplerId,
    modelId: checkpoint.loaderId,
    prompt: samplerId,
    negativePrompt: samplerId,
  };
  // 5. The latent: txt2img, img2img, inpaint or outpaint (graph-latent.ts).
  const requireCheckpointVae = (id: string) => void requireSameCheckpoint(ctx, checkpoint, id, 'vae');
  await mapLatent(ctx, samplerId, { request, fieldNodes, denoise: settings.denoise, requireCheckpointVae });
  if (request.initImage) fieldNodes.strength = samplerId;
  return { request, samplerId, samplerType: graph[samplerId].class_type, before: upstreamOf(graph, samplerId), after: [...decodeIds, ...outputIds], outputs, fieldNodes, notes: ctx.notes };
}

/** Every output must show the images of a VAEDecode of one and the same KSampler. */
function traceOutputs(ctx: MapContext, outputIds: string[]): { samplerId: string; decodeIds: string[]; outputs: ComfyOutput[] } {
  let samplerId: string | null = null;
  const decodeIds: string[] = [];
  const outputs: ComfyOutput[] = [];
  for (const out of outputIds) {
    const node = ctx.graph[out];
    const [decodeId, decode] = ctx.source(out, 'images');
    if (decode.class_type !== 'VAEDecode') {
      throw new GraphMappingError(out, node.class_type, `shows the output of ${decode.class_type} #${decodeId}; Atelier shows only images made by a sampler (a VAEDecode of a KSampler) in the same prompt`);
    }
    const [sId, sampler] = ctx.source(decodeId, 'samples');
    if (sampler.class_type !== 'KSampler' && sampler.class_type !== 'KSamplerAdvanced') {
      throw new GraphMappingError(decodeId, 'VAEDecode', `decodes ${sampler.class_type} #${sId}; Atelier decodes only the output of a KSampler`);
    }
    if (samplerId !== null && samplerId !== sId) {
      throw new GraphMappingError(out, node.class_type, `shows the images of ${sampler.class_type} #${sId}, another output those of #${samplerId}; Atelier runs one sampler per prompt`);
    }
    samplerId = sId;
    if (!decodeIds.includes(decodeId)) decodeIds.push(decodeId);
    const prefix = node.class_type === 'SaveImage' && node.inputs.filename_prefix !== undefined ? String(node.inputs.filename_prefix) : 'ComfyUI';
    outputs.push({ id: out, classType: node.class_type as ComfyOutput['classType'], prefix });
  }
  return { samplerId: samplerId!, decodeIds, outputs };
}

/** The CheckpointLoaderSimple behind the sampler's MODEL, and the LoRAs on that path. */
interface Checkpoint {
  loaderId: string;
  /** Its ckpt_name: every CLIP and VAE input must load the same one. */
  name: string;
  model: ModelSummary;
  /** LoRA name → summed strength_model of the LoraLoaders between the checkpoint and the sampler. */
  modelLoras: Map<string, number>;
}

function findCheckpoint(ctx: MapContext, samplerId: string): Checkpoint {
  const modelPath = throughLoras(ctx, samplerId, 'model');
  const [loaderId, loader] = [modelPath.srcId, modelPath.src];
  if (loader.class_type !== 'CheckpointLoaderSimple') throw new GraphMappingError(samplerId, ctx.graph[samplerId].class_type, `takes its model from ${loader.class_type} #${loaderId}; Atelier loads models with CheckpointLoaderSimple (optionally through LoraLoader)`);
  const name = ctx.text(loaderId, 'ckpt_name');
  const model = ctx.models.find((m) => m.id === name);
  if (!model) throw new GraphMappingError(loaderId, 'CheckpointLoaderSimple', `no installed model "${name}"`);
  return { loaderId, name, model, modelLoras: modelPath.strengths };
}

/** Follows `input` of node `id` back through LoraLoaders (summing their strength for that path) to its source. */
function throughLoras(ctx: MapContext, id: string, input: 'model' | 'clip'): { srcId: string; src: ComfyNode; strengths: Map<string, number> } {
  const strengths = new Map<string, number>();
  let [srcId, src] = ctx.source(id, input);
  const seenLoras = new Set<string>();
  while (src.class_type === 'LoraLoader' && !seenLoras.has(srcId)) {
    seenLoras.add(srcId);
    const file = ctx.text(srcId, 'lora_name');
    const name = file.endsWith(LORA_EXT) ? file.slice(0, -LORA_EXT.length) : file;
    strengths.set(name, (strengths.get(name) ?? 0) + ctx.num(srcId, input === 'model' ? 'strength_model' : 'strength_clip'));
    [srcId, src] = ctx.source(srcId, input);
  }
  return { srcId, src, strengths };
}

/** Refuses a CLIP or VAE input not loaded from the sampler's checkpoint; returns the LoRA strengths on a CLIP path. */
function requireSameCheckpoint(ctx: MapContext, checkpoint: Checkpoint, id: string, input: 'clip' | 'vae'): Map<string, number> {
  const { srcId, src, strengths } = input === 'clip' ? throughLoras(ctx, id, 'clip') : { srcId: ctx.source(id, input)[0], src: ctx.source(id, input)[1], strengths: new Map<string, number>() };
  if (src.class_type !== 'CheckpointLoaderSimple' || String(src.inputs.ckpt_name) !== checkpoint.name) {
    throw new GraphMappingError(id, ctx.graph[id].class_type, `its ${input} must come from the sampler's checkpoint "${checkpoint.name}" (got ${src.class_type} #${srcId})`);
  }
  return strengths;
}

/** The positive and negative prompt; LoRAs become `<lora:…>` tags on the positive one (common/lora-prompt.ts). */
function mapPrompts(ctx: MapContext, samplerId: string, checkpoint: Checkpoint): { prompt: string; negativePrompt: string } {
  const positive = promptOf(ctx, samplerId, 'positive', checkpoint);
  const negative = promptOf(ctx, samplerId, 'negative', checkpoint);
  const tags = loraTags(checkpoint.modelLoras, positive.clipLoras);
  const prompt = tags.length ? `${positive.text}${positive.text.trim() ? ' ' : ''}${tags.join(' ')}` : positive.text;
  const negOnly = [...negative.clipLoras.keys()].filter((n) => !positive.clipLoras.has(n));
  if (negOnly.length) ctx.notes.push(`LoRAs only on the negative prompt's CLIP (${negOnly.join(', ')}) — Atelier applies LoRAs to the whole generation`);
  return { prompt, negativePrompt: negative.text };
}

/** The CLIPTextEncode behind the sampler's `input` conditioning: its text, and the LoRA strengths on its CLIP path. */
function promptOf(ctx: MapContext, samplerId: string, input: 'positive' | 'negative', checkpoint: Checkpoint): { text: string; clipLoras: Map<string, number> } {
  const [encId, enc] = ctx.source(samplerId, input);
  if (enc.class_type !== 'CLIPTextEncode') throw new GraphMappingError(samplerId, ctx.graph[samplerId].class_type, `its ${input} conditioning comes from ${enc.class_type} #${encId}; Atelier takes prompts from CLIPTextEncode`);
  return { text: ctx.text(encId, 'text'), clipLoras: requireSameCheckpoint(ctx, checkpoint, encId, 'clip') };
}

/** One tag per LoRA with a weight on either path: text-encoder weight first, then UNet (one weight when they agree). */
function loraTags(modelLoras: Map<string, number>, clipLoras: Map<string, number>): string[] {
  const loraNames = [...new Set([...modelLoras.keys(), ...clipLoras.keys()])];
  return loraNames.flatMap((name) => {
    const te = clipLoras.get(name) ?? 0;
    const unet = modelLoras.get(name) ?? 0;
    if (te === 0 && unet === 0) return [];
    return [formatPromptLora(te === unet ? { name, weight: te } : { name, weight: te, unetWeight: unet })];
  });
}

/** Steps, CFG, seed, schedule and denoise of the sampler; a KSamplerAdvanced only as one whole denoising pass. */
function samplerSettings(ctx: MapContext, samplerId: string) {
  let seed: number;
  let denoise = 1;
  if (ctx.graph[samplerId].class_type === 'KSamplerAdvanced') {
    const steps = ctx.num(samplerId, 'steps');
    const whole = ctx.text(samplerId, 'add_noise') === 'enable' && ctx.num(samplerId, 'start_at_step') === 0 && ctx.num(samplerId, 'end_at_step') >= steps && ctx.text(samplerId, 'return_with_leftover_noise') === 'disable';
    if (!whole) throw new GraphMappingError(samplerId, 'KSamplerAdvanced', 'Atelier runs whole denoising passes only: add_noise enable, start_at_step 0, end_at_step ≥ steps, return_with_leftover_noise disable');
    seed = ctx.num(samplerId, 'noise_seed');
  } else {
    seed = ctx.num(samplerId, 'seed');
    denoise = ctx.num(samplerId, 'denoise');
  }
  const seedUsed = seed32(seed);
  if (seedUsed !== seed) ctx.notes.push(`Seed ${seed} is larger than 32 bits; used ${seedUsed}`);
  const schedule = fromComfy(ctx.text(samplerId, 'sampler_name'), ctx.text(samplerId, 'scheduler'));
  ctx.notes.push(...schedule.notes);
  return { steps: Math.trunc(ctx.num(samplerId, 'steps')), guidanceScale: ctx.num(samplerId, 'cfg'), seed: seedUsed, denoise, schedule };
}

/** Execution order for `executing` messages: every node upstream of the sampler, each after the nodes it reads. */
function upstreamOf(graph: ComfyGraph, samplerId: string): string[] {
  const before: string[] = [];
  const seen = new Set<string>([samplerId]);
  const visit = (id: string) => {
    for (const v of Object.values(graph[id].inputs)) {
      const l = asLink(v);
      if (l && !seen.has(l[0]) && graph[l[0]]) {
        seen.add(l[0]);
        visit(l[0]);
        before.push(l[0]);
      }
    }
  };
  visit(samplerId);
  return before;
}
