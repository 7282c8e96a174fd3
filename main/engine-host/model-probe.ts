/**
 * The import check, run inside an engine worker: load the folder the way a generation would (every
 * session created, graph inputs/outputs checked against the pipeline's expectations, tokenizers
 * read), then run every graph once at a tiny size and require finite outputs. Any failure is a
 * ModelLoadError that names the file, so a broken download is refused before it is installed.
 */
import { img2img, loadModel, ModelLoadError, txt2img, type ComponentName, type EngineSession, type EngineTensor, type LoadedModel, type ProviderChoice } from '../engine';

export interface ProbeOptions {
  /** Execution provider choice ('auto', 'cpu', …): the one generations will use. */
  provider: ProviderChoice;
  /** Polled before each UNet call: a host that gave up waiting stops the test run early. */
  isCancelled?: () => boolean;
}

const FILE_OF: Record<ComponentName, string> = {
  text_encoder: 'text_encoder/model.onnx',
  text_encoder_2: 'text_encoder_2/model.onnx',
  unet: 'unet/model.onnx',
  vae_decoder: 'vae_decoder/model.onnx',
  vae_encoder: 'vae_encoder/model.onnx',
};

/** Smallest side that every UNet takes (3 downsamplings of a 64² image's 8² latent); static graphs use their own size. */
const PROBE_SIDE = 64;

export async function probeModelFolder(folder: string, opts: ProbeOptions): Promise<void> {
  // One session at a time, released after use: a validation beside a loaded model stays small.
  const model = await loadModel(folder, { provider: opts.provider, lowMemory: true });
  try {
    await testRun(model, opts.isCancelled);
  } finally {
    await model.release().catch(() => undefined);
  }
}

async function testRun(model: LoadedModel, isCancelled?: () => boolean): Promise<void> {
  let stage: ComponentName | null = null;
  const fileOf = (name: ComponentName) => model.info.components[name]?.model ?? `${model.folder}/${FILE_OF[name]}`;
  const checked: LoadedModel = Object.create(model);
  Object.defineProperty(checked, 'session', {
    value: async (name: ComponentName): Promise<EngineSession> => {
      const session = await model.session(name);
      const proxy: EngineSession = Object.create(session);
      proxy.run = async (feeds) => {
        stage = name;
        let out: Record<string, EngineTensor>;
        try {
          out = await session.run(feeds);
        } catch (err) {
          throw new ModelLoadError({
            file: fileOf(name), code: 'test-run', cause: err,
            problem: `loads, but failed a test run at ${describeFeeds(feeds)}: ${(err as Error)?.message ?? String(err)}`,
            expected: `a ${name} graph that runs on the inputs the pipeline feeds it; re-export or re-download ${FILE_OF[name]}`,
          });
        }
        for (const [output, tensor] of Object.entries(out)) {
          if (!allFinite(tensor)) {
            throw new ModelLoadError({
              file: fileOf(name), code: 'test-run',
              problem: `produced NaN/inf in "${output}" on a test run (${describeFeeds(feeds)})`,
              expected: tensor.type === 'float16'
                ? `finite outputs: the weights are damaged, or the graph overflows in fp16; re-download ${FILE_OF[name]} or use an fp32 export`
                : `finite outputs: the weights are damaged; re-download ${FILE_OF[name]}`,
            });
          }
        }
        stage = null;
        return out;
      };
      return proxy;
    },
  });

  const side = probeSize(model);
  const params = {
    prompt: 'a photo of a red cube on a table',
    negativePrompt: '',
    width: side.width,
    height: side.height,
    steps: 1,
    // The model's own guidance, so the conditioned/unconditioned batch (or LCM's embedding) runs as in use.
    guidanceScale: model.defaults.guidanceScale,
    seed: 1,
    rng: 'cpu' as const,
  };
  try {
    if (model.hasComponent('vae_encoder')) {
      // img2img runs every graph the folder has: text encoder(s), VAE encoder, UNet, VAE decoder.
      const rgb = new Uint8Array(side.width * side.height * 3).fill(128);
      await img2img(checked, { ...params, initImage: { width: side.width, height: side.height, rgb }, strength: 1 }, { isCancelled });
    } else {
      await txt2img(checked, params, { isCancelled });
    }
  } catch (err) {
    if (err instanceof ModelLoadError || (err as Error)?.name === 'CancelledError') throw err;
    // Anything the sessions did not raise themselves: name the graph that was running, else the folder.
    const running = stage as ComponentName | null;
    throw new ModelLoadError({
      file: running ? fileOf(running) : model.folder, code: 'test-run', cause: err,
      problem: `a test generation (${side.width}×${side.height}, 1 step) failed${running ? ` in ${running}` : ''}: ${(err as Error)?.message ?? String(err)}`,
      expected: 'a model folder whose graphs run together as a diffusers ONNX pipeline',
    });
  }
}

/** The UNet's fixed sample size when its graph has one, else the smallest size every UNet takes. */
function probeSize(model: LoadedModel): { width: number; height: number } {
  const sample = model.graphs.unet?.inputs.find((i) => i.name === 'sample');
  const h = sample?.shape[2];
  const w = sample?.shape[3];
  return {
    height: typeof h === 'number' && h > 0 ? h * 8 : PROBE_SIDE,
    width: typeof w === 'number' && w > 0 ? w * 8 : PROBE_SIDE,
  };
}

function allFinite(t: EngineTensor): boolean {
  if (t.type === 'float32') {
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  } else if (t.type === 'float16') {
    // IEEE half: exponent bits all set = inf or NaN.
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) if ((d[i] & 0x7c00) === 0x7c00) return false;
  }
  return true;
}

function describeFeeds(feeds: Record<string, EngineTensor>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name} [${t.dims.join(', ')}]`)
    .join(', ');
}
