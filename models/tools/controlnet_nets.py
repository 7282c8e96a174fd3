"""The demo model's ControlNet (diffusers design) and the ControlNet-capable copy of its UNet.

Residual layout. The engine binds SD's (12 down + mid) or SDXL's (9 down + mid) residual layouts
(main/engine/controlnet/graph-io.ts). The demo UNet has SDXL's geometry: three levels (8x8, 4x4, 2x2 at a
64x64 image) and its mid block at the lowest one, so it uses the 9 + 1 layout: three residuals per level,
each a zero-initialised 1x1 conv of a different point of the ControlNet's encoder (as SD's three per
level are conv_in/resnet/attention outputs), plus the mid residual:

  slot  ControlNet feature (channels, size at 64x64)        added in the UNet to
  0     conv_in + hint embedding (48, 8x8)                  skip h0 (conv_in output, into u0b)
  1     d0 resnet (48, 8x8)                                 skip s0 (into u0)
  2     a0 attention = s0 (48, 8x8)                         skip s0
  3     ds0 downsample (48 -> 96 by its zero conv, 4x4)     skip s1 (into u1)
  4     d1 resnet (96, 4x4)                                 skip s1
  5     a1 attention = s1 (96, 4x4)                         skip s1
  6     ds1 downsample (96, 2x2)                            mid output (the 2x2 level has no skip)
  7     m1 mid resnet (96, 2x2)                             mid output
  8     ma mid attention (96, 2x2)                          mid output
  mid   ma mid attention (96, 2x2, its own zero conv)       mid output
The demo UNet has one skip per level where SD has three, so a level's residuals add into that level's
skip; in diffusers too every residual is added to a skip (or the mid output), never to the encoder path.
"""
import copy
import math

from common import CTX_LEN

SLOT_CHANNELS = (48, 48, 48, 96, 96, 96, 96, 96, 96)
MID_CHANNELS = 96
# The plain UNet's modules the ControlNet copies (encoder side + embeddings); the rest is the up path.
UP_PATH = ("us1", "u1", "ua1", "us0", "u0", "ua0", "u0b", "out_n", "out")


def build_controlnet_nets():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def timestep_embedding(t, dim):
        # the same sinusoidal embedding as nets.py's UNet
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t.to(torch.float32)[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def embed(un, timestep, ctx):
        """The UNet's FiLM embedding: time + attention-pooled text (nets.UNet.forward)."""
        B = ctx.shape[0]
        te = un.t2(F.silu(un.t1(timestep_embedding(timestep, un.ch[0]))))
        q = un.pool_q.expand(B, 1, un.pool_q.shape[2])
        pooled = un.pool(q, ctx)[:, 0]
        return F.silu(te + un.p1(un.pool_ln(pooled)))

    def conv_in(un, sample):
        Bs, _, H, W = sample.shape
        ys = (torch.arange(H, dtype=torch.float32) + 0.5) * (2.0 / H) - 1.0
        xs = (torch.arange(W, dtype=torch.float32) + 0.5) * (2.0 / W) - 1.0
        cy = ys.view(1, 1, H, 1).expand(Bs, 1, H, W)
        cx = xs.view(1, 1, 1, W).expand(Bs, 1, H, W)
        return un.inp(torch.cat([sample, cx, cy], 1))

    def zero_conv(cin, cout):
        c = nn.Conv2d(cin, cout, 1)
        nn.init.zeros_(c.weight)
        nn.init.zeros_(c.bias)
        return c

    class HintEncoder(nn.Module):
        """diffusers' ControlNetConditioningEmbedding, scaled down: 64x64x3 control image -> 8x8x48 by three
        stride-2 3x3 convs (a 3x3 kernel at stride 2 still sees every pixel, so 1-pixel edges are not
        skipped), one more conv at 8x8, and a zero-initialised output conv so training starts from the
        plain UNet. Kept this small on purpose: full-resolution convs would cost more than the whole UNet."""

        def __init__(self, out_ch=48, ch=(16, 32, 48)):
            super().__init__()
            self.down = nn.ModuleList([nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip((3,) + ch[:-1], ch)])
            self.mix = nn.Conv2d(ch[-1], ch[-1], 3, padding=1)
            self.out = nn.Conv2d(ch[-1], out_ch, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, cond):
            h = cond
            for d in self.down:
                h = F.silu(d(h))
            return self.out(F.silu(self.mix(h)))

    class ControlNet(nn.Module):
        """A trainable copy of the UNet's encoder side (initialised from it) + hint encoder + zero convs.
        forward(sample, timestep, encoder_hidden_states, controlnet_cond [B,3,8h,8w] in 0..1[, conditioning_scale])
        -> 9 down residuals + mid residual (the table in the module docstring)."""

        def __init__(self, unet):
            super().__init__()
            enc = copy.deepcopy(unet)
            for name in UP_PATH:
                delattr(enc, name)
            for p in enc.parameters():
                p.requires_grad_(True)
            self.enc = enc
            self.hint = HintEncoder(unet.ch[0])
            feats = (48, 48, 48, 48, 96, 96, 96, 96, 96)
            self.zero = nn.ModuleList([zero_conv(a, b) for a, b in zip(feats, SLOT_CHANNELS)])
            self.zero_mid = zero_conv(MID_CHANNELS, MID_CHANNELS)

        def forward(self, sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale=None):
            e = self.enc
            ctx = encoder_hidden_states[:, :CTX_LEN]
            emb = embed(e, timestep, ctx)
            f0 = conv_in(e, sample) + self.hint(controlnet_cond)
            f1 = e.d0(f0, emb)
            f2 = e.a0(f1, ctx)
            f3 = e.ds0(f2)
            f4 = e.d1(f3, emb)
            f5 = e.a1(f4, ctx)
            f6 = e.ds1(f5)
            f7 = e.m1(f6, emb)
            f8 = e.ma(f7, ctx)
            outs = [z(f) for z, f in zip(self.zero, (f0, f1, f2, f3, f4, f5, f6, f7, f8))] + [self.zero_mid(f8)]
            if conditioning_scale is not None:
                s = conditioning_scale.to(torch.float32).reshape(())
                outs = [o * s for o in outs]
            return tuple(outs)

    class ControlUNet(nn.Module):
        """The demo UNet (same module, same weights) taking the 9 + 1 residuals as extra inputs.
        With zero residuals it computes exactly what nets.UNet.forward does."""

        def __init__(self, unet):
            super().__init__()
            self.un = unet

        def forward(self, sample, timestep, encoder_hidden_states, *res):
            u = self.un
            ctx = encoder_hidden_states[:, :CTX_LEN]
            emb = embed(u, timestep, ctx)
            h0 = conv_in(u, sample)
            s0 = u.a0(u.d0(h0, emb), ctx)
            s1 = u.a1(u.d1(u.ds0(s0), emb), ctx)
            h = u.ma(u.m1(u.ds1(s1), emb), ctx)
            # residuals go to the skips and the mid output only; the encoder path above is untouched
            h = h + res[6] + res[7] + res[8] + res[9]
            skip0 = h0 + res[0]
            s0 = s0 + res[1] + res[2]
            s1 = s1 + res[3] + res[4] + res[5]
            h = u.us1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = u.ua1(u.u1(torch.cat([h, s1], 1), emb), ctx)
            h = u.us0(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = u.ua0(u.u0(torch.cat([h, s0], 1), emb), ctx)
            h = u.u0b(torch.cat([h, skip0], 1), emb)
            return u.out(F.silu(u.out_n(h)))

    return dict(ControlNet=ControlNet, ControlUNet=ControlUNet)


def residual_shapes(batch, h=8, w=8):
    """Shapes of the 9 + 1 residuals at an h x w latent (the engine's SDXL rule: halve after every third)."""
    out = []
    hh, ww = h, w
    for i, c in enumerate(SLOT_CHANNELS):
        if i > 0 and i % 3 == 0:
            hh, ww = (hh + 1) // 2, (ww + 1) // 2
        out.append((batch, c, hh, ww))
    return out + [(batch, MID_CHANNELS, hh, ww)]


def canny_control(rgb):
    """uint8 [H,W,3] -> uint8 [H,W,3] edge map: cv2.Canny(rgb, 100, 200) on all three channels, white on
    black — pixel-identical to the engine's annotator (main/engine/controlnet/canny.ts, A1111 defaults)."""
    import cv2
    import numpy as np
    e = cv2.Canny(np.ascontiguousarray(rgb), 100, 200)
    return np.repeat(e[..., None], 3, axis=2)
