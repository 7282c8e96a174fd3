/**
 * Which base model a LoRA was trained for, from its safetensors header alone (pure): the engine
 * uses it to refuse a LoRA for another family as a whole, the model import to label the file.
 *
 *   1. kohya's `ss_base_model_version` / SAI model spec `modelspec.architecture`;
 *   2. SDXL's second text encoder (`lora_te2_…`, `text_encoder_2.…`);
 *   3. the width a cross-attention to_k LoRA reads: 768 SD 1.x, 1024 SD 2.x, 2048 SDXL.
 */

export type LoraBase = 'sdxl' | 'sd1' | 'sd2';

export const LORA_BASE_LABELS: Readonly<Record<LoraBase, string>> = Object.freeze({ sdxl: 'SDXL', sd1: 'SD 1.x', sd2: 'SD 2.x' });

export function loraBaseFromHeader(metadata: Readonly<Record<string, string>>, tensors: Iterable<{ name: string; shape: readonly number[] }>): LoraBase | null {
  const v = (metadata.ss_base_model_version ?? metadata['modelspec.architecture'] ?? '').toLowerCase();
  if (/sdxl|sd_xl|xl-v1|stable-diffusion-xl/.test(v)) return 'sdxl';
  if (/sd_v1|^sd1|stable-diffusion-v1/.test(v)) return 'sd1';
  if (/sd_v2|^sd2|stable-diffusion-v2/.test(v)) return 'sd2';
  let width: number | null = null;
  for (const t of tensors) {
    if (t.name.startsWith('lora_te2_') || t.name.startsWith('text_encoder_2.')) return 'sdxl';
    if (width === null && /attn2[._]to_k/.test(t.name) && /(lora_down|lora_A|lora\.down|down)\.weight$/.test(t.name) && t.shape.length >= 2) width = t.shape[1];
  }
  if (width === 2048) return 'sdxl';
  if (width === 768) return 'sd1';
  if (width === 1024) return 'sd2';
  return null;
}

/**
 * Why a LoRA does not fit the selected model, as a phrase ("made for SDXL; the selected model is
 * SD 1.x"), or null when it fits or either family is unknown. The engine refuses such a LoRA at load
 * (none of its weights match); the studio says so before Generate.
 */
export function loraBaseMismatch(base: LoraBase | null | undefined, modelFamily: string | undefined): string | null {
  if (!base || !modelFamily) return null;
  const model = modelFamily === 'sd1' || modelFamily === 'sd2' || modelFamily === 'sdxl' ? modelFamily : null;
  if (!model || model === base) return null;
  return `made for ${LORA_BASE_LABELS[base]}; the selected model is ${LORA_BASE_LABELS[model]}`;
}
