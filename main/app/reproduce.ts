/**
 * Reproducibility: regenerate an image from the parameters it carries (our `atelier` chunk, or an
 * A1111 infotext), with the model found by its content hash, through the one generation path
 * (`GenerationService.run`), and compare the pixels with the file's. The verdict is a receipt.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { AtelierApiError } from '../../common/api/contract';
import { GenerateRequest, type GenerateParams } from '../../common/api/schemas';
import type { RgbImage } from '../engine';
import { readImageMetadata, type GenerationParams } from '../library';
import { comparePixels, editKind, type Receipt } from '../provenance';
import type { GenerationResult, GenerationTarget, RunHooks } from './generation-service';
import { decodeRgb } from './image-inputs';
import type { ModelEntry } from './model-registry';
import type { Runtime } from './runtime';
import type { ProviderChoiceName } from '../../common/providers';
import { controlUnitsFrom, type ControlImageSource, type ControlUnitRequest } from './controlnet-replay';
import { openControlNetStore } from './controlnet-resolve';

export interface ReproduceOptions {
  /** Execution provider for the regeneration; default: settings. */
  provider?: ProviderChoiceName;
  hooks?: RunHooks;
  /** The project the image belongs to: where its ControlNet control images are kept. */
  project?: ControlImageSource;
}

export interface Reproduction {
  receipt: Receipt;
  /** The regenerated pixels and the record they were made with (for `--out`). */
  image: RgbImage;
  record: Parameters<GenerationTarget<unknown>['save']>[1];
  /** The generation id embedded in the file (our own images), if any. */
  generationId: string | null;
  model: ModelEntry;
}

const REQUIRED: Array<keyof GenerationParams> = ['prompt', 'seed', 'steps', 'guidanceScale', 'width', 'height', 'scheduler'];

function embeddedId(raw: Record<string, string>): string | null {
  try {
    const id = (JSON.parse(raw['atelier'] ?? 'null') as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/** The installed model whose files hash to `hash` (a full fingerprint, or A1111's 10-character prefix). */
async function modelByHash(runtime: Runtime, hash: string, modelId: string | undefined): Promise<ModelEntry> {
  const wanted = hash.toLowerCase();
  const models = await runtime.models.list();
  for (const m of models) {
    const fp = runtime.models.fingerprint(m.folder);
    if (wanted.length >= 10 && fp.startsWith(wanted)) return m;
  }
  const name = modelId ? `"${modelId}"` : 'the model';
  const sameId = modelId ? models.find((m) => m.id === modelId) : undefined;
  if (sameId) {
    throw new AtelierApiError('not_found', `The image was made with ${name} (hash ${wanted.slice(0, 10)}), but the installed ${sameId.id} has different files (hash ${runtime.models.fingerprint(sameId.folder).slice(0, 10)}); install the exact model to reproduce it.`);
  }
  throw new AtelierApiError('not_found', `The model that made this image is not installed: ${name} (hash ${wanted.slice(0, 10) || 'unknown'}). Installed: ${models.map((m) => m.id).join(', ') || '(none)'}.`);
}

function readableFile(ref: string | null | undefined): string | null {
  return ref && isAbsolute(ref) && existsSync(ref) ? ref : null;
}

/** The generate request that made the image, from its recorded parameters. Throws a clear error for what cannot be redone from the file alone. */
function requestFrom(g: Partial<GenerationParams>, controlNets: ControlUnitRequest[] = []): { params: GenerateParams; pick: number; batchMember?: { index: number; of: number }; inputRefs: { init?: string; mask?: string } } {
  const facts = g as GenerationParams;
  const kind = editKind({ ...facts, maskRef: facts.maskRef ?? null, initImageRef: facts.initImageRef ?? null, parentId: facts.parentId ?? null, strength: facts.strength ?? null, timings: facts.timings ?? null });
  const upscale = facts.timings?.upscaleFactor === 2 || facts.timings?.upscaleFactor === 4 ? (facts.timings.upscaleFactor as 2 | 4) : undefined;
  if (kind === 'upscale') throw new AtelierApiError('invalid_request', 'This image is an upscale of another generation: reproduce its parent, then upscale it again.');
  if (kind === 'outpaint') throw new AtelierApiError('invalid_request', 'Outpainted images cannot be reproduced from the file alone yet (the original canvas is not in the file).');
  const init = readableFile(facts.initImageRef);
  const mask = readableFile(facts.maskRef);
  if ((kind === 'img2img' || kind === 'inpaint') && !init) {
    throw new AtelierApiError('invalid_request', `This image was made from an init image (${facts.initImageRef}) that is not in the file: reproduce it in its project, or from the CLI with that file present.`);
  }
  if (kind === 'inpaint' && !mask) throw new AtelierApiError('invalid_request', `This image was inpainted with a mask (${facts.maskRef}) that is not in the file.`);
  const batchIndex = facts.batchIndex ?? 0;
  // With the batch's size recorded, only that image is made, with exactly the noise it had in its batch
  // (engine batchMember). Older records lack it: image i is then the i-th of a batch of i + 1, which is
  // exact unless the scheduler draws noise every step (ancestral / SDE) with the CPU RNG.
  const member = facts.batchSize && facts.batchSize > 1 && batchIndex < facts.batchSize ? { index: batchIndex, of: facts.batchSize } : undefined;
  const parsed = GenerateRequest.safeParse({
    prompt: facts.prompt,
    negativePrompt: facts.negativePrompt ?? '',
    seed: facts.seed,
    rng: facts.rng ?? 'cpu',
    steps: facts.steps,
    guidanceScale: facts.guidanceScale,
    ...(facts.clipSkip && facts.clipSkip > 1 ? { clipSkip: facts.clipSkip } : {}),
    scheduler: facts.scheduler,
    width: upscale ? facts.width / upscale : facts.width,
    height: upscale ? facts.height / upscale : facts.height,
    // With the size recorded: the whole batch's size, made as a member (above); else a batch of i + 1.
    batchSize: member ? member.of : batchIndex + 1,
    ...(upscale ? { upscale } : {}),
    ...(init ? { initImage: { base64: readFileSync(init).toString('base64') }, ...(facts.strength !== null && facts.strength !== undefined ? { strength: facts.strength } : {}) } : {}),
    ...(mask ? { mask: { base64: readFileSync(mask).toString('base64') } } : {}),
    ...(controlNets.length > 0 ? { controlNets } : {}),
  });
  if (!parsed.success) {
    throw new AtelierApiError('invalid_request', `The parameters in the file cannot be replayed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { params: parsed.data, pick: member ? 0 : batchIndex, ...(member ? { batchMember: member } : {}), inputRefs: { ...(init ? { init } : {}), ...(mask ? { mask } : {}) } };
}

/** Regenerates the image in `bytes` and compares. Throws AtelierApiError with a plain message when it cannot. */
export async function reproduceImage(runtime: Runtime, bytes: Buffer, opts: ReproduceOptions = {}): Promise<Reproduction> {
  const meta = readImageMetadata(bytes);
  const g = meta.generation;
  if (!g || (meta.source !== 'atelier' && meta.source !== 'a1111')) {
    throw new AtelierApiError('invalid_request', `The file carries no generation parameters Atelier can replay (found: ${meta.source}${meta.warnings.length ? `; ${meta.warnings.join('; ')}` : ''}).`);
  }
  const missing = REQUIRED.filter((k) => g[k] === undefined || g[k] === '');
  if (missing.length) throw new AtelierApiError('invalid_request', `The file's parameters lack ${missing.join(', ')}: it cannot be reproduced.`);
  if (!g.modelHash) throw new AtelierApiError('invalid_request', `The file does not say which model made it (no model hash${g.modelId ? ` for "${g.modelId}"` : ''}).`);
  const model = await modelByHash(runtime, g.modelHash, g.modelId);
  const controlNets = await controlUnitsFrom(g.controlNets, openControlNetStore(runtime.settings.get().modelsDir), opts.project);
  const { params, pick, batchMember, inputRefs } = requestFrom(g, controlNets);
  const original = await decodeRgb(bytes, 'image');

  const saved: Array<{ image: RgbImage; record: Reproduction['record'] }> = [];
  const target: GenerationTarget<number> = {
    imageFile: async () => null,
    record: () => null,
    async save(image, record) {
      saved.push({ image, record });
      return saved.length - 1;
    },
  };
  const result: GenerationResult<number> = await runtime.generation.run({ kind: 'generate', params, model, provider: opts.provider, inputRefs, ...(batchMember ? { batchMember } : {}) }, target, opts.hooks);
  const made = saved[pick];
  if (!made) throw new AtelierApiError('internal', 'The regeneration produced no image.');
  const sameSize = made.image.width === original.width && made.image.height === original.height;
  const diff = sameSize ? comparePixels(original.rgb, made.image.rgb) : null;
  const receipt: Receipt = {
    v: 1,
    ...(embeddedId(meta.raw) ? { generationId: embeddedId(meta.raw)! } : {}),
    fileSha256: createHash('sha256').update(bytes).digest('hex'),
    result: diff?.identical ? 'identical' : 'different',
    meanAbsDiff: diff ? Math.round(diff.meanAbsDiff * 1e4) / 1e4 : 255,
    maxDiff: diff ? diff.maxDiff : 255,
    width: original.width,
    height: original.height,
    modelId: model.id,
    modelHash: runtime.models.fingerprint(model.folder),
    originalProvider: g.provider ?? '',
    provider: result.provider,
    paramsSource: meta.source,
    reproducedAt: new Date().toISOString(),
    appVersion: made.record.appVersion ?? '',
    ...(!sameSize ? { note: `the regenerated image is ${made.image.width}×${made.image.height}, the file ${original.width}×${original.height}` } : {}),
    ...(sameSize && !diff?.identical && g.provider && g.provider !== result.provider ? { note: `made with ${g.provider}, reproduced with ${result.provider}: GPU kernels and CPU round differently` } : {}),
  };
  return { receipt, image: made.image, record: made.record, generationId: receipt.generationId ?? null, model };
}
