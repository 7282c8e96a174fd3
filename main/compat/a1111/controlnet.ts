/**
 * The sd-webui-controlnet extension's API on the A1111 port: `alwayson_scripts.controlnet.args` in
 * txt2img/img2img (one object per unit: `image` or legacy `input_image`, `module`, `model`, `weight`,
 * `guidance_start`, `guidance_end`, `resize_mode`, `threshold_a/b`, `enabled`), and its
 * `/controlnet/model_list`, `/controlnet/module_list` and `/controlnet/version` routes, so clients
 * (Auto-Photoshop, SD plugins for Krita/Photoshop) list and pick ControlNets as with A1111.
 * Models are listed as the extension lists them, `name [first 8 digits of the sha256]`.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlNetSummary } from '../../../common/api/contract';
import type { GenerateRequest } from '../../../common/api/schemas';
import { CONTROL_UNITS_MAX, CONTROL_WEIGHT_MAX, type ControlAnnotatorKind } from '../../../common/params/controlnet';
import { CONTROLNET_SHORT_HASH } from '../../../common/controlnet-infotext';
import type { CompatContext } from '../context';
import { decodeBase64Image, ImageInputError, toPng } from '../images';
import { A1111Error, fromApiError, invalidField } from './errors';

type Body = Record<string, unknown>;
type UnitRequest = NonNullable<GenerateRequest['controlNets']>[number];

/** The extension's preprocessors Atelier runs, by their module names (and `none`: the image is the control map). */
const MODULES: ReadonlyArray<[string, ControlAnnotatorKind | null]> = [
  ['none', null],
  ['canny', 'canny'],
  ['depth_anything_v2', 'depth'],
  ['dw_openpose_full', 'pose'],
];

/** Module name (any of the extension's spellings of these kinds) → our annotator; undefined when Atelier has none. */
export function annotatorForModule(module: string): ControlAnnotatorKind | null | undefined {
  const m = module.trim().toLowerCase();
  if (m === '' || m === 'none') return null;
  if (m === 'canny') return 'canny';
  if (m.startsWith('depth')) return 'depth';
  if (m.includes('openpose') || m.includes('dwpose')) return 'pose';
  return undefined;
}

/** The extension's list name of an installed ControlNet. */
export function controlNetListName(c: Pick<ControlNetSummary, 'name' | 'hash'>): string {
  return `${c.name} [${c.hash.slice(0, CONTROLNET_SHORT_HASH)}]`;
}

/** A unit's `model` (`name`, `name [hash]` or a hash) → the installed ControlNet's name, or null. */
export function findListedControlNet(model: string, installed: readonly ControlNetSummary[]): ControlNetSummary | null {
  const m = /^(.*?)\s*(?:\[([0-9a-fA-F]{8,64})\])?\s*$/.exec(model)!;
  const name = m[1];
  const hash = m[2]?.toLowerCase();
  return (
    (hash ? installed.find((c) => c.name === name && c.hash.startsWith(hash)) : undefined) ??
    installed.find((c) => c.name === name) ??
    installed.find((c) => c.name.toLowerCase() === name.toLowerCase()) ??
    (hash ? installed.find((c) => c.hash.startsWith(hash)) : undefined) ??
    null
  );
}

/** resize_mode as the extension takes it: 0/1/2 or its labels (current and pre-1.1 ones). */
function fitOf(value: unknown, loc: (string | number)[]): UnitRequest['fit'] {
  if (value === undefined || value === null) return 'crop'; // the extension's default: Crop and Resize
  const v = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (v === 0 || v === '0' || v === 'just resize') return 'resize';
  if (v === 1 || v === '1' || v === 'crop and resize' || v === 'scale to fit (inner fit)' || v === 'inner fit') return 'crop';
  if (v === 2 || v === '2' || v === 'resize and fill' || v === 'envelope (outer fit)' || v === 'outer fit') return 'pad';
  throw invalidField(loc, `resize_mode ${JSON.stringify(value)} is not one of 0 (Just Resize), 1 (Crop and Resize), 2 (Resize and Fill)`);
}

function numberOf(unit: Body, key: string, fallback: number, loc: (string | number)[]): number {
  const v = unit[key];
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw invalidField([...loc, key], 'value is not a valid number', 'type_error.number');
  return n;
}

/** The unit's image: a base64 string (`image` or legacy `input_image`), or the extension's `{ image, mask }` dict. */
async function unitImage(unit: Body, loc: (string | number)[]): Promise<string> {
  let value = unit.image ?? unit.input_image;
  if (value && typeof value === 'object' && !Array.isArray(value)) value = (value as Body).image;
  if (value === undefined || value === null || value === '') {
    throw invalidField([...loc, 'image'], 'this ControlNet unit has no image: send the control image (or the photo its module turns into one) as base64 in "image"', 'value_error.missing');
  }
  try {
    const decoded = await decodeBase64Image(value, [...loc, 'image'].join('.'));
    return (decoded.format === 'png' ? decoded.bytes : await toPng(decoded.bytes)).toString('base64');
  } catch (err) {
    if (err instanceof ImageInputError) throw invalidField([...loc, 'image'], `Invalid encoded image: ${err.message}`, 'value_error.image');
    throw err;
  }
}

async function unitFrom(unit: Body, loc: (string | number)[], installed: readonly ControlNetSummary[]): Promise<UnitRequest> {
  const model = typeof unit.model === 'string' ? unit.model.trim() : '';
  if (!model || model.toLowerCase() === 'none') throw invalidField([...loc, 'model'], 'choose a ControlNet model (GET /controlnet/model_list lists them)');
  const found = findListedControlNet(model, installed);
  if (!found) {
    const names = installed.map(controlNetListName).join(', ') || '(none installed)';
    throw invalidField([...loc, 'model'], `ControlNet "${model}" is not installed. Installed: ${names}`);
  }
  const module = typeof unit.module === 'string' ? unit.module : 'none';
  const kind = annotatorForModule(module);
  if (kind === undefined) throw invalidField([...loc, 'module'], `preprocessor "${module}" is not one Atelier runs; use ${MODULES.map(([m]) => m).join(', ')} (none = the image already is the control map)`);
  const weight = numberOf(unit, 'weight', 1, loc);
  if (weight < 0 || weight > CONTROL_WEIGHT_MAX) throw invalidField([...loc, 'weight'], `weight must be from 0 to ${CONTROL_WEIGHT_MAX} (got ${weight})`, 'value_error.number.not_le');
  const start = numberOf(unit, 'guidance_start', 0, loc);
  const end = numberOf(unit, 'guidance_end', 1, loc);
  if (!(start >= 0 && end <= 1 && start < end)) throw invalidField([...loc, 'guidance_start'], `guidance_start (${start}) must be below guidance_end (${end}), both from 0 to 1`);
  const annotator = kind === 'canny' ? { kind, low: numberOf(unit, 'threshold_a', 100, loc), high: numberOf(unit, 'threshold_b', 200, loc) } : kind ? { kind } : undefined;
  return {
    model: found.name,
    image: { base64: await unitImage(unit, loc) },
    weight,
    start,
    end,
    ...(annotator ? { annotator } : {}),
    fit: fitOf(unit.resize_mode, [...loc, 'resize_mode']),
  };
}

/**
 * `alwayson_scripts.controlnet.args` → the request's units. The script key is matched without case
 * (clients send `controlnet` and `ControlNet`); disabled units and SD clients' empty `args: []` are
 * skipped; positional (list) units from very old clients are refused with a note of what to send.
 */
export async function controlNetUnitsFromScripts(scripts: Body, listInstalled: () => Promise<ControlNetSummary[]>): Promise<UnitRequest[]> {
  const key = Object.keys(scripts).find((k) => k.toLowerCase() === 'controlnet');
  if (!key) return [];
  const script = scripts[key];
  const args = script && typeof script === 'object' && !Array.isArray(script) ? (script as Body).args : undefined;
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw invalidField(['alwayson_scripts', key, 'args'], 'value is not a valid list', 'type_error.list');
  const active = args.map((u, i) => ({ u, i })).filter(({ u }) => !(u && typeof u === 'object' && !Array.isArray(u) && (u as Body).enabled === false));
  if (active.length === 0) return [];
  if (active.length > CONTROL_UNITS_MAX) throw invalidField(['alwayson_scripts', key, 'args'], `at most ${CONTROL_UNITS_MAX} enabled ControlNet units (got ${active.length})`);
  const installed = await listInstalled();
  const units: UnitRequest[] = [];
  for (const { u, i } of active) {
    const loc = ['alwayson_scripts', key, 'args', i];
    if (!u || typeof u !== 'object' || Array.isArray(u)) throw invalidField(loc, 'each ControlNet unit must be an object ({ "image", "module", "model", "weight", … })', 'type_error.dict');
    units.push(await unitFrom(u as Body, loc, installed));
  }
  return units;
}

/** Installed ControlNets through the API (the same list the studio shows). */
export async function installedControlNets(ctx: CompatContext): Promise<ControlNetSummary[]> {
  const r = await ctx.dispatch('listControlNets', {});
  if (!r.ok) throw fromApiError(r.error);
  return r.value as ControlNetSummary[];
}

/** `/controlnet/*`: the extension's model list, module list and version. */
export function registerControlNetRoutes(app: FastifyInstance, ctx: CompatContext): void {
  const get = (path: string, handler: (query: Body) => Promise<unknown>) =>
    app.get(`/controlnet/${path}`, async (req, reply) => {
      try {
        return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(await handler((req.query ?? {}) as Body)));
      } catch (err) {
        const e = err instanceof A1111Error ? err : new A1111Error(500, (err as Error).message);
        return reply.code(e.status).header('content-type', 'application/json').send(JSON.stringify(e.body()));
      }
    });
  get('model_list', async () => ({ model_list: (await installedControlNets(ctx)).map(controlNetListName) }));
  get('module_list', async () => ({
    module_list: MODULES.map(([m]) => m),
    module_detail: Object.fromEntries(MODULES.map(([m, kind]) => [m, { model_free: kind === null || kind === 'canny', sliders: kind === 'canny' ? CANNY_SLIDERS : [] }])),
  }));
  get('version', async () => ({ version: 2 }));
}

/** The extension's canny sliders (module_detail), with A1111's defaults. */
const CANNY_SLIDERS = [
  { name: 'Preprocessor resolution', value: 512, min: 64, max: 2048 },
  { name: 'Canny Low Threshold', value: 100, min: 1, max: 255 },
  { name: 'Canny High Threshold', value: 200, min: 1, max: 255 },
];
