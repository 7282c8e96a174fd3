/** settings.json in the user data folder: validated on read (bad/missing fields fall back to defaults). */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Settings } from '../../common/api/schemas';

export const DEMO_MODEL_ID = 'atelier-demo';

export function defaultSettings(userDataDir: string): Settings {
  return {
    provider: 'auto',
    modelsDir: join(userDataDir, 'models'),
    defaultModelId: DEMO_MODEL_ID,
    previewEvery: 1,
    lowMemory: false,
    previewDecoder: 'auto',
    gpuDeviceId: 0,
  };
}

export class SettingsStore {
  private current: Settings;
  constructor(
    private readonly file: string,
    userDataDir: string,
  ) {
    const defaults = defaultSettings(userDataDir);
    let stored: Record<string, unknown> = {};
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      /* first run or unreadable: defaults */
    }
    const merged: Record<string, unknown> = { ...defaults };
    for (const [key, value] of Object.entries(stored)) {
      const field = Settings.shape[key as keyof Settings];
      if (field && field.safeParse(value).success) merged[key] = value;
    }
    this.current = Settings.parse(merged);
  }

  get(): Settings {
    return { ...this.current };
  }

  update(patch: Partial<Settings>): Settings {
    this.current = Settings.parse({ ...this.current, ...patch });
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.current, null, 2));
    renameSync(tmp, this.file);
    return this.get();
  }
}
