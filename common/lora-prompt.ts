/**
 * A1111's `<lora:name:weight>` prompt syntax (modules/extra_networks.py `re_extra_net`,
 * extensions-builtin/Lora/extra_networks_lora.py): the tags are taken out of the prompt text
 * before it is tokenized, and name the LoRAs to merge.
 *
 *   <lora:name>              weight 1 for text encoder and UNet
 *   <lora:name:0.8>          0.8 for both
 *   <lora:name:0.8:0.5>      text encoder 0.8, UNet 0.5
 *   <lora:name:1:unet=0.5>   named arguments te= / unet= (dyn= is read and ignored: no DyLoRA)
 *   <lyco:name:…>            LyCORIS' old tag, treated the same
 *
 * Pure (no Node, no DOM): the studio shows the parsed LoRAs and the engine side applies them.
 */

export interface PromptLora {
  name: string;
  /** Text-encoder multiplier (and the UNet's when `unetWeight` is absent). */
  weight: number;
  unetWeight?: number;
}

export interface PromptLoraParse {
  /** The prompt with the tags removed (what the tokenizer sees). */
  prompt: string;
  loras: PromptLora[];
  /** Tags that could not be read (a weight that is not a number), one sentence each. */
  problems: string[];
}

/** A1111's `<(\w+):([^>]+)>`, limited to the network kinds we apply. */
const TAG_RE = /<(lora|lyco):([^>]+)>/giu;

function num(text: string): number | null {
  const t = text.trim();
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return null;
  return Number(t);
}

export function extractPromptLoras(prompt: string): PromptLoraParse {
  const loras: PromptLora[] = [];
  const problems: string[] = [];
  const text = prompt.replace(TAG_RE, (whole, _kind: string, body: string) => {
    const args = body.split(':');
    const name = args[0].trim();
    if (!name) {
      problems.push(`${whole} names no LoRA`);
      return '';
    }
    const positional: string[] = [];
    const named: Record<string, string> = {};
    for (const a of args.slice(1)) {
      const eq = a.indexOf('=');
      if (eq > 0) named[a.slice(0, eq).trim().toLowerCase()] = a.slice(eq + 1);
      else positional.push(a);
    }
    const teText = named.te ?? positional[0];
    const unetText = named.unet ?? positional[1];
    const weight = teText === undefined ? 1 : num(teText);
    const unet = unetText === undefined ? undefined : num(unetText);
    if (weight === null || unet === null) {
      problems.push(`${whole}: the weight must be a number, e.g. <lora:${name}:0.8>`);
      return '';
    }
    const entry: PromptLora = { name, weight };
    if (unet !== undefined && unet !== weight) entry.unetWeight = unet;
    // The same LoRA twice adds up, as merging it twice would.
    const prev = loras.find((l) => l.name === name);
    if (prev) {
      const prevUnet = prev.unetWeight ?? prev.weight;
      prev.weight += entry.weight;
      const u = prevUnet + (entry.unetWeight ?? entry.weight);
      if (u !== prev.weight) prev.unetWeight = u;
      else delete prev.unetWeight;
    } else loras.push(entry);
    return '';
  });
  return { prompt: text, loras, problems };
}

/** The tag for a LoRA, as the studio inserts it and A1111 writes it. */
export function formatPromptLora(l: PromptLora): string {
  const w = (n: number) => String(Number(n.toFixed(4)));
  return l.unetWeight === undefined ? `<lora:${l.name}:${w(l.weight)}>` : `<lora:${l.name}:${w(l.weight)}:${w(l.unetWeight)}>`;
}
