/**
 * Catalog entries that are not models of their own install into folders the engine reads, not
 * `<modelsDir>/<id>/`: annotators (`annotators/<kind>`), ControlNets (`controlnets/<name>`) and a base
 * model's ControlNet-capable UNet (`<base>/controlnet`). The manager (studio, API) and the CLI find
 * and remove those folders the same way through this module.
 */
import { rename, rm, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_UNET_FOLDER, type Catalog, type CatalogEntry } from './catalog';
import { STAGING_DIR } from './download-support';
import { readManifest } from './manifest';
import { isInside, type InstalledModel } from './model-store';
import { PlanError } from './plan';

/** The catalog entry `id` names when it installs into a shared folder rather than `<modelsDir>/<id>/`, else undefined. */
export function sharedInstallEntry(catalog: Catalog, id: string): CatalogEntry | undefined {
  const entry = catalog.models.find((m) => m.id === id);
  return entry && (entry.installTo !== undefined || entry.kind === 'controlnet-unet') ? entry : undefined;
}

/**
 * Where a catalog entry installs, relative to the models folder, when not `<id>/`; undefined for models.
 * A ControlNet UNet goes into its base model's folder, which must be installed (PlanError otherwise:
 * a UNet of other weights would run, but draw another model's images).
 */
export function sharedInstallTarget(entry: CatalogEntry, modelsDir: string, installed: readonly InstalledModel[]): string | undefined {
  if (entry.kind !== 'controlnet-unet') return entry.installTo;
  const base = installed.find((m) => (m.catalogId ?? m.id) === entry.forModel);
  if (!base) {
    throw new PlanError(`${entry.name} installs into the folder of model "${entry.forModel}", which is not installed: pull ${entry.forModel} first (atelier models pull ${entry.forModel}).`);
  }
  const rel = path.relative(modelsDir, base.folder);
  if (rel === '' || !isInside(base.folder, modelsDir)) {
    throw new PlanError(`${entry.name} installs into the folder of model "${base.id}", which is outside the models folder (${base.folder}); copy the model into ${modelsDir} first.`);
  }
  return `${rel.split(path.sep).join('/')}/${CONTROL_UNET_FOLDER}`;
}

/** Whether a shared-folder entry is installed (its folder exists; a ControlNet UNet's graph is in its base's folder). */
export function sharedInstallPresent(entry: CatalogEntry, modelsDir: string, installed: readonly InstalledModel[]): boolean {
  if (entry.installTo !== undefined) return existsSync(path.join(modelsDir, entry.installTo));
  if (entry.kind !== 'controlnet-unet') return false;
  return installed.some((b) => (b.catalogId ?? b.id) === entry.forModel && existsSync(path.join(b.folder, CONTROL_UNET_FOLDER, 'model.onnx')));
}

/**
 * Removes what a shared-folder entry installed, if this catalog entry installed it (its manifest says
 * so: a folder the user put there by hand is left alone). Returns the removed folder, or null.
 */
export async function removeSharedInstall(entry: CatalogEntry, modelsDir: string, installed: readonly InstalledModel[]): Promise<string | null> {
  let rel: string | undefined;
  try {
    rel = sharedInstallTarget(entry, modelsDir, installed);
  } catch {
    return null; // its base model is gone, and the UNet with it
  }
  if (rel === undefined) return null;
  const folder = path.join(modelsDir, rel);
  const manifest = await readManifest(folder).catch(() => undefined);
  if (manifest?.catalogId !== entry.id) return null;
  // Renamed away first so the engine and the lists stop seeing it at once, then deleted.
  const trash = path.join(modelsDir, STAGING_DIR, `.trash-${entry.id}-${Date.now()}`);
  await mkdir(path.dirname(trash), { recursive: true });
  await rename(folder, trash);
  await rm(trash, { recursive: true, force: true });
  return folder;
}
