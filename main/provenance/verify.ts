/**
 * Reading content credentials with the official c2pa-rs reader and summarising them for people:
 * valid / invalid (tampered, broken) / absent, who signed, what the image claims (AI-generated,
 * which model, the parameters when disclosed) and its chain of parents. Never throws: a broken or
 * hostile file becomes `invalid` with a plain-language problem.
 */
import {
  C2paUnavailableError, readManifestStore, type ActionJson, type ImageMime, type IngredientJson, type ManifestJson, type ManifestStoreJson, type ValidationStatusJson,
} from './c2pa';
import { COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, GENERATION_ASSERTION, TRAINED_ALGORITHMIC_MEDIA } from './manifest';

/** 'unknown': this platform cannot run the C2PA reader (see `warnings`). */
export type CredentialState = 'valid' | 'invalid' | 'absent' | 'unknown';

export interface CredentialSigner {
  commonName?: string;
  issuer?: string;
  serialNumber?: string;
  /** Signing time when the signature carries a trusted timestamp. */
  time?: string;
  /** Signed with this installation's (or the configured studio's) own certificate. */
  ownCertificate?: boolean;
}

export interface CredentialLink {
  title?: string;
  relationship?: string;
  generator?: string;
  signer?: CredentialSigner;
  actions: string[];
  aiGenerated: boolean;
  /** 'unknown': the ingredient carries no manifest of its own. */
  state: 'valid' | 'invalid' | 'unknown';
  problems: string[];
}

export interface Credentials {
  state: CredentialState;
  signer?: CredentialSigner;
  /** "Atelier 0.1.0". */
  generator?: string;
  /** Some manifest of the image or of its parents declares AI generation (IPTC digital source type). */
  aiGenerated: boolean;
  digitalSourceType?: string;
  actions: string[];
  model?: { id?: string; hash?: string; family?: string };
  disclosure?: string;
  /** The disclosed generation parameters (absent when the project discloses only the fact of AI generation). */
  parameters?: Record<string, unknown>;
  /** Parent images, nearest first (an inpaint of an upscale of a generation: two links). */
  chain: CredentialLink[];
  /** Why the credentials are invalid (validation codes with explanations). */
  problems: string[];
  /** The signing certificate is not on a trust list: every self-signed certificate (a local installation's). */
  untrusted: boolean;
  manifests: number;
  warnings: string[];
}

/** Codes that do not make a manifest invalid: a self-signed installation certificate is expected. */
const NOT_A_FAILURE = new Set(['signingCredential.untrusted']);
const AI_SOURCE_TYPES = new Set([
  TRAINED_ALGORITHMIC_MEDIA,
  COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
  'http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia',
  'http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic',
]);
const MAX_CHAIN = 64;

export function detectMime(bytes: Uint8Array): ImageMime | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

function empty(state: CredentialState, extra: Partial<Credentials> = {}): Credentials {
  return { state, aiGenerated: false, actions: [], chain: [], problems: [], untrusted: false, manifests: 0, warnings: [], ...extra };
}

function describeStatus(s: ValidationStatusJson): string {
  return s.explanation ? `${s.code}: ${s.explanation}` : s.code;
}

function actionsOf(m: ManifestJson): ActionJson[] {
  const out: ActionJson[] = [];
  for (const a of m.assertions ?? []) {
    if (!a || (a.label !== 'c2pa.actions' && a.label !== 'c2pa.actions.v2')) continue;
    const list = (a.data as { actions?: unknown })?.actions;
    if (Array.isArray(list)) for (const x of list) if (x && typeof (x as ActionJson).action === 'string') out.push(x as ActionJson);
  }
  return out;
}

function generatorOf(m: ManifestJson): string | undefined {
  const info = m.claim_generator_info?.[0];
  if (info?.name) return info.version ? `${info.name} ${info.version}` : info.name;
  return m.claim_generator;
}

function signerOf(m: ManifestJson, own: Set<string>): CredentialSigner | undefined {
  const s = m.signature_info;
  if (!s) return undefined;
  return {
    ...(s.common_name ? { commonName: s.common_name } : {}),
    ...(s.issuer ? { issuer: s.issuer } : {}),
    ...(s.cert_serial_number ? { serialNumber: s.cert_serial_number } : {}),
    ...(s.time ? { time: s.time } : {}),
    ownCertificate: !!s.cert_serial_number && own.has(s.cert_serial_number),
  };
}

function isAi(actions: ActionJson[]): boolean {
  return actions.some((a) => a.digitalSourceType !== undefined && AI_SOURCE_TYPES.has(a.digitalSourceType));
}

/** Summarises a manifest store as c2pa-rs returned it. `ownSerials`: certificates this installation signs with. */
export function summarise(store: ManifestStoreJson, ownSerials: Iterable<string> = []): Credentials {
  const own = new Set(ownSerials);
  const active = store.active_manifest ? store.manifests?.[store.active_manifest] : undefined;
  const manifests = Object.keys(store.manifests ?? {}).length;
  if (!active) return empty('invalid', { manifests, problems: ['the manifest store names no active manifest'] });
  const statuses = store.validation_status ?? [];
  const problems = statuses.filter((s) => !NOT_A_FAILURE.has(s.code)).map(describeStatus);
  const invalid = store.validation_state === 'Invalid' || (store.validation_state === undefined && problems.length > 0);
  const actions = actionsOf(active);
  const generation = active.assertions?.find((a) => a.label === GENERATION_ASSERTION)?.data as Record<string, unknown> | undefined;
  const { model, disclosure, ...parameters } = generation ?? {};

  const chain: CredentialLink[] = [];
  const seen = new Set<string>([store.active_manifest!]);
  let current: ManifestJson | undefined = active;
  for (let depth = 0; current && depth < MAX_CHAIN; depth++) {
    const parent: IngredientJson | undefined = current.ingredients?.find((i) => i.relationship === 'parentOf');
    if (!parent) break;
    const next: ManifestJson | undefined = parent.active_manifest && !seen.has(parent.active_manifest) ? store.manifests[parent.active_manifest] : undefined;
    if (parent.active_manifest) seen.add(parent.active_manifest);
    const failures = [...(parent.validation_status ?? []), ...(parent.validation_results?.activeManifest?.failure ?? [])].filter((s) => !NOT_A_FAILURE.has(s.code));
    const parentActions = next ? actionsOf(next) : [];
    chain.push({
      ...(parent.title ? { title: parent.title } : {}),
      relationship: parent.relationship,
      ...(next && generatorOf(next) ? { generator: generatorOf(next) } : {}),
      ...(next && signerOf(next, own) ? { signer: signerOf(next, own) } : {}),
      actions: parentActions.map((a) => a.action),
      aiGenerated: isAi(parentActions),
      state: failures.length ? 'invalid' : next ? 'valid' : 'unknown',
      problems: [...new Set(failures.map(describeStatus))],
    });
    current = next;
  }

  const signer = signerOf(active, own);
  return {
    state: invalid ? 'invalid' : 'valid',
    ...(signer ? { signer } : {}),
    ...(generatorOf(active) ? { generator: generatorOf(active) } : {}),
    aiGenerated: isAi(actions) || chain.some((c) => c.aiGenerated),
    ...(actions.find((a) => a.digitalSourceType)?.digitalSourceType ? { digitalSourceType: actions.find((a) => a.digitalSourceType)!.digitalSourceType } : {}),
    actions: actions.map((a) => a.action),
    ...(model && typeof model === 'object' ? { model: model as Credentials['model'] } : {}),
    ...(typeof disclosure === 'string' ? { disclosure } : {}),
    ...(generation && Object.keys(parameters).length ? { parameters } : {}),
    chain,
    problems: [...new Set(problems)],
    untrusted: statuses.some((s) => s.code === 'signingCredential.untrusted'),
    manifests,
    warnings: [],
  };
}

/** Reads and verifies a file's content credentials. Never throws. */
export async function readCredentials(bytes: Uint8Array, opts: { ownSerials?: Iterable<string> } = {}): Promise<Credentials> {
  const mime = detectMime(bytes);
  if (!mime) return empty('absent', { warnings: ['not a PNG, JPEG or WebP file: content credentials not read'] });
  let store: ManifestStoreJson | null;
  try {
    store = await readManifestStore(bytes, mime);
  } catch (err) {
    if (err instanceof C2paUnavailableError) return empty('unknown', { warnings: [`content credentials cannot be checked here: ${err.message}`] });
    return empty('invalid', { problems: [`the content credentials are damaged and cannot be read (${(err as Error)?.message ?? String(err)})`] });
  }
  if (!store) return empty('absent');
  try {
    return summarise(store, opts.ownSerials);
  } catch (err) {
    return empty('invalid', { problems: [`the content credentials could not be interpreted (${(err as Error)?.message ?? String(err)})`] });
  }
}
