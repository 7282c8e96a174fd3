// ORT-vs-PyTorch parity for the shipped demo model (models/demo).
// models/tools/export_onnx.py writes fixed inputs and the PyTorch outputs for each of the four
// graphs into models/demo/parity/ (raw little-endian arrays + manifest.json). Here onnxruntime-node
// runs each graph on those inputs and the outputs must match within 1e-4.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

const DEMO = join(process.cwd(), 'models', 'demo');
const PARITY = join(DEMO, 'parity');
const TOL = 1e-4;

interface TensorEntry {
  file: string;
  dtype: 'float32' | 'int32';
  shape: number[];
}
interface Manifest {
  checkpoint_step: number;
  tensors: Record<string, TensorEntry>;
}

const manifest = JSON.parse(readFileSync(join(PARITY, 'manifest.json'), 'utf8')) as Manifest;

function load(name: string): ort.Tensor {
  const entry = manifest.tensors[name];
  if (!entry) throw new Error(`parity tensor ${name} missing from manifest`);
  const buf = readFileSync(join(PARITY, entry.file));
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  const data = entry.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
  const expected = entry.shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`${name}: ${data.length} values, shape wants ${expected}`);
  return new ort.Tensor(entry.dtype, data, entry.shape);
}

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  expect(a.dims).toEqual(b.dims);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

async function run(component: string, inputs: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(join(DEMO, component, 'model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
  });
  try {
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

describe('demo model: onnxruntime-node matches PyTorch', () => {
  it('text_encoder', async () => {
    const out = await run('text_encoder', { input_ids: load('text_encoder.input_ids') });
    const hs = maxAbsDiff(out.last_hidden_state as ort.Tensor, load('text_encoder.last_hidden_state'));
    const pooled = maxAbsDiff(out.pooler_output as ort.Tensor, load('text_encoder.pooler_output'));
    expect(hs).toBeLessThanOrEqual(TOL);
    expect(pooled).toBeLessThanOrEqual(TOL);
  });

  it('unet', async () => {
    const out = await run('unet', {
      sample: load('unet.sample'),
      timestep: load('unet.timestep'),
      encoder_hidden_states: load('unet.encoder_hidden_states'),
    });
    expect(maxAbsDiff(out.out_sample as ort.Tensor, load('unet.out_sample'))).toBeLessThanOrEqual(TOL);
  });

  it('unet broadcasts a single timestep over the batch', async () => {
    const t = load('unet.timestep');
    const one = new ort.Tensor('float32', new Float32Array([(t.data as Float32Array)[0]]), [1]);
    const out = await run('unet', {
      sample: load('unet.sample'),
      timestep: one,
      encoder_hidden_states: load('unet.encoder_hidden_states'),
    });
    // the fixture uses the same timestep for both batch items
    expect(maxAbsDiff(out.out_sample as ort.Tensor, load('unet.out_sample'))).toBeLessThanOrEqual(TOL);
  });

  it('vae_decoder', async () => {
    const out = await run('vae_decoder', { latent_sample: load('vae_decoder.latent_sample') });
    expect(maxAbsDiff(out.sample as ort.Tensor, load('vae_decoder.sample'))).toBeLessThanOrEqual(TOL);
  });

  it('vae_encoder', async () => {
    const out = await run('vae_encoder', { sample: load('vae_encoder.sample') });
    expect(maxAbsDiff(out.latent_sample as ort.Tensor, load('vae_encoder.latent_sample'))).toBeLessThanOrEqual(TOL);
  });

  it('graph I/O follows the diffusers ONNX export', async () => {
    const expectIo = async (component: string, inputs: string[], outputs: string[]) => {
      const s = await ort.InferenceSession.create(join(DEMO, component, 'model.onnx'));
      try {
        expect([...s.inputNames]).toEqual(inputs);
        expect([...s.outputNames]).toEqual(outputs);
      } finally {
        await s.release();
      }
    };
    await expectIo('text_encoder', ['input_ids'], ['last_hidden_state', 'pooler_output']);
    await expectIo('unet', ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample']);
    await expectIo('vae_decoder', ['latent_sample'], ['sample']);
    await expectIo('vae_encoder', ['sample'], ['latent_sample']);
  });
});
