/**
 * ULID-style ids: 48-bit millisecond timestamp + 80 random bits in Crockford base32
 * (26 chars). They sort lexicographically by creation time and stay unique across
 * machines, so projects can be merged or exported without renumbering. Monotonic within
 * one process: ids created in the same millisecond increment the random part.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  let t = Math.floor(ms);
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function freshRandom(): number[] {
  const bytes = randomBytes(16);
  return Array.from({ length: 16 }, (_, i) => bytes[i] & 31);
}

function increment(digits: number[]): number[] {
  const next = digits.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 31) {
      next[i]++;
      return next;
    }
    next[i] = 0;
  }
  return freshRandom(); // overflow after 2^80 ids in one ms: practically unreachable
}

export function ulid(timeMs: number = Date.now()): string {
  if (!Number.isFinite(timeMs) || timeMs < 0 || timeMs > 2 ** 48 - 1) throw new RangeError(`ulid: time ${timeMs} out of range`);
  if (timeMs === lastTime) lastRandom = increment(lastRandom);
  else {
    lastTime = timeMs;
    lastRandom = freshRandom();
  }
  return encodeTime(timeMs) + lastRandom.map((d) => ALPHABET[d]).join('');
}

export function isUlid(s: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(s);
}
