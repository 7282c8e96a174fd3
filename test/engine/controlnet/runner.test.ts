/**
 * ControlNetStack on real ORT sessions of the fake ControlNets and residual UNets
 * (test/fixtures/controlnet): binding by position for each naming variant, the weight fed to the
 * graph (float64 scale input) or applied here, CFG duplication of the control image, two units
 * summed, the start/end window and the zero residuals outside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlNetBindingError } from '../../../main/engine/controlnet/graph-io';
import { scaled } from '../../../main/engine/controlnet/residuals';
import { ControlNetStack, type ControlStepInput } from '../../../main/engine/controlnet/runner';
import { fromFloat16Array, toFloat16Array } from '../../../main/engine/float16';
import type { EngineSession, EngineTensor } from '../../../main/engine/ort-backend';
import { cnPath, noise, openCpu } from './helpers';

const h = 8;
const w = 8;
const S = 7; // sequence length of the fake embeddings
const D = 32;

const sessions: Record<string, EngineSession> = {};
beforeAll(async () => {
  for (const name of ['cn-named', 'cn-numbered', 'cn-fp16io', 'cn-sdxl', 'unet-additional', 'unet-down-block']) sessions[name] = await openCpu(cnPath(name));
});
afterAll(async () => {
  for (const s of Object.values(sessions)) await s.release();
});

/** Records every feed a session gets while the real session runs. */
function spy(s: EngineSession): { session: EngineSession; feeds: Record<string, EngineTensor>[]; outs: Record<string, EngineTensor>[] } {
  const feeds: Record<string, EngineTensor>[] = [];
  const outs: Record<string, EngineTensor>[] = [];
  const session: EngineSession = Object.create(s);
  session.run = async (f) => {
    feeds.push(f);
    const o = await s.run(f);
    outs.push(o);
    return o;
  };
  return { session, feeds, outs };
}

function stepInput(unetBatch: number, i = 0, total = 1): ControlStepInput {
  return {
    i, total, t: 601,
    sample: noise(unetBatch * 4 * h * w, 11),
    embeds: noise(unetBatch * S * D, 12),
    embedsKey: 'k', seqLen: S, hidden: D, extras: {},
  };
}

const image = noise(3 * h * 8 * w * 8, 13).map((v) => (v + 1) / 2);
const image2 = noise(3 * h * 8 * w * 8, 14).map((v) => (v + 1) / 2);

/** Run a ControlNet session directly (no stack) and return its outputs in graph order as float32. */
async function direct(s: EngineSession, input: ControlStepInput, cond: Float32Array, unetBatch: number, extra: Record<string, EngineTensor> = {}): Promise<Float32Array[]> {
  const ts = s.inputs.find((x) => x.name === 'timestep')!;
  const feeds: Record<string, EngineTensor> = {
    sample: { type: 'float32', data: input.sample, dims: [unetBatch, 4, h, w] },
    timestep: ts.type === 'int64' ? { type: 'int64', data: BigInt64Array.of(601n), dims: [1] } : { type: 'float32', data: Float32Array.of(601), dims: [1] },
    encoder_hidden_states: { type: 'float32', data: input.embeds, dims: [unetBatch, S, D] },
    controlnet_cond: { type: 'float32', data: cond, dims: [unetBatch, 3, h * 8, w * 8] },
    ...extra,
  };
  const out = await s.run(feeds);
  return s.outputs.map((o) => out[o.name].data as Float32Array);
}

const repeat = (x: Float32Array, n: number) => {
  const out = new Float32Array(x.length * n);
  for (let k = 0; k < n; k++) out.set(x, k * x.length);
  return out;
};

describe('ControlNetStack: binding and scaling on real sessions', () => {
  it('named outputs + float64 conditioning_scale: the weight goes to the graph, residuals pass through by position', async () => {
    const cn = spy(sessions['cn-named']);
    const stack = new ControlNetStack(sessions['unet-additional'], [{ session: cn.session, image, weight: 0.5, start: 0, end: 1 }], 1, false, h, w);
    const input = stepInput(1);
    const feeds = await stack.residualsAt(input);
    const scale = cn.feeds[0].conditioning_scale;
    expect(scale.type).toBe('float64');
    expect(scale.dims).toEqual([1]);
    expect(Array.from(scale.data as Float64Array)).toEqual([0.5]);
    // graph order == UNet slot order: down_block_k_additional_residual ← output k, mid ← mid
    const outs = cn.outs[0];
    for (let k = 0; k < 12; k++) expect(feeds[`down_block_${k}_additional_residual`].data).toEqual(outs[`down_block_${k}_additional_residual`].data);
    expect(feeds.mid_block_additional_residual.data).toEqual(outs.mid_block_additional_residual.data);
    // the graph really scales: half of the weight-1 outputs (×0.5 is exact in float32)
    const full = await direct(sessions['cn-named'], input, image, 1, { conditioning_scale: { type: 'float64', data: Float64Array.of(1), dims: [1] } });
    expect(feeds.down_block_7_additional_residual.data).toEqual(scaled(full[7], 0.5));
    expect(feeds.down_block_7_additional_residual.dims).toEqual([1, 16, 2, 2]);
    expect(feeds.mid_block_additional_residual.dims).toEqual([1, 16, 1, 1]);
  });

  it('partly numbered outputs, no scale input: bound by graph order, the weight applied in JS, into down_block_{i} inputs', async () => {
    const cn = spy(sessions['cn-numbered']);
    const stack = new ControlNetStack(sessions['unet-down-block'], [{ session: cn.session, image, weight: 0.8, start: 0, end: 1 }], 1, false, h, w);
    const input = stepInput(1);
    const feeds = await stack.residualsAt(input);
    expect(cn.feeds[0].conditioning_scale).toBeUndefined();
    // int64 timestep taken from the ControlNet's own metadata
    expect(cn.feeds[0].timestep.type).toBe('int64');
    const raw = await direct(sessions['cn-numbered'], input, image, 1);
    const names = sessions['cn-numbered'].outputs.map((o) => o.name);
    expect(names.slice(0, 2)).toEqual(['down_block_0', 'down_block_1']);
    expect(names.slice(2).every((n) => /^\d+$/.test(n))).toBe(true);
    for (let k = 0; k < 12; k++) expect(feeds[`down_block_${k}`].data, `residual ${k}`).toEqual(scaled(raw[k], 0.8));
    expect(feeds.mid_block_res_sample.data).toEqual(scaled(raw[12], 0.8));
    // and the UNet runs with them
    const out = await sessions['unet-down-block'].run({
      sample: { type: 'float32', data: input.sample, dims: [1, 4, h, w] },
      timestep: { type: 'float32', data: Float32Array.of(601), dims: [1] },
      encoder_hidden_states: { type: 'float32', data: input.embeds, dims: [1, S, D] },
      ...feeds,
    });
    expect(out.out_sample.dims).toEqual([1, 4, h, w]);
  });

  it('classifier-free guidance: the control image is duplicated for the doubled batch (batch 2 → 4)', async () => {
    const cn = spy(sessions['cn-numbered']);
    const stack = new ControlNetStack(sessions['unet-additional'], [{ session: cn.session, image, weight: 1, start: 0, end: 1 }], 2, true, h, w);
    const feeds = await stack.residualsAt(stepInput(4));
    const cond = cn.feeds[0].controlnet_cond;
    expect(cond.dims).toEqual([4, 3, 64, 64]);
    expect(cond.data).toEqual(repeat(image, 4));
    expect(cn.feeds[0].sample.dims).toEqual([4, 4, h, w]);
    expect(feeds.down_block_0_additional_residual.dims).toEqual([4, 4, 8, 8]);
    // without CFG the batch is not doubled
    const cn2 = spy(sessions['cn-numbered']);
    await new ControlNetStack(sessions['unet-additional'], [{ session: cn2.session, image, weight: 1, start: 0, end: 1 }], 2, false, h, w).residualsAt(stepInput(2));
    expect(cn2.feeds[0].controlnet_cond.dims).toEqual([2, 3, 64, 64]);
  });

  it('two ControlNets: their weighted residuals add up (graph-scaled + JS-scaled)', async () => {
    const a = spy(sessions['cn-named']);
    const b = spy(sessions['cn-numbered']);
    const stack = new ControlNetStack(
      sessions['unet-additional'],
      [
        { session: a.session, image, weight: 0.7, start: 0, end: 1 },
        { session: b.session, image: image2, weight: 1.3, start: 0, end: 1 },
      ],
      1, false, h, w,
    );
    const input = stepInput(1);
    const feeds = await stack.residualsAt(input);
    const ra = await direct(sessions['cn-named'], input, image, 1, { conditioning_scale: { type: 'float64', data: Float64Array.of(0.7), dims: [1] } });
    const rb = await direct(sessions['cn-numbered'], input, image2, 1);
    const slots = [...Array.from({ length: 12 }, (_, k) => `down_block_${k}_additional_residual`), 'mid_block_additional_residual'];
    slots.forEach((name, k) => {
      const want = new Float32Array(ra[k].length);
      for (let j = 0; j < want.length; j++) want[j] = ra[k][j] + Math.fround(Math.fround(1.3) * rb[k][j]);
      expect(feeds[name].data, name).toEqual(want);
    });
    // each unit saw its own image
    expect(a.feeds[0].controlnet_cond.data).toEqual(image);
    expect(b.feeds[0].controlnet_cond.data).toEqual(image2);
  });

  it('start/end window: runs only on steps inside it (diffusers controlnet_keep), zero residuals elsewhere', async () => {
    const cn = spy(sessions['cn-named']);
    const stack = new ControlNetStack(sessions['unet-additional'], [{ session: cn.session, image, weight: 1, start: 0.25, end: 0.75 }], 1, false, h, w);
    const active: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const before = cn.feeds.length;
      const feeds = await stack.residualsAt(stepInput(1, i, 4));
      active.push(cn.feeds.length > before);
      const all = Object.values(feeds);
      expect(all).toHaveLength(13);
      const nonzero = all.some((t) => (t.data as Float32Array).some((v) => v !== 0));
      expect(nonzero, `step ${i}`).toBe(active[i]);
      expect(feeds.down_block_11_additional_residual.dims).toEqual([1, 16, 1, 1]);
      expect(feeds.down_block_3_additional_residual.dims).toEqual([1, 4, 4, 4]);
    }
    // i/N < 0.25 → off at 0; (i+1)/N > 0.75 → off at 3
    expect(active).toEqual([false, true, true, false]);
    expect(stack.activeAt(0, 4)).toBe(0);
    expect(stack.activeAt(1, 4)).toBe(1);
  });

  it('weight 0: the ControlNet does not run, the UNet gets zeros of the right shapes', async () => {
    const cn = spy(sessions['cn-numbered']);
    const stack = new ControlNetStack(sessions['unet-additional'], [{ session: cn.session, image, weight: 0, start: 0, end: 1 }], 1, true, h, w);
    const feeds = await stack.residualsAt(stepInput(2));
    expect(cn.feeds).toHaveLength(0);
    expect(feeds.down_block_0_additional_residual.dims).toEqual([2, 4, 8, 8]);
    expect(feeds.down_block_6_additional_residual.dims).toEqual([2, 8, 2, 2]);
    expect(feeds.mid_block_additional_residual.dims).toEqual([2, 16, 1, 1]);
    expect(Object.values(feeds).every((t) => (t.data as Float32Array).every((v) => v === 0))).toBe(true);
  });

  it('fp16 I/O and a float32 scalar scale: inputs converted to fp16, residuals back to the fp32 UNet', async () => {
    const cn = spy(sessions['cn-fp16io']);
    const stack = new ControlNetStack(sessions['unet-additional'], [{ session: cn.session, image, weight: 0.25, start: 0, end: 1 }], 1, false, h, w);
    const input = stepInput(1);
    const feeds = await stack.residualsAt(input);
    const f = cn.feeds[0];
    expect([f.sample.type, f.encoder_hidden_states.type, f.controlnet_cond.type]).toEqual(['float16', 'float16', 'float16']);
    expect(f.sample.data).toEqual(toFloat16Array(input.sample));
    expect(f.conditioning_scale).toEqual({ type: 'float32', data: Float32Array.of(0.25), dims: [] });
    const out = cn.outs[0].down_block_5_additional_residual;
    expect(out.type).toBe('float16');
    expect(feeds.down_block_5_additional_residual.type).toBe('float32');
    expect(feeds.down_block_5_additional_residual.data).toEqual(fromFloat16Array(out.data as Uint16Array));
  });

  it('an SDXL ControlNet (9 residuals) on an SD UNet (12) is refused before anything runs', () => {
    expect(() => new ControlNetStack(sessions['unet-additional'], [{ session: sessions['cn-sdxl'], image, weight: 1, start: 0, end: 1 }], 1, false, h, w)).toThrow(ControlNetBindingError);
    expect(() => new ControlNetStack(sessions['unet-additional'], [{ session: sessions['cn-sdxl'], image, weight: 1, start: 0, end: 1 }], 1, false, h, w)).toThrow(/9 down-block residuals .* takes 12/);
  });
});
