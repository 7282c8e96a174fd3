/**
 * ControlNet units in A1111 infotext, as the sd-webui-controlnet extension writes them
 * (scripts/infotext.py): one `ControlNet <i>` pair per enabled unit whose value is the unit's
 * fields as `Display Name: value`, comma-separated (JSON-quoted as a whole by the infotext writer):
 *   ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1.0,
 *                  Resize Mode: Crop and Resize, Threshold A: 100.0, Threshold B: 200.0,
 *                  Guidance Start: 0.0, Guidance End: 1.0"
 * The model's bracket holds the first 8 digits of its sha256. The control image is never in the
 * text: units read back carry CONTROL_IMAGE_NOT_IN_FILE, and whoever replays them must say so.
 * Pure: no Node, no DOM.
 */
import { CONTROL_IMAGE_NOT_IN_FILE, ControlUnitRecordSchema, type ControlAnnotatorKind, type ControlUnitRecord } from './params/controlnet';

/** `ControlNet 0`, `ControlNet 1`, … */
export const CONTROLNET_KEY_RE = /^ControlNet (\d+)$/;
/** A1111 shows this many digits of the ControlNet's hash in brackets. */
export const CONTROLNET_SHORT_HASH = 8;

/** Our fits ↔ the extension's resize modes (external_code.ResizeMode values). */
const RESIZE_MODES: ReadonlyArray<[NonNullable<ControlUnitRecord['fit']>, string]> = [
  ['resize', 'Just Resize'],
  ['crop', 'Crop and Resize'],
  ['pad', 'Resize and Fill'],
];

/** Our annotators → the extension's preprocessor ("Module") names: Canny, Depth Anything v2, DWPose. */
const MODULES: Readonly<Record<ControlAnnotatorKind, string>> = { canny: 'canny', depth: 'depth_anything_v2', pose: 'dw_openpose_full' };

/** Python's float repr for the values the extension keeps as floats (1 → "1.0"). */
function pyFloat(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(Number(n.toFixed(6)));
}

/** One unit as the extension's `serialize_unit` writes it (`,` and `:` would break the line, so names lose them). */
export function formatControlNetUnit(u: ControlUnitRecord): string {
  const fields: Array<[string, string]> = [
    ['Module', u.annotator ? MODULES[u.annotator.kind] : 'none'],
    ['Model', `${u.model.replace(/[:,]/g, '')} [${u.modelHash.slice(0, CONTROLNET_SHORT_HASH).toLowerCase()}]`],
    ['Weight', pyFloat(u.weight)],
    ['Resize Mode', RESIZE_MODES.find(([fit]) => fit === (u.fit ?? 'crop'))![1]],
  ];
  if (u.annotator?.kind === 'canny') {
    fields.push(['Threshold A', pyFloat(u.annotator.low ?? 100)], ['Threshold B', pyFloat(u.annotator.high ?? 200)]);
  }
  fields.push(['Guidance Start', pyFloat(u.start)], ['Guidance End', pyFloat(u.end)]);
  return fields.map(([k, v]) => `${k}: ${v}`).join(', ');
}

/** The extension's module name → our annotator kind; null for `none`; undefined for one Atelier does not run. */
function annotatorOf(module: string): ControlAnnotatorKind | null | undefined {
  const m = module.trim().toLowerCase();
  if (m === '' || m === 'none') return null;
  if (m.includes('canny')) return 'canny';
  if (m.startsWith('depth')) return 'depth';
  if (m.includes('openpose') || m.includes('dwpose')) return 'pose';
  return undefined;
}

/**
 * One `ControlNet <i>` value back into a unit record (as the extension's `parse_unit`: split on `,`,
 * then on the first `: `). `notes` receives why a unit or one of its settings was not taken over.
 */
export function parseControlNetUnit(key: string, value: string, notes?: string[]): ControlUnitRecord | null {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const colon = part.indexOf(':');
    if (colon > 0) fields.set(part.slice(0, colon).trim().toLowerCase(), part.slice(colon + 1).trim());
  }
  const model = /^(.*?)\s*\[([0-9a-fA-F]{8,64})\]\s*$/.exec(fields.get('model') ?? '');
  if (!model || !model[1]) {
    notes?.push(`${key} — its model “${fields.get('model') ?? ''}” has no [hash]; the unit was not restored`);
    return null;
  }
  const num = (k: string, fallback: number) => {
    const v = fields.get(k);
    const n = v === undefined ? NaN : Number(v);
    return Number.isFinite(n) ? n : fallback;
  };
  const module = fields.get('module') ?? 'none';
  const kind = annotatorOf(module);
  if (kind === undefined) notes?.push(`${key} — preprocessor “${module}” is not one Atelier runs (canny, depth, pose); the control image is used as given`);
  const fit = RESIZE_MODES.find(([, label]) => label.toLowerCase() === (fields.get('resize mode') ?? '').toLowerCase())?.[0];
  const parsed = ControlUnitRecordSchema.safeParse({
    model: model[1],
    modelHash: model[2].toLowerCase(),
    weight: num('weight', 1),
    start: num('guidance start', 0),
    end: num('guidance end', 1),
    ...(kind ? { annotator: kind === 'canny' ? { kind, low: num('threshold a', 100), high: num('threshold b', 200) } : { kind } } : {}),
    ...(fit ? { fit } : {}),
    imageRef: CONTROL_IMAGE_NOT_IN_FILE,
  });
  if (!parsed.success) {
    notes?.push(`${key} — ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}; the unit was not restored`);
    return null;
  }
  return parsed.data;
}

/** Every `ControlNet <i>` pair of a parsed infotext, in unit order; each restored unit is noted as lacking its image. */
export function parseControlNetUnits(params: Record<string, string>, notes?: string[]): ControlUnitRecord[] {
  const keys = Object.keys(params)
    .map((k) => ({ k, i: CONTROLNET_KEY_RE.exec(k) }))
    .filter((x): x is { k: string; i: RegExpExecArray } => x.i !== null)
    .sort((a, b) => Number(a.i[1]) - Number(b.i[1]));
  const units: ControlUnitRecord[] = [];
  for (const { k } of keys) {
    const unit = parseControlNetUnit(k, params[k], notes);
    if (!unit) continue;
    units.push(unit);
    notes?.push(`${k} (${unit.model}) — the control image is not in the file: add one to the unit before generating`);
  }
  return units;
}
