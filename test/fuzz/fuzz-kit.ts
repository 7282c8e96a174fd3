/**
 * The fuzz suites' small kit: a seeded PRNG (mulberry32), byte and string mutators, and a time
 * budget. Every suite is deterministic for a seed: ATELIER_FUZZ_SEED picks another one (a failure
 * message always names the seed and case), ATELIER_FUZZ_SCALE multiplies the number of cases (and the
 * time budgets). ATELIER_FUZZ_TRACE=<file> makes the API payload suite append each call before it is
 * made, to find a call that hangs the process.
 */
export const FUZZ_SEED = Number(process.env.ATELIER_FUZZ_SEED ?? 0x5eed15) >>> 0;
export const FUZZ_SCALE = Math.max(0.05, Number(process.env.ATELIER_FUZZ_SCALE ?? 1));

export function cases(n: number): number {
  return Math.max(1, Math.round(n * FUZZ_SCALE));
}

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** [0, 1) */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** A string of `n` characters drawn from `alphabet` (an array of tokens, each possibly several characters). */
  stringFrom(alphabet: readonly string[], n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(alphabet);
    return s;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** Interesting byte values: boundaries that flip lengths, signs and flags. */
const MAGIC_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x0d, 0x22, 0x5c];
const MAGIC_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0x10000, 65535];

/** One random structural mutation of `input` (never grows it beyond `input.length + 4096`). */
export function mutateBytes(rng: Rng, input: Uint8Array, focus?: { start: number; end: number }): Uint8Array {
  const b = new Uint8Array(input);
  const lo = focus ? Math.max(0, focus.start) : 0;
  const hi = focus ? Math.min(b.length, focus.end) : b.length;
  const at = () => (hi > lo ? rng.int(lo, hi - 1) : 0);
  switch (rng.int(0, 8)) {
    case 0: {
      // bit flips
      for (let i = rng.int(1, 8); i > 0 && b.length; i--) b[at()] ^= 1 << rng.int(0, 7);
      return b;
    }
    case 1: {
      for (let i = rng.int(1, 4); i > 0 && b.length; i--) b[at()] = rng.pick(MAGIC_BYTES);
      return b;
    }
    case 2: {
      // a big-endian u32 (PNG lengths, JPEG/RIFF sizes are nearby) set to a boundary value
      if (b.length < 4) return b;
      const i = Math.min(at(), b.length - 4);
      new DataView(b.buffer, b.byteOffset).setUint32(i, rng.pick(MAGIC_U32), rng.bool());
      return b;
    }
    case 3:
      return b.slice(0, rng.int(0, b.length)); // truncation
    case 4: {
      const i = at();
      const n = rng.int(1, Math.min(64, b.length - i));
      return concat(b.slice(0, i), b.slice(i + n)); // deletion
    }
    case 5: {
      const i = at();
      return concat(b.slice(0, i), rng.bytes(rng.int(1, 64)), b.slice(i)); // insertion
    }
    case 6: {
      // duplicate a block (a repeated chunk / segment)
      const i = at();
      const n = rng.int(1, Math.min(512, b.length - i));
      return concat(b.slice(0, i + n), b.slice(i, i + n), b.slice(i + n));
    }
    case 7: {
      for (let i = rng.int(1, 16); i > 0 && b.length; i--) b[at()] = rng.int(0, 255);
      return b;
    }
    default:
      return concat(b, rng.bytes(rng.int(0, 4096))); // trailing garbage
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Several mutations in a row (1..max). */
export function mutateBytesN(rng: Rng, input: Uint8Array, max = 3, focus?: { start: number; end: number }): Uint8Array {
  let b = input;
  for (let i = rng.int(1, max); i > 0; i--) b = mutateBytes(rng, b, focus);
  return b;
}

/** A random edit of a string: insert, delete, replace or duplicate a slice, with tokens from `alphabet`. */
export function mutateString(rng: Rng, s: string, alphabet: readonly string[]): string {
  const i = rng.int(0, s.length);
  switch (rng.int(0, 4)) {
    case 0:
      return s.slice(0, i) + rng.stringFrom(alphabet, rng.int(1, 8)) + s.slice(i);
    case 1:
      return s.slice(0, i) + s.slice(Math.min(s.length, i + rng.int(1, 16)));
    case 2: {
      const j = Math.min(s.length, i + rng.int(1, 32));
      return s.slice(0, i) + s.slice(i, j) + s.slice(i, j) + s.slice(j);
    }
    case 3:
      return s.slice(0, i) + rng.stringFrom(alphabet, 1) + s.slice(i + 1);
    default:
      return s.slice(0, i);
  }
}

/** Runs `fn` and fails (instead of hanging) when it does not settle within `ms`. */
export async function within<T>(ms: number, what: string, fn: () => Promise<T> | T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([Promise.resolve().then(fn), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (hang?)`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a loop when its share of the suite's wall-clock budget is spent (slow machines get fewer cases, never a timeout). */
export function budget(ms: number): () => boolean {
  const until = Date.now() + ms * FUZZ_SCALE;
  return () => Date.now() < until;
}
