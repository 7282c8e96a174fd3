/**
 * Editing `<lora:name:weight>` tags in a prompt for the studio's LoRA picker. Pure (no DOM): the
 * tags are read as common/lora-prompt.ts reads them (A1111's syntax), and only the tag text is
 * changed — the rest of the prompt is kept as typed.
 */
import { extractPromptLoras, type PromptLora } from '../../common/lora-prompt';

/** A1111's tag pattern, for the kinds we apply (same as common/lora-prompt.ts). */
const TAG_RE = /<(lora|lyco):([^>]+)>/giu;

/** The weight range the picker's slider offers (A1111 accepts any number; typed values outside are kept). */
export const LORA_WEIGHT_MIN = -2;
export const LORA_WEIGHT_MAX = 2;
export const LORA_WEIGHT_STEP = 0.05;

/** The LoRAs a prompt names (with their summed weights, as the engine merges them). */
export function promptLoras(prompt: string): PromptLora[] {
  return extractPromptLoras(prompt).loras;
}

/** Whether the prompt already has a tag for `name` (same name, as the engine resolves it). */
export function hasLoraTag(prompt: string, name: string): boolean {
  return promptLoras(prompt).some((l) => l.name === name);
}

/** A weight as it is written in a tag: at most 4 decimals, no trailing zeros. */
export function formatLoraWeight(weight: number): string {
  return String(Number(weight.toFixed(4)));
}

/**
 * Appends `<lora:name:weight>` to the prompt (separated by a space). A prompt that already names
 * the LoRA is returned unchanged: a second tag would add up its weight, which the picker does not mean.
 */
export function insertLoraTag(prompt: string, name: string, weight = 1): string {
  if (!Number.isFinite(weight)) throw new RangeError(`LoRA weight must be a finite number, got ${weight}`);
  const clean = name.trim();
  if (!clean || /[<>:]/.test(clean)) throw new RangeError(`"${name}" cannot be written as a <lora:…> tag`);
  if (hasLoraTag(prompt, clean)) return prompt;
  const tag = `<lora:${clean}:${formatLoraWeight(weight)}>`;
  const head = prompt.trimEnd();
  return head ? `${head} ${tag}` : tag;
}

/** Splits a tag body into the name and its arguments. */
function tagParts(body: string): { name: string; args: string[] } {
  const [name, ...args] = body.split(':');
  return { name: name.trim(), args };
}

/**
 * Sets the (text encoder) weight of `name`'s tags to `weight`. A separate UNet weight
 * (`<lora:n:0.8:0.5>` or `unet=`) is kept; a `te=` argument is rewritten in place. When the prompt
 * names the LoRA more than once, the first tag gets the weight and the others are removed, so the
 * merged weight is the one shown. A prompt without the LoRA is returned unchanged.
 */
export function setLoraWeight(prompt: string, name: string, weight: number): string {
  if (!Number.isFinite(weight)) throw new RangeError(`LoRA weight must be a finite number, got ${weight}`);
  let seen = false;
  let dropped = false;
  const out = prompt.replace(TAG_RE, (whole, kind: string, body: string) => {
    const { name: tagName, args } = tagParts(body);
    if (tagName !== name) return whole;
    if (seen) {
      dropped = true;
      return '';
    }
    seen = true;
    const w = formatLoraWeight(weight);
    const te = args.findIndex((a) => /^\s*te\s*=/i.test(a));
    const firstPositional = args.findIndex((a) => !a.includes('='));
    const next = [...args];
    if (te >= 0) next[te] = `te=${w}`;
    else if (firstPositional >= 0) next[firstPositional] = w;
    else next.unshift(w);
    return `<${kind}:${[tagName, ...next].join(':')}>`;
  });
  return dropped ? tidy(out, prompt) : out;
}

/** Removes every tag for `name` (and the space it leaves). */
export function removeLoraTag(prompt: string, name: string): string {
  let removed = false;
  const out = prompt.replace(TAG_RE, (whole, _kind: string, body: string) => {
    if (tagParts(body).name !== name) return whole;
    removed = true;
    return '';
  });
  return removed ? tidy(out, prompt) : prompt;
}

/** Collapses the double spaces a removed tag leaves, and trailing/leading blanks it exposed. */
function tidy(edited: string, original: string): string {
  if (edited === original) return edited;
  return edited
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/[ \t]+([,\n])/g, '$1')
    .replace(/^[ \t]+|[ \t]+$/gm, '')
    .replace(/,\s*$/, '');
}
