/**
 * Where the model-based annotators live and what each needs: `<modelsDir>/annotators/<kind>/`, filled by
 * the catalog entries `depth-anything-v2-small` (onnx-community/depth-anything-v2-small `onnx/model.onnx`)
 * and `dwpose` (yzd-v/DWPose `yolox_l.onnx` + `dw-ll_ucoco_384.onnx`). Canny runs in TypeScript and needs
 * no file. A missing file fails the request before anything runs, naming the catalog entry to pull.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlAnnotatorKind } from '../../../../common/params/controlnet';
import { PipelineInputError } from '../../pipeline/types';

/** Folder under the models folder that holds one sub-folder per annotator kind. */
export const ANNOTATORS_DIR = 'annotators';

export type ModelAnnotatorKind = Exclude<ControlAnnotatorKind, 'canny'>;

export const MODEL_ANNOTATORS: Readonly<Record<ModelAnnotatorKind, { catalogId: string; files: readonly string[] }>> = Object.freeze({
  depth: { catalogId: 'depth-anything-v2-small', files: Object.freeze(['model.onnx']) },
  // Order matters: the person detector first, then the whole-body pose model.
  pose: { catalogId: 'dwpose', files: Object.freeze(['yolox_l.onnx', 'dw-ll_ucoco_384.onnx']) },
});

export function isModelAnnotator(kind: string): kind is ModelAnnotatorKind {
  return Object.prototype.hasOwnProperty.call(MODEL_ANNOTATORS, kind);
}

/**
 * The installed files of a model annotator (absolute paths, in MODEL_ANNOTATORS order), or a
 * PipelineInputError that says how to install it.
 * @param annotatorsDir `<modelsDir>/annotators`; undefined when the caller did not say where models live
 */
export function annotatorFiles(annotatorsDir: string | undefined, kind: ModelAnnotatorKind): string[] {
  const spec = MODEL_ANNOTATORS[kind];
  const folder = annotatorsDir === undefined ? undefined : join(annotatorsDir, kind);
  const paths = spec.files.map((f) => (folder === undefined ? f : join(folder, f)));
  const missing = folder === undefined ? paths : paths.filter((p) => !(existsSync(p) && statSync(p).isFile()));
  if (missing.length > 0) {
    const where = folder === undefined ? 'no annotators folder was given to the engine' : `missing ${missing.join(', ')}`;
    throw new PipelineInputError(
      `The ${kind} annotator is not installed: pull '${spec.catalogId}' from the Models view / \`atelier models pull ${spec.catalogId}\` (${where}).`,
    );
  }
  return paths;
}
