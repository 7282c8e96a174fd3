/**
 * Signing and verifying for one installation (one user data folder): the project library signs every
 * image it stores and exports, the CLI every PNG it writes, and the API verifies through here.
 *
 * A failure to sign never loses an image: the file is written unsigned and the reason is reported
 * once (`warn`) and kept in `lastError` — saving work comes first, and `verify` shows it as absent.
 *
 * Signing runs in a long-lived signing process shared by every Provenance of this process
 * (signer-process.ts: it keeps c2pa's buffers warm and contains native crashes). A request whose
 * process died is retried once in a fresh one; where no process can be started, it signs here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { c2paUnavailableReason, signAsset, type ImageMime, type IngredientAsset } from './c2pa';
import { CERT_FILE, INSTALLATION_DIR, PROVENANCE_DIR, signingIdentity, type SigningIdentity } from './identity';
import { generationManifest, importManifest, PARENT_INSTANCE_ID, type Disclosure, type GenerationFacts, type ManifestPlan } from './manifest';
import { detectMime, readCredentials, type Credentials } from './verify';
import { SignerCrashedError, SignerProcess, SignerUnavailableError, type RemoteSignResult } from './signer-process';
import { X509Certificate } from 'node:crypto';

export interface SignOutcome {
  /** The file to write (signed, or as given when signing failed). */
  readonly bytes: Buffer;
  /** The same file as consecutive slices, without joining them (the signing process answers with only the inserted manifest). */
  readonly parts?: Buffer[];
  signed: boolean;
  warnings: string[];
  /** CPU the signing process spent on it (ms); absent when it was signed in this process. */
  signerCpuMs?: number;
}

export interface ParentFile {
  bytes: Uint8Array;
  title: string;
}

export interface ProvenanceOptions {
  /** Atelier's version, named as the generator of import manifests (generations carry their own). */
  appVersion?: string;
  /** Told once per distinct problem (signing failed, a signer.json is wrong…); default console.warn. */
  warn?: (message: string) => void;
  /**
   * Where to sign: the process-wide signing process (default), another one (tests), or null to sign
   * in this process (ATELIER_SIGN_IN_PROCESS=1 does the same for the default).
   */
  signingProcess?: SignerProcess | null;
}

let shared: SignerProcess | null = null;

/** The signing process every Provenance of this process shares (started on first signing). */
export function sharedSigningProcess(): SignerProcess {
  return (shared ??= new SignerProcess());
}

/** Ends the shared signing process (app shutdown; it also ends by itself when this process exits). */
export function shutdownSigningProcess(): void {
  shared?.close();
}

export class Provenance {
  private readonly identities = new Map<string, SigningIdentity>();
  private readonly warned = new Set<string>();
  /** The last reason an image was written unsigned, or null. */
  lastError: string | null = null;

  constructor(
    readonly userDataDir: string,
    private readonly opts: ProvenanceOptions = {},
  ) {}

  /** The identity that signs for `projectDir` (its signer.json, the global one, or the installation's; created on first use). */
  identity(projectDir?: string): SigningIdentity {
    const key = projectDir ? path.resolve(projectDir) : '';
    let id = this.identities.get(key);
    if (!id) {
      id = signingIdentity(this.userDataDir, projectDir);
      this.identities.set(key, id);
    }
    return id;
  }

  /** Serial numbers of the certificates this installation signs with (for "signed here" in reports). */
  ownSerials(): string[] {
    const serials = new Set([...this.identities.values()].map((i) => i.serialNumber));
    try {
      const pem = readFileSync(path.join(this.userDataDir, PROVENANCE_DIR, INSTALLATION_DIR, CERT_FILE));
      serials.add(BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString(10));
    } catch {
      /* no installation certificate yet */
    }
    return [...serials];
  }

  /** Signs a generated image (its metadata chunks already written) with its generation manifest. */
  signGeneration(file: Uint8Array, opts: { id: string; params: GenerationFacts; disclosure: Disclosure; parent?: ParentFile | null; projectDir?: string }): Promise<SignOutcome> {
    const format = detectMime(file);
    if (!format) return Promise.resolve(this.unsigned(file, 'not a PNG, JPEG or WebP file'));
    const plan = generationManifest({ id: opts.id, params: opts.params, disclosure: opts.disclosure, format, hasParent: !!opts.parent });
    return this.sign(file, format, plan, opts.parent ?? null, opts.projectDir);
  }

  /** Signs an imported file as stored: Atelier opened `original`, which becomes the parent ingredient (with any credentials it carries). */
  signImport(file: Uint8Array, opts: { id: string; original: ParentFile; projectDir?: string }): Promise<SignOutcome> {
    const format = detectMime(file);
    if (!format) return Promise.resolve(this.unsigned(file, 'not a PNG, JPEG or WebP file'));
    return this.sign(file, format, importManifest({ id: opts.id, appVersion: this.opts.appVersion ?? '0.0.0', format }), opts.original, opts.projectDir);
  }

  /** Reads and verifies a file's content credentials (never throws). */
  verify(bytes: Uint8Array): Promise<Credentials> {
    return readCredentials(bytes, { ownSerials: this.ownSerials() });
  }

  private async sign(file: Uint8Array, format: ImageMime, plan: ManifestPlan, parent: ParentFile | null, projectDir: string | undefined): Promise<SignOutcome> {
    const warnings: string[] = [];
    try {
      const identity = this.identity(projectDir);
      const ingredients: IngredientAsset[] = [];
      if (plan.needsParent && parent) {
        const mime = detectMime(parent.bytes);
        if (mime) ingredients.push({ bytes: parent.bytes, mime, title: parent.title, instanceId: PARENT_INSTANCE_ID, relationship: 'parentOf' });
        else warnings.push(`the parent ${parent.title} is not a PNG, JPEG or WebP file; recorded without its bytes`);
      }
      const input = format === 'image/png' ? withoutPngManifest(file) : file;
      const remote = this.opts.signingProcess === undefined ? (process.env.ATELIER_SIGN_IN_PROCESS === '1' ? null : sharedSigningProcess()) : this.opts.signingProcess;
      if (remote) {
        const signed = await this.signRemotely(remote, input, format, plan.definition, identity, ingredients, warnings);
        if (signed) {
          warnings.push(...signed.warnings);
          return { get bytes() { return signed.bytes; }, parts: signed.parts, signed: true, warnings, signerCpuMs: signed.signerCpuMs };
        }
      }
      const bytes = await signAsset(input, format, plan.definition, identity, ingredients, { warnings });
      return { bytes, signed: true, warnings };
    } catch (err) {
      warnings.push(...(((err as { warnings?: string[] }).warnings) ?? []));
      return this.unsigned(file, c2paUnavailableReason() ?? (err as Error)?.message ?? String(err), warnings);
    }
  }

  /**
   * Signs in the signing process; a request whose process died is tried once more in a fresh one.
   * Null when no process can be started here (the caller signs in this process); throws otherwise.
   */
  private async signRemotely(remote: SignerProcess, input: Uint8Array, format: ImageMime, definition: Record<string, unknown>, identity: SigningIdentity, ingredients: IngredientAsset[], warnings: string[]): Promise<RemoteSignResult | null> {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    try {
      return await remote.sign(bytes, format, definition, identity, ingredients);
    } catch (err) {
      if (err instanceof SignerUnavailableError) {
        this.tell(`signing in this process: ${err.message}`);
        return null;
      }
      if (!(err instanceof SignerCrashedError)) throw err;
      warnings.push(`${err.message}; signed again in a fresh signing process`);
    }
    try {
      return await remote.sign(bytes, format, definition, identity, ingredients);
    } catch (err) {
      if (err instanceof SignerUnavailableError) return null;
      throw err;
    }
  }

  private unsigned(file: Uint8Array, reason: string, warnings: string[] = []): SignOutcome {
    const message = `content credentials not written: ${reason}`;
    this.lastError = message;
    this.tell(message);
    return { bytes: Buffer.from(file.buffer, file.byteOffset, file.byteLength), signed: false, warnings: [...warnings, message] };
  }

  private tell(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    (this.opts.warn ?? ((m: string) => console.warn(`atelier: ${m}`)))(message);
  }
}

/** A PNG without its `caBX` (C2PA) chunks: a new manifest replaces an old one, which our own edits have invalidated anyway. */
export function withoutPngManifest(png: Uint8Array): Uint8Array {
  const view = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const keep: Array<[number, number]> = [];
  let at = 8;
  let found = false;
  // Bounded by the file: every chunk advances at least 12 bytes.
  while (at + 12 <= view.length) {
    const len = view.readUInt32BE(at);
    const end = at + 12 + len;
    if (end > view.length) break;
    if (view.toString('latin1', at + 4, at + 8) === 'caBX') found = true;
    else keep.push([at, end]);
    at = end;
  }
  if (!found) return png;
  return Buffer.concat([view.subarray(0, 8), ...keep.map(([s, e]) => view.subarray(s, e)), view.subarray(at)]);
}
