/**
 * LoRA key spellings → module keys, ONNX node names → module keys, and the bounds-checked
 * safetensors header parser (every number in the file is untrusted).
 */
import { describe, expect, it } from 'vitest';
import { parseSafetensorsHeader, safetensorsHeaderLength, SafetensorsError } from '../../../common/safetensors';
import { ldmToDiffusers, nodeModuleKey, parseLoraKey, parseUnsupportedKey } from '../../../main/engine/lora/keys';
import { moduleTargets } from '../../../main/engine/lora/merge';

describe('LoRA keys', () => {
  it('reads kohya, PEFT and diffusers spellings to one module key', () => {
    const q = 'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    expect(parseLoraKey(`lora_unet_${q}.lora_down.weight`)).toEqual({ component: 'unet', module: q, part: 'down' });
    expect(parseLoraKey(`lora_unet_${q}.alpha`)).toEqual({ component: 'unet', module: q, part: 'alpha' });
    expect(parseLoraKey('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight')).toEqual({ component: 'unet', module: q, part: 'up' });
    expect(parseLoraKey('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight')).toEqual({ component: 'unet', module: q, part: 'down' });
    expect(parseLoraKey('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight')?.module).toBe(
      'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0',
    );
    expect(parseLoraKey('lora_te_text_model_encoder_layers_11_mlp_fc1.lora_up.weight')).toEqual({ component: 'text_encoder', module: 'text_model_encoder_layers_11_mlp_fc1', part: 'up' });
    expect(parseLoraKey('lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight')?.component).toBe('text_encoder');
    expect(parseLoraKey('lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight')?.component).toBe('text_encoder_2');
    expect(parseLoraKey('text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight')?.component).toBe('text_encoder_2');
    expect(parseLoraKey('something.weight')).toBeNull();
  });

  it('reads LyCORIS LoHa/LoKr/DoRA parts and PEFT magnitudes, and names the types it does not merge', () => {
    const q = 'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    expect(parseLoraKey(`lora_unet_${q}.hada_w1_a`)).toEqual({ component: 'unet', module: q, part: 'hada_w1_a' });
    expect(parseLoraKey(`lora_unet_${q}.hada_t2`)?.part).toBe('hada_t2');
    expect(parseLoraKey(`lora_unet_${q}.lokr_w1`)?.part).toBe('lokr_w1');
    expect(parseLoraKey(`lora_unet_${q}.lokr_w1_b`)?.part).toBe('lokr_w1_b');
    expect(parseLoraKey(`lora_unet_${q}.dora_scale`)?.part).toBe('dora_scale');
    expect(parseLoraKey('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_magnitude_vector')).toEqual({ component: 'unet', module: q, part: 'magnitude' });
    expect(parseLoraKey('base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_magnitude_vector.default.weight')?.part).toBe('magnitude');
    expect(parseLoraKey(`lora_unet_${q}.oft_blocks`)).toBeNull();
    expect(parseUnsupportedKey(`lora_unet_${q}.oft_blocks`)).toEqual({ component: 'unet', module: q, type: 'OFT/BOFT (oft_blocks)' });
    expect(parseUnsupportedKey(`lora_te_text_model_encoder_layers_0_mlp_fc1.weight`)?.type).toBe('IA³');
    expect(parseUnsupportedKey(`lora_unet_${q}.on_input`)?.type).toBe('IA³');
    expect(parseUnsupportedKey(`lora_unet_${q}.diff_b`)?.type).toBe('full weight diff');
    expect(parseUnsupportedKey(`lora_unet_${q}.a1.weight`)?.type).toBe('GLoRA');
    expect(parseUnsupportedKey(`lora_unet_${q}.lora_down.weight`)).toBeNull();
    expect(parseUnsupportedKey('unet.conv_in.weight')).toBeNull(); // a full checkpoint's tensor, not an adapter type
  });

  it('maps SDXL (LDM) UNet names to diffusers names', () => {
    expect(ldmToDiffusers('input_blocks_4_1_transformer_blocks_0_attn1_to_q')).toBe('down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q');
    expect(ldmToDiffusers('input_blocks_8_1_proj_in')).toBe('down_blocks_2_attentions_1_proj_in');
    expect(ldmToDiffusers('input_blocks_1_0_in_layers_2')).toBe('down_blocks_0_resnets_0_conv1');
    expect(ldmToDiffusers('input_blocks_3_0_op')).toBe('down_blocks_0_downsamplers_0_conv');
    expect(ldmToDiffusers('middle_block_1_transformer_blocks_9_attn2_to_k')).toBe('mid_block_attentions_0_transformer_blocks_9_attn2_to_k');
    expect(ldmToDiffusers('middle_block_2_out_layers_3')).toBe('mid_block_resnets_1_conv2');
    expect(ldmToDiffusers('output_blocks_2_1_transformer_blocks_0_ff_net_2')).toBe('up_blocks_0_attentions_2_transformer_blocks_0_ff_net_2');
    expect(ldmToDiffusers('output_blocks_2_2_conv')).toBe('up_blocks_0_upsamplers_0_conv');
    expect(ldmToDiffusers('output_blocks_8_1_conv')).toBe('up_blocks_2_upsamplers_0_conv');
    expect(ldmToDiffusers('output_blocks_3_0_skip_connection')).toBe('up_blocks_1_resnets_0_conv_shortcut');
    expect(ldmToDiffusers('output_blocks_0_0_emb_layers_1')).toBe('up_blocks_0_resnets_0_time_emb_proj');
    expect(ldmToDiffusers('label_emb_0_0')).toBe('add_embedding_linear_1');
    expect(ldmToDiffusers('down_blocks_1_attentions_0_proj_in')).toBe('down_blocks_1_attentions_0_proj_in');
  });

  it('derives module keys from exported node names', () => {
    expect(nodeModuleKey('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul')).toBe('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q');
    expect(nodeModuleKey('/text_model/encoder/layers.3/self_attn/out_proj/MatMul_1')).toBe('text_model_encoder_layers_3_self_attn_out_proj');
    expect(nodeModuleKey('MatMul_QKV_0')).toBeNull();
    expect(nodeModuleKey('/Conv')).toBeNull();
  });

  it('indexes weights by module key, also without an exporter wrapper prefix, and never the same key twice', () => {
    const w = (name: string, dims: number[]) => [name, { name, dataType: 1, dims, file: null, offset: 0, length: 0, patchable: true }] as const;
    const node = (name: string, opType: string, weight: string, ints: Record<string, number> = {}) => ({ name, opType, domain: '', inputs: ['x', weight], ints });
    const targets = moduleTargets({
      nodes: [
        node('/unet/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul', 'MatMul', 'a'),
        node('/time_embedding/linear_1/Gemm', 'Gemm', 'b', { transB: 1 }),
        node('/conv_in/Conv', 'Conv', 'c'),
        node('/dw/Conv', 'Conv', 'd', { group: 4 }), // depthwise: not a LoRA target
        node('MatMul_QKV_0', 'MatMul', 'a'),
      ],
      weights: new Map([w('a', [8, 6]), w('b', [4, 8]), w('c', [3, 4, 3, 3]), w('d', [4, 1, 3, 3])]),
    });
    expect([...targets.keys()].sort()).toEqual(['conv_in', 'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', 'time_embedding_linear_1', 'unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q']);
    expect(targets.get('time_embedding_linear_1')?.layout).toBe('outfirst');
    expect(targets.get('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q')?.layout).toBe('matmul');
  });
});

function header(json: unknown, dataBytes: number): { first8: Uint8Array; body: Uint8Array; size: number } {
  const body = new TextEncoder().encode(JSON.stringify(json));
  const first8 = new Uint8Array(8);
  new DataView(first8.buffer).setUint32(0, body.length, true);
  return { first8, body, size: 8 + body.length + dataBytes };
}

describe('safetensors header', () => {
  it('reads tensors and metadata with absolute offsets', () => {
    const h = header({ __metadata__: { ss_network_dim: '4', n: 3 }, a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [], data_offsets: [8, 12] } }, 12);
    expect(safetensorsHeaderLength(h.first8, h.size)).toBe(h.body.length);
    const p = parseSafetensorsHeader(h.body, h.size);
    expect(p.metadata).toEqual({ ss_network_dim: '4' });
    expect(p.tensors.get('a')).toMatchObject({ begin: 8 + h.body.length, end: 16 + h.body.length, shape: [2, 2] });
  });

  it('refuses sizes it cannot trust', () => {
    const len = (n: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setUint32(0, n, true);
      return b;
    };
    expect(() => safetensorsHeaderLength(len(1000), 100)).toThrow(/runs past the end/);
    expect(() => safetensorsHeaderLength(Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 0]), 2 ** 50)).toThrow(/not plausible/);
    const cases: Array<[unknown, number, RegExp]> = [
      [{ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8, /outside the 8-byte data section/],
      [{ a: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, 16, /do not hold F32\[4\]/],
      [{ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 16, /overlap/],
      [{ a: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, 8, /unknown dtype/],
      [{ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 8, /shape/],
      [[1, 2], 0, /not a JSON object/],
    ];
    for (const [json, data, re] of cases) {
      const h = header(json, data);
      expect(() => parseSafetensorsHeader(h.body, h.size)).toThrow(re);
    }
    expect(() => parseSafetensorsHeader(new TextEncoder().encode('{"a":'), 100)).toThrow(SafetensorsError);
  });
});
