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
 * refused with a 400 naming the node that cannot be mapped.
 *
 * LoraLoader nodes between the checkpoint and the sampler's MODEL / the positive CLIPTextEncode's
 * CLIP become `<lora:name:strength_clip:strength_model>` tags appended to the prompt (common/
 * lora-prompt.ts: text-encoder weight first, then UNet), which Atelier merges at load.
 */
import sharp from 'sharp';
import type { ModelSummary } from '../../../common/api/contract';
import type { GenerateRequest } from '../../../common/api/schemas';
import { formatPromptLora } from '../../../common/lora-prompt';
import { fromComfy } from '../../../common/schedulers';
import { inspectImage, maskFromAlpha, toPng, type DecodedImage } from '../images';
import { seed32 } from '../jobs';
import { LORA_EXT, RUNNABLE_NODES, type InputSpec, type NodeDef } from './node-defs';
import type { InputFiles } from './uploads';

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}
export type ComfyGraph = Record<string, ComfyNode>;

export interface ComfyErrorDetail {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export interface NodeErrors {
  errors: ComfyErrorDetail[];
  dependent_outputs: string[];
  class_type: string;
}
/** ComfyUI's 400 body for a prompt it will not run. */
export interface PromptError {
  error: ComfyErrorDetail;
  node_errors: Record<string, NodeErrors>;
}

export type Validated = { ok: true; graph: ComfyGraph; outputs: string[] } | { ok: false; error: PromptError };

const PRIMITIVES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN']);
/** Graphs Atelier can map have a dozen nodes; anything this large is refused before it is walked. */
const MAX_NODES = 500;
type Link = [string, number];

function asLink(v: unknown): Link | null {
  return Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && Number.isInteger(v[1]) ? [String(v[0]), v[1] as number] : null;
}

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

/** A node the mapper cannot turn into an Atelier generation, and why. */
export class GraphMappingError extends Error {
  constructor(
    readonly nodeId: string,
    readonly classType: string,
    message: string,
  ) {
    super(`${classType} #${nodeId}: ${message}`);
    this.name = 'GraphMappingError';
  }
  toPromptError(outputs: string[]): PromptError {
    const detail: ComfyErrorDetail = { type: 'unsupported_graph', message: this.message, details: '', extra_info: { node_id: this.nodeId, class_type: this.classType } };
    return { error: { ...detail, message: `Atelier cannot run this graph: ${this.message}` }, node_errors: { [this.nodeId]: { errors: [detail], dependent_outputs: outputs, class_type: this.classType } } };
  }
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

interface MapContext {
  graph: ComfyGraph;
  models: ModelSummary[];
  files: InputFiles;
}

export async function mapGraph(graph: ComfyGraph, outputIds: string[], models: ModelSummary[], files: InputFiles): Promise<ComfyPlan> {
  const ctx: MapContext = { graph, models, files };
  const notes: string[] = [];
  const source = (id: string, input: string): [string, ComfyNode, number] => {
    const link = asLink(graph[id].inputs[input])!;
    return [link[0], graph[link[0]], link[1]];
  };
  const num = (id: string, input: string) => Number(graph[id].inputs[input]);
  const text = (id: string, input: string) => String(graph[id].inputs[input]);

  // 1. Outputs → one VAEDecode → one sampler.
  let samplerId: string | null = null;
  const decodeIds: string[] = [];
  const outputs: ComfyOutput[] = [];
  for (const out of outputIds) {
    const node = graph[out];
    const [decodeId, decode] = source(out, 'images');
    if (decode.class_type !== 'VAEDecode') {
      throw new GraphMappingError(out, node.class_type, `shows the output of ${decode.class_type} #${decodeId}; Atelier shows only images made by a sampler (a VAEDecode of a KSampler) in the same prompt`);
    }
    const [sId, sampler] = source(decodeId, 'samples');
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
  const sId = samplerId!;
  const sampler = graph[sId];

  // 2. The checkpoint: the sampler's MODEL (through any LoraLoaders), and the same checkpoint for CLIP and VAE.
  /** Follows `input` of node `id` back through LoraLoaders (summing their strength for that path) to its source. */
  const throughLoras = (id: string, input: 'model' | 'clip') => {
    const strengths = new Map<string, number>();
    let [srcId, src] = source(id, input);
    const seenLoras = new Set<string>();
    while (src.class_type === 'LoraLoader' && !seenLoras.has(srcId)) {
      seenLoras.add(srcId);
      const file = text(srcId, 'lora_name');
      const name = file.endsWith(LORA_EXT) ? file.slice(0, -LORA_EXT.length) : file;
      strengths.set(name, (strengths.get(name) ?? 0) + num(srcId, input === 'model' ? 'strength_model' : 'strength_clip'));
      [srcId, src] = source(srcId, input);
    }
    return { srcId, src, strengths };
  };
  const modelPath = throughLoras(sId, 'model');
  const [loaderId, loader] = [modelPath.srcId, modelPath.src];
  if (loader.class_type !== 'CheckpointLoaderSimple') throw new GraphMappingError(sId, sampler.class_type, `takes its model from ${loader.class_type} #${loaderId}; Atelier loads models with CheckpointLoaderSimple (optionally through LoraLoader)`);
  const ckpt = text(loaderId, 'ckpt_name');
  const model = ctx.models.find((m) => m.id === ckpt);
  if (!model) throw new GraphMappingError(loaderId, 'CheckpointLoaderSimple', `no installed model "${ckpt}"`);
  const sameCheckpoint = (id: string, input: string) => {
    const { srcId, src, strengths } = input === 'clip' ? throughLoras(id, 'clip') : { srcId: source(id, input)[0], src: source(id, input)[1], strengths: new Map<string, number>() };
    if (src.class_type !== 'CheckpointLoaderSimple' || String(src.inputs.ckpt_name) !== ckpt) {
      throw new GraphMappingError(id, graph[id].class_type, `its ${input} must come from the sampler's checkpoint "${ckpt}" (got ${src.class_type} #${srcId})`);
    }
    return strengths;
  };
  for (const d of decodeIds) sameCheckpoint(d, 'vae');

  // 3. Prompts (the positive one carries the LoRA tags: text-encoder weight from its CLIP path, UNet weight from the MODEL path).
  const promptOf = (input: 'positive' | 'negative') => {
    const [encId, enc] = source(sId, input);
    if (enc.class_type !== 'CLIPTextEncode') throw new GraphMappingError(sId, sampler.class_type, `its ${input} conditioning comes from ${enc.class_type} #${encId}; Atelier takes prompts from CLIPTextEncode`);
    return { text: text(encId, 'text'), clipLoras: sameCheckpoint(encId, 'clip') };
  };
  const positive = promptOf('positive');
  const negative = promptOf('negative');
  const loraNames = [...new Set([...modelPath.strengths.keys(), ...positive.clipLoras.keys()])];
  const tags = loraNames.flatMap((name) => {
    const te = positive.clipLoras.get(name) ?? 0;
    const unet = modelPath.strengths.get(name) ?? 0;
    if (te === 0 && unet === 0) return [];
    return [formatPromptLora(te === unet ? { name, weight: te } : { name, weight: te, unetWeight: unet })];
  });
  const prompt = tags.length ? `${positive.text}${positive.text.trim() ? ' ' : ''}${tags.join(' ')}` : positive.text;
  const negativePrompt = negative.text;
  const negOnly = [...negative.clipLoras.keys()].filter((n) => !positive.clipLoras.has(n));
  if (negOnly.length) notes.push(`LoRAs only on the negative prompt's CLIP (${negOnly.join(', ')}) — Atelier applies LoRAs to the whole generation`);

  // 4. Sampler settings.
  let seed: number;
  let denoise = 1;
  if (sampler.class_type === 'KSamplerAdvanced') {
    const steps = num(sId, 'steps');
    const whole = text(sId, 'add_noise') === 'enable' && num(sId, 'start_at_step') === 0 && num(sId, 'end_at_step') >= steps && text(sId, 'return_with_leftover_noise') === 'disable';
    if (!whole) throw new GraphMappingError(sId, 'KSamplerAdvanced', 'Atelier runs whole denoising passes only: add_noise enable, start_at_step 0, end_at_step ≥ steps, return_with_leftover_noise disable');
    seed = num(sId, 'noise_seed');
  } else {
    seed = num(sId, 'seed');
    denoise = num(sId, 'denoise');
  }
  const seedUsed = seed32(seed);
  if (seedUsed !== seed) notes.push(`Seed ${seed} is larger than 32 bits; used ${seedUsed}`);
  const schedule = fromComfy(text(sId, 'sampler_name'), text(sId, 'scheduler'));
  notes.push(...schedule.notes);

  const request: GenerateRequest = {
    modelId: model.id,
    prompt,
    negativePrompt,
    steps: Math.trunc(num(sId, 'steps')),
    guidanceScale: num(sId, 'cfg'),
    seed: seedUsed,
    source: 'comfyui',
    ...(schedule.runnable ? { scheduler: schedule.scheduler } : {}),
  };
  const fieldNodes: Record<string, string> = { steps: sId, guidanceScale: sId, seed: sId, scheduler: sId, modelId: loaderId, prompt: sId, negativePrompt: sId };

  // 5. The latent: txt2img, img2img, inpaint or outpaint.
  const [latentId, latent] = source(sId, 'latent_image');
  fieldNodes.width = fieldNodes.height = fieldNodes.batchSize = latentId;
  if (latent.class_type === 'EmptyLatentImage') {
    request.width = Math.trunc(num(latentId, 'width'));
    request.height = Math.trunc(num(latentId, 'height'));
    request.batchSize = Math.trunc(num(latentId, 'batch_size'));
    if (denoise < 1) notes.push(`denoise ${denoise} on an empty latent — Atelier runs the whole text-to-image pass`);
  } else if (latent.class_type === 'VAEEncode') {
    sameCheckpoint(latentId, 'vae');
    const image = await pixelsOf(ctx, latentId, 'pixels');
    setInit(request, image, denoise);
    fieldNodes.initImage = image.nodeId;
  } else if (latent.class_type === 'SetLatentNoiseMask') {
    const [encId, enc] = source(latentId, 'samples');
    if (enc.class_type !== 'VAEEncode') throw new GraphMappingError(latentId, 'SetLatentNoiseMask', `masks ${enc.class_type} #${encId}; Atelier inpaints a VAEEncode of a loaded image`);
    sameCheckpoint(encId, 'vae');
    const image = await pixelsOf(ctx, encId, 'pixels');
    setInit(request, image, denoise);
    const mask = await maskOf(ctx, latentId, image);
    request.mask = { base64: mask.toString('base64') };
    fieldNodes.initImage = image.nodeId;
    fieldNodes.mask = latentId;
  } else if (latent.class_type === 'VAEEncodeForInpaint') {
    sameCheckpoint(latentId, 'vae');
    const [pixId, pix, pixSlot] = source(latentId, 'pixels');
    const [maskId, , maskSlot] = source(latentId, 'mask');
    if (pix.class_type === 'ImagePadForOutpaint') {
      if (maskId !== pixId || pixSlot !== 0 || maskSlot !== 1) throw new GraphMappingError(latentId, 'VAEEncodeForInpaint', `outpaints the image of ImagePadForOutpaint #${pixId}; its mask must be that node's MASK output`);
      const image = await pixelsOf(ctx, pixId, 'image');
      const side = (k: string) => Math.trunc(num(pixId, k));
      const pad = { left: side('left'), right: side('right'), top: side('top'), bottom: side('bottom') };
      if (pad.left + pad.right + pad.top + pad.bottom === 0) throw new GraphMappingError(pixId, 'ImagePadForOutpaint', 'adds no pixels on any side');
      setInit(request, image, denoise);
      request.width = image.width + pad.left + pad.right;
      request.height = image.height + pad.top + pad.bottom;
      request.outpaint = pad;
      fieldNodes.width = fieldNodes.height = fieldNodes.outpaint = pixId;
      fieldNodes.initImage = image.nodeId;
      if (num(pixId, 'feathering') !== 40) notes.push('ImagePadForOutpaint feathering — Atelier feathers the seam its own way');
    } else {
      const image = await pixelsOf(ctx, latentId, 'pixels');
      setInit(request, image, denoise);
      const mask = await maskOf(ctx, latentId, image);
      request.mask = { base64: mask.toString('base64') };
      fieldNodes.initImage = image.nodeId;
      fieldNodes.mask = latentId;
    }
  } else {
    throw new GraphMappingError(sId, sampler.class_type, `its latent_image comes from ${latent.class_type} #${latentId}; Atelier starts from EmptyLatentImage, VAEEncode, VAEEncodeForInpaint or SetLatentNoiseMask`);
  }
  if (request.initImage) fieldNodes.strength = sId;

  // Execution order for `executing` messages: everything upstream of the sampler, then decode and outputs.
  const before: string[] = [];
  const seen = new Set<string>([sId]);
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
  visit(sId);
  return { request, samplerId: sId, samplerType: sampler.class_type, before, after: [...decodeIds, ...outputIds], outputs, fieldNodes, notes };
}

interface Pixels extends DecodedImage {
  /** The node the pixels come from (LoadImage or ImageScale). */
  nodeId: string;
  /** The LoadImage they were loaded by (its MASK is their alpha). */
  loadId: string;
}

function setInit(request: GenerateRequest, image: Pixels, denoise: number): void {
  request.initImage = { base64: image.bytes.toString('base64') };
  request.width = image.width;
  request.height = image.height;
  request.strength = denoise;
  request.fit = 'resize';
  request.batchSize = 1;
}

/** The IMAGE an input receives: a LoadImage, optionally through ImageScale (resized here, as ComfyUI would). */
async function pixelsOf(ctx: MapContext, id: string, input: string): Promise<Pixels> {
  const link = asLink(ctx.graph[id].inputs[input])!;
  const [srcId] = link;
  const src = ctx.graph[srcId];
  if (src.class_type === 'LoadImage') {
    const name = String(src.inputs.image);
    const bytes = await ctx.files.read(name);
    if (!bytes) throw new GraphMappingError(srcId, 'LoadImage', `no uploaded image "${name}"`);
    let image: DecodedImage;
    try {
      image = await inspectImage(bytes, `LoadImage #${srcId}`);
    } catch (err) {
      throw new GraphMappingError(srcId, 'LoadImage', (err as Error).message);
    }
    const png = image.format === 'png' ? image : { ...image, bytes: await toPng(image.bytes), format: 'png' };
    return { ...png, nodeId: srcId, loadId: srcId };
  }
  if (src.class_type === 'ImageScale') {
    const inner = await pixelsOf(ctx, srcId, 'image');
    let width = Math.trunc(Number(src.inputs.width));
    let height = Math.trunc(Number(src.inputs.height));
    if (width === 0 && height === 0) return { ...inner, nodeId: srcId };
    if (width === 0) width = Math.max(1, Math.round((inner.width * height) / inner.height));
    if (height === 0) height = Math.max(1, Math.round((inner.height * width) / inner.width));
    const kernel = ({ 'nearest-exact': 'nearest', bilinear: 'linear', area: 'mitchell', bicubic: 'cubic', lanczos: 'lanczos3' } as const)[String(src.inputs.upscale_method)] ?? 'lanczos3';
    const fit = String(src.inputs.crop) === 'center' ? 'cover' : 'fill';
    const bytes = await sharp(inner.bytes).resize(width, height, { fit, kernel }).png().toBuffer();
    return { bytes, width, height, hasAlpha: inner.hasAlpha, format: 'png', nodeId: srcId, loadId: inner.loadId };
  }
  if (src.class_type === 'ImagePadForOutpaint') {
    throw new GraphMappingError(srcId, 'ImagePadForOutpaint', 'Atelier outpaints only through VAEEncodeForInpaint, with this node’s own MASK');
  }
  throw new GraphMappingError(id, ctx.graph[id].class_type, `its ${input} come from ${src.class_type} #${srcId}; Atelier takes init images from LoadImage (optionally through ImageScale)`);
}

/** The MASK of a LoadImage (1 − alpha), at the size of the pixels it masks. */
async function maskOf(ctx: MapContext, id: string, image: Pixels): Promise<Buffer> {
  const [srcId, slot] = asLink(ctx.graph[id].inputs.mask)!;
  const src = ctx.graph[srcId];
  if (src.class_type !== 'LoadImage' || slot !== 1) {
    throw new GraphMappingError(id, ctx.graph[id].class_type, `its mask comes from ${src.class_type} #${srcId}; Atelier takes masks from a LoadImage's MASK (the image's alpha)`);
  }
  const bytes = await ctx.files.read(String(src.inputs.image));
  if (!bytes) throw new GraphMappingError(srcId, 'LoadImage', `no uploaded image "${String(src.inputs.image)}"`);
  let mask = await maskFromAlpha(bytes);
  const meta = await sharp(mask).metadata();
  if (meta.width !== image.width || meta.height !== image.height) mask = await sharp(mask).resize(image.width, image.height, { fit: 'fill' }).png().toBuffer();
  return mask;
}
