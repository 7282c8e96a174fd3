/** `atelier worker --farm redis://…`: this machine joins a render farm as a worker (main/farm/worker.ts). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultUserDataDir } from '../app/paths';
import { createRuntime } from '../app/runtime';
import { FarmWorker, parseFarmUrl } from '../farm';

export const WORKER_USAGE = `atelier worker --farm redis://[:PASSWORD@]HOST[:6379][/DB] [--name N] [--provider P] [--models DIR] [--home DIR]
  --farm      the studio's Redis (rediss:// for TLS); the same URL as \`atelier serve --farm\`
  --name      name shown in the studio's Farm panel (default: hostname-pid)
  --provider  execution provider: auto, cpu, cuda, directml, coreml, webgpu (default: settings, normally auto)
  --models    models folder to serve from (default: the data folder's; the bundled demo model is always there)
  --home      data folder (default: the platform's app data folder, or $ATELIER_HOME)
  The worker never writes a library: it returns images to the coordinator, which saves them.
  $ATELIER_FARM_LOCK_MS (default 30000) bounds how long a killed worker's job waits before another takes it.`;

export async function runWorker(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      farm: { type: 'string' },
      name: { type: 'string' },
      provider: { type: 'string' },
      models: { type: 'string' },
      home: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(WORKER_USAGE);
    return 0;
  }
  if (!values.farm) throw new Error(`--farm is required: the coordinator's Redis URL.\n\n${WORKER_USAGE}`);
  const farm = parseFarmUrl(values.farm);
  const lockEnv = Number(process.env.ATELIER_FARM_LOCK_MS);
  const lockDurationMs = Number.isFinite(lockEnv) && lockEnv >= 500 ? lockEnv : undefined;
  const runtime = createRuntime({ userDataDir: values.home ?? defaultUserDataDir() });
  if (values.models) {
    // For this process only: a worker must not rewrite the studio's settings on the same machine.
    const modelsDir = resolve(values.models);
    const get = runtime.settings.get.bind(runtime.settings);
    runtime.settings.get = () => ({ ...get(), modelsDir });
  }
  let worker: FarmWorker;
  try {
    worker = await FarmWorker.start({ farm, runtime, ...(values.name ? { name: values.name } : {}), ...(values.provider ? { provider: values.provider } : {}), ...(lockDurationMs ? { lockDurationMs } : {}) });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  console.log(`Atelier farm worker ${worker.name} joined ${farm.display}`);
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: finishing the running job and leaving the farm…`);
      worker
        .close()
        .then(() => runtime.close())
        .catch((err) => console.error(err))
        .finally(() => {
          // Closed what it could; a reconnect timer to a Redis that is gone must not keep the process alive.
          setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
          done();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
