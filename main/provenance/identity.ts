/**
 * Who signs: the installation's own P-256 key and self-signed certificate, created on first use in
 * `<user data>/provenance/installation/` (folder 0700, key 0600 — owner-only on POSIX; on Windows
 * the user data folder's own ACL applies), or a studio's certificate and key (PEM) named in a
 * `signer.json`, globally (`<user data>/provenance/signer.json`) or per project
 * (`<project>.atelier/signer.json`, which wins):
 *
 *   { "certificate": "studio-chain.pem", "privateKey": "studio-key.pem", "algorithm": "es256" }
 *
 * Relative paths are resolved against the folder holding signer.json.
 */
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { selfSignedCertificate } from './certificate';

export const PROVENANCE_DIR = 'provenance';
export const INSTALLATION_DIR = 'installation';
export const KEY_FILE = 'signing-key.pem';
export const CERT_FILE = 'signing-cert.pem';
export const SIGNER_CONFIG = 'signer.json';

export type SigningAlgorithm = 'es256' | 'es384' | 'es512' | 'ps256' | 'ps384' | 'ps512' | 'ed25519';
const ALGORITHMS: SigningAlgorithm[] = ['es256', 'es384', 'es512', 'ps256', 'ps384', 'ps512', 'ed25519'];

export interface SigningIdentity {
  /** PEM: the signing certificate first, then any chain. */
  certificate: Buffer;
  /** PEM (PKCS#8). */
  privateKey: Buffer;
  algorithm: SigningAlgorithm;
  /** 'installation' (created here) or the signer.json it came from. */
  source: string;
  /** Subject common name and serial number (decimal) of the signing certificate. */
  commonName: string;
  serialNumber: string;
}

export class SignerConfigError extends Error {
  override name = 'SignerConfigError';
}

function describe(certificate: Buffer): { commonName: string; serialNumber: string } {
  const cert = new X509Certificate(certificate);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? cert.subject;
  // Decimal, as c2pa-rs reports it (signature_info.cert_serial_number).
  return { commonName: cn, serialNumber: BigInt(`0x${cert.serialNumber}`).toString(10) };
}

/** Reads a signer.json; null when there is none. Throws SignerConfigError naming what is wrong. */
export function readSignerConfig(file: string): SigningIdentity | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SignerConfigError(`${file}: ${(err as Error).message}`);
  }
  let json: { certificate?: unknown; privateKey?: unknown; algorithm?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new SignerConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json.certificate !== 'string' || typeof json.privateKey !== 'string') {
    throw new SignerConfigError(`${file} needs "certificate" and "privateKey" (paths to PEM files)`);
  }
  const algorithm = (json.algorithm ?? 'es256') as SigningAlgorithm;
  if (!ALGORITHMS.includes(algorithm)) throw new SignerConfigError(`${file}: "algorithm" must be one of ${ALGORITHMS.join(', ')}`);
  const base = path.dirname(file);
  const read = (p: string, what: string) => {
    try {
      return fs.readFileSync(path.resolve(base, p));
    } catch (err) {
      throw new SignerConfigError(`${file}: cannot read the ${what} ${p}: ${(err as Error).message}`);
    }
  };
  const certificate = read(json.certificate, 'certificate');
  const privateKey = read(json.privateKey, 'private key');
  let described: { commonName: string; serialNumber: string };
  try {
    described = describe(certificate);
  } catch (err) {
    throw new SignerConfigError(`${file}: the certificate is not a PEM X.509 certificate (${(err as Error).message})`);
  }
  return { certificate, privateKey, algorithm, source: file, ...described };
}

function installationDir(userDataDir: string): string {
  return path.join(userDataDir, PROVENANCE_DIR, INSTALLATION_DIR);
}

function readInstallation(dir: string): SigningIdentity | null {
  try {
    const certificate = fs.readFileSync(path.join(dir, CERT_FILE));
    const privateKey = fs.readFileSync(path.join(dir, KEY_FILE));
    return { certificate, privateKey, algorithm: 'es256', source: 'installation', ...describe(certificate) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * The installation's key and certificate, created on first call. Creation writes both files into a
 * private temporary folder and renames it into place, so two processes starting together (the
 * studio and the CLI) end up sharing one identity and nobody ever reads half a key.
 */
export function installationIdentity(userDataDir: string): SigningIdentity {
  const dir = installationDir(userDataDir);
  const existing = readInstallation(dir);
  if (existing) return existing;
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  const temp = path.join(parent, `.tmp-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(temp, { mode: 0o700 });
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = createHash('sha256').update(privateKey.export({ type: 'pkcs8', format: 'der' })).digest('hex').slice(0, 12);
    const cert = selfSignedCertificate({ privateKey, commonName: `Atelier installation ${id}`, organization: 'Atelier (local installation, self-signed)' });
    fs.writeFileSync(path.join(temp, KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(path.join(temp, CERT_FILE), cert, { mode: 0o644 });
    try {
      fs.renameSync(temp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw err;
      // Another process won the race: use its identity.
    }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
  const made = readInstallation(dir);
  if (!made) throw new Error(`could not create the signing key in ${dir}`);
  return made;
}

/** The identity that signs for a project: its signer.json, else the global one, else the installation's. */
export function signingIdentity(userDataDir: string, projectDir?: string): SigningIdentity {
  if (projectDir) {
    const own = readSignerConfig(path.join(projectDir, SIGNER_CONFIG));
    if (own) return own;
  }
  return readSignerConfig(path.join(userDataDir, PROVENANCE_DIR, SIGNER_CONFIG)) ?? installationIdentity(userDataDir);
}
