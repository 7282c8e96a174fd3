#!/usr/bin/python3
"""Write the "compute-profile" benchmark model into bench/fixtures/sd15-compute/.

Same diffusers-ONNX layout and I/O as an SD1.5 export by diffusers'
convert_stable_diffusion_checkpoint_to_onnx.py (OnnxStableDiffusionPipeline,
PNDM scheduler, input_ids int32 [B,77], text hidden 768, timestep float [batch],
unet sample [B,4,h,w] + encoder_hidden_states [B,77,768] -> out_sample), with
graphs whose per-call compute has the structure of the real networks:

* unet: conv_in 4->320; down: ResBlock(320)@h, stride-2 conv, ResBlock(320->640)
  + Transformer(640)@h/2, stride-2 conv; mid: ResBlock(640) + Transformer(640) +
  ResBlock(640)@h/4; up (with skip concats): ResBlock(1280->640) + Transformer(640)
  @h/2, conv 640->320 after the x2 upsample, ResBlock(640->320) + Transformer(320)@h
  with self-attention over h*w tokens;
  GroupNorm(32)/SiLU, timestep MLP 320->1280->1280 projected into every ResBlock,
  Transformer = GN, 1x1 proj_in, LN + self-attn (8 heads), LN + cross-attn over the 77
  text tokens (768-d), LN + GEGLU FF (x4), 1x1 proj_out.  About 1/4 of SD1.5's FLOPs
  per call (~44 GFLOP per sample at a 32x32 latent vs ~180 for SD1.5 counted the same way).
* text_encoder: token + position embeddings, 2 pre-LN CLIP layers (768, 12 heads,
  MLP 3072, quick-GELU, causal mask), final LN (SD1.5: 12 such layers).
* vae_decoder: conv 4->128, ResBlock, 3 nearest x2 upsamples + convs down to 32
  channels, conv 32->3 (the real SD VAE decoder is ~25x heavier).

No weights are stored: every weight is computed inside the graph from a single
small index vector (w[i,j] = sin(a*i*j + b*i + c*j + k) / sqrt(fan_in)), exported
with do_constant_folding=False.  ONNX Runtime's constant folding (graph
optimization level "all", as the engine uses) materialises the weights once at
session creation, so session.run does real convolutions/matmuls on real-size
weights while the committed .onnx files are a few hundred KB.

    /usr/bin/python3 models/tools/make_bench_fixture.py [--out DIR]

Needs Debian python3 + python3-torch 1.13 only (reuses make_fixtures.py's
tokenizer, scheduler and json helpers).  Deterministic output.
"""
import argparse
import io
import math
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (tokenizer, SCHED_BASE, write_json)

torch.set_num_threads(2)
OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, '..', '..', 'bench', 'fixtures', 'sd15-compute')
IX_LEN = 12288  # longest weight axis: 1280 * 9 = 11520 (conv in 1280 channels)


# ---------------------------------------------------------------------------
# In-graph weights
# ---------------------------------------------------------------------------

class Weights:
    """Hands out a distinct key per layer; weights are built from the shared index buffer."""

    def __init__(self):
        self.k = 0

    def next(self):
        self.k += 1
        return self.k


def gen_weight(ix, shape, k):
    """[O, I*kh*kw] pseudo-random-looking matrix: sin((a*i + b) * (j + c)) / sqrt(fan_in / 2).

    Only three ops touch full-size tensors (outer Mul, Sin, Mul), which keeps ORT's
    constant-folding peak memory and session-creation time low."""
    rows = shape[0]
    cols = 1
    for s in shape[1:]:
        cols *= s
    u = ix[:rows] * (0.000123 * (1.0 + 0.071 * k)) + (0.618034 + 0.013 * k)
    v = ix[:cols] + (1.0 + 0.414214 * k)
    w = torch.sin(u.unsqueeze(1) * v.unsqueeze(0)) * math.sqrt(2.0 / cols)  # sin has variance 1/2
    return w.reshape(shape)


class Conv(nn.Module):
    def __init__(self, W, cin, cout, k=3, stride=1):
        super().__init__()
        self.shape = (cout, cin, k, k)
        self.key = W.next()
        self.stride = stride
        self.pad = k // 2

    def forward(self, ix, x):
        return F.conv2d(x, gen_weight(ix, self.shape, self.key), stride=self.stride, padding=self.pad)


class Linear(nn.Module):
    def __init__(self, W, cin, cout):
        super().__init__()
        self.shape = (cout, cin)
        self.key = W.next()

    def forward(self, ix, x):
        return F.linear(x, gen_weight(ix, self.shape, self.key))


def gn(x):
    return F.group_norm(x, 32, eps=1e-5)


def ln(x, C):
    return F.layer_norm(x, (C,), torch.ones(C), torch.zeros(C), eps=1e-5)


def attention(q, k, v, heads, mask=None):
    B, N, C = q.shape
    d = C // heads
    q = q.reshape(B, N, heads, d).transpose(1, 2)
    k = k.reshape(B, -1, heads, d).transpose(1, 2)
    v = v.reshape(B, -1, heads, d).transpose(1, 2)
    s = (q @ k.transpose(-1, -2)) * (d ** -0.5)
    if mask is not None:
        s = s + mask
    o = torch.softmax(s, dim=-1) @ v
    return o.transpose(1, 2).reshape(B, N, C)


# ---------------------------------------------------------------------------
# UNet
# ---------------------------------------------------------------------------

class ResBlock(nn.Module):
    def __init__(self, W, cin, cout, temb=1280):
        super().__init__()
        self.conv1 = Conv(W, cin, cout)
        self.t = Linear(W, temb, cout)
        self.conv2 = Conv(W, cout, cout)
        self.skip = Conv(W, cin, cout, k=1) if cin != cout else None

    def forward(self, ix, x, temb):
        h = self.conv1(ix, F.silu(gn(x)))
        h = h + self.t(ix, F.silu(temb))[:, :, None, None]
        h = self.conv2(ix, F.silu(gn(h)))
        return (self.skip(ix, x) if self.skip is not None else x) + h


class Transformer(nn.Module):
    """diffusers Transformer2DModel (use_linear_projection=False) with one BasicTransformerBlock."""

    def __init__(self, W, C, ctx=768, heads=8):
        super().__init__()
        self.heads = heads
        self.C = C
        self.proj_in = Conv(W, C, C, k=1)
        self.q1, self.k1, self.v1, self.o1 = Linear(W, C, C), Linear(W, C, C), Linear(W, C, C), Linear(W, C, C)
        self.q2, self.k2, self.v2, self.o2 = Linear(W, C, C), Linear(W, ctx, C), Linear(W, ctx, C), Linear(W, C, C)
        self.ff1 = Linear(W, C, 8 * C)  # GEGLU: 2 x 4C
        self.ff2 = Linear(W, 4 * C, C)
        self.proj_out = Conv(W, C, C, k=1)

    def forward(self, ix, x, ctx):
        C = self.C
        B, _, H, Wd = x.shape
        h = self.proj_in(ix, gn(x)).flatten(2).transpose(1, 2)  # [B, HW, C]
        n = ln(h, C)
        h = h + self.o1(ix, attention(self.q1(ix, n), self.k1(ix, n), self.v1(ix, n), self.heads))
        n = ln(h, C)
        h = h + self.o2(ix, attention(self.q2(ix, n), self.k2(ix, ctx), self.v2(ix, ctx), self.heads))
        a, g = self.ff1(ix, ln(h, C)).chunk(2, dim=-1)
        h = h + self.ff2(ix, a * F.gelu(g))
        h = h.transpose(1, 2).reshape(B, C, H, Wd)
        return x + self.proj_out(ix, h)


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        W = Weights()
        self.register_buffer('ix', torch.arange(IX_LEN, dtype=torch.float32))
        self.register_buffer('freqs', torch.exp(-math.log(10000) * torch.arange(160, dtype=torch.float32) / 160))
        self.t1, self.t2 = Linear(W, 320, 1280), Linear(W, 1280, 1280)
        self.conv_in = Conv(W, 4, 320)
        self.d0 = ResBlock(W, 320, 320)
        self.ds0 = Conv(W, 320, 320, stride=2)
        self.d1 = ResBlock(W, 320, 640)
        self.d1a = Transformer(W, 640)
        self.ds1 = Conv(W, 640, 640, stride=2)
        self.m0 = ResBlock(W, 640, 640)
        self.ma = Transformer(W, 640)
        self.m1 = ResBlock(W, 640, 640)
        self.us1 = Conv(W, 640, 640)
        self.u1 = ResBlock(W, 1280, 640)
        self.u1a = Transformer(W, 640)
        self.us0 = Conv(W, 640, 320)
        self.u0 = ResBlock(W, 320 + 320, 320)
        self.u0a = Transformer(W, 320)
        self.conv_out = Conv(W, 320, 4)

    def forward(self, sample, timestep, encoder_hidden_states):
        ix = self.ix
        t = timestep.float().reshape(-1)
        arg = t[:, None] * self.freqs[None, :]
        temb = self.t2(ix, F.silu(self.t1(ix, torch.cat([torch.cos(arg), torch.sin(arg)], dim=1))))  # [1|B, 1280]
        ctx = encoder_hidden_states
        h = self.conv_in(ix, sample)
        s0 = self.d0(ix, h, temb)                                            # 320 @ h
        h = self.ds0(ix, s0)
        s1 = self.d1a(ix, self.d1(ix, h, temb), ctx)                         # 640 @ h/2
        h = self.ds1(ix, s1)
        h = self.m1(ix, self.ma(ix, self.m0(ix, h, temb), ctx), temb)        # 640 @ h/4
        h = self.us1(ix, F.interpolate(h, scale_factor=2.0, mode='nearest'))
        h = self.u1a(ix, self.u1(ix, torch.cat([h, s1], dim=1), temb), ctx)  # 640 @ h/2
        h = self.us0(ix, F.interpolate(h, scale_factor=2.0, mode='nearest'))
        h = self.u0a(ix, self.u0(ix, torch.cat([h, s0], dim=1), temb), ctx)  # 320 @ h
        return self.conv_out(ix, F.silu(gn(h)))


# ---------------------------------------------------------------------------
# Text encoder and VAE decoder
# ---------------------------------------------------------------------------

class ClipLayer(nn.Module):
    def __init__(self, W, D=768, heads=12):
        super().__init__()
        self.heads = heads
        self.D = D
        self.q, self.k, self.v, self.o = Linear(W, D, D), Linear(W, D, D), Linear(W, D, D), Linear(W, D, D)
        self.fc1, self.fc2 = Linear(W, D, 4 * D), Linear(W, 4 * D, D)

    def forward(self, ix, h, mask):
        n = ln(h, self.D)
        h = h + self.o(ix, attention(self.q(ix, n), self.k(ix, n), self.v(ix, n), self.heads, mask))
        m = self.fc1(ix, ln(h, self.D))
        return h + self.fc2(ix, m * torch.sigmoid(1.702 * m))


class TextEncoder(nn.Module):
    def __init__(self, vocab, D=768, layers=2):
        super().__init__()
        W = Weights()
        self.vocab = vocab
        self.register_buffer('ix', torch.arange(max(IX_LEN, vocab), dtype=torch.float32))
        self.tok_key, self.pos_key = W.next(), W.next()
        self.D = D
        self.layers = nn.ModuleList([ClipLayer(W, D) for _ in range(layers)])
        self.register_buffer('mask', torch.triu(torch.full((77, 77), -1e4), diagonal=1))

    def forward(self, input_ids):
        ix = self.ix
        ids = input_ids.long()
        S = ids.shape[1]
        tok = gen_weight(ix, (self.vocab, self.D), self.tok_key) * 0.7
        pos = gen_weight(ix, (77, self.D), self.pos_key) * 0.7
        h = F.embedding(ids, tok) + pos[:S]
        mask = self.mask[:S, :S]
        for layer in self.layers:
            h = layer(ix, h, mask)
        last = ln(h, self.D)
        pooled = last[torch.arange(last.shape[0]), ids.argmax(dim=-1)]
        return last, pooled


class VaeDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        W = Weights()
        self.register_buffer('ix', torch.arange(IX_LEN, dtype=torch.float32))
        self.conv_in = Conv(W, 4, 128)
        self.r0a, self.r0b = Conv(W, 128, 128), Conv(W, 128, 128)
        self.c1 = Conv(W, 128, 128)
        self.c2 = Conv(W, 128, 64)
        self.c3 = Conv(W, 64, 32)
        self.conv_out = Conv(W, 32, 3)

    def forward(self, latent_sample):
        ix = self.ix
        up = lambda x: F.interpolate(x, scale_factor=2.0, mode='nearest')  # noqa: E731
        h = self.conv_in(ix, latent_sample)
        h = h + self.r0b(ix, F.silu(gn(self.r0a(ix, F.silu(gn(h))))))      # 128 @ h
        h = self.c1(ix, up(F.silu(gn(h))))                                  # 128 @ 2h
        h = self.c2(ix, up(F.silu(gn(h))))                                  # 64 @ 4h
        h = self.c3(ix, up(F.silu(gn(h))))                                  # 32 @ 8h
        return torch.tanh(self.conv_out(ix, F.silu(gn(h))))


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

def export(module, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, opset_version=OPSET, input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, do_constant_folding=False)
    with open(path, 'wb') as f:
        f.write(buf.getvalue())
    print(f'wrote {os.path.relpath(path)} ({len(buf.getvalue())} bytes)', file=sys.stderr)


def flops_note():
    """Multiply-add count of one UNet call per sample at a 32x32 latent (printed for the record)."""
    hw = {32: 1024, 16: 256, 8: 64}
    conv = lambda ci, co, k, r: 2 * ci * co * k * k * hw[r]  # noqa: E731
    def res(ci, co, r):
        return conv(ci, co, 3, r) + conv(co, co, 3, r) + (conv(ci, co, 1, r) if ci != co else 0)
    def tf(C, r):
        n = hw[r]
        return (2 * conv(C, C, 1, r) + 2 * n * 4 * C * C + 2 * 2 * n * n * C + 2 * n * 2 * C * C + 2 * 2 * 77 * 768 * C
                + 2 * 2 * n * 77 * C + 2 * n * (8 * C * C + 4 * C * C))
    total = (conv(4, 320, 3, 32) + res(320, 320, 32) + conv(320, 320, 3, 16) + res(320, 640, 16) + tf(640, 16)
             + conv(640, 640, 3, 8) + 2 * res(640, 640, 8) + tf(640, 8) + conv(640, 640, 3, 16) + res(1280, 640, 16)
             + tf(640, 16) + conv(640, 320, 3, 32) + res(640, 320, 32) + tf(320, 32) + conv(320, 4, 3, 32))
    return total / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=DEFAULT_OUT)
    out = os.path.abspath(ap.parse_args().out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    sched = {**mf.SCHED_BASE, '_class_name': 'PNDMScheduler', 'set_alpha_to_one': False, 'skip_prk_steps': True,
             'steps_offset': 1, 'clip_sample': False}
    mf.write_json(os.path.join(out, 'model_index.json'), {
        '_class_name': 'OnnxStableDiffusionPipeline', '_diffusers_version': '0.30.0',
        'text_encoder': ['diffusers', 'CLIPTextModel'], 'tokenizer': ['transformers', 'CLIPTokenizer'],
        'unet': ['diffusers', 'UNet2DConditionModel'], 'vae_decoder': ['diffusers', 'AutoencoderKL'],
        'scheduler': ['diffusers', 'PNDMScheduler'],
    })
    mf.write_json(os.path.join(out, 'scheduler', 'scheduler_config.json'), sched)
    mf.write_tokenizer(os.path.join(out, 'tokenizer'), '<|endoftext|>')

    ids = torch.randint(0, mf.VOCAB_SIZE, (1, 77), dtype=torch.int32)
    export(TextEncoder(mf.VOCAB_SIZE), (ids,), os.path.join(out, 'text_encoder', 'model.onnx'), ['input_ids'],
           ['last_hidden_state', 'pooler_output'],
           {'input_ids': {0: 'batch', 1: 'sequence'}, 'last_hidden_state': {0: 'batch', 1: 'sequence'},
            'pooler_output': {0: 'batch'}})
    export(UNet(), (torch.randn(2, 4, 32, 32), torch.tensor([500.0, 500.0]), torch.randn(2, 77, 768)),
           os.path.join(out, 'unet', 'model.onnx'), ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
           {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': {0: 'batch'},
            'encoder_hidden_states': {0: 'batch', 1: 'sequence'}, 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(VaeDecoder(), (torch.randn(1, 4, 32, 32),), os.path.join(out, 'vae_decoder', 'model.onnx'), ['latent_sample'],
           ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}, 'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    print(f'unet: ~{flops_note():.1f} GFLOP per sample per call at a 32x32 latent', file=sys.stderr)


if __name__ == '__main__':
    main()
