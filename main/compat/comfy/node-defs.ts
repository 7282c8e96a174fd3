/**
 * The ComfyUI node classes Atelier runs, described as ComfyUI's `GET /object_info` does
 * (comfyanonymous/ComfyUI nodes.py INPUT_TYPES / RETURN_TYPES), with combo lists of what is
 * installed (checkpoints, uploaded input images) and the sampler/scheduler names the engine runs.
 * Limits are Atelier's (steps ≤ 500, CFG ≤ 50, batch ≤ 16), so a client sees them before queueing.
 *
 * LoraLoader lists the LoRAs in `<modelsDir>/loras/` as ComfyUI names them (`name.safetensors`);
 * the graph mapper turns it into a `<lora:name:clip:model>` tag on the prompt (the SDK's getLoras
 * reads this list). UNETLoader and VAELoader are listed with empty lists because clients read them
 * (SillyTavern's model list dereferences UNETLoader); a graph that uses them fails validation with
 * "value not in list", as ComfyUI would with nothing installed.
 */
import { GENERATE_BOUNDS as B } from '../../../common/params/bounds';
import { COMFY_SCHEDULES, SCHEDULER_TABLE } from '../../../common/schedulers';

export type InputSpec = [string | string[], Record<string, unknown>?];

export interface NodeDef {
  input: { required: Record<string, InputSpec>; optional?: Record<string, InputSpec>; hidden?: Record<string, string> };
  output: string[];
  output_name: string[];
  output_node: boolean;
  category: string;
  description: string;
  display_name?: string;
}

/** The node classes the graph mapper understands, in object_info order. */
export const RUNNABLE_NODES = [
  'CheckpointLoaderSimple',
  'LoraLoader',
  'CLIPTextEncode',
  'EmptyLatentImage',
  'KSampler',
  'KSamplerAdvanced',
  'VAEDecode',
  'VAEEncode',
  'VAEEncodeForInpaint',
  'SetLatentNoiseMask',
  'LoadImage',
  'ImageScale',
  'ImagePadForOutpaint',
  'SaveImage',
  'PreviewImage',
] as const;
export type RunnableNode = (typeof RUNNABLE_NODES)[number];

/** ComfyUI's `sampler_name` values the engine runs. */
export const COMFY_SAMPLERS: string[] = SCHEDULER_TABLE.flatMap((e) => (e.comfy ? [e.comfy] : []));
export const COMFY_SCHEDULER_NAMES: string[] = [COMFY_SCHEDULES.normal, COMFY_SCHEDULES.karras];
const SEED_MAX = 0xffffffffffffffff;
const UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'];

export interface NodeLists {
  checkpoints: string[];
  inputImages: string[];
  /** LoRA file names (`name.safetensors`). */
  loras: string[];
}

/** ComfyUI's name for a LoRA (its file name) ↔ the name `<lora:…>` resolves. */
export const LORA_EXT = '.safetensors';
export const comfyLoraName = (name: string): string => `${name}${LORA_EXT}`;

export function nodeDefinitions(lists: NodeLists): Record<string, NodeDef> {
  const int = (def: number, min: number, max: number, step = 1, extra: Record<string, unknown> = {}): InputSpec => ['INT', { default: def, min, max, step, ...extra }];
  const float = (def: number, min: number, max: number, step: number): InputSpec => ['FLOAT', { default: def, min, max, step, round: 0.01 }];
  const sampling = {
    steps: int(20, 1, B.steps.max),
    cfg: float(8, 0, B.guidanceScale.max, 0.1),
    sampler_name: [COMFY_SAMPLERS, {}] as InputSpec,
    scheduler: [COMFY_SCHEDULER_NAMES, {}] as InputSpec,
    positive: ['CONDITIONING'] as InputSpec,
    negative: ['CONDITIONING'] as InputSpec,
    latent_image: ['LATENT'] as InputSpec,
  };
  const defs: Record<string, NodeDef> = {
    CheckpointLoaderSimple: {
      input: { required: { ckpt_name: [lists.checkpoints, {}] } },
      output: ['MODEL', 'CLIP', 'VAE'],
      output_name: ['MODEL', 'CLIP', 'VAE'],
      output_node: false,
      category: 'loaders',
      display_name: 'Load Checkpoint',
      description: 'Loads an Atelier model (its UNet, text encoders and VAE).',
    },
    LoraLoader: {
      input: {
        required: {
          model: ['MODEL'],
          clip: ['CLIP'],
          lora_name: [lists.loras, {}],
          strength_model: float(1, -100, 100, 0.01),
          strength_clip: float(1, -100, 100, 0.01),
        },
      },
      output: ['MODEL', 'CLIP'],
      output_name: ['MODEL', 'CLIP'],
      output_node: false,
      category: 'loaders',
      display_name: 'Load LoRA',
      description: 'A LoRA from the models folder’s loras/ (added to the prompt as <lora:name:strength_clip:strength_model>).',
    },
    CLIPTextEncode: {
      input: { required: { text: ['STRING', { multiline: true, dynamicPrompts: true }], clip: ['CLIP'] } },
      output: ['CONDITIONING'],
      output_name: ['CONDITIONING'],
      output_node: false,
      category: 'conditioning',
      display_name: 'CLIP Text Encode (Prompt)',
      description: 'A prompt (A1111 weighting syntax) for the sampler.',
    },
    EmptyLatentImage: {
      input: { required: { width: int(512, 16, B.width.max, 8), height: int(512, 16, B.height.max, 8), batch_size: int(1, 1, B.batchSize.max) } },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'latent',
      display_name: 'Empty Latent Image',
      description: 'The size and batch of a text-to-image generation.',
    },
    KSampler: {
      input: {
        required: {
          model: ['MODEL'],
          seed: int(0, 0, SEED_MAX, 1, { control_after_generate: true }),
          ...sampling,
          denoise: float(1, 0, 1, 0.01),
        },
      },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'sampling',
      description: 'Runs the diffusion (seeds above 32 bits are reduced to their low 32 bits).',
    },
    KSamplerAdvanced: {
      input: {
        required: {
          model: ['MODEL'],
          add_noise: [['enable', 'disable'], {}],
          noise_seed: int(0, 0, SEED_MAX, 1, { control_after_generate: true }),
          ...sampling,
          start_at_step: int(0, 0, 10000),
          end_at_step: int(10000, 0, 10000),
          return_with_leftover_noise: [['disable', 'enable'], {}],
        },
      },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'sampling',
      display_name: 'KSampler (Advanced)',
      description: 'Whole denoising passes only: add_noise enable, start_at_step 0, end_at_step ≥ steps.',
    },
    VAEDecode: {
      input: { required: { samples: ['LATENT'], vae: ['VAE'] } },
      output: ['IMAGE'],
      output_name: ['IMAGE'],
      output_node: false,
      category: 'latent',
      display_name: 'VAE Decode',
      description: 'Decodes the sampler’s latents into images.',
    },
    VAEEncode: {
      input: { required: { pixels: ['IMAGE'], vae: ['VAE'] } },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'latent',
      display_name: 'VAE Encode',
      description: 'An init image for image-to-image (denoise = strength).',
    },
    VAEEncodeForInpaint: {
      input: { required: { pixels: ['IMAGE'], vae: ['VAE'], mask: ['MASK'], grow_mask_by: int(6, 0, 64) } },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'latent/inpaint',
      display_name: 'VAE Encode (for Inpainting)',
      description: 'An init image and mask for inpainting or outpainting.',
    },
    SetLatentNoiseMask: {
      input: { required: { samples: ['LATENT'], mask: ['MASK'] } },
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_node: false,
      category: 'latent/inpaint',
      display_name: 'Set Latent Noise Mask',
      description: 'Inpaint only the masked area of an encoded image.',
    },
    LoadImage: {
      input: { required: { image: [lists.inputImages, { image_upload: true }] } },
      output: ['IMAGE', 'MASK'],
      output_name: ['IMAGE', 'MASK'],
      output_node: false,
      category: 'image',
      display_name: 'Load Image',
      description: 'An uploaded image (POST /upload/image); MASK is 1 − alpha.',
    },
    ImageScale: {
      input: {
        required: {
          image: ['IMAGE'],
          upscale_method: [UPSCALE_METHODS, {}],
          width: int(512, 0, B.width.max),
          height: int(512, 0, B.height.max),
          crop: [['disabled', 'center'], {}],
        },
      },
      output: ['IMAGE'],
      output_name: ['IMAGE'],
      output_node: false,
      category: 'image/upscaling',
      display_name: 'Upscale Image',
      description: 'Resizes an init image (0 keeps the aspect ratio).',
    },
    ImagePadForOutpaint: {
      input: {
        required: {
          image: ['IMAGE'],
          left: int(0, 0, 2048, 8),
          top: int(0, 0, 2048, 8),
          right: int(0, 0, 2048, 8),
          bottom: int(0, 0, 2048, 8),
          feathering: int(40, 0, 2048),
        },
      },
      output: ['IMAGE', 'MASK'],
      output_name: ['IMAGE', 'MASK'],
      output_node: false,
      category: 'image',
      display_name: 'Pad Image for Outpainting',
      description: 'Grows an init image for outpainting (Atelier feathers the seam itself).',
    },
    SaveImage: {
      input: { required: { images: ['IMAGE'], filename_prefix: ['STRING', { default: 'ComfyUI' }] }, hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' } },
      output: [],
      output_name: [],
      output_node: true,
      category: 'image',
      display_name: 'Save Image',
      description: 'Saves the images to the current Atelier project’s library.',
    },
    PreviewImage: {
      input: { required: { images: ['IMAGE'] }, hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' } },
      output: [],
      output_name: [],
      output_node: true,
      category: 'image',
      display_name: 'Preview Image',
      description: 'Shows the images (they are kept in the library too).',
    },
    // Listed for clients that read them; nothing is installed, so a graph using them does not validate.
    UNETLoader: {
      input: { required: { unet_name: [[], {}], weight_dtype: [['default'], {}] } },
      output: ['MODEL'],
      output_name: ['MODEL'],
      output_node: false,
      category: 'advanced/loaders',
      display_name: 'Load Diffusion Model',
      description: 'Not available in Atelier (models load whole, with CheckpointLoaderSimple).',
    },
    VAELoader: {
      input: { required: { vae_name: [[], {}] } },
      output: ['VAE'],
      output_name: ['VAE'],
      output_node: false,
      category: 'loaders',
      display_name: 'Load VAE',
      description: 'Not available in Atelier (each model carries its own VAE).',
    },
  };
  return defs;
}

/** One class as `GET /object_info` answers it. */
export function objectInfoEntry(name: string, def: NodeDef) {
  return {
    input: def.input,
    input_order: { required: Object.keys(def.input.required), ...(def.input.optional ? { optional: Object.keys(def.input.optional) } : {}) },
    output: def.output,
    output_is_list: def.output.map(() => false),
    output_name: def.output_name,
    name,
    display_name: def.display_name ?? name,
    description: def.description,
    python_module: 'nodes',
    category: def.category,
    output_node: def.output_node,
    deprecated: false,
    experimental: false,
  };
}
