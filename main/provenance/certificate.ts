/**
 * A self-signed X.509 v3 certificate for a P-256 key, written with a few lines of DER so that
 * every platform (Electron's Node included) can make one without OpenSSL's command line.
 *
 * The profile is what C2PA signers need (checked by c2pa-rs when it signs and reads): ECDSA
 * with SHA-256, keyUsage digitalSignature (critical), extendedKeyUsage emailProtection +
 * documentSigning, basicConstraints cA=false, subject/authority key identifiers.
 */
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  documentSigning: '1.3.6.1.5.5.7.3.36',
};

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function integer(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1] < 0x80) i++;
  const body = Buffer.from(b.subarray(i));
  return tlv(0x02, body[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

export interface CertificateOptions {
  privateKey: KeyObject;
  commonName: string;
  organization: string;
  /** Validity in days from now (default ten years). */
  days?: number;
  now?: Date;
}

/** A PEM certificate for `privateKey`'s P-256 key, signed by that key. */
export function selfSignedCertificate(opts: CertificateOptions): string {
  const spki = createPublicKey(opts.privateKey).export({ type: 'spki', format: 'der' });
  // SubjectPublicKeyInfo is SEQUENCE { algorithm, BIT STRING key }: the key id hashes the key bits.
  const keyBits = spki.subarray(spki.length - 65);
  const keyId = createHash('sha1').update(keyBits).digest();
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 3650) * 24 * 60 * 60 * 1000);
  const name = seq(set(seq(oid(OID.commonName), utf8(opts.commonName))), set(seq(oid(OID.organization), utf8(opts.organization))));
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // positive
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const extensions = seq(
    extension(OID.basicConstraints, true, seq()),
    extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7)), // digitalSignature
    extension(OID.extKeyUsage, false, seq(oid(OID.emailProtection), oid(OID.documentSigning))),
    extension(OID.subjectKeyId, false, octets(keyId)),
    extension(OID.authorityKeyId, false, seq(tlv(0x80, keyId))),
  );
  const tbs = seq(explicit(0, integer(Buffer.from([2]))), integer(serial), algorithm, name, seq(time(notBefore), time(notAfter)), name, spki, explicit(3, extensions));
  const signature = sign('sha256', tbs, { key: opts.privateKey, dsaEncoding: 'der' });
  const der = seq(tbs, algorithm, bits(signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
