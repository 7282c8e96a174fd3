/**
 * The one module that touches `@contentauth/c2pa-node` (the official c2pa-rs binding): loaded on
 * first use, so a platform whose native binary is missing still saves images (unsigned, with the
 * reason in `c2paUnavailableReason()`), and reading falls back to "cannot verify here".
 */
import type { SigningIdentity } from './identity';

type C2paModule = typeof import('@contentauth/c2pa-node');
type LocalSigner = ReturnType<C2paModule['LocalSigner']['newSigner']>;

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';

let loading: Promise<C2paModule> | null = null;
let unavailable: string | null = null;

export class C2paUnavailableError extends Error {
  override name = 'C2paUnavailableError';
}

export async function loadC2pa(): Promise<C2paModule> {
  loading ??= import('@contentauth/c2pa-node').then((m) => {
    // The JS loads lazily and the native binary on first call: touch it now, so a wrong-platform
    // binary fails here, with its reason, instead of inside a save.
    m.Builder.new();
    return m;
  });
  try {
    return await loading;
  } catch (err) {
    unavailable = `the C2PA library (@contentauth/c2pa-node) does not load on ${process.platform}-${process.arch}: ${(err as Error)?.message ?? err}`;
    throw new C2paUnavailableError(unavailable);
  }
}

/** Null when signing and reading work here (or have not been tried yet). */
export function c2paUnavailableReason(): string | null {
  return unavailable;
}

/**
 * Settings for every Builder: no claim thumbnail (a save must stay cheap; the file is its own
 * preview) and no re-read of the signed file (it would double the cost of a save; the tests read
 * every kind of file Atelier signs back with the official reader instead).
 */
const BUILDER_SETTINGS = { builder: { thumbnail: { enabled: false } }, verify: { verify_after_sign: false } };

/** Reading a dropped file never reaches the network (a manifest may point at a remote copy; OCSP). */
const READER_SETTINGS = { verify: { remote_manifest_fetch: false, ocsp_fetch: false } };

const signers = new Map<string, LocalSigner>();

function signerFor(c2pa: C2paModule, id: SigningIdentity): LocalSigner {
  const key = `${id.source}\0${id.serialNumber}`;
  let signer = signers.get(key);
  if (!signer) {
    signer = c2pa.LocalSigner.newSigner(id.certificate, id.privateKey, id.algorithm);
    signers.set(key, signer);
  }
  return signer;
}

export interface IngredientAsset {
  bytes: Uint8Array;
  mime: ImageMime;
  title: string;
  instanceId: string;
  relationship: 'parentOf' | 'componentOf' | 'inputTo';
}

export interface SignWarnings {
  warnings: string[];
}

/**
 * Signs `bytes` with `definition` (a C2PA manifest definition) and returns the new file. Ingredients
 * are added from their bytes, so their own manifests (and validation results) travel with them;
 * an ingredient c2pa-rs cannot parse is recorded by title and hash alone, with a warning.
 */
export async function signAsset(
  bytes: Uint8Array,
  mime: ImageMime,
  definition: Record<string, unknown>,
  identity: SigningIdentity,
  ingredients: IngredientAsset[] = [],
  out: SignWarnings = { warnings: [] },
): Promise<Buffer> {
  const c2pa = await loadC2pa();
  const builder = c2pa.Builder.withJson(definition as never, BUILDER_SETTINGS);
  for (const ing of ingredients) {
    const json = JSON.stringify({ title: ing.title, format: ing.mime, relationship: ing.relationship, instance_id: ing.instanceId });
    try {
      await builder.addIngredient(json, { buffer: Buffer.from(ing.bytes.buffer, ing.bytes.byteOffset, ing.bytes.byteLength), mimeType: ing.mime });
    } catch (err) {
      out.warnings.push(`ingredient ${ing.title} could not be read as an asset (${(err as Error).message}); recorded by title only`);
      await builder.addIngredient(json);
    }
  }
  const dest: { buffer: Buffer | null } = { buffer: null };
  builder.sign(signerFor(c2pa, identity), { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), mimeType: mime }, dest);
  if (!dest.buffer) throw new Error('c2pa: signing produced no output');
  return dest.buffer;
}

/** What the official reader says about a file: null when it carries no manifest. Throws on a broken one. */
export async function readManifestStore(bytes: Uint8Array, mime: ImageMime): Promise<ManifestStoreJson | null> {
  const c2pa = await loadC2pa();
  const reader = await c2pa.Reader.fromAsset({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), mimeType: mime }, READER_SETTINGS);
  return reader ? (reader.json() as unknown as ManifestStoreJson) : null;
}

// The parts of c2pa-rs's ManifestStore JSON this project reads (the full type lives in c2pa-types).
export interface ValidationStatusJson {
  code: string;
  url?: string;
  explanation?: string;
}

export interface IngredientJson {
  title?: string;
  format?: string;
  relationship?: string;
  instance_id?: string;
  active_manifest?: string;
  validation_status?: ValidationStatusJson[];
  validation_results?: { activeManifest?: { failure?: ValidationStatusJson[] } };
}

export interface ActionJson {
  action: string;
  digitalSourceType?: string;
  description?: string;
  softwareAgent?: { name?: string; version?: string } | string;
  parameters?: Record<string, unknown>;
}

export interface ManifestJson {
  title?: string;
  format?: string;
  claim_generator_info?: Array<{ name?: string; version?: string }>;
  claim_generator?: string;
  assertions?: Array<{ label: string; data: unknown }>;
  ingredients?: IngredientJson[];
  signature_info?: { alg?: string; issuer?: string; common_name?: string; cert_serial_number?: string; time?: string };
  label?: string;
}

export interface ManifestStoreJson {
  active_manifest?: string;
  manifests: Record<string, ManifestJson>;
  validation_status?: ValidationStatusJson[];
  validation_state?: 'Invalid' | 'Valid' | 'Trusted';
}
