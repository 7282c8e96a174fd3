"""Shared code for the "shapes and light" demo model.

Everything the other scripts need lives here: the procedural renderer, the caption
grammar, the held-out split, a CLIP-compatible BPE tokenizer, the scaled_linear schedule
and a DDIM sampler. The networks live in nets.py, the pixel scoring in scoring.py.

Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy, python3-pil).
"""
from __future__ import annotations

import html
import json
import math
import os
import random
import time
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
# Training intermediates (ignored by git). A second recipe can train beside the shipped one's files.
WORK = os.environ.get("ATELIER_DEMO_WORK") or os.path.join(MODELS, ".work")
# Data recipe: 1 = the first export's; 2 = slower-fading reflections; 3 = fainter reflections (alpha 0.45
# at the horizon), which classifier-free guidance amplifies to a visible copy instead of smearing them
# into the object (see "Reflections and guidance" in models/demo/README.md).
DATA_VERSION = int(os.environ.get("ATELIER_DEMO_DATA", "1"))
REFLECTION_ALPHA = {1: (0.62, 0.45), 2: (0.55, 0.2), 3: (0.45, 0.2)}[DATA_VERSION]  # alpha at the horizon, fade over 2r

RES = 64            # image size
LAT = RES // 8      # latent size
LATENT_CH = 4
MAX_LEN = 77        # CLIP positions
CTX_LEN = 40        # the UNet cross-attends to the first CTX_LEN text states (captions are < 40 tokens)
# Sampling settings the model is evaluated and shipped with (heldout.json "recommended", the app's
# demo defaults). Guidance stays low: see "Reflections and guidance" in models/demo/README.md.
RECOMMENDED = {"steps": 20, "guidance_scale": 1.3}

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
        alpha = (REFLECTION_ALPHA[0] - REFLECTION_ALPHA[1] * depth) * mmask * (_GY >= horizon)
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
# Training-script plumbing (torch imported lazily, like build_nets)
# ----------------------------------------------------------------------------------------------
def make_logger(tag: str):
    """log(msg): print and append to WORK/train.log with a time stamp and `[tag]`."""
    def log(msg):
        line = time.strftime("%H:%M:%S ") + f"[{tag}] " + msg
        print(line, flush=True)
        with open(os.path.join(WORK, "train.log"), "a") as f:
            f.write(line + "\n")
    return log


def images_to_tensor(x):
    """uint8 [N,H,W,3] (numpy, memmaps included) -> float [N,3,H,W] in [-1,1]."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def tensor_to_images(x):
    """float [N,3,H,W] in about [-1,1] -> list of uint8 [H,W,3] arrays."""
    return list(((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())


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
