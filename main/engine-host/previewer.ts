/**
 * Turns the denoise loop's preview latents (the predicted x0) into preview images inside the
 * engine worker: TAESD when one is set, else the linear latent→RGB approximation.
 *
 * Why TAESD does not stall the loop more than its own run: `onStep` is synchronous, so the decode
 * is started and not awaited. onnxruntime-node queues each run with setImmediate, and the decode's
 * run is queued before the next UNet call's, so it executes between the two steps — the preview of
 * step k is posted while step k+1 runs (at most one step behind). Only one decode is in flight; a
 * step that comes while one is running gets no preview (a newer x0 arrives with the next step).
 *
 * Cost, measured on this project's 2-core shared CPU with a real-size TAESD decoder (random weights,
 * `make_taesd_fixture.py --full`, 4.9 MB like deinferno/taesd-onnx): 4–17 ms per preview at 64²,
 * 270–510 ms at 256², 820–900 ms at 512² — while one CFG UNet step of the sd15-compute bench fixture
 * (¼ of SD1.5's compute) takes 750–940 ms at 256². Hence the 'auto' budget below; on a GPU the
 * decode is a few ms and every throttled step previews.
 */
import { latentsToPreviewRgb, type PreviewCoefficients, type PreviewImage } from '../engine';
import type { TaesdDecoder } from '../engine';

/** Host-side event throttle: previews beyond ~7/s only queue up behind the UI. */
export const PREVIEW_INTERVAL_MS = 150;
/** 'auto' budget: TAESD decodes take at most 1/(1+3) of the worker's wall time. */
const AUTO_BUDGET_GAP = 3;

export interface PreviewStep {
  step: number;
  total: number;
  latentShape: number[];
  previewLatents?: Float32Array;
}

export interface PreviewerOptions {
  family: string;
  /**
   * The approximation's latent → RGB map: the model's own (`modelPreviewCoefficients(model)`: its
   * vae_decoder/config.json `latent_rgb_factors`, e.g. the demo model's) — else `family`'s default.
   */
  coefficients?: PreviewCoefficients;
  taesd: TaesdDecoder | null;
  budget: 'auto' | 'always';
  post(p: { step: number; image: PreviewImage; source: 'taesd' | 'approx'; decodeMs: number }): void;
  /** A failing TAESD decode is reported once; previews continue with the approximation. */
  onTaesdError?(err: unknown): void;
  now?: () => number;
}

export interface Previewer {
  onStep(p: PreviewStep): void;
  /** Resolves once the decode in flight (if any) has posted; call before posting the result. */
  flush(): Promise<void>;
}

export function createPreviewer(opts: PreviewerOptions): Previewer {
  const now = opts.now ?? (() => performance.now());
  let taesd = opts.taesd;
  let lastPreviewAt = -Infinity;
  let nextTaesdAt = -Infinity;
  let inflight: Promise<void> | null = null;

  const approx = (p: PreviewStep, latents: Float32Array) => {
    const t0 = now();
    const image = latentsToPreviewRgb(latents, p.latentShape, opts.coefficients ?? opts.family);
    opts.post({ step: p.step, image, source: 'approx', decodeMs: now() - t0 });
  };

  return {
    onStep(p) {
      const latents = p.previewLatents;
      if (!latents) return;
      const t = now();
      const last = p.step === p.total;
      if (!last && t - lastPreviewAt < PREVIEW_INTERVAL_MS) return;
      if (!taesd) {
        lastPreviewAt = t;
        approx(p, latents);
        return;
      }
      if (inflight || (!last && opts.budget === 'auto' && t < nextTaesdAt)) return;
      lastPreviewAt = t;
      const decoder = taesd;
      inflight = decoder
        .decode(latents, p.latentShape)
        .then((image) => {
          const decodeMs = now() - t;
          opts.post({ step: p.step, image, source: 'taesd', decodeMs });
          nextTaesdAt = now() + AUTO_BUDGET_GAP * decodeMs;
        })
        .catch((err) => {
          taesd = null;
          opts.onTaesdError?.(err);
          approx(p, latents);
        })
        .finally(() => {
          inflight = null;
        });
    },
    async flush() {
      while (inflight) await inflight;
    },
  };
}
