/**
 * ControlNet units: one schema for what a request asks for and what the library records, so a
 * reproduced image gets the same structure lock. Pure code: no Node, no DOM.
 *
 * A unit names an installed ControlNet (`<modelsDir>/controlnets/<name>/model.onnx` or
 * `<modelsDir>/controlnets/<name>.onnx`), the image that conditions it, its weight and the fraction of
 * the steps it runs on (A1111's "Control Weight", "Starting/Ending Control Step").
 */
import { z } from 'zod';

/** Annotators the engine runs on a photo to make the control image (A1111's "Preprocessor"). */
export const CONTROL_ANNOTATOR_KINDS = Object.freeze(['canny', 'depth', 'pose'] as const);
export type ControlAnnotatorKind = (typeof CONTROL_ANNOTATOR_KINDS)[number];

/** A1111's "Control Weight" slider range. */
export const CONTROL_WEIGHT_MAX = 2;
/** Each unit runs a full ControlNet per step; more than this is almost certainly a mistake. */
export const CONTROL_UNITS_MAX = 4;

export const ControlAnnotatorSchema = z
  .object({
    kind: z.enum(CONTROL_ANNOTATOR_KINDS),
    /** Canny thresholds (A1111 defaults 100 / 200); ignored by other kinds. */
    low: z.number().min(0).max(1020).optional(),
    high: z.number().min(0).max(1020).optional(),
  })
  .strict();
export type ControlAnnotator = z.infer<typeof ControlAnnotatorSchema>;

export const CONTROL_FITS = Object.freeze(['crop', 'resize', 'pad'] as const);

/** What the library records per unit (and the `atelier` chunk / C2PA carry), so `reproduce` can run it again. */
export const ControlUnitRecordSchema = z.object({
  /** The installed ControlNet's name (folder or file name under `controlnets/`). */
  model: z.string().min(1).max(200),
  /** sha256 (hex) of its model.onnx, so a reproduction can find it under another name (A1111 infotext keeps only 8 digits). */
  modelHash: z.string().regex(/^[0-9a-fA-F]{8,64}$/),
  weight: z.number().min(0).max(CONTROL_WEIGHT_MAX),
  start: z.number().min(0).max(1),
  end: z.number().min(0).max(1),
  annotator: ControlAnnotatorSchema.optional(),
  fit: z.enum(CONTROL_FITS).optional(),
  /** The control image as given (before the annotator): a generation id of the same project, or `sha256:…` of the stored file. */
  imageRef: z.string().min(1).max(200),
});
export type ControlUnitRecord = z.infer<typeof ControlUnitRecordSchema>;

/**
 * `imageRef` of a unit read from an A1111 infotext: the ControlNet extension never writes the control
 * image into the file, so a replay must ask for it (the unit's settings are still restored).
 */
export const CONTROL_IMAGE_NOT_IN_FILE = 'not-in-file';
