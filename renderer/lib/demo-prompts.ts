/**
 * What the bundled demo model can draw (models/demo/README.md, "What it draws"), for the prompt
 * placeholder and the empty-history hint: one shape in one colour on a plain or gradient
 * background, at a position, lit from a side, optionally with a reflection.
 */
import type { ModelSummary } from '../../common/api/contract';

/** Captions in the demo model's own domain (the first is the README's CLI check). */
export const DEMO_EXAMPLE_PROMPTS = [
  'a small yellow circle at the top on a purple background',
  'a large red star on a blue background, lit from the left',
  'on a white background, a big black ring in the middle, with a reflection on a glossy floor',
] as const;

export const DEMO_CAN_DRAW =
  'The demo model draws one shape (circle, square, triangle, ring or star) in a colour, on a plain or two-colour background, ' +
  'at a position (left, right, top, bottom, centre), lit from the left, right or above, in golden or blue hour, ' +
  'optionally with a reflection on a glossy floor. 64×64 only; other subjects give shapes-and-colours noise.';

export const DEMO_PLACEHOLDER = `Describe one shape, its colour, the background, where it sits and the light, e.g. "${DEMO_EXAMPLE_PROMPTS[1]}"`;

export const GENERIC_PLACEHOLDER = 'a lighthouse on a cliff at dusk, 35mm photo';

/** The bundled demo model is the one with source "bundled". */
export function isDemoModel(model: Pick<ModelSummary, 'source'> | undefined): boolean {
  return model?.source === 'bundled';
}
