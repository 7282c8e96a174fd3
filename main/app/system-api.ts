/** The system slice of the API: what this installation is and runs on, and its settings. */
import type { AtelierApi } from '../../common/api/contract';
import { listExecutionProviders } from '../engine';
import type { Runtime } from './runtime';
import { APP_VERSION } from './runtime';

export type SystemApi = Pick<AtelierApi, 'getSystemInfo' | 'getSettings' | 'updateSettings'>;

export function createSystemApi(runtime: Runtime, info: { transport: 'ipc' | 'websocket' | 'in-process'; userDataDir: string }): SystemApi {
  const { settings, models, generation } = runtime;
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
  };
}
