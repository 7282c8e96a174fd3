"""Shared code for the "shapes and light" demo model.

Everything the other scripts need lives here: the procedural renderer, the caption
grammar, the held-out split, a CLIP-compatible BPE tokenizer, the three networks
(autoencoder, CLIP-style text encoder, UNet), the scaled_linear schedule, a DDIM
sampler and the pixel-based adherence scoring (mirrors what the TypeScript test does).

Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy, python3-pil).
"""
from __future__ import annotations

import html
import json
import math
import os
import random
from dataclasses import dataclass, asdict
from functools import lru_cache

import numpy as np

try:
    import regex as _re  # \p{L} support (python3-regex)
    _PAT = _re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", _re.IGNORECASE)
except ImportError:  # pragma: no cover - close approximation with the stdlib
    import re as _re
    _PAT = _re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+""", _re.IGNORECASE)

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
DEMO = os.path.join(MODELS, "demo")
WORK = os.path.join(MODELS, ".work")

RES = 64            # image size
LAT = RES // 8      # latent size
LATENT_CH = 4
MAX_LEN = 77        # CLIP positions
CTX_LEN = 40        # the UNet cross-attends to the first CTX_LEN text states (captions are < 40 tokens)

# ----------------------------------------------------------------------------------------------
# Domain
# ----------------------------------------------------------------------------------------------
PALETTE = {
    "red": (220, 35, 35),
    "green": (30, 170, 60),
    "blue": (35, 75, 225),
    "yellow": (245, 220, 40),
    "purple": (140, 45, 185),
    "orange": (250, 135, 25),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLORS = list(PALETTE.keys())
SHAPES = ["circle", "square", "triangle", "ring", "star"]
POSITIONS = ["left", "right", "top", "bottom", "centre"]
SIZES = ["small", "large"]
LIGHTS = ["none", "left", "right", "above"]
TINTS = ["none", "golden", "blue"]

# object centres (x, y) in pixels for a 64x64 image
POS_XY = {"left": (18, 32), "right": (46, 32), "top": (32, 17), "bottom": (32, 47), "centre": (32, 32)}
POS_XY_REFL = {"left": (18, 22), "right": (46, 22), "top": (32, 15), "centre": (32, 22)}
RADIUS = {"small": 7.0, "large": 12.0}
RADIUS_REFL = {"small": 6.0, "large": 9.5}


def heldout_combos():
    """Deterministic colour-shape-background combinations that never appear in training.

    For every (colour, shape) pair two background colours are held out: 8*5*2 = 80 combos.
    Each colour, shape and background still appears with many partners in training.
    """
    offs = [(1, 4), (2, 5), (3, 6), (4, 7), (5, 2)]
    out = []
    for ci, c in enumerate(COLORS):
        for si, s in enumerate(SHAPES):
            for o in offs[si]:
                b = COLORS[(ci + o) % len(COLORS)]
                out.append((c, s, b))
    return out


HELDOUT = set(heldout_combos())


@dataclass
class Attrs:
    color: str
    shape: str
    bg: str               # plain background colour, or the top colour of a gradient
    bg2: str | None       # bottom colour of a vertical gradient (None = plain)
    position: str
    size: str
    light: str
    tint: str
    reflection: bool
    jx: float = 0.0       # small jitter of the centre in pixels
    jy: float = 0.0
    jr: float = 0.0       # radius jitter
    rot: float = 0.0      # rotation for square/triangle/star (radians, small)


def is_heldout(a: Attrs) -> bool:
    if (a.color, a.shape, a.bg) in HELDOUT:
        return True
    if a.bg2 is not None and (a.color, a.shape, a.bg2) in HELDOUT:
        return True
    return False


def random_attrs(rng: random.Random, allow_heldout=False) -> Attrs:
    while True:
        color = rng.choice(COLORS)
        shape = rng.choice(SHAPES)
        bg = rng.choice([c for c in COLORS if c != color])
        bg2 = None
        if rng.random() < 0.2:
            bg2 = rng.choice([c for c in COLORS if c not in (color, bg)])
        reflection = rng.random() < 0.3
        position = rng.choice(["left", "right", "top", "centre"] if reflection else POSITIONS)
        a = Attrs(
            color=color, shape=shape, bg=bg, bg2=bg2, position=position,
            size=rng.choice(SIZES), light=rng.choice(LIGHTS),
            tint=rng.choices(TINTS, weights=[0.6, 0.2, 0.2])[0], reflection=reflection,
            jx=rng.uniform(-2.5, 2.5), jy=rng.uniform(-2.5, 2.5), jr=rng.uniform(-1.0, 1.0),
            rot=rng.uniform(-0.15, 0.15),
        )
        if allow_heldout or not is_heldout(a):
            return a


# ----------------------------------------------------------------------------------------------
# Renderer (numpy, 2x supersampled)
# ----------------------------------------------------------------------------------------------
SS = 2
_G = (np.arange(RES * SS, dtype=np.float32) + 0.5) / SS  # pixel-space coordinates of sub-samples
_GY, _GX = np.meshgrid(_G, _G, indexing="ij")


def _shape_mask(shape, cx, cy, r, rot, gx=_GX, gy=_GY):
    dx = gx - cx
    dy = gy - cy
    if rot:
        c, s = math.cos(rot), math.sin(rot)
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    if shape == "circle":
        return (dx * dx + dy * dy) <= r * r
    if shape == "ring":
        d2 = dx * dx + dy * dy
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if shape == "square":
        h = r * 0.85
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if shape == "triangle":
        # upward equilateral triangle inscribed in radius r (centroid at centre, shifted down a bit)
        dy2 = dy - 0.15 * r
        top = -r
        bottom = 0.62 * r
        half_w = (dy2 - top) / (bottom - top) * (r * 0.95)
        return (dy2 >= top) & (dy2 <= bottom) & (np.abs(dx) <= half_w)
    if shape == "star":
        ang = np.arctan2(dx, -dy)  # 0 = up
        rad = np.sqrt(dx * dx + dy * dy)
        k = 5
        seg = (ang % (2 * math.pi / k)) / (2 * math.pi / k)  # 0..1 within a spike period
        tri = np.abs(seg - 0.0)
        tri = np.minimum(seg, 1 - seg) * 2  # 0 at spike tip, 1 at valley
        inner = 0.45 * r
        # linear interpolation of the boundary radius in angle (good-enough star)
        bound = r + (inner - r) * tri
        return rad <= bound
    raise ValueError(shape)


def _down(a):
    """average SSxSS blocks: (H*SS, W*SS, ...) -> (H, W, ...)"""
    h = a.shape[0] // SS
    w = a.shape[1] // SS
    return a.reshape(h, SS, w, SS, *a.shape[2:]).mean(axis=(1, 3))


def render(a: Attrs) -> np.ndarray:
    """Render attributes to a uint8 HxWx3 image."""
    H = RES * SS
    c_obj = np.array(PALETTE[a.color], np.float32)
    c_bg = np.array(PALETTE[a.bg], np.float32)
    if a.bg2 is None:
        bg = np.broadcast_to(c_bg, (H, H, 3)).copy()
    else:
        t = (_GY / RES)[..., None]
        bg = c_bg * (1 - t) + np.array(PALETTE[a.bg2], np.float32) * t
    if a.reflection:
        cx, cy = POS_XY_REFL[a.position]
        r = RADIUS_REFL[a.size] + a.jr * 0.6
    else:
        cx, cy = POS_XY[a.position]
        r = RADIUS[a.size] + a.jr
    cx += a.jx
    cy += a.jy * (0.5 if a.reflection else 1.0)
    rot = a.rot if a.shape in ("square", "triangle", "star") else 0.0
    mask = _shape_mask(a.shape, cx, cy, r, rot).astype(np.float32)

    # lighting: s in [-1, 1], +1 on the lit side
    if a.light == "left":
        s = np.clip(-(_GX - cx) / r, -1, 1)
    elif a.light == "right":
        s = np.clip((_GX - cx) / r, -1, 1)
    elif a.light == "above":
        s = np.clip(-(_GY - cy) / r, -1, 1)
    else:
        s = np.zeros_like(_GX)
    s = s[..., None]
    obj = c_obj * (1 + 0.28 * s) + 45.0 * np.maximum(s, 0)
    obj = np.clip(obj, 0, 255)

    img = bg
    if a.reflection:
        ys = np.nonzero(mask.any(axis=1))[0]
        horizon = (ys.max() + 1) / SS if len(ys) else cy + r
        floor = (_GY >= horizon)[..., None]
        img = np.where(floor, bg * 0.93, bg)
        # mirror the object (mask and shading) about the horizon
        my = 2 * horizon - _GY
        mmask = _shape_mask(a.shape, cx, cy, r, rot, gx=_GX, gy=my).astype(np.float32)
        if a.light == "above":
            ms = np.clip(-(my - cy) / r, -1, 1)[..., None]
        else:
            ms = s
        mobj = np.clip(c_obj * (1 + 0.28 * ms) + 45.0 * np.maximum(ms, 0), 0, 255)
        depth = np.clip((_GY - horizon) / (2 * r), 0, 1)
        alpha = (0.62 - 0.45 * depth) * mmask * (_GY >= horizon)
        alpha = alpha[..., None]
        img = img * (1 - alpha) + mobj * alpha
    m = mask[..., None]
    img = img * (1 - m) + obj * m

    if a.tint == "golden":
        img = img * np.array([1.10, 0.97, 0.78], np.float32) + np.array([8, 4, 0], np.float32)
    elif a.tint == "blue":
        img = img * np.array([0.80, 0.90, 1.12], np.float32) + np.array([0, 2, 8], np.float32)
    img = _down(np.clip(img, 0, 255))
    return np.round(img).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Captions
# ----------------------------------------------------------------------------------------------
SIZE_WORDS = {"small": ["small", "small", "tiny", "little"], "large": ["large", "large", "big", "huge"]}
POS_PHRASES = {
    "left": ["on the left", "at the left", "on the left side", "to the left"],
    "right": ["on the right", "at the right", "on the right side", "to the right"],
    "top": ["at the top", "near the top", "at the top of the frame"],
    "bottom": ["at the bottom", "near the bottom", "at the bottom of the frame"],
    "centre": ["in the centre", "in the center", "in the middle", "centered"],
}
LIGHT_PHRASES = {
    "left": ["lit from the left", "lit from the left", "with light from the left", "light coming from the left"],
    "right": ["lit from the right", "lit from the right", "with light from the right", "light coming from the right"],
    "above": ["lit from above", "lit from above", "with light from above", "top lighting"],
}
TINT_PHRASES = {
    "golden": ["at golden hour", "in golden hour light", "golden hour", "warm golden hour light"],
    "blue": ["at blue hour", "in blue hour light", "blue hour", "cool blue hour light"],
}
REFL_PHRASES = ["with a reflection on a glossy floor", "with a reflection on a glossy floor",
                "with a reflection", "reflected on a glossy floor", "on a glossy floor with a reflection"]


def caption(a: Attrs, rng: random.Random, full=False, mentions: dict | None = None) -> str:
    """Natural caption; attributes are optional. full=True gives the canonical form the held-out
    prompts use: every attribute, first phrase of each list, fixed order."""
    def keep(p):
        return full or rng.random() < p

    if full:
        class _First:
            @staticmethod
            def choice(seq):
                return seq[0]
        rng = _First()

    m = mentions if mentions is not None else {}
    words = []
    if keep(0.6):
        words.append(rng.choice(SIZE_WORDS[a.size]))
        m["size"] = a.size
    if keep(0.92):
        words.append(a.color)
        m["color"] = a.color
    m["shape"] = a.shape
    words.append(a.shape)
    art = "an" if words[0][0] in "aeiou" else "a"
    obj = f"{art} {' '.join(words)}"

    mods = []
    ab = "an" if a.bg[0] in "aeiou" else "a"
    if keep(0.85):
        m["bg"] = a.bg
        if a.bg2 is None:
            mods.append(rng.choice([f"on {ab} {a.bg} background", f"on {ab} {a.bg} background", f"against {ab} {a.bg} background",
                                    f"on {a.bg}", f"over a plain {a.bg} background"]))
        else:
            mods.append(rng.choice([f"on a gradient from {a.bg} to {a.bg2}", f"on {ab} {a.bg} to {a.bg2} gradient background",
                                    f"against {ab} {a.bg} and {a.bg2} gradient"]))
    if keep(0.7):
        mods.append(rng.choice(POS_PHRASES[a.position]))
        m["position"] = a.position
    if a.light != "none" and keep(0.7):
        mods.append(rng.choice(LIGHT_PHRASES[a.light]))
        m["light"] = a.light
    if a.tint != "none" and keep(0.7):
        mods.append(rng.choice(TINT_PHRASES[a.tint]))
        m["tint"] = a.tint
    if a.reflection and keep(0.85):
        mods.append(rng.choice(REFL_PHRASES))
        m["reflection"] = True
    if not full:
        rng.shuffle(mods)
    # varied word order: object first (most of the time) or one modifier before the object
    if mods and not full and rng.random() < 0.2:  # noqa: SIM108
        first = mods.pop(0)
        parts = [first + ",", obj] + mods
    else:
        parts = [obj] + mods
    out = parts[0]
    for p in parts[1:]:
        sep = (", " if p.startswith(("lit", "with")) else " ") if full else rng.choice([" ", ", "])
        if out.endswith(","):
            sep = " "
        out += sep + p
    return out


# ----------------------------------------------------------------------------------------------
# CLIP-compatible byte-level BPE tokenizer (CLIP's simple_tokenizer algorithm)
# ----------------------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def basic_clean(text: str) -> str:
    return html.unescape(html.unescape(text)).strip()


def whitespace_clean(text: str) -> str:
    return " ".join(text.split())


def pre_tokenize(text: str):
    text = whitespace_clean(basic_clean(text)).lower()
    return _PAT.findall(text)


def get_pairs(word):
    return set(zip(word[:-1], word[1:]))


class CLIPTokenizer:
    def __init__(self, vocab: dict, merges: list):
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.byte_encoder = bytes_to_unicode()
        self.bpe_ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.bos = vocab["<|startoftext|>"]
        self.eos = vocab["<|endoftext|>"]

    @classmethod
    def load(cls, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().strip().split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
        return cls(vocab, merges)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text):
        ids = []
        for tok in pre_tokenize(text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(tok).split(" "))
        return ids

    @lru_cache(maxsize=200000)
    def __call__(self, text):
        """-> tuple of 77 ids: BOS + tokens[:75] + EOS, padded with EOS (SD1 tokenizer)."""
        ids = [self.bos] + self.encode(text)[: MAX_LEN - 2] + [self.eos]
        ids += [self.eos] * (MAX_LEN - len(ids))
        return tuple(ids)


def load_tokenizer():
    return CLIPTokenizer.load(os.path.join(DEMO, "tokenizer"))


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


# ----------------------------------------------------------------------------------------------
# Schedule + DDIM sampler (matches diffusers DDIMScheduler, leading spacing, steps_offset 1)
# ----------------------------------------------------------------------------------------------
def alphas_cumprod():
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas)


def ddim_timesteps(n, offset=1):
    r = 1000 // n
    return (np.arange(n) * r).round()[::-1].astype(np.int64) + offset


def ddim_sample(unet, ctx_cond, ctx_uncond, noise, steps=20, cfg=5.0):
    """noise: [B,4,8,8] float tensor (init_noise_sigma = 1). Returns scaled latents."""
    import torch
    ac = alphas_cumprod()
    x = noise.clone()
    ts = ddim_timesteps(steps)
    B = x.shape[0]
    ctx = torch.cat([ctx_uncond, ctx_cond], 0)
    for t in ts:
        tt = torch.full((2 * B,), float(t))
        eps = unet(torch.cat([x, x], 0), tt, ctx)
        eu, ec = eps[:B], eps[B:]
        e = eu + cfg * (ec - eu)
        prev = t - 1000 // steps
        a_t = ac[t]
        a_p = ac[prev] if prev >= 0 else ac[0]
        x0 = (x - math.sqrt(1 - a_t) * e) / math.sqrt(a_t)
        x = math.sqrt(a_p) * x0 + math.sqrt(1 - a_p) * e
    return x


# ----------------------------------------------------------------------------------------------
# Pixel scoring (the TypeScript adherence test should do the same; see models/demo/heldout.json)
# ----------------------------------------------------------------------------------------------
_PAL = np.array([PALETTE[c] for c in COLORS], np.float32)


def nearest_color(rgb):
    d = ((_PAL - np.asarray(rgb, np.float32)[None]) ** 2).sum(1)
    return COLORS[int(d.argmin())]


def analyze(img: np.ndarray) -> dict:
    """img uint8 [64,64,3] -> measured attributes (see SCORING_DOC)."""
    im = img.astype(np.float32)
    H, W, _ = im.shape
    b = 2
    # background: median of the border frame, upper 60% of the image (the floor may be darker)
    ylim = int(H * 0.6)
    frame = np.concatenate([im[:b, :].reshape(-1, 3), im[:ylim, :b].reshape(-1, 3), im[:ylim, W - b:].reshape(-1, 3)])
    bg = np.median(frame, axis=0)
    dist = np.sqrt(((im - bg) ** 2).sum(-1))
    cand = dist > 60
    res = {"bg": nearest_color(bg), "color": None, "cx": None, "cy": None, "light": None, "reflection": False}
    if cand.sum() < 6:
        return res
    dmax = np.percentile(dist[cand], 90)
    strong = dist > max(60.0, 0.6 * dmax)  # the object, not its fading reflection
    ys, xs = np.nonzero(strong)
    obj = im[strong]
    res["color"] = nearest_color(np.median(obj, axis=0))
    cx, cy = float(xs.mean()), float(ys.mean())
    res["cx"], res["cy"] = cx, cy
    lum = 0.299 * obj[:, 0] + 0.587 * obj[:, 1] + 0.114 * obj[:, 2]
    left = lum[xs < cx].mean() if (xs < cx).any() else 0
    right = lum[xs > cx].mean() if (xs > cx).any() else 0
    res["lum_left"], res["lum_right"] = float(left), float(right)
    res["light"] = "left" if left > right else "right"
    # reflection: band right below the object (object columns, height = object height / 2)
    y1 = int(ys.max()) + 1
    hgt = max(3, int((ys.max() - ys.min() + 1) / 2))
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    if y1 + 1 < H:
        band = im[y1 + 1:min(H, y1 + 1 + hgt), x0:x1]
        floor_rows = im[y1 + 1:min(H, y1 + 1 + hgt)]
        # reference: the same rows outside the object columns (floor colour)
        outside = np.concatenate([floor_rows[:, :max(0, x0 - 2)], floor_rows[:, min(W, x1 + 2):]], axis=1).reshape(-1, 3)
        ref = np.median(outside, axis=0) if len(outside) else bg
        bd = np.sqrt(((band - ref) ** 2).sum(-1))
        res["refl_frac"] = float((bd > 30).mean())
        res["reflection"] = res["refl_frac"] > 0.25
    return res


def position_ok(pos, m, reflection):
    cx, cy = m["cx"], m["cy"]
    if cx is None:
        return False
    if pos == "left":
        return cx < 28
    if pos == "right":
        return cx > 36
    if pos == "top":
        return cy < 26
    if pos == "bottom":
        return cy > 38
    if pos == "centre":
        return abs(cx - 32) <= 8 and (reflection or abs(cy - 32) <= 8)
    return False


SCORING_DOC = {
    "palette": PALETTE,
    "background": "median RGB of the 2-pixel border frame restricted to rows y < 0.6*H (top rows + left/right columns); nearest palette colour (Euclidean RGB)",
    "object_mask": "pixels with Euclidean RGB distance to the background median > max(60, 0.6 * p90(distance over pixels with distance > 60)) (excludes the fading reflection)",
    "object_colour": "nearest palette colour to the per-channel median of object-mask pixels",
    "position": "centroid (cx, cy) of the object mask in pixel coords (0..63): left cx<28, right cx>36, top cy<26, bottom cy>38, centre |cx-32|<=8 and |cy-32|<=8 (x only when the prompt has a reflection)",
    "lighting": "mean luma (0.299R+0.587G+0.114B) of object-mask pixels left of cx vs right of cx; the named side must be brighter",
    "reflection": "band of rows y in [ymax+2, ymax+2+h/2) over the object's columns [xmin, xmax] (h = object mask height); reference colour = median of the same rows outside columns [xmin-2, xmax+2]; reflection present if > 25% of band pixels are > 30 RGB-distance from the reference",
}


def score(items, images):
    """items: heldout entries (dicts with 'labels'); images: list of uint8 arrays."""
    tot = {"color": [0, 0], "background": [0, 0], "position": [0, 0], "lighting": [0, 0], "reflection": [0, 0]}
    for it, img in zip(items, images):
        L = it["labels"]
        m = analyze(img)
        tot["color"][0] += m["color"] == L["color"]; tot["color"][1] += 1
        tot["background"][0] += m["bg"] == L["background"]; tot["background"][1] += 1
        if L.get("position"):
            tot["position"][0] += position_ok(L["position"], m, L.get("reflection", False)); tot["position"][1] += 1
        if L.get("lighting") in ("left", "right"):
            tot["lighting"][0] += m["light"] == L["lighting"]; tot["lighting"][1] += 1
        if L.get("reflection"):
            tot["reflection"][0] += bool(m["reflection"]); tot["reflection"][1] += 1
    return {k: (v[0] / v[1] if v[1] else None) for k, v in tot.items()}


def heldout_items():
    """The held-out prompt list (deterministic). One prompt per held-out combo."""
    rng = random.Random(1234)
    items = []
    for i, (c, s, b) in enumerate(heldout_combos()):
        refl = i % 3 == 0
        pos = rng.choice(["left", "right", "top", "centre"] if refl else POSITIONS)
        light = ["left", "right", "none"][i % 3 if i % 2 == 0 else (i + 1) % 3]
        a = Attrs(color=c, shape=s, bg=b, bg2=None, position=pos, size=rng.choice(SIZES), light=light,
                  tint="none", reflection=refl)
        prompt = caption(a, random.Random(i), full=True)
        items.append({
            "prompt": prompt,
            "seed": 1000 + i,
            "labels": {"color": c, "shape": s, "background": b, "position": pos, "size": a.size,
                       "lighting": light if light != "none" else None, "reflection": refl},
        })
    return items
