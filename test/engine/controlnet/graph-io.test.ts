/**
 * Residual binding rules (pure): ordering by names where they carry indices, by graph position
 * otherwise; the mid residual by name or last; static-shape checks; zero-residual dims. Plus the
 * fixtures' real metadata read through ORT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPair,
  ControlNetBindingError,
  describeControlNet,
  downIndex,
  orderResiduals,
  residualDims,
  unetResidualSlots,
} from '../../../main/engine/controlnet/graph-io';
import { controlActive } from '../../../main/engine/controlnet/residuals';
import type { EngineSession, TensorInfo } from '../../../main/engine/ort-backend';
import { cnPath, openCpu } from './helpers';

const SD_CH = [320, 320, 320, 320, 640, 640, 640, 1280, 1280, 1280, 1280, 1280];
const t = (name: string, c: number | string = 'c'): TensorInfo => ({ name, type: 'float32', shape: ['batch', c, 'h', 'w'] });

describe('orderResiduals', () => {
  it('sorts indexed names numerically (down_block_10 after down_block_9), mid by name wherever it is', () => {
    const shuffled = [t('mid_block_additional_residual'), ...[11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((i) => t(`down_block_${i}_additional_residual`))];
    const r = orderResiduals(shuffled, 'x');
    expect(r.mid.name).toBe('mid_block_additional_residual');
    expect(r.down.map((d) => downIndex(d.name))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('partly numbered (onnx-web): graph order, last = mid', () => {
    const list = [t('down_block_0'), t('down_block_1'), ...Array.from({ length: 11 }, (_, k) => t(String(116 + k)))];
    const r = orderResiduals(list, 'x');
    expect(r.down.map((d) => d.name)).toEqual(['down_block_0', 'down_block_1', ...Array.from({ length: 10 }, (_, k) => String(116 + k))]);
    expect(r.mid.name).toBe('126');
  });

  it('SDXL counts 9 + 1; other counts and gaps in the indices are refused', () => {
    expect(orderResiduals([...Array.from({ length: 9 }, (_, k) => t(`down_block_${k}`)), t('mid_block_res_sample')], 'x').down).toHaveLength(9);
    expect(() => orderResiduals([...Array.from({ length: 10 }, (_, k) => t(`r${k}`)), t('mid')], 'x')).toThrow(/12 \(SD 1.x\/2.x\) or 9 \(SDXL\)/);
    const gap = [...Array.from({ length: 12 }, (_, k) => t(`down_block_${k === 5 ? 12 : k}`)), t('mid_block_res_sample')];
    expect(() => orderResiduals(gap, 'x')).toThrow(ControlNetBindingError);
  });
});

describe('UNet slots and pair checks', () => {
  const unet = (names: string[], ch = SD_CH, mid = 1280): Pick<EngineSession, 'inputs' | 'modelPath'> => ({
    modelPath: 'u',
    inputs: [t('sample', 4), { name: 'timestep', type: 'float32', shape: [1] }, { name: 'encoder_hidden_states', type: 'float32', shape: ['b', 77, 768] }, ...names.slice(0, -1).map((n, k) => t(n, ch[k])), t(names[names.length - 1], mid)],
  });
  const names = [...Array.from({ length: 12 }, (_, k) => `down_block_${k}_additional_residual`), 'mid_block_additional_residual'];

  it('a plain UNet has no slots; SDXL conditioning inputs are not residuals', () => {
    expect(unetResidualSlots({ modelPath: 'u', inputs: unet(names).inputs.slice(0, 3) })).toBeNull();
    const xl = unet(names);
    const withXl = { ...xl, inputs: [...xl.inputs, { name: 'text_embeds', type: 'float32', shape: ['b', 1280] }, { name: 'time_ids', type: 'float32', shape: ['b', 6] }] };
    expect(unetResidualSlots(withXl)!.down).toHaveLength(12);
  });

  it('checkPair: static channel mismatch at one position names both tensors', () => {
    const slots = unetResidualSlots(unet(names))!;
    const cnOut = [...SD_CH.map((c, k) => t(`down_block_${k}_additional_residual`, k === 4 ? 320 : c)), t('mid_block_additional_residual', 1280)];
    const cn = describeControlNet({
      modelPath: 'cn',
      inputs: [t('sample', 4), { name: 'timestep', type: 'int64', shape: [1] }, { name: 'encoder_hidden_states', type: 'float32', shape: ['b', 77, 768] }, t('controlnet_cond', 3)],
      outputs: cnOut,
    });
    expect(() => checkPair(cn, slots, 'u')).toThrow(/down-block residual 4: ControlNet output "down_block_4_additional_residual" \[batch, 320, h, w\] does not fit UNet input "down_block_4_additional_residual" \[batch, 640, h, w\]/);
    // symbolic channels on the ControlNet side fit any static UNet slot
    const symbolic = { ...cn, outputs: { down: cn.outputs.down.map((o) => ({ ...o, shape: ['batch', 'c', 'h', 'w'] })), mid: cn.outputs.mid } };
    expect(() => checkPair(symbolic, slots, 'u')).not.toThrow();
  });

  it('describeControlNet: missing inputs and unknown inputs are named', () => {
    expect(() => describeControlNet({ modelPath: 'cn', inputs: [t('sample', 4)], outputs: [] })).toThrow(/lacks input\(s\) timestep, encoder_hidden_states, controlnet_cond/);
    const inputs = [t('sample', 4), t('timestep'), t('encoder_hidden_states'), t('controlnet_cond'), t('guess_mode')];
    expect(() => describeControlNet({ modelPath: 'cn', inputs, outputs: [] })).toThrow(/cannot feed: guess_mode/);
  });

  it('residualDims: SD ×1 ×1 ×1 ½ ½ ½ ¼ ¼ ¼ ⅛ ⅛ ⅛ / mid ⅛, rounding up odd sizes; SDXL mid ¼', () => {
    const d = residualDims(unetResidualSlots(unet(names))!, 2, 9, 12);
    expect(d.down.map((x) => x.slice(2).join('×'))).toEqual(['9×12', '9×12', '9×12', '5×6', '5×6', '5×6', '3×3', '3×3', '3×3', '2×2', '2×2', '2×2']);
    expect(d.down[7]).toEqual([2, 1280, 3, 3]);
    expect(d.mid).toEqual([2, 1280, 2, 2]);
    const xlNames = [...Array.from({ length: 9 }, (_, k) => `down_block_${k}`), 'mid_block_res_sample'];
    const xl = residualDims(unetResidualSlots(unet(xlNames, SD_CH.slice(0, 9)))!, 1, 128, 128);
    expect(xl.mid).toEqual([1, 1280, 32, 32]);
  });
});

describe('controlActive (diffusers controlnet_keep)', () => {
  it('start/end as fractions of the loop', () => {
    const keep = (s: number, e: number, n: number) => Array.from({ length: n }, (_, i) => (controlActive(i, n, s, e) ? 1 : 0)).join('');
    expect(keep(0, 1, 5)).toBe('11111');
    expect(keep(0, 0.6, 5)).toBe('11100');
    expect(keep(0.2, 1, 5)).toBe('01111');
    expect(keep(0.5, 1, 4)).toBe('0011');
  });
});

describe('fixture graphs as ORT reads them', () => {
  const s: Record<string, EngineSession> = {};
  beforeAll(async () => {
    for (const n of ['cn-named', 'cn-numbered', 'cn-sdxl', 'unet-down-block', 'unet-sdxl']) s[n] = await openCpu(cnPath(n));
  });
  afterAll(async () => {
    for (const x of Object.values(s)) await x.release();
  });

  it('cn-named: float64 [1] scale input; cn-numbered: none; cn-sdxl: text_embeds + time_ids, 9 + 1 outputs', () => {
    const named = describeControlNet(s['cn-named']);
    expect(named.inputs.scale).toEqual({ name: 'conditioning_scale', type: 'float64', shape: [1] });
    expect(named.outputs.down.map((o) => o.shape[1])).toEqual([4, 4, 4, 4, 8, 8, 8, 16, 16, 16, 16, 16]);
    expect(describeControlNet(s['cn-numbered']).inputs.scale).toBeNull();
    const xl = describeControlNet(s['cn-sdxl']);
    expect(xl.inputs.textEmbeds?.name).toBe('text_embeds');
    expect(xl.outputs.down).toHaveLength(9);
    expect(unetResidualSlots(s['unet-sdxl'])!.down).toHaveLength(9);
    expect(unetResidualSlots(s['unet-down-block'])!.mid.name).toBe('mid_block_res_sample');
  });
});
