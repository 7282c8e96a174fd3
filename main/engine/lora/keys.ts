/**
 * LoRA tensor names → (component, module key, part), and ONNX node names → module keys, so the two
 * meet on one spelling: the module path with every `.` and `/` turned into `_`
 * (`down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`, `text_model_encoder_layers_0_self_attn_q_proj`).
 *
 * LoRA spellings handled (what A1111/ComfyUI users bring):
 *   kohya / LyCORIS   lora_unet_<mod>.lora_down.weight · .lora_up.weight · .alpha
 *                     lora_te_ (SD1/2 text encoder), lora_te1_ / lora_te2_ (SDXL's two encoders)
 *   PEFT / diffusers  unet.<mod>.lora_A.weight · .lora_B.weight (also base_model.model.<mod>),
 *                     text_encoder.<mod>…, text_encoder_2.<mod>…, older `<mod>.lora.down.weight`,
 *                     attention processors `attn1.processor.to_q_lora.down.weight`
 *   LyCORIS          the same prefixes with LoHa `hada_w1_a/b, hada_w2_a/b` (+ `hada_t1/t2`), LoKr
 *                     `lokr_w1` or `lokr_w1_a/b`, `lokr_w2` or `lokr_w2_a/b` (+ `lokr_t2`), LoCon Tucker
 *                     `lora_mid`, and DoRA's magnitude `dora_scale` (PEFT: `lora_magnitude_vector`)
 *   SDXL kohya files name UNet modules the original (LDM) way — input_blocks_4_1_transformer_blocks_0…,
 *   middle_block_1…, output_blocks_2_1… — mapped to diffusers names by `ldmToDiffusers`.
 *
 * Other LyCORIS/PEFT module types (OFT, IA³, GLoRA, full diffs, norms) are recognised by
 * `parseUnsupportedKey` so a file made of them is refused by name instead of matching nothing.
 */

export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';
export type LoraPart =
  | 'down'
  | 'up'
  | 'alpha'
  | 'mid'
  | 'hada_w1_a'
  | 'hada_w1_b'
  | 'hada_w2_a'
  | 'hada_w2_b'
  | 'hada_t1'
  | 'hada_t2'
  | 'lokr_w1'
  | 'lokr_w1_a'
  | 'lokr_w1_b'
  | 'lokr_w2'
  | 'lokr_w2_a'
  | 'lokr_w2_b'
  | 'lokr_t2'
  | 'dora_scale'
  | 'magnitude';

export interface LoraKey {
  component: LoraComponent;
  module: string;
  part: LoraPart;
}

const KOHYA_PREFIXES: Array<[string, LoraComponent]> = [
  ['lora_unet_', 'unet'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te_', 'text_encoder'],
];
const PEFT_PREFIXES: Array<[string, LoraComponent]> = [
  ['unet.', 'unet'],
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
  ['base_model.model.', 'unet'],
];
/** Suffix → part, longest first so `.lora_down.weight` is not read as `.weight`. */
const PART_SUFFIXES: Array<[string, LoraPart]> = [
  ['.lora_down.weight', 'down'],
  ['.lora_up.weight', 'up'],
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.lora_A.default.weight', 'down'],
  ['.lora_B.default.weight', 'up'],
  ['.lora.down.weight', 'down'],
  ['.lora.up.weight', 'up'],
  ['.lora_linear_layer.down.weight', 'down'],
  ['.lora_linear_layer.up.weight', 'up'],
  ['_lora.down.weight', 'down'],
  ['_lora.up.weight', 'up'],
  ['.lora_mid.weight', 'mid'],
  ['.alpha', 'alpha'],
  ['.hada_w1_a', 'hada_w1_a'],
  ['.hada_w1_b', 'hada_w1_b'],
  ['.hada_w2_a', 'hada_w2_a'],
  ['.hada_w2_b', 'hada_w2_b'],
  ['.hada_t1', 'hada_t1'],
  ['.hada_t2', 'hada_t2'],
  ['.lokr_w1', 'lokr_w1'],
  ['.lokr_w1_a', 'lokr_w1_a'],
  ['.lokr_w1_b', 'lokr_w1_b'],
  ['.lokr_w2', 'lokr_w2'],
  ['.lokr_w2_a', 'lokr_w2_a'],
  ['.lokr_w2_b', 'lokr_w2_b'],
  ['.lokr_t2', 'lokr_t2'],
  ['.dora_scale', 'dora_scale'],
  // PEFT's DoRA magnitude (a Parameter in older PEFT, a module with `.weight` in newer; adapter name kept or stripped).
  ['.lora_magnitude_vector.default.weight', 'magnitude'],
  ['.lora_magnitude_vector.weight', 'magnitude'],
  ['.lora_magnitude_vector.default', 'magnitude'],
  ['.lora_magnitude_vector', 'magnitude'],
];

/**
 * Suffixes of adapter types we do not merge → the name users know them by (LyCORIS / PEFT /
 * A1111's network_*.py). `.weight` right after a kohya module name is LyCORIS IA³.
 */
const UNSUPPORTED_SUFFIXES: Array<[string, string]> = [
  ['.oft_blocks', 'OFT/BOFT (oft_blocks)'],
  ['.rescale', 'OFT/BOFT (oft_blocks)'],
  ['.on_input', 'IA³'],
  ['.ia3_l', 'IA³'],
  ['.diff', 'full weight diff'],
  ['.diff_b', 'full weight diff'],
  ['.w_norm', 'norm'],
  ['.b_norm', 'norm'],
  ['.a1.weight', 'GLoRA'],
  ['.a2.weight', 'GLoRA'],
  ['.b1.weight', 'GLoRA'],
  ['.b2.weight', 'GLoRA'],
];

/** Module path → underscore key (`a.b/c.0` → `a_b_c_0`). */
export function underscoreKey(path: string): string {
  return path.replace(/[./]/g, '_');
}

/** Parse one LoRA tensor name; null for names that are not adapter weights we merge (see `parseUnsupportedKey`). */
export function parseLoraKey(name: string): LoraKey | null {
  const suffix = PART_SUFFIXES.find(([s]) => name.endsWith(s));
  if (!suffix) return null;
  const target = moduleOf(name.slice(0, name.length - suffix[0].length));
  return target && { ...target, part: suffix[1] };
}

export interface UnsupportedKey {
  component: LoraComponent;
  module: string;
  /** The adapter type, as users know it ("OFT/BOFT (oft_blocks)", "IA³"…). */
  type: string;
}

/** A tensor of an adapter type we recognise but do not merge (OFT, IA³, GLoRA…); null otherwise. */
export function parseUnsupportedKey(name: string): UnsupportedKey | null {
  let found = UNSUPPORTED_SUFFIXES.find(([s]) => name.endsWith(s));
  // LyCORIS IA³ stores its vector as `<module>.weight`; only trust that spelling behind a kohya prefix.
  if (!found && name.endsWith('.weight') && KOHYA_PREFIXES.some(([p]) => name.startsWith(p)) && !name.slice(0, -7).includes('.')) found = ['.weight', 'IA³'];
  if (!found) return null;
  const target = moduleOf(name.slice(0, name.length - found[0].length));
  return target && { ...target, type: found[1] };
}

/** `lora_unet_<mod>` / `unet.<mod>` … → component and module key; null without a known prefix. */
function moduleOf(body: string): { component: LoraComponent; module: string } | null {
  let component: LoraComponent | null = null;
  for (const [prefix, c] of [...KOHYA_PREFIXES, ...PEFT_PREFIXES]) {
    if (body.startsWith(prefix)) {
      component = c;
      body = body.slice(prefix.length);
      break;
    }
  }
  if (!component) return null;
  // diffusers attention processors: attn1.processor.to_q(_lora) → attn1.to_q; to_out_lora → to_out.0
  body = body.replace(/\.processor\./, '.').replace(/\.to_out$/, '.to_out.0');
  let module = underscoreKey(body);
  if (component === 'unet') module = ldmToDiffusers(module);
  return { component, module };
}

const RESNET_RENAMES: Array<[RegExp, string]> = [
  [/^in_layers_2/, 'conv1'],
  [/^out_layers_3/, 'conv2'],
  [/^emb_layers_1/, 'time_emb_proj'],
  [/^skip_connection/, 'conv_shortcut'],
];

function resnetInner(rest: string): string {
  for (const [re, to] of RESNET_RENAMES) if (re.test(rest)) return rest.replace(re, to);
  return rest;
}

/**
 * The LDM (original Stable Diffusion) UNet naming, as SDXL kohya LoRAs use it, to diffusers'
 * (2 layers per block, as SD1.x/2.x/SDXL all have). Keys already in diffusers naming pass through.
 */
export function ldmToDiffusers(key: string): string {
  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]);
    const sub = Number(m[2]);
    if (n === 0) return key.replace(/^input_blocks_0_0/, 'conv_in');
    const block = Math.floor((n - 1) / 3);
    const idx = (n - 1) % 3;
    if (idx === 2) return `down_blocks_${block}_downsamplers_0_conv`;
    return sub === 0 ? `down_blocks_${block}_resnets_${idx}_${resnetInner(m[3])}` : `down_blocks_${block}_attentions_${idx}_${m[3]}`;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(key);
  if (m) {
    const sub = Number(m[1]);
    if (sub === 1) return `mid_block_attentions_0_${m[2]}`;
    return `mid_block_resnets_${sub === 0 ? 0 : 1}_${resnetInner(m[2])}`;
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]);
    const sub = Number(m[2]);
    const block = Math.floor(n / 3);
    const idx = n % 3;
    if (sub === 0) return `up_blocks_${block}_resnets_${idx}_${resnetInner(m[3])}`;
    // Sub-module 1 is the attention, or the upsampler in blocks without attention; 2 is the upsampler.
    if (sub === 2 || /^conv/.test(m[3])) return `up_blocks_${block}_upsamplers_0_conv`;
    return `up_blocks_${block}_attentions_${idx}_${m[3]}`;
  }
  const simple: Array<[RegExp, string]> = [
    [/^time_embed_0/, 'time_embedding_linear_1'],
    [/^time_embed_2/, 'time_embedding_linear_2'],
    [/^label_emb_0_0/, 'add_embedding_linear_1'],
    [/^label_emb_0_2/, 'add_embedding_linear_2'],
    [/^out_2/, 'conv_out'],
  ];
  for (const [re, to] of simple) if (re.test(key)) return key.replace(re, to);
  return key;
}

/**
 * Module key of an ONNX node: its name without the leading `/` and the trailing op segment
 * (`/down_blocks.0/resnets.0/conv1/Conv` → `down_blocks_0_resnets_0_conv1`); null for unnamed nodes.
 */
export function nodeModuleKey(nodeName: string): string | null {
  if (!nodeName.startsWith('/')) return null;
  const parts = nodeName.slice(1).split('/');
  if (parts.length < 2) return null;
  parts.pop();
  return underscoreKey(parts.join('/'));
}

/** Attention projections: the modules ORT's transformer optimizer fuses away. */
export function isAttentionProjection(module: string): boolean {
  return /(?:^|_)(?:to_q|to_k|to_v|q_proj|k_proj|v_proj)$/.test(module);
}
