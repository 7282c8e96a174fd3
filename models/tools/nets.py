"""The demo model's three networks: the 8x autoencoder, the CLIP-style text encoder and the UNet.

torch is imported inside build_nets() so the dataset renderer and tokenizer work without it.
"""
import math

from common import CTX_LEN, LATENT_CH, MAX_LEN

# ----------------------------------------------------------------------------------------------
# Networks (torch imported lazily so the renderer works without it)
# ----------------------------------------------------------------------------------------------
def build_nets():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def gn(c):
        return nn.GroupNorm(8 if c % 8 == 0 else 4, c)

    # ---------------- autoencoder ----------------
    class AEResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1 = nn.Conv2d(c, c, 3, padding=1)
            self.c2 = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return x + self.c2(F.silu(self.c1(F.silu(x))))

    class Encoder(nn.Module):
        """[B,3,H,W] in [-1,1] -> [B,4,H/8,W/8] (deterministic, unscaled)."""

        def __init__(self, ch=(16, 32, 64, 96)):
            super().__init__()
            self.inp = nn.Conv2d(3, ch[0], 3, padding=1)
            self.down = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1], 4, stride=2, padding=1) for i in range(3)])
            self.res = nn.ModuleList([AEResBlock(ch[i + 1]) for i in range(3)])
            self.out = nn.Conv2d(ch[-1], LATENT_CH, 3, padding=1)

        def forward(self, x):
            h = self.inp(x)
            for d, r in zip(self.down, self.res):
                h = r(d(F.silu(h)))
            return self.out(F.silu(h))

    class Decoder(nn.Module):
        """[B,4,h,w] (unscaled) -> [B,3,8h,8w] in about [-1,1]."""

        def __init__(self, ch=(96, 64, 32, 16), blocks=1):
            super().__init__()
            seq = lambda c: AEResBlock(c) if blocks == 1 else nn.Sequential(*[AEResBlock(c) for _ in range(blocks)])
            self.inp = nn.Conv2d(LATENT_CH, ch[0], 3, padding=1)
            self.res0 = seq(ch[0])
            self.ups = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1], 3, padding=1) for i in range(3)])
            self.res = nn.ModuleList([seq(ch[i + 1]) for i in range(3)])
            self.out = nn.Conv2d(ch[-1], 3, 3, padding=1)

        def forward(self, z):
            h = self.res0(self.inp(z))
            for u, r in zip(self.ups, self.res):
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                h = r(u(F.silu(h)))
            return self.out(F.silu(h))

    # ---------------- text encoder ----------------
    class Attn(nn.Module):
        def __init__(self, dim, heads, ctx_dim=None):
            super().__init__()
            ctx_dim = ctx_dim or dim
            self.h = heads
            self.q = nn.Linear(dim, dim)
            self.k = nn.Linear(ctx_dim, dim)
            self.v = nn.Linear(ctx_dim, dim)
            self.o = nn.Linear(dim, dim)

        def forward(self, x, ctx=None, mask=None):
            ctx = x if ctx is None else ctx
            B, N, C = x.shape
            M = ctx.shape[1]
            d = C // self.h
            q = self.q(x).reshape(B, N, self.h, d).transpose(1, 2)
            k = self.k(ctx).reshape(B, M, self.h, d).transpose(1, 2)
            v = self.v(ctx).reshape(B, M, self.h, d).transpose(1, 2)
            w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
            if mask is not None:
                w = w + mask
            w = torch.softmax(w, dim=-1)
            out = torch.matmul(w, v).transpose(1, 2).reshape(B, N, C)
            return self.o(out)

    class TBlock(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.attn = Attn(dim, heads)
            self.ln2 = nn.LayerNorm(dim)
            self.fc1 = nn.Linear(dim, 4 * dim)
            self.fc2 = nn.Linear(4 * dim, dim)

        def forward(self, x, mask):
            x = x + self.attn(self.ln1(x), mask=mask)
            h = self.fc1(self.ln2(x))
            h = h * torch.sigmoid(1.702 * h)  # quick_gelu like CLIP
            return x + self.fc2(h)

    class TextEncoder(nn.Module):
        """CLIP-style: token + position embeddings, causal pre-LN transformer, final LN,
        pooled output at the EOS position (argmax id, like CLIP)."""

        def __init__(self, vocab_size, dim=128, layers=3, heads=4):
            super().__init__()
            self.tok = nn.Embedding(vocab_size, dim)
            self.pos = nn.Parameter(torch.zeros(MAX_LEN, dim))
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos, std=0.01)
            self.blocks = nn.ModuleList([TBlock(dim, heads) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(dim)
            self.register_buffer("causal", torch.full((MAX_LEN, MAX_LEN), float("-inf")).triu(1), persistent=False)

        def forward(self, input_ids, length: int = MAX_LEN):
            # `length` < 77 computes only the first positions (identical results: causal mask)
            ids = input_ids[:, :length].long()
            x = self.tok(ids) + self.pos[:length]
            mask = self.causal[:length, :length]
            for b in self.blocks:
                x = b(x, mask)
            x = self.ln_f(x)
            eos = input_ids.to(torch.float32).argmax(dim=-1)
            eos = torch.clamp(eos, max=length - 1)
            pooled = x[torch.arange(x.shape[0]), eos]
            return x, pooled

    # ---------------- UNet ----------------
    def timestep_embedding(t, dim):
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t.to(torch.float32)[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    class ResBlock(nn.Module):
        def __init__(self, cin, cout, temb):
            super().__init__()
            self.n1 = gn(cin)
            self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
            self.t = nn.Linear(temb, 2 * cout)   # scale/shift (FiLM) from time + pooled text
            self.n2 = gn(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
            nn.init.zeros_(self.c2.weight)
            nn.init.zeros_(self.c2.bias)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, emb):
            h = self.c1(F.silu(self.n1(x)))
            ss = self.t(emb)[:, :, None, None]
            scale, shift = torch.chunk(ss, 2, dim=1)
            h = self.n2(h) * (1 + scale) + shift
            h = self.c2(F.silu(h))
            return self.skip(x) + h

    class SpatialTransformer(nn.Module):
        def __init__(self, c, ctx_dim, heads=4):
            super().__init__()
            self.norm = gn(c)
            self.proj_in = nn.Conv2d(c, c, 1)
            self.ln1 = nn.LayerNorm(c)
            self.self_attn = Attn(c, heads)
            self.ln2 = nn.LayerNorm(c)
            self.cross = Attn(c, heads, ctx_dim)
            self.ln3 = nn.LayerNorm(c)
            self.ff1 = nn.Linear(c, 4 * c)
            self.ff2 = nn.Linear(4 * c, c)
            self.proj_out = nn.Conv2d(c, c, 1)
            nn.init.zeros_(self.proj_out.weight)
            nn.init.zeros_(self.proj_out.bias)

        def forward(self, x, ctx):
            B, C, H, W = x.shape
            h = self.proj_in(self.norm(x))
            h = h.flatten(2).transpose(1, 2)
            h = h + self.self_attn(self.ln1(h))
            h = h + self.cross(self.ln2(h), ctx)
            h = h + self.ff2(F.gelu(self.ff1(self.ln3(h))))
            h = h.transpose(1, 2).reshape(B, C, H, W)
            return x + self.proj_out(h)

    class UNet(nn.Module):
        """eps-prediction UNet on [B,4,h,w] latents with cross-attention on text states.
        Internals: FiLM conditioning from time embedding + attention-pooled text summary."""

        def __init__(self, ctx_dim=128, ch=(48, 96, 96), temb=256):
            super().__init__()
            self.ch = ch
            self.temb_dim = temb
            self.t1 = nn.Linear(ch[0], temb)
            self.t2 = nn.Linear(temb, temb)
            self.pool_q = nn.Parameter(torch.randn(1, 1, ctx_dim) * 0.02)
            self.pool = Attn(ctx_dim, 4)
            self.pool_ln = nn.LayerNorm(ctx_dim)
            self.p1 = nn.Linear(ctx_dim, temb)
            # +2 input channels: x/y coordinates in [-1, 1] (absolute position for "left"/"top"...)
            self.inp = nn.Conv2d(LATENT_CH + 2, ch[0], 3, padding=1)
            # down: level0 (8x8) ch0, level1 (4x4) ch1, level2 (2x2) ch2
            self.d0 = ResBlock(ch[0], ch[0], temb)
            self.a0 = SpatialTransformer(ch[0], ctx_dim)
            self.ds0 = nn.Conv2d(ch[0], ch[0], 3, stride=2, padding=1)
            self.d1 = ResBlock(ch[0], ch[1], temb)
            self.a1 = SpatialTransformer(ch[1], ctx_dim)
            self.ds1 = nn.Conv2d(ch[1], ch[1], 3, stride=2, padding=1)
            self.m1 = ResBlock(ch[1], ch[2], temb)
            self.ma = SpatialTransformer(ch[2], ctx_dim)
            # up
            self.us1 = nn.Conv2d(ch[2], ch[1], 3, padding=1)
            self.u1 = ResBlock(ch[1] * 2, ch[1], temb)
            self.ua1 = SpatialTransformer(ch[1], ctx_dim)
            self.us0 = nn.Conv2d(ch[1], ch[0], 3, padding=1)
            self.u0 = ResBlock(ch[0] * 2, ch[0], temb)
            self.ua0 = SpatialTransformer(ch[0], ctx_dim)
            self.u0b = ResBlock(ch[0] * 2, ch[0], temb)
            self.out_n = gn(ch[0])
            self.out = nn.Conv2d(ch[0], LATENT_CH, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, sample, timestep, encoder_hidden_states):
            ctx = encoder_hidden_states[:, :CTX_LEN]
            B = ctx.shape[0]
            te = timestep_embedding(timestep, self.ch[0])
            te = self.t2(F.silu(self.t1(te)))
            q = self.pool_q.expand(B, 1, self.pool_q.shape[2])
            pooled = self.pool(q, ctx)[:, 0]
            emb = F.silu(te + self.p1(self.pool_ln(pooled)))
            Bs, _, H, W = sample.shape
            ys = (torch.arange(H, dtype=torch.float32) + 0.5) * (2.0 / H) - 1.0
            xs = (torch.arange(W, dtype=torch.float32) + 0.5) * (2.0 / W) - 1.0
            cy = ys.view(1, 1, H, 1).expand(Bs, 1, H, W)
            cx = xs.view(1, 1, 1, W).expand(Bs, 1, H, W)
            h0 = self.inp(torch.cat([sample, cx, cy], 1))
            h = self.a0(self.d0(h0, emb), ctx)
            s0 = h
            h = self.ds0(h)
            h = self.a1(self.d1(h, emb), ctx)
            s1 = h
            h = self.ds1(h)
            h = self.m1(h, emb)
            h = self.ma(h, ctx)
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self.us1(h)
            h = self.ua1(self.u1(torch.cat([h, s1], 1), emb), ctx)
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self.us0(h)
            h = self.ua0(self.u0(torch.cat([h, s0], 1), emb), ctx)
            h = self.u0b(torch.cat([h, h0], 1), emb)
            return self.out(F.silu(self.out_n(h)))

    return dict(Encoder=Encoder, Decoder=Decoder, TextEncoder=TextEncoder, UNet=UNet)


TEXT_CFG = dict(dim=128, layers=3, heads=4)
UNET_CFG = dict(ctx_dim=128, ch=(48, 96, 96), temb=256)

# The larger decoder (train_decoder.py, recipe 2's last step): round-trip reflection 63% -> 78% on the shipped encoder.
DECODER_CFG_V2 = dict(ch=(128, 96, 64, 32), blocks=2)


def load_text_encoder_and_unet(ck, raw=False):
    """The text encoder and UNet of a train_unet.py checkpoint, in eval mode. EMA weights (what ships)
    unless raw; the architecture comes from the checkpoint so older checkpoints keep loading."""
    nets = build_nets()
    te = nets["TextEncoder"](ck["vocab_size"], **ck.get("text_cfg", TEXT_CFG))
    un = nets["UNet"](**ck.get("unet_cfg", UNET_CFG))
    te.load_state_dict(ck["te" if raw else "ema_te"])
    un.load_state_dict(ck["unet" if raw else "ema_unet"])
    te.eval(); un.eval()
    return te, un
