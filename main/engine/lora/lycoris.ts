/**
 * The LyCORIS adapter types beside plain LoRA — LoHa, LoKr, LoCon with a Tucker (CP) mid weight —
 * and DoRA's magnitude, as A1111 (extensions-builtin/Lora network_hada/network_lokr/network.py) and
 * ComfyUI (comfy/weight_adapter) merge them. Every Δ is built here in torch's layout [out, in·kh·kw]
 * (the layout the LoRA tensors use) and unscaled; merge.ts scales it and writes it into the ONNX
 * weight's own layout.
 *
 *   LoRA    Δ = up · down                                   (+ Tucker: einsum mid, up, down)
 *   LoHa    Δ = (w1_a · w1_b) ⊙ (w2_a · w2_b)               (+ CP: each factor rebuilt from hada_t1/t2)
 *   LoKr    Δ = w1 ⊗ w2, w1 = lokr_w1 | w1_a · w1_b, w2 = lokr_w2 | w2_a · w2_b | CP(lokr_t2)
 *   scale   alpha / dim, dim = LoRA rank | w1_b rows (LoHa) | w2_b rows, else w1_b rows (LoKr);
 *           1 without alpha, and 1 for a LoKr whose factors are both full matrices.
 *
 * CP layout (LyCORIS `make_weight_cp`): t [r1, r2, kh, kw], wa [r1, out], wb [r2, in] →
 * Δ[o, i, y, x] = Σ t[a, b, y, x] · wa[a, o] · wb[b, i].
 */
import type { SafetensorsEntry } from '../../../common/safetensors';
import type { LoraModule } from './lora-file';
import { transpose } from './product';

export type AdapterKind = 'lora' | 'loha' | 'lokr';

/** Y[m, n] = A[m, r] · B[r, n] (ORT's MatMul, or `jsMatmul`). */
export type Matmul = (a: Float32Array, m: number, r: number, b: Float32Array, n: number) => Promise<Float32Array>;

/** The weight a module is merged into, in torch's terms. */
export interface TargetShape {
  out: number;
  /** in · kernel: elements of one output row. */
  k: number;
  inChannels: number;
  /** kh · kw (1 for Linear/MatMul/Gemm). */
  kernel: number;
}

export interface FittedModule extends TargetShape {
  kind: AdapterKind;
  /** LoRA rank (the fast up·down path); 0 for LoHa/LoKr. */
  rank: number;
  /** alpha is divided by this; null: the scale is 1 whatever alpha says. */
  divisor: number | null;
  /** DoRA: the magnitude tensor and the axis it normalises ('in': per input column, A1111/kohya/LyCORIS default; 'out': per output row, PEFT and LyCORIS wd_on_out). */
  dora: { entry: SafetensorsEntry; axis: 'in' | 'out' } | null;
}

const count = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);
const show = (e: SafetensorsEntry) => `${e.name.slice(e.name.lastIndexOf('.') + 1)} ${JSON.stringify(e.shape)}`;

export function adapterKind(mod: LoraModule): AdapterKind | null {
  if (mod.hada_w1_a || mod.hada_w1_b || mod.hada_w2_a || mod.hada_w2_b) return 'loha';
  if (mod.lokr_w1 || mod.lokr_w1_a || mod.lokr_w2 || mod.lokr_w2_a) return 'lokr';
  if (mod.down || mod.up) return 'lora';
  return null;
}

/** Rows × cols of a factor `a · b` (or its CP rebuild with `t`), or why it does not fit [rows, cols]. */
function factorFits(a: SafetensorsEntry, b: SafetensorsEntry, t: SafetensorsEntry | undefined, rows: number, cols: number, kernel: number): string | null {
  const bad = `${show(a)} · ${show(b)}${t ? ` (CP ${show(t)})` : ''} does not make a [${rows}, ${cols}] weight`;
  if (!t) {
    const r = b.shape[0];
    return r > 0 && a.shape[0] === rows && count(a.shape) === rows * r && count(b.shape) === r * cols ? null : bad;
  }
  const [r1, r2] = [a.shape[0], b.shape[0]];
  const inner = cols / kernel;
  const ok = r1 > 0 && r2 > 0 && Number.isInteger(inner) && count(a.shape) === r1 * rows && count(b.shape) === r2 * inner && t.shape[0] === r1 && count(t.shape) === r1 * r2 * kernel;
  return ok ? null : bad;
}

/** The [rows, cols] split of one LoKr factor: a full matrix, a product, or a CP rebuild. */
function lokrFactor(full: SafetensorsEntry | undefined, a: SafetensorsEntry | undefined, b: SafetensorsEntry | undefined, t: SafetensorsEntry | undefined, kernel: number): [number, number] | null {
  if (full) return full.shape.length >= 2 ? [full.shape[0], count(full.shape) / full.shape[0]] : null;
  if (!a || !b || !b.shape[0] || !a.shape.length) return null;
  if (t) return a.shape.length === 2 && b.shape.length === 2 ? [a.shape[1], b.shape[1] * kernel] : null;
  return [a.shape[0], count(b.shape) / b.shape[0]];
}

function fitLora(mod: LoraModule, s: TargetShape): Omit<FittedModule, keyof TargetShape | 'dora'> | string {
  if (!mod.down || !mod.up) return 'has no up/down pair';
  const rank = mod.down.shape[0];
  const upOk = mod.up.shape[0] === s.out && count(mod.up.shape) === s.out * rank;
  if (!rank || !upOk) return `up ${JSON.stringify(mod.up.shape)} / down ${JSON.stringify(mod.down.shape)} do not fit a [${s.out}, ${s.k}] weight`;
  if (mod.mid) {
    const ok = count(mod.down.shape) === rank * s.inChannels && mod.mid.shape[0] === rank && count(mod.mid.shape) === rank * rank * s.kernel;
    return ok ? { kind: 'lora', rank, divisor: rank } : `Tucker mid ${JSON.stringify(mod.mid.shape)} / down ${JSON.stringify(mod.down.shape)} do not fit weight [${s.out}, ${s.inChannels}, ${s.kernel}]`;
  }
  if (count(mod.down.shape) !== rank * s.k) return `down ${JSON.stringify(mod.down.shape)} does not fit a [${s.out}, ${s.k}] weight`;
  return { kind: 'lora', rank, divisor: rank };
}

function fitLoha(mod: LoraModule, s: TargetShape): Omit<FittedModule, keyof TargetShape | 'dora'> | string {
  const { hada_w1_a: a1, hada_w1_b: b1, hada_w2_a: a2, hada_w2_b: b2 } = mod;
  if (!a1 || !b1 || !a2 || !b2) return 'is a LoHa without all four of hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b';
  const why = factorFits(a1, b1, mod.hada_t1, s.out, s.k, s.kernel) ?? factorFits(a2, b2, mod.hada_t2, s.out, s.k, s.kernel);
  return why ?? { kind: 'loha', rank: 0, divisor: b1.shape[0] };
}

function fitLokr(mod: LoraModule, s: TargetShape): Omit<FittedModule, keyof TargetShape | 'dora'> | string {
  const w1 = lokrFactor(mod.lokr_w1, mod.lokr_w1_a, mod.lokr_w1_b, undefined, 1);
  const w2 = lokrFactor(mod.lokr_w2, mod.lokr_w2_a, mod.lokr_w2_b, mod.lokr_t2, s.kernel);
  if (!w1 || !w2) return 'is a LoKr without both factors (lokr_w1 or lokr_w1_a/b, and lokr_w2 or lokr_w2_a/b)';
  if (w1[0] * w2[0] !== s.out || w1[1] * w2[1] !== s.k) return `LoKr factors [${w1}] ⊗ [${w2}] do not make a [${s.out}, ${s.k}] weight`;
  const why = (!mod.lokr_w1 && factorFits(mod.lokr_w1_a!, mod.lokr_w1_b!, undefined, w1[0], w1[1], 1)) || (!mod.lokr_w2 && factorFits(mod.lokr_w2_a!, mod.lokr_w2_b!, mod.lokr_t2, w2[0], w2[1], s.kernel));
  if (why) return why;
  // LyCORIS' dim: w2_b's rows when w2 is decomposed, else w1_b's; both full → no alpha scaling.
  const divisor = !mod.lokr_w2 && mod.lokr_w2_b ? mod.lokr_w2_b.shape[0] : !mod.lokr_w1 && mod.lokr_w1_b ? mod.lokr_w1_b.shape[0] : null;
  return { kind: 'lokr', rank: 0, divisor };
}

/** DoRA magnitude axis from the tensor's shape (LyCORIS: [1, in, 1, 1] or wd_on_out [out, 1, 1, 1]; PEFT: [out]). */
function doraAxis(mod: LoraModule, s: TargetShape): FittedModule['dora'] | string {
  if (mod.magnitude) {
    return count(mod.magnitude.shape) === s.out ? { entry: mod.magnitude, axis: 'out' } : `lora_magnitude_vector ${JSON.stringify(mod.magnitude.shape)} does not match the layer's ${s.out} outputs`;
  }
  const e = mod.dora_scale;
  if (!e) return null;
  const ones = (dims: number[]) => dims.every((d) => d === 1);
  if (e.shape.length >= 2 && e.shape[0] === 1 && e.shape[1] === s.inChannels && ones(e.shape.slice(2))) return { entry: e, axis: 'in' };
  if (e.shape.length >= 2 && e.shape[0] === s.out && ones(e.shape.slice(1))) return { entry: e, axis: 'out' };
  // 1-D: by length; a square layer keeps the per-input default (what A1111 and ComfyUI compute).
  if (e.shape.length === 1 && e.shape[0] === s.inChannels) return { entry: e, axis: 'in' };
  if (e.shape.length === 1 && e.shape[0] === s.out) return { entry: e, axis: 'out' };
  return `dora_scale ${JSON.stringify(e.shape)} fits neither the layer's ${s.inChannels} inputs nor its ${s.out} outputs`;
}

/** Check a module against its weight: what to compute, or why it does not fit. Reads no values. */
export function fitModule(mod: LoraModule, s: TargetShape): FittedModule | string {
  const kind = adapterKind(mod);
  if (!kind) return 'has no adapter weights (only alpha or a DoRA scale)';
  const fitted = kind === 'lora' ? fitLora(mod, s) : kind === 'loha' ? fitLoha(mod, s) : fitLokr(mod, s);
  if (typeof fitted === 'string') return fitted;
  const dora = doraAxis(mod, s);
  if (typeof dora === 'string') return dora;
  return { ...s, ...fitted, dora };
}

/** Y = A·B in JavaScript (fallback when ORT's product is not available). */
export const jsMatmul: Matmul = async (a, m, r, b, n) => {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < r; j++) {
      const v = a[i * r + j];
      if (v === 0) continue;
      for (let c = 0; c < n; c++) y[i * n + c] += v * b[j * n + c];
    }
  return y;
};

/** CP rebuild: t [r1, r2, kernel], wa [r1, rows], wb [r2, inner] → [rows, inner·kernel]. */
async function cpRebuild(t: Float32Array, wa: Float32Array, wb: Float32Array, r1: number, r2: number, rows: number, inner: number, kernel: number, mm: Matmul): Promise<Float32Array> {
  // temp[a, i, s] = Σ_b t[a, b, s] · wb[b, i]  (small: r1·r2·inner·kernel), then waᵀ · temp on the product.
  const temp = new Float32Array(r1 * inner * kernel);
  for (let a = 0; a < r1; a++)
    for (let b = 0; b < r2; b++)
      for (let s = 0; s < kernel; s++) {
        const tv = t[(a * r2 + b) * kernel + s];
        if (tv === 0) continue;
        for (let i = 0; i < inner; i++) temp[(a * inner + i) * kernel + s] += tv * wb[b * inner + i];
      }
  return mm(transpose(wa, r1, rows), rows, r1, temp, inner * kernel);
}

type Read = (e: SafetensorsEntry) => Float32Array;

/** One factor `a · b` (or CP with t) as [rows, cols]. */
async function factor(read: Read, a: SafetensorsEntry, b: SafetensorsEntry, t: SafetensorsEntry | undefined, rows: number, cols: number, kernel: number, mm: Matmul): Promise<Float32Array> {
  if (!t) return mm(read(a), rows, b.shape[0], read(b), cols);
  return cpRebuild(read(t), read(a), read(b), a.shape[0], b.shape[0], rows, cols / kernel, kernel, mm);
}

/** Kronecker product of w1 [a, b] and w2 [c, d] → [a·c, b·d] (torch.kron; conv kernels ride in d). */
export function kron(w1: Float32Array, a: number, b: number, w2: Float32Array, c: number, d: number): Float32Array {
  const out = new Float32Array(a * c * b * d);
  const cols = b * d;
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++) {
      const v = w1[i * b + j];
      for (let p = 0; p < c; p++) {
        const row = (i * c + p) * cols + j * d;
        for (let q = 0; q < d; q++) out[row + q] = v * w2[p * d + q];
      }
    }
  return out;
}

/** Δ of a module in torch layout [out, k], not yet multiplied by alpha/dim or the user's weight. */
export async function fullDelta(mod: LoraModule, fit: FittedModule, read: Read, mm: Matmul): Promise<Float32Array> {
  const { out, k, kernel } = fit;
  if (fit.kind === 'lora') {
    if (!mod.mid) return mm(read(mod.up!), out, fit.rank, read(mod.down!), k);
    // Tucker LoCon: Δ = einsum('n m k l, i n, m j', mid, up, down) = CP with wa = upᵀ.
    return cpRebuild(read(mod.mid), transpose(read(mod.up!), out, fit.rank), read(mod.down!), fit.rank, fit.rank, out, fit.inChannels, kernel, mm);
  }
  if (fit.kind === 'loha') {
    const m1 = await factor(read, mod.hada_w1_a!, mod.hada_w1_b!, mod.hada_t1, out, k, kernel, mm);
    const m2 = await factor(read, mod.hada_w2_a!, mod.hada_w2_b!, mod.hada_t2, out, k, kernel, mm);
    for (let i = 0; i < m1.length; i++) m1[i] *= m2[i];
    return m1;
  }
  const [a, b] = lokrFactor(mod.lokr_w1, mod.lokr_w1_a, mod.lokr_w1_b, undefined, 1)!;
  const [c, d] = lokrFactor(mod.lokr_w2, mod.lokr_w2_a, mod.lokr_w2_b, mod.lokr_t2, kernel)!;
  const w1 = mod.lokr_w1 ? read(mod.lokr_w1) : await mm(read(mod.lokr_w1_a!), a, mod.lokr_w1_b!.shape[0], read(mod.lokr_w1_b!), b);
  const w2 = mod.lokr_w2 ? read(mod.lokr_w2) : await factor(read, mod.lokr_w2_a!, mod.lokr_w2_b!, mod.lokr_t2, c, d, kernel, mm);
  return kron(w1, a, b, w2, c, d);
}
