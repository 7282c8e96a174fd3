/**
 * Worker thread that runs one upscale (choosing the installed upscaler, then every tile):
 * `session.run` blocks its thread for the whole tile (seconds for RRDBNet on a CPU), so it must
 * not run on the thread that serves the API. Started per job by upscale-host.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ProviderChoice, RgbImage, UpscaleFactor } from '../engine';
import { chooseUpscaler, upscaleAll, type InstalledUpscaler } from './upscale-job';

export interface UpscaleWorkerData {
  images: RgbImage[];
  factor: UpscaleFactor;
  candidates: InstalledUpscaler[];
  choice: string | undefined;
  provider: ProviderChoice;
  deviceId?: number;
  /** Int32 flag the host sets to 1 to cancel between tiles. */
  cancel: SharedArrayBuffer;
}

export type UpscaleWorkerMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; images: RgbImage[]; ms: number; label: string; provider: string }
  | { type: 'error'; name: string; message: string; code?: string };

const data = workerData as UpscaleWorkerData;
const port = parentPort!;
const cancelFlag = new Int32Array(data.cancel);

try {
  const chosen = await chooseUpscaler(data.candidates, data.factor, data.choice, { provider: data.provider, ...(data.deviceId !== undefined ? { deviceId: data.deviceId } : {}) });
  const provider = chosen.upscaler?.provider ?? 'cpu';
  const { images, ms } = await upscaleAll(data.images, data.factor, chosen, {
    isCancelled: () => Atomics.load(cancelFlag, 0) === 1,
    onTile: (done, total) => port.postMessage({ type: 'progress', done, total } satisfies UpscaleWorkerMessage),
  });
  port.postMessage({ type: 'done', images, ms, label: chosen.label, provider } satisfies UpscaleWorkerMessage, images.map((i) => i.rgb.buffer as ArrayBuffer));
} catch (err) {
  const e = err as { name?: string; message?: string; code?: unknown };
  port.postMessage({ type: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) } satisfies UpscaleWorkerMessage);
}
