/** The system slice of the API: what this installation is and runs on, and its settings. */
import type { AtelierApi, GpuProbeReport } from '../../common/api/contract';
import { GPU_PROBE_COUNT } from '../../common/api/schemas';
import { isExecutionProviderName } from '../../common/providers';
import { listExecutionProviders, providerLooksUsable } from '../engine';
import type { Runtime } from './runtime';
import { APP_VERSION } from './runtime';

export type SystemApi = Pick<AtelierApi, 'getSystemInfo' | 'getSettings' | 'updateSettings' | 'probeGpuDevices'>;

export function createSystemApi(runtime: Runtime, info: { transport: 'ipc' | 'websocket' | 'in-process'; userDataDir: string }): SystemApi {
  const { settings, models, generation, engine } = runtime;
  return {
    async getSystemInfo() {
      return {
        appVersion: APP_VERSION,
        platform: process.platform,
        arch: process.arch,
        executionProviders: listExecutionProviders(),
        transport: info.transport,
        userDataDir: info.userDataDir,
        loadedModel: generation.loadedModel,
      };
    },
    async getSettings() {
      return settings.get();
    },
    async updateSettings(req) {
      if (req.defaultModelId) await models.resolve(req.defaultModelId);
      return settings.update(req);
    },
    async probeGpuDevices(req) {
      return probeGpus(req?.provider ?? settings.get().provider, (p) => engine.probeGpuDevices(p, GPU_PROBE_COUNT));
    },
  };
}

/**
 * The GPU probe for a provider choice: 'auto' means the first CUDA/DirectML provider this build
 * reports. A provider that cannot run here is answered at once, without starting the engine;
 * otherwise `tryIndices` (the engine process) creates a tiny session on each index.
 */
export async function probeGpus(choice: string, tryIndices: (provider: 'cuda' | 'dml') => Promise<GpuProbeReport>): Promise<GpuProbeReport> {
  const reported = listExecutionProviders().map((p) => p.name);
  const provider = choice === 'auto' ? (reported.find((p) => p === 'cuda' || p === 'dml') ?? 'auto') : choice;
  if (provider === 'auto') {
    return { provider, available: false, reason: `neither CUDA nor DirectML is available in this ONNX Runtime build (it reports ${reported.join(', ') || 'nothing'}): there is no GPU to choose`, devices: [] };
  }
  if (provider !== 'cuda' && provider !== 'dml') {
    return { provider, available: false, reason: `${provider} chooses its device itself; a GPU index applies to CUDA and DirectML only`, devices: [] };
  }
  const usable = isExecutionProviderName(provider) ? providerLooksUsable(provider) : { ok: false, reason: 'unknown provider' };
  if (!usable.ok) return { provider, available: false, reason: `${provider} is not available here: ${usable.reason}`, devices: [] };
  return tryIndices(provider);
}
