/**
 * Recorded ControlNet units → the generate request's units again (`reproduce`): the installed
 * ControlNet with the recorded content hash (under the recorded name, else any name), and the control
 * image from where the record points — a generation of the project, or the project's stored copy
 * (`sha256:…`). What cannot be found is a plain error that says what is missing.
 */
import { readFile } from 'node:fs/promises';
import { AtelierApiError } from '../../common/api/contract';
import type { GenerateRequest } from '../../common/api/schemas';
import { CONTROL_IMAGE_NOT_IN_FILE, type ControlUnitRecord } from '../../common/params/controlnet';
import type { ControlNetEntry, ControlNetStore } from '../models/controlnet-store';

export type ControlUnitRequest = NonNullable<GenerateRequest['controlNets']>[number];

/** Where a project keeps the images a record points at. */
export interface ControlImageSource {
  imageFile(generationId: string): Promise<string | null>;
  controlImageFile(ref: string): Promise<string | null>;
}

/** The installed ControlNet a recorded unit used: same content under its name, else under any name. */
export function installedFor(u: ControlUnitRecord, installed: readonly ControlNetEntry[], at: string): ControlNetEntry {
  const hash = u.modelHash.toLowerCase();
  const byName = installed.find((c) => c.name === u.model);
  if (byName && byName.hash.startsWith(hash)) return byName;
  const byHash = installed.find((c) => c.hash.startsWith(hash));
  if (byHash) return byHash;
  if (byName) {
    throw new AtelierApiError('not_found', `${at}: the image was made with ControlNet "${u.model}" (hash ${hash.slice(0, 10)}), but the installed ${u.model} has different files (hash ${byName.hash.slice(0, 10)}); install the exact ControlNet to reproduce it.`);
  }
  const names = installed.map((c) => c.name).join(', ') || '(none)';
  throw new AtelierApiError('not_found', `${at}: the ControlNet that made this image is not installed: "${u.model}" (hash ${hash.slice(0, 10)}). Installed: ${names}.`);
}

async function controlImageBytes(u: ControlUnitRecord, at: string, project: ControlImageSource | undefined): Promise<Buffer> {
  if (u.imageRef === CONTROL_IMAGE_NOT_IN_FILE) {
    throw new AtelierApiError('invalid_request', `${at} (${u.model}): the control image is not in the file (A1111 never stores it); the unit's settings were read, but it cannot be replayed without its image.`);
  }
  const file = project ? ((await project.controlImageFile(u.imageRef)) ?? (await project.imageFile(u.imageRef))) : null;
  if (!file) {
    throw new AtelierApiError('invalid_request', `${at} (${u.model}): the control image ${u.imageRef} is not in ${project ? 'this project' : 'the file'}; reproduce the image in the project it was made in.`);
  }
  return readFile(file);
}

export async function controlUnitsFrom(recorded: readonly ControlUnitRecord[] | undefined, store: ControlNetStore, project: ControlImageSource | undefined): Promise<ControlUnitRequest[]> {
  if (!recorded || recorded.length === 0) return [];
  const { controlNets: installed } = await store.list();
  const out: ControlUnitRequest[] = [];
  for (const [k, u] of recorded.entries()) {
    const at = `ControlNet ${k}`;
    const entry = installedFor(u, installed, at);
    const bytes = await controlImageBytes(u, at, project);
    out.push({
      model: entry.name,
      image: { base64: bytes.toString('base64') },
      weight: u.weight,
      start: u.start,
      end: u.end,
      ...(u.annotator ? { annotator: u.annotator } : {}),
      ...(u.fit ? { fit: u.fit } : {}),
    });
  }
  return out;
}
