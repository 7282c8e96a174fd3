/**
 * Just enough JPEG / WebP / TIFF-EXIF parsing to pull generation text out of
 * EXIF UserComment, ImageDescription and XMP. Every offset is bounds-checked; malformed
 * input yields warnings, never exceptions.
 */

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

export function isWebp(b: Uint8Array): boolean {
  return b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP';
}

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len && i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

const EXIF_HEADER = 'Exif\0\0';
const XMP_HEADER = 'http://ns.adobe.com/xap/1.0/\0';

export interface ContainerText {
  exif?: Uint8Array;
  xmp?: string;
}

/** Walks JPEG marker segments up to SOS looking for APP1 Exif / XMP. */
export function findInJpeg(b: Uint8Array, warnings: string[]): ContainerText {
  const out: ContainerText = {};
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) {
      warnings.push(`JPEG corrupt: expected a marker at byte ${at}`);
      break;
    }
    const marker = b[at + 1];
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // EOI / start of scan: no more metadata
    if (marker >= 0xd0 && marker <= 0xd7) {
      at += 2;
      continue;
    }
    const len = (b[at + 2] << 8) | b[at + 3];
    if (len < 2 || at + 2 + len > b.length) {
      warnings.push(`JPEG truncated: segment at byte ${at} runs past the end`);
      break;
    }
    const seg = b.subarray(at + 4, at + 2 + len);
    if (marker === 0xe1) {
      if (ascii(seg, 0, EXIF_HEADER.length) === EXIF_HEADER && !out.exif) out.exif = seg.subarray(EXIF_HEADER.length);
      else if (ascii(seg, 0, XMP_HEADER.length) === XMP_HEADER && out.xmp === undefined) {
        out.xmp = Buffer.from(seg.subarray(XMP_HEADER.length)).toString('utf8');
      }
    }
    at += 2 + len;
  }
  return out;
}

/** Walks RIFF chunks of a WebP file looking for EXIF and XMP. */
export function findInWebp(b: Uint8Array, warnings: string[]): ContainerText {
  const out: ContainerText = {};
  let at = 12;
  while (at + 8 <= b.length) {
    const type = ascii(b, at, 4);
    const len = (b[at + 4] | (b[at + 5] << 8) | (b[at + 6] << 16) | (b[at + 7] << 24)) >>> 0;
    if (len > b.length - at - 8) {
      warnings.push(`WebP truncated: chunk ${JSON.stringify(type)} runs past the end`);
      break;
    }
    const data = b.subarray(at + 8, at + 8 + len);
    if (type === 'EXIF' && !out.exif) {
      out.exif = ascii(data, 0, EXIF_HEADER.length) === EXIF_HEADER ? data.subarray(EXIF_HEADER.length) : data;
    } else if (type === 'XMP ' && out.xmp === undefined) {
      out.xmp = Buffer.from(data).toString('utf8');
    }
    at += 8 + len + (len & 1);
  }
  return out;
}

export interface ExifText {
  userComment?: string;
  imageDescription?: string;
}

const TAG_IMAGE_DESCRIPTION = 0x010e;
const TAG_EXIF_IFD = 0x8769;
const TAG_USER_COMMENT = 0x9286;
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

/** Parses a TIFF-structured EXIF block for UserComment and ImageDescription. */
export function readExifText(tiff: Uint8Array, warnings: string[]): ExifText {
  const out: ExifText = {};
  if (tiff.length < 8) {
    warnings.push('EXIF block too short');
    return out;
  }
  const order = ascii(tiff, 0, 2);
  if (order !== 'II' && order !== 'MM') {
    warnings.push('EXIF block has no TIFF byte-order mark');
    return out;
  }
  const le = order === 'II';
  const u16 = (at: number) => (le ? tiff[at] | (tiff[at + 1] << 8) : (tiff[at] << 8) | tiff[at + 1]);
  const u32 = (at: number) =>
    (le ? tiff[at] | (tiff[at + 1] << 8) | (tiff[at + 2] << 16) | (tiff[at + 3] << 24) : (tiff[at] << 24) | (tiff[at + 1] << 16) | (tiff[at + 2] << 8) | tiff[at + 3]) >>> 0;

  const visited = new Set<number>();
  const readIfd = (offset: number, depth: number) => {
    if (depth > 4 || visited.has(offset)) return;
    visited.add(offset);
    if (offset + 2 > tiff.length) {
      warnings.push('EXIF IFD offset out of range');
      return;
    }
    const count = u16(offset);
    for (let i = 0; i < count; i++) {
      const entry = offset + 2 + i * 12;
      if (entry + 12 > tiff.length) {
        warnings.push('EXIF IFD truncated');
        return;
      }
      const tag = u16(entry);
      const type = u16(entry + 2);
      const n = u32(entry + 4);
      const size = (TYPE_SIZES[type] ?? 0) * n;
      const valueAt = size <= 4 ? entry + 8 : u32(entry + 8);
      const inRange = size > 0 && valueAt + size <= tiff.length;
      if (tag === TAG_EXIF_IFD) {
        readIfd(u32(entry + 8), depth + 1);
      } else if (tag === TAG_USER_COMMENT || tag === TAG_IMAGE_DESCRIPTION) {
        if (!inRange) {
          warnings.push(`EXIF tag 0x${tag.toString(16)} points outside the block`);
          continue;
        }
        const value = tiff.subarray(valueAt, valueAt + size);
        if (tag === TAG_USER_COMMENT) out.userComment = decodeUserComment(value);
        else out.imageDescription = Buffer.from(value).toString('utf8').replace(/\0+$/, '');
      }
    }
  };
  readIfd(u32(4), 0);
  return out;
}

/** UserComment = 8-byte charset id + text ("UNICODE\0" is UTF-16, big-endian per piexif). */
export function decodeUserComment(value: Uint8Array): string {
  const prefix = ascii(value, 0, 8);
  const body = value.subarray(Math.min(8, value.length));
  if (prefix.startsWith('UNICODE')) {
    // piexif (used by A1111) writes UTF-16BE; some tools write LE. Guess from the first unit.
    const bigEndian = body.length >= 2 ? body[0] === 0 && body[1] !== 0 : true;
    const units: number[] = [];
    for (let i = 0; i + 1 < body.length; i += 2) units.push(bigEndian ? (body[i] << 8) | body[i + 1] : body[i] | (body[i + 1] << 8));
    let s = '';
    for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode(...units.slice(i, i + 8192));
    return s.replace(/\0+$/, '');
  }
  if (prefix.startsWith('ASCII') || prefix === '\0\0\0\0\0\0\0\0') return Buffer.from(body).toString('utf8').replace(/\0+$/, '');
  return Buffer.from(value).toString('utf8').replace(/\0+$/, '');
}

// ---------------------------------------------------------------------------------------
// Writing: exported JPEG/WebP carry the A1111 infotext in EXIF UserComment (UTF-16, the way
// A1111/piexif write it, so non-ASCII survives — libvips would write it as ASCII) and both
// the infotext and our JSON in XMP.

/** A big-endian TIFF block: IFD0 -> Exif IFD -> UserComment ("UNICODE\0" + UTF-16BE). */
export function buildExifUserComment(text: string): Buffer {
  const utf16 = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) utf16.writeUInt16BE(text.charCodeAt(i), i * 2);
  const comment = Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), utf16]);
  const ifd0 = 8;
  const exifIfd = ifd0 + 2 + 12 + 4;
  const valueAt = exifIfd + 2 + 12 + 4;
  const t = Buffer.alloc(valueAt + comment.length);
  t.write('MM', 0, 'latin1');
  t.writeUInt16BE(42, 2);
  t.writeUInt32BE(ifd0, 4);
  t.writeUInt16BE(1, ifd0); // one entry: pointer to the Exif IFD
  t.writeUInt16BE(TAG_EXIF_IFD, ifd0 + 2);
  t.writeUInt16BE(4, ifd0 + 4);
  t.writeUInt32BE(1, ifd0 + 6);
  t.writeUInt32BE(exifIfd, ifd0 + 10);
  t.writeUInt16BE(1, exifIfd);
  t.writeUInt16BE(TAG_USER_COMMENT, exifIfd + 2);
  t.writeUInt16BE(7, exifIfd + 4); // UNDEFINED
  t.writeUInt32BE(comment.length, exifIfd + 6);
  t.writeUInt32BE(valueAt, exifIfd + 10);
  comment.copy(t, valueAt);
  return t;
}

/** Inserts an APP1 Exif segment right after SOI. */
export function insertJpegExif(jpeg: Uint8Array, tiff: Uint8Array): Buffer {
  if (!isJpeg(jpeg)) throw new Error('insertJpegExif: not a JPEG');
  const payload = Buffer.concat([Buffer.from(EXIF_HEADER, 'latin1'), tiff]);
  if (payload.length + 2 > 0xffff) throw new Error('EXIF block too large for one JPEG segment (64 KiB); the text is kept in XMP only');
  const header = Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

/** Adds an EXIF chunk to an extended (VP8X) WebP, before XMP as the container spec orders them. */
export function insertWebpExif(webp: Uint8Array, tiff: Uint8Array): Buffer {
  if (!isWebp(webp) || ascii(webp, 12, 4) !== 'VP8X') throw new Error('insertWebpExif: needs an extended (VP8X) WebP — encode it with XMP first');
  const chunk = Buffer.alloc(8 + tiff.length + (tiff.length & 1));
  chunk.write('EXIF', 0, 'latin1');
  chunk.writeUInt32LE(tiff.length, 4);
  Buffer.from(tiff).copy(chunk, 8);
  // find the XMP chunk (or the end)
  let at = 12;
  let insertAt = webp.length;
  while (at + 8 <= webp.length) {
    const type = ascii(webp, at, 4);
    const len = (webp[at + 4] | (webp[at + 5] << 8) | (webp[at + 6] << 16) | (webp[at + 7] << 24)) >>> 0;
    if (type === 'EXIF') throw new Error('insertWebpExif: file already has EXIF');
    if (type === 'XMP ') {
      insertAt = at;
      break;
    }
    at += 8 + len + (len & 1);
  }
  const out = Buffer.concat([webp.subarray(0, insertAt), chunk, webp.subarray(insertAt)]);
  out[20] |= 0x08; // VP8X flags: EXIF present
  out.writeUInt32LE(out.length - 8, 4); // RIFF size
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** XMP packet: dc:description = infotext, atelier:document = our JSON. */
export function buildXmp(infotext: string, atelierJson: string): string {
  return (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atelier="https://atelier.local/ns/1.0/">' +
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(infotext)}</rdf:li></rdf:Alt></dc:description>` +
    `<atelier:document>${escapeXml(atelierJson)}</atelier:document>` +
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
  );
}
