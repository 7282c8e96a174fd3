#!/usr/bin/python3
"""Write the LyCORIS/DoRA merge fixtures into test/fixtures/lora-lycoris/ (a few KB, committed).

Graphs (ONNX, opset 17), named as diffusers/optimum exports name them (see make_lora_fixtures.py),
in float32 (unet/) and float16 (unet-fp16/); every weight lives in weights.pb except to_k (inline):

  x[1,8]       -> attn1/to_q MatMul      [8,6]  (ONNX stores Linear weights [in, out])  -> q
  x            -> attn1/to_k MatMul      [8,6]  inline raw_data                         -> k
  x            -> attn1/to_v Gemm transB [6,8]  (torch layout [out, in])                -> v
  q            -> attn1/to_out.0 MatMul  [6,6]  square: a wrong DoRA axis shows          -> o
  img[1,3,5,5] -> resnets.0/conv1 Conv   [4,3,3,3] pads 1                               -> c
  img          -> attentions.0/proj_in Conv [6,3,1,1]                                   -> p

Adapters (.safetensors, kohya `lora_unet_` names unless said):
  loha        LoHa on to_q (alpha), to_v (no alpha, F16 tensors), conv1 (CP: hada_t1/t2),
              proj_in (4-D hada_w*_b)
  lokr        LoKr: lokr_w1 + lokr_w2_a/b (to_q), lokr_w1_a/b + lokr_w2 (to_k), both decomposed
              (to_v), both full (to_out.0: alpha ignored), lokr_w1 + CP lokr_w2_a/b/t2 (conv1), lokr_w1 + 4-D lokr_w2 (proj_in)
  dora        LoRA + dora_scale [1, in(, 1, 1)] on to_q, to_v, to_out.0, conv1; LyCORIS wd_on_out
              [out, 1, 1, 1] on proj_in; LoHa + dora_scale on to_k
  peft_dora   PEFT lora_A/lora_B + lora_magnitude_vector [out] on to_q
  locon_cp    LoCon with a Tucker mid weight (lora_mid) on conv1
  oft         kohya OFT (oft_blocks + alpha) on to_q and to_k: not merged, refused by name

reference.json holds, per adapter file and strength, the merged value of every weight it changes,
in the ONNX layout, computed here in float64 from the values exactly as stored (LoRA tensors and
base weights rounded to their stored type first): A1111/ComfyUI's formulas, written out
independently of the TypeScript (plain loops over lists, no shared code):

  LoHa  W + strength·(alpha/rank)·(w1a·w1b ⊙ w2a·w2b);  LoKr  W + strength·scale·kron(w1, w2)
  DoRA  W + strength·(m·M/‖M‖ − W), M = W + (alpha/rank)·Δ, ‖·‖ per input channel (torch dim 0
        and the kernel) unless the magnitude is [out, 1, …] or PEFT's [out].

Only the Python standard library is used. Deterministic (fixed seed). Run:

    /usr/bin/python3 models/tools/make_lycoris_fixtures.py
"""
import json
import math
import os
import random
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lora_fixtures as wire  # noqa: E402  (protobuf/safetensors writers only; its own main() is not run)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'lora-lycoris')
rng = random.Random(20261203)
ATTN = 'down_blocks_0_attentions_0_transformer_blocks_0_attn1'
NODE_ATTN = '/down_blocks.0/attentions.0/transformer_blocks.0/attn1'
STRENGTHS = {'loha': [0.8], 'lokr': [0.7], 'dora': [1.0, 0.6], 'peft_dora': [1.0], 'locon_cp': [0.9]}

# ----------------------------------------------------------------------------- numbers

def rounded(values, dtype):
    """Values as the file stores them (F32 / F16 round to nearest even, as struct does)."""
    code = {'F32': 'f', 'F16': 'e'}[dtype]
    return list(struct.unpack('<%d%s' % (len(values), code), struct.pack('<%d%s' % (len(values), code), *values)))

def randn(n, scale):
    return [rng.gauss(0.0, scale) for _ in range(n)]

def count(shape):
    return wire.count(shape)

def rows(flat, r, c):
    return [flat[i * c:(i + 1) * c] for i in range(r)]

def matmul(a, b):
    return [[sum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]

def cp(t, wa, wb, r1, r2, out, inner, ks):
    """LyCORIS make_weight_cp: res[o][i*ks+s] = sum_ab t[a][b][s] wa[a][o] wb[b][i]; t flat [r1, r2, ks]."""
    res = [[0.0] * (inner * ks) for _ in range(out)]
    for o in range(out):
        for i in range(inner):
            for s in range(ks):
                res[o][i * ks + s] = sum(t[(a * r2 + b) * ks + s] * wa[a][o] * wb[b][i] for a in range(r1) for b in range(r2))
    return res

def kron(w1, w2):
    a, b, c, d = len(w1), len(w1[0]), len(w2), len(w2[0])
    return [[w1[i // c][j // d] * w2[i % c][j % d] for j in range(b * d)] for i in range(a * c)]

# ----------------------------------------------------------------------------- graphs

# name -> (node op, module key, torch shape [out, in(, kh, kw)], stored dims, inline?)
WEIGHTS = {
    'onnx::MatMul_1': ('MatMul', ATTN + '_to_q', [6, 8], [8, 6], False),
    'onnx::MatMul_2': ('MatMul', ATTN + '_to_k', [6, 8], [8, 6], True),
    'attn1.to_v.weight': ('Gemm', ATTN + '_to_v', [6, 8], [6, 8], False),
    'onnx::MatMul_3': ('MatMul', ATTN + '_to_out_0', [6, 6], [6, 6], False),
    'down_blocks.0.resnets.0.conv1.weight': ('Conv', 'down_blocks_0_resnets_0_conv1', [4, 3, 3, 3], [4, 3, 3, 3], False),
    'down_blocks.0.attentions.0.proj_in.weight': ('Conv', 'down_blocks_0_attentions_0_proj_in', [6, 3, 1, 1], [6, 3, 1, 1], False),
}
BY_MODULE = {v[1]: name for name, v in WEIGHTS.items()}

def base_values():
    """Stored-layout float values of every weight (drawn once, shared by the fp32 and fp16 graphs)."""
    return {name: randn(count(v[3]), 0.5) for name, v in WEIGHTS.items()}

def write_graph(folder, dtype, values):
    data = wire.DataFile('weights.pb')
    inits = []
    for name, (_, _, _, dims, inline) in WEIGHTS.items():
        raw = wire.pack(values[name], dtype)
        inits.append(wire.tensor(name, dtype, dims, raw=raw) if inline else wire.tensor(name, dtype, dims, external=data.add(raw)))
    n = wire.node
    nodes = [
        n('MatMul', ['x', 'onnx::MatMul_1'], ['q'], NODE_ATTN + '/to_q/MatMul'),
        n('MatMul', ['x', 'onnx::MatMul_2'], ['k'], NODE_ATTN + '/to_k/MatMul'),
        n('Gemm', ['x', 'attn1.to_v.weight'], ['v'], NODE_ATTN + '/to_v/Gemm', [wire.attr_int('transB', 1)]),
        n('MatMul', ['q', 'onnx::MatMul_3'], ['o'], NODE_ATTN + '/to_out.0/MatMul'),
        n('Conv', ['img', 'down_blocks.0.resnets.0.conv1.weight'], ['c'], '/down_blocks.0/resnets.0/conv1/Conv',
          [wire.attr_ints('kernel_shape', [3, 3]), wire.attr_ints('pads', [1, 1, 1, 1])]),
        n('Conv', ['img', 'down_blocks.0.attentions.0.proj_in.weight'], ['p'], '/down_blocks.0/attentions.0/proj_in/Conv',
          [wire.attr_ints('kernel_shape', [1, 1])]),
    ]
    io_in = [('x', dtype, [1, 8]), ('img', dtype, [1, 3, 5, 5])]
    io_out = [('q', dtype, [1, 6]), ('k', dtype, [1, 6]), ('v', dtype, [1, 6]), ('o', dtype, [1, 6]), ('c', dtype, [1, 4, 5, 5]), ('p', dtype, [1, 6, 5, 5])]
    wire.write(os.path.join(folder, 'model.onnx'), wire.model(nodes, inits, io_in, io_out))
    wire.write(os.path.join(folder, 'weights.pb'), bytes(data.buf))

def to_torch(name, stored):
    """Stored values -> torch layout [out][in*kernel] (MatMul weights are stored transposed)."""
    op, _, shape, dims, _ = WEIGHTS[name]
    out, k = shape[0], count(shape) // shape[0]
    if op == 'MatMul':
        return [[stored[i * out + o] for i in range(k)] for o in range(out)]
    return rows(stored, out, k)

def to_stored(name, torch_rows):
    op = WEIGHTS[name][0]
    if op == 'MatMul':
        return [torch_rows[o][i] for i in range(len(torch_rows[0])) for o in range(len(torch_rows))]
    return [v for row in torch_rows for v in row]

# ----------------------------------------------------------------------------- adapters

class Adapter:
    """Collects safetensors entries and, per module, a function computing the merged torch weight."""
    def __init__(self):
        self.tensors, self.merges = [], {}

    def add(self, key, dtype, shape, scale=0.4, values=None):
        v = rounded(values if values is not None else randn(count(shape), scale), dtype)
        self.tensors.append((key, dtype, shape, v))
        return v

def loha_delta(ad, prefix, out, inner, ks, rank, cp_mode, dtype='F32', w_b_4d=False):
    k = inner * ks
    if cp_mode:
        f = []
        for i in (1, 2):
            wa = rows(ad.add(prefix + '.hada_w%d_a' % i, dtype, [rank, out], 0.6), rank, out)
            wb = rows(ad.add(prefix + '.hada_w%d_b' % i, dtype, [rank, inner], 0.6), rank, inner)
            t = ad.add(prefix + '.hada_t%d' % i, dtype, [rank, rank, 3, 3], 0.6)
            f.append(cp(t, wa, wb, rank, rank, out, inner, ks))
    else:
        f = []
        for i in (1, 2):
            wa = rows(ad.add(prefix + '.hada_w%d_a' % i, dtype, [out, rank], 0.6), out, rank)
            wb = rows(ad.add(prefix + '.hada_w%d_b' % i, dtype, [rank, inner, 1, 1] if w_b_4d else [rank, k], 0.6), rank, k)
            f.append(matmul(wa, wb))
    return [[f[0][o][j] * f[1][o][j] for j in range(k)] for o in range(out)]

def lora_delta(ad, prefix, out, k, rank, down_shape, up_shape):
    down = rows(ad.add(prefix + '.lora_down.weight', 'F32', down_shape), rank, k)
    up = rows(ad.add(prefix + '.lora_up.weight', 'F32', up_shape), out, rank)
    return matmul(up, down)

def alpha(ad, prefix, value):
    return ad.add(prefix + '.alpha', 'F32', [], values=[float(value)])[0]

def plain_merge(scale, delta):
    return lambda w, strength: [[w[o][j] + strength * scale * delta[o][j] for j in range(len(w[0]))] for o in range(len(w))]

def dora_merge(scale, delta, magnitude, axis, inner, ks):
    """A1111 apply_weight_decompose + finalize_updown: W + strength·(m·M/‖M‖ − W)."""
    def merge(w, strength):
        out, k = len(w), len(w[0])
        m = [[w[o][j] + scale * delta[o][j] for j in range(k)] for o in range(out)]
        if axis == 'in':
            norm = [math.sqrt(sum(m[o][c * ks + s] ** 2 for o in range(out) for s in range(ks))) for c in range(inner)]
            group = lambda o, j: j // ks
        else:
            norm = [math.sqrt(sum(v * v for v in m[o])) for o in range(out)]
            group = lambda o, j: o
        return [[w[o][j] + strength * (m[o][j] * magnitude[group(o, j)] / norm[group(o, j)] - w[o][j]) for j in range(k)] for o in range(out)]
    return merge

def make_loha():
    ad = Adapter()
    p = 'lora_unet_' + ATTN
    ad.merges[ATTN + '_to_q'] = plain_merge(alpha(ad, p + '_to_q', 1) / 2, loha_delta(ad, p + '_to_q', 6, 8, 1, 2, False))
    ad.merges[ATTN + '_to_v'] = plain_merge(1.0, loha_delta(ad, p + '_to_v', 6, 8, 1, 3, False, dtype='F16'))
    conv = 'lora_unet_down_blocks_0_resnets_0_conv1'
    ad.merges['down_blocks_0_resnets_0_conv1'] = plain_merge(alpha(ad, conv, 4) / 2, loha_delta(ad, conv, 4, 3, 9, 2, True))
    proj = 'lora_unet_down_blocks_0_attentions_0_proj_in'
    ad.merges['down_blocks_0_attentions_0_proj_in'] = plain_merge(alpha(ad, proj, 2) / 2, loha_delta(ad, proj, 6, 3, 1, 2, False, w_b_4d=True))
    return ad

def make_lokr():
    ad = Adapter()
    p = 'lora_unet_' + ATTN
    # to_q: full w1 [2,2] ⊗ (w2_a [3,2] · w2_b [2,4]); dim = w2_b rows.
    w1 = rows(ad.add(p + '_to_q.lokr_w1', 'F32', [2, 2], 0.8), 2, 2)
    w2 = matmul(rows(ad.add(p + '_to_q.lokr_w2_a', 'F32', [3, 2], 0.6), 3, 2), rows(ad.add(p + '_to_q.lokr_w2_b', 'F32', [2, 4], 0.6), 2, 4))
    ad.merges[ATTN + '_to_q'] = plain_merge(alpha(ad, p + '_to_q', 1) / 2, kron(w1, w2))
    # to_k: (w1_a [2,1] · w1_b [1,2]) ⊗ full w2 [3,4]; dim = w1_b rows = 1.
    w1 = matmul(rows(ad.add(p + '_to_k.lokr_w1_a', 'F32', [2, 1], 0.8), 2, 1), rows(ad.add(p + '_to_k.lokr_w1_b', 'F32', [1, 2], 0.8), 1, 2))
    w2 = rows(ad.add(p + '_to_k.lokr_w2', 'F16', [3, 4], 0.5), 3, 4)
    ad.merges[ATTN + '_to_k'] = plain_merge(alpha(ad, p + '_to_k', 0.5) / 1, kron(w1, w2))
    # to_v (Gemm): both factors decomposed with different ranks; dim = w2_b rows (2), not w1_b rows (1).
    w1 = matmul(rows(ad.add(p + '_to_v.lokr_w1_a', 'F32', [2, 1], 0.8), 2, 1), rows(ad.add(p + '_to_v.lokr_w1_b', 'F32', [1, 2], 0.8), 1, 2))
    w2 = matmul(rows(ad.add(p + '_to_v.lokr_w2_a', 'F32', [3, 2], 0.6), 3, 2), rows(ad.add(p + '_to_v.lokr_w2_b', 'F32', [2, 4], 0.6), 2, 4))
    ad.merges[ATTN + '_to_v'] = plain_merge(alpha(ad, p + '_to_v', 1) / 2, kron(w1, w2))
    # to_out.0: both factors full -> scale 1 whatever alpha says.
    w1 = rows(ad.add(p + '_to_out_0.lokr_w1', 'F32', [3, 2], 0.6), 3, 2)
    w2 = rows(ad.add(p + '_to_out_0.lokr_w2', 'F32', [2, 3], 0.6), 2, 3)
    alpha(ad, p + '_to_out_0', 7)
    ad.merges[ATTN + '_to_out_0'] = plain_merge(1.0, kron(w1, w2))
    # conv1 [4,3,3,3]: w1 [2,1] ⊗ CP(t2 [2,2,3,3], w2_a [2,2], w2_b [2,3]) = [2, 3*9].
    conv = 'lora_unet_down_blocks_0_resnets_0_conv1'
    w1 = rows(ad.add(conv + '.lokr_w1', 'F32', [2, 1], 0.8), 2, 1)
    wa = rows(ad.add(conv + '.lokr_w2_a', 'F32', [2, 2], 0.6), 2, 2)
    wb = rows(ad.add(conv + '.lokr_w2_b', 'F32', [2, 3], 0.6), 2, 3)
    t2 = ad.add(conv + '.lokr_t2', 'F32', [2, 2, 3, 3], 0.6)
    ad.merges['down_blocks_0_resnets_0_conv1'] = plain_merge(alpha(ad, conv, 1) / 2, kron(w1, cp(t2, wa, wb, 2, 2, 2, 3, 9)))
    # proj_in [6,3,1,1]: w1 [3,1] ⊗ 4-D w2 [2,3,1,1], no alpha.
    proj = 'lora_unet_down_blocks_0_attentions_0_proj_in'
    w1 = rows(ad.add(proj + '.lokr_w1', 'F32', [3, 1], 0.8), 3, 1)
    w2 = rows(ad.add(proj + '.lokr_w2', 'F32', [2, 3, 1, 1], 0.6), 2, 3)
    ad.merges['down_blocks_0_attentions_0_proj_in'] = plain_merge(1.0, kron(w1, w2))
    return ad

def magnitude_for(name, base, axis, inner, ks, jitter=0.15):
    """A trained-looking DoRA magnitude: the base weight's norms, perturbed."""
    w = to_torch(name, base[name])
    if axis == 'in':
        norms = [math.sqrt(sum(w[o][c * ks + s] ** 2 for o in range(len(w)) for s in range(ks))) for c in range(inner)]
    else:
        norms = [math.sqrt(sum(v * v for v in row)) for row in w]
    return [n * (1 + rng.gauss(0, jitter)) for n in norms]

def make_dora(base):
    ad = Adapter()
    p = 'lora_unet_' + ATTN

    def dora(module, prefix, delta, scale, axis, shape, inner, ks):
        m = ad.add(prefix + '.dora_scale', 'F32', shape, values=magnitude_for(BY_MODULE[module], base, axis, inner, ks))
        ad.merges[module] = dora_merge(scale, delta, m, axis, inner, ks)

    dora(ATTN + '_to_q', p + '_to_q', lora_delta(ad, p + '_to_q', 6, 8, 4, [4, 8], [6, 4]), alpha(ad, p + '_to_q', 2) / 4, 'in', [1, 8], 8, 1)
    dora(ATTN + '_to_v', p + '_to_v', lora_delta(ad, p + '_to_v', 6, 8, 2, [2, 8], [6, 2]), 1.0, 'in', [1, 8], 8, 1)
    dora(ATTN + '_to_out_0', p + '_to_out_0', lora_delta(ad, p + '_to_out_0', 6, 6, 2, [2, 6], [6, 2]), alpha(ad, p + '_to_out_0', 1) / 2, 'in', [1, 6], 6, 1)
    conv = 'lora_unet_down_blocks_0_resnets_0_conv1'
    dora('down_blocks_0_resnets_0_conv1', conv, lora_delta(ad, conv, 4, 27, 2, [2, 3, 3, 3], [4, 2, 1, 1]), alpha(ad, conv, 1) / 2, 'in', [1, 3, 1, 1], 3, 9)
    proj = 'lora_unet_down_blocks_0_attentions_0_proj_in'
    dora('down_blocks_0_attentions_0_proj_in', proj, lora_delta(ad, proj, 6, 3, 2, [2, 3, 1, 1], [6, 2, 1, 1]), alpha(ad, proj, 2) / 2, 'out', [6, 1, 1, 1], 3, 1)
    dora(ATTN + '_to_k', p + '_to_k', loha_delta(ad, p + '_to_k', 6, 8, 1, 2, False), alpha(ad, p + '_to_k', 2) / 2, 'in', [1, 8], 8, 1)
    return ad

def make_peft_dora(base):
    ad = Adapter()
    p = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
    down = rows(ad.add(p + '.lora_A.weight', 'F32', [2, 8]), 2, 8)
    up = rows(ad.add(p + '.lora_B.weight', 'F32', [6, 2]), 6, 2)
    m = ad.add(p + '.lora_magnitude_vector', 'F32', [6], values=magnitude_for('onnx::MatMul_1', base, 'out', 8, 1))
    ad.merges[ATTN + '_to_q'] = dora_merge(1.0, matmul(up, down), m, 'out', 8, 1)
    return ad

def make_locon_cp():
    """LoCon with a Tucker mid weight on conv1: Δ[o][j,s] = Σ_nm mid[n][m][s]·up[o][n]·down[m][j] (A1111 rebuild_cp_decomposition)."""
    ad = Adapter()
    conv = 'lora_unet_down_blocks_0_resnets_0_conv1'
    down = rows(ad.add(conv + '.lora_down.weight', 'F32', [2, 3, 1, 1], 0.6), 2, 3)
    mid = ad.add(conv + '.lora_mid.weight', 'F32', [2, 2, 3, 3], 0.6)
    up = rows(ad.add(conv + '.lora_up.weight', 'F32', [4, 2, 1, 1], 0.6), 4, 2)
    delta = [[sum(mid[(n * 2 + m) * 9 + s] * up[o][n] * down[m][j] for n in range(2) for m in range(2)) for j in range(3) for s in range(9)] for o in range(4)]
    ad.merges['down_blocks_0_resnets_0_conv1'] = plain_merge(alpha(ad, conv, 1) / 2, delta)
    return ad

def make_oft():
    ad = Adapter()
    for mod in ('_to_q', '_to_k'):
        ad.add('lora_unet_' + ATTN + mod + '.oft_blocks', 'F32', [2, 3, 3], 0.1)
        alpha(ad, 'lora_unet_' + ATTN + mod, 1)
    return ad

def reference(ad, kind, bases):
    out = {}
    for strength in STRENGTHS[kind]:
        per = {}
        for graph, base in bases.items():
            # 12 significant digits: far below float32's 7, so the JSON adds no error of its own.
            per[graph] = {BY_MODULE[mod]: [float('%.12g' % v) for v in to_stored(BY_MODULE[mod], merge(to_torch(BY_MODULE[mod], base[BY_MODULE[mod]]), strength))]
                          for mod, merge in ad.merges.items()}
        out[str(strength)] = per
    return out

def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    drawn = base_values()
    bases = {'unet': {n: rounded(v, 'F32') for n, v in drawn.items()}, 'unet-fp16': {n: rounded(v, 'F16') for n, v in drawn.items()}}
    write_graph(os.path.join(ROOT, 'unet'), wire.FLOAT, bases['unet'])
    write_graph(os.path.join(ROOT, 'unet-fp16'), wire.FLOAT16, bases['unet-fp16'])
    refs = {}
    adapters = (('loha', make_loha()), ('lokr', make_lokr()), ('dora', make_dora(bases['unet'])), ('peft_dora', make_peft_dora(bases['unet'])), ('locon_cp', make_locon_cp()))
    for kind, ad in adapters:
        wire.safetensors(os.path.join(ROOT, kind + '.safetensors'), ad.tensors, {'ss_base_model_version': 'sd_v1'})
        refs[kind] = reference(ad, kind, bases)
    wire.safetensors(os.path.join(ROOT, 'oft.safetensors'), make_oft().tensors, {'ss_base_model_version': 'sd_v1'})
    with open(os.path.join(ROOT, 'reference.json'), 'w') as f:
        json.dump(refs, f, indent=None, separators=(',', ':'))
    total = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(ROOT) for x in fs)
    print('wrote %s (%d bytes)' % (os.path.relpath(ROOT), total))

if __name__ == '__main__':
    main()
