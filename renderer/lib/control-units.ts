/**
 * ControlNet units in the studio: the pure parts (no DOM). A unit is what the left panel's ControlNet
 * section edits — which installed ControlNet, the control image, its annotator, weight and the part of
 * the steps it runs on — and this module turns units into the generate request's `controlNets`, reads
 * them back from a recorded image, checks them before Generate, and keeps them in workspace memory.
 * The meaning of each field is the contract's (common/params/controlnet.ts).
 */
import type { AtelierApi, ControlNetSummary, GenerationRecord } from '../../common/api/contract';
import type { GenerateRequest } from '../../common/api/schemas';
import { loraBaseMismatch } from '../../common/lora-base';
import { describeError } from './errors';
import { CONTROL_FITS, CONTROL_IMAGE_NOT_IN_FILE, CONTROL_UNITS_MAX, CONTROL_WEIGHT_MAX, ControlUnitRecordSchema, type ControlAnnotatorKind, type ControlUnitRecord } from '../../common/params/controlnet';

export { CONTROL_UNITS_MAX, CONTROL_WEIGHT_MAX };
export type ControlFit = (typeof CONTROL_FITS)[number];
/** 'none': the image already is the control map (edges, depth, pose drawn or made elsewhere). */
export type AnnotatorChoice = ControlAnnotatorKind | 'none';

/** A1111's Canny defaults. */
export const DEFAULT_CANNY_LOW = 100;
export const DEFAULT_CANNY_HIGH = 200;
/** The schema's threshold range (cv2 gradients reach 4·255). */
export const CANNY_MAX = 1020;
export const CONTROL_WEIGHT_STEP = 0.05;

/** The control image: another generation of the project, or a file the user opened or dropped. */
export type ControlImage =
  | { kind: 'generation'; generationId: string; thumbUrl: string; width: number; height: number }
  | {
      kind: 'file';
      name: string;
      base64: string;
      mime: string;
      width: number;
      height: number;
      /**
       * `sha256:…` of the project's copy when the image came back from a record (restore parameters).
       * The bytes are that copy's own, so a generate sends them again and the project keeps one file.
       */
      ref?: string;
    };

export interface ControlUnitState {
  /** Stable within the window (React key, label ids); not sent. */
  key: string;
  enabled: boolean;
  /** The installed ControlNet's name ('' = none chosen yet). */
  model: string;
  image: ControlImage | null;
  weight: number;
  /** Fractions of the steps (0–1), A1111's "Starting/Ending Control Step". */
  start: number;
  end: number;
  annotator: AnnotatorChoice;
  cannyLow: number;
  cannyHigh: number;
  /** How the control image is brought to the output size; absent = the engine's default. */
  fit?: ControlFit;
}

let nextKey = 1;
export function newUnitKey(): string {
  return `cu${nextKey++}`;
}

/** The ControlNets that fit a model family (unknown families on either side fit). */
export function fittingControlNets(installed: readonly ControlNetSummary[], modelFamily: string | undefined): ControlNetSummary[] {
  return installed.filter((c) => !loraBaseMismatch(c.baseFamily, modelFamily));
}

/** Why a ControlNet does not fit the selected model ("made for SDXL; the selected model is SD 1.x"), or null. */
export function controlNetMismatch(c: Pick<ControlNetSummary, 'baseFamily'> | undefined, modelFamily: string | undefined): string | null {
  return c ? loraBaseMismatch(c.baseFamily, modelFamily) : null;
}

/** The annotator a ControlNet's images are usually made with ('none' when it has no suggestion). */
export function defaultAnnotator(c: ControlNetSummary | undefined): AnnotatorChoice {
  return c?.suggestedAnnotator ?? 'none';
}

/** A new unit: the first ControlNet that fits the model (else the first installed), its suggested annotator, full weight, every step. */
export function newControlUnit(installed: readonly ControlNetSummary[], modelFamily: string | undefined, image: ControlImage | null = null): ControlUnitState {
  const pick = fittingControlNets(installed, modelFamily)[0] ?? installed[0];
  return {
    key: newUnitKey(),
    enabled: true,
    model: pick?.name ?? '',
    image,
    weight: 1,
    start: 0,
    end: 1,
    annotator: defaultAnnotator(pick),
    cannyLow: DEFAULT_CANNY_LOW,
    cannyHigh: DEFAULT_CANNY_HIGH,
  };
}

/**
 * The 1-based steps a unit runs on out of `steps`, with the engine's rule
 * (main/engine/controlnet/residuals.ts: step i is active unless i/N < start or (i+1)/N > end);
 * null when it runs on none of them.
 */
export function activeSteps(start: number, end: number, steps: number): { first: number; last: number; count: number } | null {
  let first = 0;
  let last = 0;
  let count = 0;
  for (let i = 0; i < steps; i++) {
    if (i / steps < start || (i + 1) / steps > end) continue;
    if (count === 0) first = i + 1;
    last = i + 1;
    count++;
  }
  return count === 0 ? null : { first, last, count };
}

/** "steps 1–20 of 20", "step 4 of 20", or "no step of 20" — what the panel and the canvas strip show. */
export function stepsLabel(start: number, end: number, steps: number): string {
  const s = activeSteps(start, end, steps);
  if (!s) return `no step of ${steps}`;
  return s.first === s.last ? `step ${s.first} of ${steps}` : `steps ${s.first}–${s.last} of ${steps}`;
}

/** Sets `start` or `end`, keeping start < end (the other end moves by at least one hundredth when they would meet). */
export function setWindow(unit: Pick<ControlUnitState, 'start' | 'end'>, which: 'start' | 'end', value: number): { start: number; end: number } {
  const v = Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
  if (which === 'start') {
    const start = Math.min(v, 0.99);
    return { start, end: Math.max(unit.end, Math.round((start + 0.01) * 100) / 100) };
  }
  const end = Math.max(v, 0.01);
  return { start: Math.min(unit.start, Math.round((end - 0.01) * 100) / 100), end };
}

/**
 * What keeps a unit from running, one sentence each (empty = ready). Disabled units are never
 * checked: they are not sent.
 */
export function unitProblems(unit: ControlUnitState, installed: readonly ControlNetSummary[] | null, index: number): string[] {
  if (!unit.enabled) return [];
  const name = `ControlNet ${index + 1}`;
  const out: string[] = [];
  if (!unit.model) out.push(`${name}: choose a ControlNet.`);
  else if (installed && !installed.some((c) => c.name === unit.model)) out.push(`${name}: "${unit.model}" is not installed — put it into the controlnets folder of your models folder, or choose another.`);
  if (!unit.image) out.push(`${name}: add a control image (open a file, drop one, or use the current image).`);
  if (!(unit.weight >= 0 && unit.weight <= CONTROL_WEIGHT_MAX)) out.push(`${name}: weight must be between 0 and ${CONTROL_WEIGHT_MAX}.`);
  if (!(unit.start >= 0 && unit.end <= 1 && unit.start < unit.end)) out.push(`${name}: the start must come before the end.`);
  if (unit.annotator === 'canny' && !(unit.cannyLow >= 0 && unit.cannyHigh <= CANNY_MAX && unit.cannyLow <= unit.cannyHigh)) {
    out.push(`${name}: Canny thresholds must be 0–${CANNY_MAX} with low ≤ high.`);
  }
  return out;
}

/** Every problem of every enabled unit (Generate refuses while there are any). */
export function controlProblems(units: readonly ControlUnitState[], installed: readonly ControlNetSummary[] | null): string[] {
  return units.flatMap((u, i) => unitProblems(u, installed, i));
}

type RequestUnit = NonNullable<GenerateRequest['controlNets']>[number];

function annotatorOf(u: ControlUnitState): RequestUnit['annotator'] {
  if (u.annotator === 'none') return undefined;
  if (u.annotator !== 'canny') return { kind: u.annotator };
  return { kind: 'canny', low: u.cannyLow, high: u.cannyHigh };
}

/** One unit as the request carries it. */
export function unitRequest(u: ControlUnitState & { image: ControlImage }): RequestUnit {
  const annotator = annotatorOf(u);
  return {
    model: u.model,
    image: u.image.kind === 'generation' ? { generationId: u.image.generationId } : { base64: u.image.base64 },
    weight: u.weight,
    start: u.start,
    end: u.end,
    ...(annotator ? { annotator } : {}),
    ...(u.fit ? { fit: u.fit } : {}),
  };
}

/** The `controlNets` field of a generate request: the enabled units that can run (none → no field). */
export function controlRequestFields(units: readonly ControlUnitState[]): Pick<GenerateRequest, 'controlNets'> {
  const ready = units.filter((u): u is ControlUnitState & { image: ControlImage } => u.enabled && !!u.model && !!u.image && u.start < u.end).slice(0, CONTROL_UNITS_MAX);
  return ready.length > 0 ? { controlNets: ready.map(unitRequest) } : {};
}

// ------------------------------------------------------------------------------------------
// Recorded units (a generation's `controlNets`) → the panel's units

/**
 * The ControlNet units recorded with a generation (the library's `controlNets`, common/params/
 * controlnet.ts); [] when it has none or they do not read as units.
 */
export function recordedControlNets(r: GenerationRecord): ControlUnitRecord[] {
  const raw: unknown = r.controlNets;
  if (raw == null) return [];
  const parsed = ControlUnitRecordSchema.array().safeParse(raw);
  return parsed.success ? parsed.data : [];
}

/** A recorded unit's ControlNet among the installed ones: by name, else by its hash (installed under another name). */
export function findRecordedControlNet(rec: Pick<ControlUnitRecord, 'model' | 'modelHash'>, installed: readonly ControlNetSummary[]): ControlNetSummary | null {
  const hash = rec.modelHash.toLowerCase();
  // The record may hold a prefix of the hash (A1111 infotext shows 10 digits), the listing the full one.
  const sameFile = (c: ControlNetSummary) => !!c.hash && (c.hash.toLowerCase().startsWith(hash) || hash.startsWith(c.hash.toLowerCase()));
  return installed.find((c) => c.name === rec.model && sameFile(c)) ?? installed.find(sameFile) ?? installed.find((c) => c.name === rec.model) ?? null;
}

/** The generation id a recorded unit's image names, or null for an opened file (`sha256:…`) or an image no file kept (A1111). */
export function controlGenerationRef(imageRef: string): string | null {
  return imageRef.includes(':') || imageRef === CONTROL_IMAGE_NOT_IN_FILE ? null : imageRef;
}

/** The `sha256:` ref of an opened file the project keeps (`getControlImage` loads it back), or null. */
export function storedControlRef(imageRef: string): string | null {
  return /^sha256:[0-9a-f]{64}$/.test(imageRef) ? imageRef : null;
}

/** Why a recorded unit's image does not come back, as a phrase. */
function imageNotRestored(imageRef: string, n: number): string {
  return imageRef === CONTROL_IMAGE_NOT_IN_FILE
    ? `the control image of ControlNet ${n} is not in the file (A1111 never saves it): add it again`
    : `the control image of ControlNet ${n} was an opened file the studio cannot load back: open it again`;
}

/** A unit restored without its image for now: its image is the opened file the project keeps under `ref`. */
export interface PendingControlImage {
  key: string;
  ref: string;
  /** 1-based, as the panel numbers units. */
  unit: number;
}

export interface RestoredUnits {
  units: ControlUnitState[];
  /** What could not come back, one phrase each (for the "Parameters loaded" toast). */
  notRestored: string[];
  /** Units whose opened-file image is to be loaded from the project (`loadStoredControlImages`). */
  pending: PendingControlImage[];
}

/**
 * Units for the panel from a recorded image. The image comes back when it was a generation of the
 * project (`imageRef` = its id; `lookup` gives its size and thumbnail when loaded); an opened file
 * (`sha256:…`) is kept by the project, so that unit comes back without its image for now and is listed
 * in `pending` for `loadStoredControlImages`. A ControlNet installed under another name is found by its hash.
 */
export function unitsFromRecord(
  recorded: readonly ControlUnitRecord[],
  installed: readonly ControlNetSummary[] | null,
  lookup: (id: string) => Pick<GenerationRecord, 'thumbUrl' | 'width' | 'height'> | undefined,
  thumbOf: (id: string) => string,
): RestoredUnits {
  const notRestored: string[] = [];
  const pending: PendingControlImage[] = [];
  const units = recorded.slice(0, CONTROL_UNITS_MAX).map((rec, i): ControlUnitState => {
    const key = newUnitKey();
    const found = installed ? findRecordedControlNet(rec, installed) : null;
    if (installed && !found) notRestored.push(`ControlNet ${i + 1} "${rec.model}" (hash ${rec.modelHash.slice(0, 10)}) is not installed`);
    const generationId = controlGenerationRef(rec.imageRef);
    const storedRef = storedControlRef(rec.imageRef);
    if (storedRef) pending.push({ key, ref: storedRef, unit: i + 1 });
    else if (!generationId) notRestored.push(imageNotRestored(rec.imageRef, i + 1));
    const known = generationId ? lookup(generationId) : undefined;
    return {
      key,
      enabled: true,
      model: found?.name ?? rec.model,
      image: generationId ? { kind: 'generation', generationId, thumbUrl: known?.thumbUrl ?? thumbOf(generationId), width: known?.width ?? 0, height: known?.height ?? 0 } : null,
      weight: rec.weight,
      start: rec.start,
      end: rec.end,
      annotator: rec.annotator?.kind ?? 'none',
      cannyLow: rec.annotator?.low ?? DEFAULT_CANNY_LOW,
      cannyHigh: rec.annotator?.high ?? DEFAULT_CANNY_HIGH,
      ...(rec.fit ? { fit: rec.fit } : {}),
    };
  });
  if (recorded.length > CONTROL_UNITS_MAX) notRestored.push(`${recorded.length - CONTROL_UNITS_MAX} ControlNet unit(s) beyond the ${CONTROL_UNITS_MAX} the studio holds`);
  return { units, notRestored, pending };
}

export type StoredControlImage = Awaited<ReturnType<AtelierApi['getControlImage']>>;

/** A kept control image as the panel holds an opened file: its stored bytes (base64), named by its ref. */
export function controlImageFromStored(stored: StoredControlImage): ControlImage & { kind: 'file' } {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(stored.dataUrl);
  if (!m) throw new Error(`the answer for ${stored.ref} is not a base64 data URL`);
  const hex = stored.ref.slice('sha256:'.length);
  const ext = stored.mime.replace(/^image\//, '').replace(/^jpeg$/, 'jpg').replace(/\+.*$/, '');
  return { kind: 'file', name: `kept ${hex.slice(0, 10)}.${ext}`, base64: m[2], mime: stored.mime, width: stored.width, height: stored.height, ref: stored.ref };
}

/**
 * Loads the pending units' opened-file images from the project. Returns the images by unit key and,
 * for each that failed, the phrase the "Parameters loaded" toast shows (with the reason).
 */
export async function loadStoredControlImages(
  pending: readonly PendingControlImage[],
  getControlImage: (ref: string) => Promise<StoredControlImage>,
): Promise<{ images: Map<string, ControlImage>; notRestored: string[] }> {
  const images = new Map<string, ControlImage>();
  const notRestored: string[] = [];
  const results = await Promise.allSettled(pending.map(async (p) => controlImageFromStored(await getControlImage(p.ref))));
  results.forEach((r, i) => {
    const p = pending[i];
    if (r.status === 'fulfilled') images.set(p.key, r.value);
    else notRestored.push(`the control image of ControlNet ${p.unit} (an opened file) did not load back: ${reasonOf(r.reason)} — open it again`);
  });
  return { images, notRestored };
}

/** The error's own sentence(s) without the final full stop (it continues the toast's phrase). */
function reasonOf(err: unknown): string {
  return describeError(err).replace(/[.\s]+$/, '');
}

/**
 * The request units that make a recorded image's structure again (variants, "vary"): units whose image
 * is a generation of the project or an opened file the project keeps (sent by its `sha256:` ref: the
 * record is of the open project). An image no file kept (an imported A1111 PNG's units) cannot come.
 */
export function requestUnitsOfRecord(r: GenerationRecord): NonNullable<GenerateRequest['controlNets']> {
  return recordedControlNets(r)
    .filter((rec) => controlGenerationRef(rec.imageRef) !== null || storedControlRef(rec.imageRef) !== null)
    .slice(0, CONTROL_UNITS_MAX)
    .map((rec) => ({
      model: rec.model,
      image: storedControlRef(rec.imageRef) ? { ref: rec.imageRef } : { generationId: rec.imageRef },
      weight: rec.weight,
      start: rec.start,
      end: rec.end,
      ...(rec.annotator ? { annotator: rec.annotator } : {}),
      ...(rec.fit ? { fit: rec.fit } : {}),
    }));
}

// ------------------------------------------------------------------------------------------
// Workspace memory: units kept per project across reloads (renderer/lib/workspace-memory.ts)

/**
 * An opened file's pixels are kept only up to this size (base64 characters): localStorage holds a
 * few MB per origin and the workspace shares it; a larger file comes back without its image.
 */
export const MAX_REMEMBERED_FILE_CHARS = 1_500_000;

const num = (v: unknown, lo: number, hi: number): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v : null);
const str = (v: unknown, max = 200): string | null => (typeof v === 'string' && v.length <= max ? v : null);

function imageFromJson(v: unknown): ControlImage | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const width = num(o.width, 0, 1e5) ?? 0;
  const height = num(o.height, 0, 1e5) ?? 0;
  if (o.kind === 'generation') {
    const generationId = str(o.generationId);
    const thumbUrl = str(o.thumbUrl, 2000);
    return generationId && thumbUrl !== null ? { kind: 'generation', generationId, thumbUrl, width, height } : null;
  }
  if (o.kind === 'file') {
    const base64 = str(o.base64, MAX_REMEMBERED_FILE_CHARS);
    const mime = str(o.mime);
    const ref = storedControlRef(str(o.ref) ?? '');
    return base64 && mime && /^image\//.test(mime) ? { kind: 'file', name: str(o.name) ?? 'image', base64, mime, width, height, ...(ref ? { ref } : {}) } : null;
  }
  return null;
}

/** Units as stored: a file image over the size limit is left out (the unit stays, without its image). */
export function unitsToJson(units: readonly ControlUnitState[]): unknown[] {
  return units.map(({ key: _key, image, ...rest }) => ({ ...rest, image: image && image.kind === 'file' && image.base64.length > MAX_REMEMBERED_FILE_CHARS ? null : image }));
}

/** Stored units read back: only fields of the right type and range; anything else falls back to a default (never throws). */
export function unitsFromJson(raw: unknown): ControlUnitState[] {
  if (!Array.isArray(raw)) return [];
  return raw.slice(0, CONTROL_UNITS_MAX).flatMap((v): ControlUnitState[] => {
    if (typeof v !== 'object' || v === null) return [];
    const o = v as Record<string, unknown>;
    const annotator = o.annotator === 'canny' || o.annotator === 'depth' || o.annotator === 'pose' ? o.annotator : 'none';
    const start = num(o.start, 0, 1) ?? 0;
    const end = num(o.end, 0, 1) ?? 1;
    const fit = CONTROL_FITS.find((f) => f === o.fit);
    return [
      {
        key: newUnitKey(),
        enabled: o.enabled !== false,
        model: str(o.model) ?? '',
        image: imageFromJson(o.image),
        weight: num(o.weight, 0, CONTROL_WEIGHT_MAX) ?? 1,
        ...(start < end ? { start, end } : { start: 0, end: 1 }),
        annotator,
        cannyLow: num(o.cannyLow, 0, CANNY_MAX) ?? DEFAULT_CANNY_LOW,
        cannyHigh: num(o.cannyHigh, 0, CANNY_MAX) ?? DEFAULT_CANNY_HIGH,
        ...(fit ? { fit } : {}),
      },
    ];
  });
}

// ------------------------------------------------------------------------------------------
// Variant explorer: "lock structure"

export type StructureLock = 'edges' | 'depth';

/** Which ControlNets lock each kind of structure, and the annotator that makes their image from the source. */
export const STRUCTURE_LOCKS: Readonly<Record<StructureLock, { annotator: ControlAnnotatorKind; controlTypes: readonly string[]; install: string }>> = Object.freeze({
  edges: { annotator: 'canny', controlTypes: ['canny'], install: 'a Canny (edges) ControlNet' },
  depth: { annotator: 'depth', controlTypes: ['depth'], install: 'a depth ControlNet' },
});

/** The installed ControlNets that can lock this structure for a model of `modelFamily`, in listing order. */
export function structureControlNets(lock: StructureLock, installed: readonly ControlNetSummary[], modelFamily: string | undefined): ControlNetSummary[] {
  const types = STRUCTURE_LOCKS[lock].controlTypes;
  return fittingControlNets(installed, modelFamily).filter((c) => c.controlType !== null && types.includes(c.controlType));
}

/** Why a structure lock is not offered (what to install, and where), or null when it is. */
export function structureUnavailable(lock: StructureLock, installed: readonly ControlNetSummary[] | null, modelFamily: string | undefined, modelsDir: string | null): string | null {
  if (installed === null) return 'Listing the installed ControlNets…';
  if (structureControlNets(lock, installed, modelFamily).length > 0) return null;
  const where = modelsDir ? `${modelsDir}/controlnets` : 'the controlnets folder of your models folder';
  const family = modelFamily && ['sd1', 'sd2', 'sdxl'].includes(modelFamily) ? ` for this model's family (${modelFamily})` : '';
  return `Install ${STRUCTURE_LOCKS[lock].install}${family} into ${where} (a folder with its model.onnx; "canny" or "depth" in its name or config), and use a model with a ControlNet UNet.`;
}

/** The request unit that locks `sourceId`'s structure: the source itself as control image, run through the lock's annotator. */
export function structureUnit(lock: StructureLock, controlNet: string, sourceId: string, weight = 1): RequestUnit {
  return { model: controlNet, image: { generationId: sourceId }, weight, start: 0, end: 1, annotator: { kind: STRUCTURE_LOCKS[lock].annotator } };
}
