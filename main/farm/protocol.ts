/**
 * What travels through Redis between the coordinator (`atelier serve --farm`) and the workers
 * (`atelier worker --farm`): queue and key names, a task (one planned diffusion = one BullMQ job),
 * its result, and a worker's announcement. Pixels travel deflated (lossless), so the image the
 * coordinator saves is bit-identical to what the worker's engine produced.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { GenerateOutcome, LoadedLora, PipelineRequest } from '../engine-host';

/** BullMQ key prefix: the farm's keys never mix with anything else in a shared Redis. */
export const FARM_PREFIX = 'atelier-farm';
/** Worker announcements: a set of names, and per name a JSON value that expires unless refreshed. */
export const WORKERS_SET = `${FARM_PREFIX}:workers`;
export const workerKey = (name: string) => `${FARM_PREFIX}:worker:${name}`;
/** Pub/sub channel: a job id to stop on whichever worker runs it. */
export const CANCEL_CHANNEL = `${FARM_PREFIX}:cancel`;
/** How often workers refresh their announcement, and how long one lives without a refresh. */
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;

/**
 * One queue per model content hash: a worker listens only on the queues of the models it holds, so
 * a job is only ever taken by a machine that can run it, and a model nobody holds is visible as a
 * queue no live worker announces.
 */
export function queueNameFor(modelHash: string): string {
  if (!/^[0-9a-f]{16,}$/.test(modelHash)) throw new Error(`not a model content hash: ${modelHash}`);
  return `model-${modelHash.slice(0, 32)}`;
}

export interface FarmModelRef {
  id: string;
  name: string;
  /** ModelRegistry.fingerprint: the same weights have the same hash on every machine. */
  hash: string;
}

export interface FarmTaskData {
  v: 1;
  jobId: string;
  projectId?: string;
  interactive: boolean;
  model: FarmModelRef;
  /** encodePipeline(): JSON with typed arrays (init image, mask) deflated and base64-encoded. */
  pipeline: string;
  provider?: string;
  lowMemory: boolean;
  /** Send a live preview every N steps (0: none), as the studio's setting asks. */
  previewEvery?: number;
  /** `<lora:…>` files to merge at load, by content (addnet hash): a worker uses its own copy. */
  loras?: FarmLoraRef[];
  /** The graphs of `pipeline`'s controlNets units, in order, by content (sha256): a worker runs its own copies. */
  controlNets?: FarmControlNetRef[];
}

export interface FarmControlNetRef {
  name: string;
  /** sha256 of its model.onnx (ControlNetStore): the same graph has the same hash on every machine. */
  hash: string;
}

export interface FarmLoraRef {
  name: string;
  /** Full addnet SHA-256 (LoraStore): the same file has the same hash on every machine. */
  hash: string;
  weight: number;
  unetWeight?: number;
}

export interface FarmImage {
  width: number;
  height: number;
  seed: number;
  /** RGB bytes, deflated, base64. */
  rgb: string;
}

export interface FarmTaskResult {
  v: 1;
  worker: string;
  family: string;
  fallbacks: { provider: string; reason: string }[];
  /** Everything else the engine reported (provider, scheduler, timings, …), passed through whole so
   *  a field the engine adds later reaches the coordinator's record as it would locally. */
  outcome: Omit<GenerateOutcome, 'images'>;
  images: FarmImage[];
  /** The LoRAs the worker's engine merged (the record's `Lora hashes`). */
  loras?: LoadedLora[];
}

/** Progress a worker reports on its job (BullMQ job progress). */
export interface FarmProgress {
  worker: string;
  step: number;
  total: number;
  elapsedMs: number;
  /** The latest live preview since the last report, if any: RGB bytes base64 (at most PREVIEW_MAX_SIDE a side). */
  preview?: { step: number; width: number; height: number; rgb: string };
}

/** Previews travel through Redis with every progress report: larger ones are shrunk to this many pixels a side. */
export const PREVIEW_MAX_SIDE = 256;

/**
 * Shrinks an RGB preview by a whole factor (box average) until both sides fit PREVIEW_MAX_SIDE: a
 * TAESD preview is full size (1024² = 3 MB), which would flood Redis at a few reports a second.
 */
export function shrinkPreview(p: { width: number; height: number; rgb: Uint8Array }): { width: number; height: number; rgb: Uint8Array } {
  const f = Math.ceil(Math.max(p.width, p.height) / PREVIEW_MAX_SIDE);
  if (f <= 1) return p;
  const width = Math.floor(p.width / f);
  const height = Math.floor(p.height / f);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += p.rgb[((y * f + dy) * p.width + x * f + dx) * 3 + c]!;
        rgb[(y * width + x) * 3 + c] = Math.round(sum / (f * f));
      }
    }
  }
  return { width, height, rgb };
}

/** A worker's announcement (refreshed every HEARTBEAT_MS; gone HEARTBEAT_TTL_MS after it stops). */
export interface FarmWorkerInfo {
  name: string;
  /** Execution providers this machine offers, and the one it runs with. */
  providers: string[];
  provider: string;
  freeMemoryBytes: number;
  totalMemoryBytes: number;
  models: FarmModelRef[];
  /** LoRA files it holds, by content hash. */
  loras?: { name: string; hash: string }[];
  /** ControlNet graphs it holds, by content hash. */
  controlNets?: FarmControlNetRef[];
  busy: boolean;
  jobId: string | null;
  jobsDone: number;
  /** Denoising steps per second of the last job (0 before the first). */
  itPerSec: number;
  startedAt: number;
  seenAt: number;
}

/**
 * Results up to this many characters (deflated, base64) travel through Redis as the BullMQ return
 * value; larger ones are uploaded to the coordinator over HTTP (result-upload.ts) and only a
 * FarmResultRef goes through Redis, so a big batch never bloats Redis's memory and append-only file.
 * A 1024×1024 image deflates to well under this. $ATELIER_FARM_REDIS_RESULT_MAX on a worker changes it
 * (0: every result over HTTP, which the tests use to exercise the upload with the demo's small images).
 */
export const REDIS_RESULT_MAX_CHARS = 8 * 1024 * 1024;
/** Largest upload the coordinator accepts: below V8's longest string, which the result is parsed as. */
export const MAX_UPLOAD_BYTES = 400 * 1024 * 1024;

/**
 * Where workers upload large results: the coordinator's URL and the farm token it checks. The
 * coordinator publishes it (anyone who can read the farm's Redis can already run its jobs);
 * `atelier worker --coordinator-url/--farm-token` override it.
 */
export const COORDINATOR_KEY = `${FARM_PREFIX}:coordinator`;
export interface FarmCoordinatorEndpoint {
  url: string;
  token: string;
}
/** An upload's name: the worker picks it (job id + random), the coordinator stores it as a file of that name. */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{8,160}$/;
export const uploadPath = (id: string) => `api/farm/results/${id}`;

/** What goes through Redis instead of a result that was uploaded to the coordinator. */
export interface FarmResultRef {
  v: 1;
  worker: string;
  upload: { id: string; bytes: number; sha256: string };
}

export function isResultRef(value: unknown): value is FarmResultRef {
  const upload = (value as FarmResultRef | null)?.upload;
  return typeof upload === 'object' && upload !== null && typeof upload.id === 'string' && UPLOAD_ID_PATTERN.test(upload.id) && /^[0-9a-f]{64}$/.test(String(upload.sha256));
}

/**
 * Workers that left a job because it does not fit their memory: per BullMQ job id, a hash of worker
 * name → FarmRefusal. The coordinator fails the job with "no worker has enough memory" once every
 * live worker holding its model has refused it for as long as it waits for a missing model.
 */
export const refusedKey = (bullId: string) => `${FARM_PREFIX}:refused:${bullId}`;
export interface FarmRefusal {
  worker: string;
  /** memory: the memory guard said no; lora / controlnet: it lacks a LoRA file or ControlNet graph the job uses. */
  kind: 'memory' | 'lora' | 'controlnet';
  /** The memory guard's message: what the job needs, what this machine has, what would fit. */
  reason: string;
  at: number;
}

const TYPED_ARRAYS = { Uint8Array, Uint8ClampedArray, Uint16Array, Int32Array, Float32Array, Float64Array } as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

function pack(bytes: Uint8Array): string {
  return deflateSync(bytes, { level: 1 }).toString('base64');
}

function unpack(b64: string): Buffer {
  return inflateSync(Buffer.from(b64, 'base64'));
}

/** A pipeline request as one string: typed arrays (init image, mask) become tagged, deflated base64. */
export function encodePipeline(pipeline: PipelineRequest): string {
  return JSON.stringify(pipeline, (_key, value: unknown) => {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const name = value.constructor.name as TypedArrayName;
      if (!(name in TYPED_ARRAYS)) throw new Error(`cannot send a ${name} to a farm worker`);
      return { __typed: name, data: pack(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
    }
    return value;
  });
}

export function decodePipeline(text: string): PipelineRequest {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && '__typed' in value && 'data' in value) {
      const { __typed, data } = value as { __typed: TypedArrayName; data: string };
      const Ctor = TYPED_ARRAYS[__typed];
      if (!Ctor) throw new Error(`unknown typed array ${String(__typed)} in a farm task`);
      const bytes = unpack(data);
      // Copy into a fresh, aligned buffer: Float32Array needs a 4-byte aligned offset.
      const copy = new Uint8Array(bytes.byteLength);
      copy.set(bytes);
      return new Ctor(copy.buffer, 0, copy.byteLength / Ctor.BYTES_PER_ELEMENT);
    }
    return value;
  }) as PipelineRequest;
}

export function encodeOutcome(worker: string, loaded: { family: string; fallbacks: { provider: string; reason: string }[]; loras?: LoadedLora[] }, outcome: GenerateOutcome): FarmTaskResult {
  const { images, ...rest } = outcome;
  return {
    v: 1,
    worker,
    family: loaded.family,
    fallbacks: loaded.fallbacks,
    ...(loaded.loras?.length ? { loras: loaded.loras } : {}),
    outcome: rest,
    images: images.map((img) => ({ width: img.width, height: img.height, seed: img.seed, rgb: pack(img.rgb) })),
  };
}

export function decodeOutcome(result: FarmTaskResult): { outcome: GenerateOutcome; family: string; fallbacks: { provider: string; reason: string }[]; loras?: LoadedLora[] } {
  if (!result || result.v !== 1 || !Array.isArray(result.images) || !result.outcome) throw new Error('a farm worker returned a result this coordinator cannot read (different Atelier versions?)');
  return {
    family: result.family,
    fallbacks: result.fallbacks,
    ...(result.loras ? { loras: result.loras } : {}),
    outcome: {
      ...result.outcome,
      images: result.images.map((img) => {
        const rgb = new Uint8Array(unpack(img.rgb));
        if (rgb.length !== img.width * img.height * 3) throw new Error(`a farm result image has ${rgb.length} bytes for ${img.width}×${img.height}`);
        return { width: img.width, height: img.height, seed: img.seed, rgb };
      }),
    },
  };
}
