/**
 * What several benchmarks share: timers, a realistic test image and the machine line printed above
 * every table. Pure helpers, no I/O beyond reading the clock and `os`.
 */
import os from 'node:os';

/** Milliseconds since `t0` (from `process.hrtime.bigint()`). */
export const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** CPU time of the whole process (every thread: sharp's encoder, native libraries) in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const fmt = (n: number): string => n.toFixed(2);

/** Median (the mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Gradient + low noise: compresses like a rendered picture (a 1024² one is ~3 MB raw, ~1–3 MB PNG).
 * `gradient`: pixels per colour step (2 for the library bench's images, 4 for the provenance bench's).
 */
export function realisticImage(w: number, h: number, s: number, gradient = 2): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(w * h * 3);
  let x0 = s;
  const noise = () => ((x0 = (Math.imul(x0, 1664525) + 1013904223) >>> 0) >>> 27);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      rgb[i] = (x / gradient + noise()) & 255;
      rgb[i + 1] = (y / gradient + noise()) & 255;
      rgb[i + 2] = ((x + y) / (gradient * 2) + s + noise()) & 255;
    }
  }
  return { width: w, height: h, rgb };
}

/** "AMD EPYC (2 logical cores visible; shared with other work), Node v20…, linux 6.…" */
export function machineLine(): string {
  const cpu = os.cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical cores visible; shared with other work), Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** "10.1 / 11.4 / 12.2" */
export const loadAverage = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' / ');
