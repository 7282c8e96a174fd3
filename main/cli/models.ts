/** `atelier models …`: delegates to the model manager's CLI with the app's folders and validator. */
import { join } from 'node:path';
import { appRoot, bundledDemoModelDir, defaultUserDataDir } from '../app/paths';
import { SettingsStore } from '../app/settings-store';
import { autoProvider, doctorModel, inspectModel, parseProviderChoice } from '../engine';
import { runModelsCommand } from '../models/cli';
import type { CliIo } from './generate';

export async function runModels(args: string[], io: CliIo): Promise<number> {
  const userDataDir = defaultUserDataDir();
  const settings = new SettingsStore(join(userDataDir, 'settings.json'), userDataDir).get();
  return runModelsCommand(args, { stdout: io.stdout, stderr: io.stderr, isTTY: Boolean(io.stderr.isTTY) }, {
    modelsDir: settings.modelsDir,
    demoModelDir: bundledDemoModelDir(appRoot()),
    catalogPath: join(appRoot(), 'models', 'catalog.json'),
    endpoint: process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
    validate: async (folder: string) => {
      await inspectModel(folder);
    },
    provider: () => (settings.provider === 'auto' ? autoProvider() : settings.provider),
    doctor: (folder, o) => doctorModel(folder, { ...o, provider: parseProviderChoice(o.provider ?? (settings.provider === 'auto' ? undefined : settings.provider)) }),
  });
}
