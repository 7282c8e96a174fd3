/**
 * What the API says about models: installed models, LoRAs, ControlNets, the loaded model, GPU probes,
 * the catalog and downloads. Part of the one contract (common/api/contract.ts re-exports every type).
 */
import type { CatalogKind } from '../model-families';
import type { ApiErrorShape } from './error-shape';

export interface ModelSummary {
  id: string;
  name: string;
  family: string;
  source: 'bundled' | 'installed' | 'imported';
  sizeBytes: number;
  description?: string;
  defaults?: { steps?: number; guidanceScale?: number; scheduler?: string; width?: number; height?: number };
  /** Width and height must be multiples of this (when the model's UNet needs more than 8). */
  sizeMultiple?: number;
  /** Largest A1111 "Clip skip" its text encoder can run (1: only the default); absent when unknown. */
  clipSkipMax?: number;
  /**
   * Whether ControlNet units can run on it: its own UNet takes ControlNet residual inputs, or the
   * folder ships a ControlNet-capable UNet as `controlnet/model.onnx`. Lets the studio refuse
   * ControlNet before queueing instead of the job failing; read from the graphs' headers (no
   * session). Absent when unknown (graphs unreadable): clients must not warn then.
   */
  controlNetCapable?: boolean;
}

/** An installed LoRA (`<modelsDir>/loras/<name>.safetensors`), as the studio's picker and A1111 clients list it. */
export interface LoraSummary {
  /** What `<lora:name:w>` in a prompt refers to (the file name without `.safetensors`). */
  name: string;
  /** A1111's short hash: the first 12 hex digits of the addnet hash (as `Lora hashes` in infotext). */
  hash: string;
  /** Base model family read from the file's header; null when it cannot be told. */
  baseFamily: 'sd1' | 'sd2' | 'sdxl' | null;
  /** kohya's `ss_network_dim`, when the file records it. */
  rank?: number;
  sizeBytes: number;
  /** Whether an embedded thumbnail or a sidecar preview image exists. */
  hasPreview: boolean;
}

/** An installed ControlNet (`<modelsDir>/controlnets/<name>/model.onnx` or `<modelsDir>/controlnets/<name>.onnx`). */
export interface ControlNetSummary {
  /** What a generate request's `controlNets[].model` names. */
  name: string;
  /** sha256 (hex) of its model.onnx, as recorded with each image. */
  hash: string;
  /** Base family its graph fits (from its inputs: 768-wide text states = sd1, 1024 = sd2, SDXL extra inputs = sdxl); null when unknown. */
  baseFamily: 'sd1' | 'sd2' | 'sdxl' | null;
  /** What kind of control image it takes, from its config or name (canny, depth, pose, …); null when unknown. */
  controlType: string | null;
  /** The annotator that makes its control image from a photo, when one fits its type. */
  suggestedAnnotator: 'canny' | 'depth' | 'pose' | null;
  sizeBytes: number;
}

export interface LoadedModelInfo {
  modelId: string;
  family: string;
  provider: string;
  fallbacks: { provider: string; reason: string }[];
  scheduler: string;
  loadMs: number;
  /** The GPU index the model runs on (CUDA/DirectML `deviceId`, from settings.gpuDeviceId); absent on other providers. */
  deviceId?: number;
}

/** `probeGpuDevices`: which GPU indices can start a session on a provider (onnxruntime-node cannot list DXGI adapters, so each index is tried). */
export interface GpuProbeReport {
  provider: string;
  /** false: the provider cannot run here at all (`reason` says why); `devices` is then empty. */
  available: boolean;
  reason?: string;
  devices: { deviceId: number; ok: boolean; reason?: string }[];
}

/** One build of a catalog model, as the Models view's variant choice lists it. */
export interface CatalogVariantSummary {
  /** A variant id, or 'generic' for the entry's own files. */
  id: string;
  precision: string;
  providers: string[];
  repo?: string;
}

export interface CatalogModel {
  id: string;
  name: string;
  /**
   * `controlnet` installs into `controlnets/<id>/`, `annotator` into `annotators/<kind>/` (ControlNet
   * preprocessors), `controlnet-unet` into the installed `forModel`'s folder as `controlnet/`.
   */
  kind: CatalogKind;
  /** `controlnet-unet` entries: the catalog id of the base model (installed first) whose ControlNet-capable UNet this is. */
  forModel?: string;
  repo?: string;
  family: string;
  precision: string;
  providers: string[];
  license: string;
  description: string;
  downloadBytes: number;
  sizeApprox: boolean;
  estimates?: { diskBytes?: number; memoryBytes?: number; vramBytes?: number; [k: string]: unknown };
  bundled: boolean;
  installed: boolean;
  resumable: boolean;
  downloading?: string;
  /** 'hub-tree': the entry names a repo and its diffusers-ONNX layout; the file list, sizes and sha256 are read from the hub at download. */
  filesFrom?: 'catalog' | 'hub-tree';
  /** The builds a pull can choose from ('generic' first), when the entry has provider-specific variants. */
  variants?: CatalogVariantSummary[];
  /** The variant installed (from its manifest), when installed from the catalog. */
  installedVariant?: string;
}

export interface DownloadSummary {
  modelId: string;
  state: string;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  etaMs: number;
  /** Set on a failed download (state 'failed'): why, in one sentence. Failed rows stay listed until retried or cancelled. */
  error?: ApiErrorShape;
  /** A failed download whose partial files were kept: Retry continues where it stopped. */
  resumable?: boolean;
  /** What was asked for (catalog id, owner/name or hub URL): what Retry pulls again. */
  source?: string;
  /** Catalog models: the build being downloaded, and why it was chosen. */
  variant?: string;
  variantReason?: string;
}
