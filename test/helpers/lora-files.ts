/** Small LoRA files written by tests (safetensors: u64 header length, JSON header, float32 data). */
import { writeFileSync } from 'node:fs';

/** A float32 safetensors file from name → [shape, values]; `metadata` becomes `__metadata__` when given. */
export function writeSafetensors(path: string, tensors: Record<string, [number[], number[]]>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, [shape, values]] of Object.entries(tensors)) {
    const b = Buffer.from(Float32Array.from(values).buffer);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + b.length] };
    blobs.push(b);
    offset += b.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(json.length, 0);
  writeFileSync(path, Buffer.concat([len, json, ...blobs]));
}

/** A kohya LoRA for the bundled demo UNet's first cross-attention query (a0.cross.q, 48×48) and input conv (inp, 48×6×3×3). */
export function writeDemoLora(file: string): void {
  const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * k + 1));
  writeSafetensors(file, {
    'lora_unet_a0_cross_q.lora_down.weight': [[4, 48], wave(192, 0.37)],
    'lora_unet_a0_cross_q.lora_up.weight': [[48, 4], wave(192, 0.91)],
    'lora_unet_inp.lora_down.weight': [[2, 6, 3, 3], wave(108, 0.53)],
    'lora_unet_inp.lora_up.weight': [[48, 2, 1, 1], wave(96, 0.29)],
  });
}
