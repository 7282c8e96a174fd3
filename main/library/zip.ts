/**
 * Minimal store-only ZIP writer for exports (PNG/JPEG/WebP are already compressed, so
 * "stored" entries cost nothing in size and keep this dependency-free). No ZIP64: refuses
 * archives over 4 GiB or 65,535 entries with a message saying to export to a folder.
 */
import fs from 'node:fs';
import { crc32 } from 'node:zlib';

interface Entry {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

const LIMIT = 0xffffffff;

export class ZipWriter {
  private readonly fd: number;
  private offset = 0;
  private readonly entries: Entry[] = [];
  private readonly dosTime: number;
  private readonly dosDate: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
    const d = new Date();
    this.dosTime = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
    this.dosDate = ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  }

  private write(b: Uint8Array): void {
    fs.writeSync(this.fd, b);
    this.offset += b.length;
  }

  add(name: string, data: Uint8Array): void {
    if (this.entries.length >= 0xffff) throw new Error('zip export limited to 65,535 files; export to a folder instead');
    if (this.offset + data.length + 1024 > LIMIT) throw new Error('zip export limited to 4 GiB; export to a folder instead');
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data) >>> 0;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4); // version needed
    h.writeUInt16LE(0x0800, 6); // UTF-8 names
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(this.dosTime, 10);
    h.writeUInt16LE(this.dosDate, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(data.length, 18);
    h.writeUInt32LE(data.length, 22);
    h.writeUInt16LE(nameBytes.length, 26);
    h.writeUInt16LE(0, 28);
    this.entries.push({ name: nameBytes, crc, size: data.length, offset: this.offset });
    this.write(h);
    this.write(nameBytes);
    this.write(data);
  }

  close(): void {
    const start = this.offset;
    for (const e of this.entries) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(20, 4);
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(this.dosTime, 12);
      c.writeUInt16LE(this.dosDate, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(e.size, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt32LE(e.offset, 42);
      this.write(c);
      this.write(e.name);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    this.write(end);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }

  abort(): void {
    try {
      fs.closeSync(this.fd);
    } finally {
      fs.rmSync(this.file, { force: true });
    }
  }
}
