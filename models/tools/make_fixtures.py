#!/usr/bin/python3
"""Write tiny random-weight diffusers-ONNX test models into test/fixtures/models/.

Each variant reproduces the exact I/O names, dtypes and ranks of one exporter
(see ../shared/reference/onnx-sd.md §2); the weights are random and tiny (hidden
size 32/48, a couple of convs + one cross-attention), so a 64x64 image takes
milliseconds.  The tokenizer is a small CLIP-format BPE trained here on a word
list (all 512 byte symbols + ~300 merges); the real CLIP vocab is NOT copied.

Run with Debian's python3 + python3-torch 1.13 (no `onnx` package needed: the
external-data rewrite below edits the protobuf wire format directly):

    /usr/bin/python3 models/tools/make_fixtures.py

Output is deterministic (fixed torch seed) and is committed; tests never need Python.
"""
import io
import json
import math
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(1234)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models')
OPSET = 17

# ---------------------------------------------------------------------------
# Tokenizer (CLIP format: vocab.json + merges.txt with "#version: 0.2" header)
# ---------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))

CORPUS = """a photo of a cat sitting on the mat, a painting of a dog in the park at sunset.
portrait of an astronaut riding a horse on the moon, highly detailed, sharp focus, trending
the quick brown fox jumps over the lazy dog. landscape with mountains and a lake, golden hour
beautiful woman, city street at night, neon lights, rain, cinematic lighting, photograph
blurry, low quality, worst quality, ugly, deformed, watermark, text, signature, cartoon
""" * 3

def train_bpe(corpus, n_merges):
    import re
    words = {}
    for w in re.findall(r"[a-z]+", corpus.lower()):
        sym = tuple(w[:-1]) + (w[-1] + '</w>',)
        words[sym] = words.get(sym, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for sym, c in words.items():
            for a, b in zip(sym, sym[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = {}
        for sym, c in words.items():
            out, i = [], 0
            while i < len(sym):
                if i < len(sym) - 1 and (sym[i], sym[i + 1]) == best:
                    out.append(sym[i] + sym[i + 1]); i += 2
                else:
                    out.append(sym[i]); i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges

def make_tokenizer():
    b2u = bytes_to_unicode()
    vocab_list = list(b2u.values())
    vocab_list += [v + '</w>' for v in vocab_list]
    merges = train_bpe(CORPUS, 300)
    for a, b in merges:
        vocab_list.append(a + b)
    vocab_list += ['<|startoftext|>', '<|endoftext|>']
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    merges_txt = '#version: 0.2\n' + '\n'.join(f'{a} {b}' for a, b in merges) + '\n'
    return vocab, merges_txt

VOCAB, MERGES = make_tokenizer()
VOCAB_SIZE = len(VOCAB)

def write_tokenizer(folder, pad):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(VOCAB, f, ensure_ascii=False)
    with open(os.path.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write(MERGES)
    special = {
        'bos_token': {'content': '<|startoftext|>', 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'eos_token': {'content': '<|endoftext|>', 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'unk_token': {'content': '<|endoftext|>', 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'pad_token': pad,  # plain string on purpose (both forms occur in the wild)
    }
    with open(os.path.join(folder, 'special_tokens_map.json'), 'w') as f:
        json.dump(special, f, indent=2)
    cfg = {'add_prefix_space': False, 'do_lower_case': True, 'errors': 'replace', 'model_max_length': 77,
           'tokenizer_class': 'CLIPTokenizer', 'bos_token': special['bos_token'], 'eos_token': special['eos_token'],
           'unk_token': special['unk_token'], 'pad_token': pad}
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)

# ---------------------------------------------------------------------------
# Minimal protobuf rewriting: move initializers to an external data file
# ---------------------------------------------------------------------------

def _varint(buf, i):
    shift = res = 0
    while True:
        b = buf[i]; i += 1
        res |= (b & 0x7F) << shift
        if b < 0x80:
            return res, i
        shift += 7

def _enc_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F; v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b); return bytes(out)

def _fields(buf):
    i, out = 0, []
    while i < len(buf):
        key, i = _varint(buf, i)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i); v = bytes(buf[i:i + n]); i += n
        elif wt == 5:
            v = bytes(buf[i:i + 4]); i += 4
        elif wt == 1:
            v = bytes(buf[i:i + 8]); i += 8
        else:
            raise ValueError('wire type %d' % wt)
        out.append((fno, wt, v))
    return out

def _emit(fields):
    out = bytearray()
    for fno, wt, v in fields:
        out += _enc_varint((fno << 3) | wt)
        if wt == 0:
            out += _enc_varint(v)
        elif wt == 2:
            out += _enc_varint(len(v)) + v
        else:
            out += v
    return bytes(out)

def _entry(k, v):
    return _emit([(1, 2, k.encode()), (2, 2, v.encode())])

def externalize(model_bytes, location):
    """ModelProto.graph(7).initializer(5): TensorProto raw_data(9) -> external_data(13) + data_location(14)=EXTERNAL."""
    blob = bytearray()
    model = _fields(model_bytes)
    new_model = []
    for fno, wt, v in model:
        if fno == 7 and wt == 2:
            g = []
            for gf, gwt, gv in _fields(v):
                if gf == 5 and gwt == 2:
                    t = _fields(gv)
                    raw = [x for x in t if x[0] == 9]
                    if raw and len(raw[0][2]) >= 64:
                        data = raw[0][2]
                        while len(blob) % 64:
                            blob.append(0)
                        off = len(blob)
                        blob += data
                        t = [x for x in t if x[0] != 9]
                        t += [(13, 2, _entry('location', location)), (13, 2, _entry('offset', str(off))),
                              (13, 2, _entry('length', str(len(data)))), (14, 0, 1)]
                    gv = _emit(t)
                g.append((gf, gwt, gv))
            v = _emit(g)
        new_model.append((fno, wt, v))
    return _emit(new_model), bytes(blob)

def save(module, args, path, input_names, output_names, dynamic_axes, external=None, custom_opsets=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True,
                          custom_opsets=custom_opsets)
    data = buf.getvalue()
    if external:
        data, blob = externalize(data, external)
        with open(os.path.join(os.path.dirname(path), external), 'wb') as f:
            f.write(blob)
    with open(path, 'wb') as f:
        f.write(data)

# ---------------------------------------------------------------------------
# Tiny modules
# ---------------------------------------------------------------------------

def small(m, scale=0.3):
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m

class TextEncoder(nn.Module):
    """input_ids -> last_hidden_state [B,S,D], pooler_output [B,D] (+ hidden_states.N / text_embeds)."""
    def __init__(self, D, layers=2, fp16_out=False, hidden_states=False, projection=None):
        super().__init__()
        self.tok = nn.Embedding(VOCAB_SIZE, D)
        self.pos = nn.Parameter(torch.randn(77, D) * 0.1)
        self.layers = nn.ModuleList([nn.Linear(D, D) for _ in range(layers)])
        self.norm = nn.LayerNorm(D)
        self.fp16_out = fp16_out
        self.hidden_states = hidden_states
        self.proj = nn.Linear(D, projection) if projection else None

    def forward(self, input_ids):
        ids = input_ids.long()
        h = self.tok(ids) + self.pos[: ids.shape[1]]
        hs = [h]
        for l in self.layers:
            h = h + torch.tanh(l(h))
            hs.append(h)
        last = self.norm(h)
        pooled = last.mean(dim=1)
        cast = (lambda x: x.half()) if self.fp16_out else (lambda x: x)
        if self.proj is not None:  # CLIPTextModelWithProjection (SDXL TE2)
            return (cast(self.proj(pooled)), cast(last), *[cast(x) for x in hs])
        if self.hidden_states:
            return (cast(last), cast(pooled), *[cast(x) for x in hs])
        return cast(last), cast(pooled)

class UNet(nn.Module):
    """sample, timestep, encoder_hidden_states[, text_embeds, time_ids | timestep_cond] -> out_sample."""
    def __init__(self, in_ch, D, C=16, fp16_io=False, sdxl=None, lcm=None):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, C, 3, padding=1)
        self.t_lin = nn.Linear(16, C)
        self.q = nn.Linear(C, C); self.k = nn.Linear(D, C); self.v = nn.Linear(D, C); self.o = nn.Linear(C, C)
        self.conv_out = nn.Conv2d(C, 4, 3, padding=1)
        self.register_buffer('freqs', torch.exp(-math.log(10000) * torch.arange(8) / 8))
        self.fp16_io = fp16_io
        self.add = nn.Linear(sdxl[0] + sdxl[1], C) if sdxl else None
        self.cond = nn.Linear(lcm, C) if lcm else None
        self.C = C

    def forward(self, sample, timestep, encoder_hidden_states, *extra):
        x = sample.float()
        t = timestep.float().reshape(-1)
        e = encoder_hidden_states.float()
        arg = t[:, None] * self.freqs[None, :]
        temb = self.t_lin(torch.cat([torch.sin(arg), torch.cos(arg)], dim=1))  # [N,C]
        if self.add is not None:
            temb = temb + self.add(torch.cat([extra[0].float(), extra[1].float()], dim=1))
        if self.cond is not None:
            temb = temb + self.cond(extra[0].float())
        h = F.silu(self.conv_in(x) + temb[:, :, None, None])
        B, C, H, W = h.shape
        q = self.q(h.flatten(2).transpose(1, 2))  # [B,HW,C]
        attn = torch.softmax(q @ self.k(e).transpose(1, 2) / math.sqrt(C), dim=-1)
        a = self.o(attn @ self.v(e)).transpose(1, 2).reshape(B, C, H, W)
        out = self.conv_out(h + a)
        return out.half() if self.fp16_io else out

class VaeDecoder(nn.Module):
    def __init__(self, fp16_io=False):
        super().__init__()
        self.c1 = nn.Conv2d(4, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 3, 3, padding=1)
        self.fp16_io = fp16_io

    def forward(self, latent_sample):
        h = F.silu(self.c1(latent_sample.float()))
        h = F.interpolate(h, scale_factor=8.0, mode='nearest')
        out = torch.tanh(self.c2(h)) * 1.2
        return out.half() if self.fp16_io else out

class VaeEncoder(nn.Module):
    def __init__(self, out_ch, fp16_io=False):
        super().__init__()
        self.c = nn.Conv2d(3, out_ch, 8, stride=8)
        self.fp16_io = fp16_io

    def forward(self, sample):
        out = self.c(sample.float())
        return out.half() if self.fp16_io else out

# ---------------------------------------------------------------------------
# Variant writer
# ---------------------------------------------------------------------------

SCHED_BASE = {'beta_start': 0.00085, 'beta_end': 0.012, 'beta_schedule': 'scaled_linear', 'num_train_timesteps': 1000,
              'trained_betas': None, '_diffusers_version': '0.30.0'}

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)

def variant(name, *, pipeline_class, ids_dtype, ts, D, fp16=False, in_ch=4, enc_out='latent_sample',
            unet_external=None, configs=False, scheduler=None, pad='<|endoftext|>', sdxl=False, lcm=False,
            encoder=True, reference=False):
    root = os.path.join(ROOT, name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    ftype = torch.float16 if fp16 else torch.float32
    comps = {'text_encoder': ['diffusers' if not configs else 'transformers', 'CLIPTextModel'],
             'tokenizer': ['transformers', 'CLIPTokenizer'], 'unet': ['diffusers', 'UNet2DConditionModel'],
             'vae_decoder': ['diffusers', 'AutoencoderKL'], 'scheduler': ['diffusers', scheduler['_class_name']]}
    if encoder:
        comps['vae_encoder'] = ['diffusers', 'AutoencoderKL']
    if sdxl:
        comps['text_encoder_2'] = ['transformers', 'CLIPTextModelWithProjection']
        comps['tokenizer_2'] = ['transformers', 'CLIPTokenizer']
    write_json(os.path.join(root, 'model_index.json'), {'_class_name': pipeline_class, '_diffusers_version': '0.30.0', **comps})
    write_json(os.path.join(root, 'scheduler', 'scheduler_config.json'), {**SCHED_BASE, **scheduler})
    write_tokenizer(os.path.join(root, 'tokenizer'), pad)

    ids = torch.randint(0, VOCAB_SIZE, (1, 77), dtype=torch.int32 if ids_dtype == 'int32' else torch.int64)
    te = small(TextEncoder(D, fp16_out=fp16, hidden_states=sdxl), 1.0)
    te_out = ['last_hidden_state', 'pooler_output'] + ([f'hidden_states.{i}' for i in range(3)] if sdxl else [])
    save(te, (ids,), os.path.join(root, 'text_encoder', 'model.onnx'), ['input_ids'], te_out,
         {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, **{o: {0: 'batch_size'} for o in te_out}})
    D_unet = D
    if sdxl:
        write_tokenizer(os.path.join(root, 'tokenizer_2'), '!')
        te2 = small(TextEncoder(D, projection=D), 1.0)
        te2_out = ['text_embeds', 'last_hidden_state'] + [f'hidden_states.{i}' for i in range(3)]
        save(te2, (ids,), os.path.join(root, 'text_encoder_2', 'model.onnx'), ['input_ids'], te2_out,
             {'input_ids': {0: 'batch_size', 1: 'sequence_length'}})
        D_unet = 2 * D

    unet = small(UNet(in_ch, D_unet, fp16_io=fp16, sdxl=(D, 6) if sdxl else None, lcm=32 if lcm else None), 0.5)
    sample = torch.randn(2, in_ch, 8, 8).to(ftype)
    ehs = torch.randn(2, 77, D_unet).to(ftype)
    if ts == 'int64-steps':
        t = torch.tensor([500], dtype=torch.int64); t_axes = {0: 'steps'}
    elif ts == 'float-batch':
        t = torch.tensor([500.0, 500.0], dtype=ftype); t_axes = {0: 'batch'}
    elif ts == 'float-scalar':
        t = torch.tensor(500.0, dtype=ftype); t_axes = None
    else:
        raise ValueError(ts)
    args = [sample, t, ehs]
    names = ['sample', 'timestep', 'encoder_hidden_states']
    axes = {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'encoder_hidden_states': {0: 'batch', 1: 'sequence'},
            'out_sample': {0: 'batch', 2: 'height', 3: 'width'}}
    if t_axes:
        axes['timestep'] = t_axes
    if sdxl:
        args += [torch.randn(2, D), torch.randn(2, 6)]
        names += ['text_embeds', 'time_ids']
        axes['text_embeds'] = {0: 'batch'}; axes['time_ids'] = {0: 'batch'}
    if lcm:
        args += [torch.randn(2, 32)]
        names += ['timestep_cond']
        axes['timestep_cond'] = {0: 'batch'}
    save(unet, tuple(args), os.path.join(root, 'unet', 'model.onnx'), names, ['out_sample'], axes, external=unet_external)

    dec = VaeDecoder(fp16_io=fp16)
    save(dec, (torch.randn(1, 4, 8, 8).to(ftype),), os.path.join(root, 'vae_decoder', 'model.onnx'), ['latent_sample'],
         ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}, 'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    if encoder:
        enc = small(VaeEncoder(8 if enc_out == 'latent_parameters' else 4, fp16_io=fp16), 0.3)
        save(enc, (torch.randn(1, 3, 64, 64).to(ftype),), os.path.join(root, 'vae_encoder', 'model.onnx'), ['sample'],
             [enc_out], {'sample': {0: 'batch', 2: 'height', 3: 'width'}, enc_out: {0: 'batch', 2: 'height', 3: 'width'}})
    if configs:
        write_json(os.path.join(root, 'text_encoder', 'config.json'),
                   {'architectures': ['CLIPTextModel'], 'hidden_size': D, 'num_hidden_layers': 2,
                    'max_position_embeddings': 77, 'vocab_size': VOCAB_SIZE, 'model_type': 'clip_text_model'})
        write_json(os.path.join(root, 'unet', 'config.json'),
                   {'_class_name': 'UNet2DConditionModel', 'in_channels': in_ch, 'out_channels': 4,
                    'cross_attention_dim': D_unet, 'sample_size': 8, 'time_cond_proj_dim': 32 if lcm else None,
                    'addition_time_embed_dim': 4 if sdxl else None})
        vae = {'_class_name': 'AutoencoderKL', 'in_channels': 3, 'out_channels': 3, 'latent_channels': 4,
               'block_out_channels': [8], 'scaling_factor': 0.13025 if sdxl else 0.18215, 'force_upcast': bool(sdxl),
               'sample_size': 64}
        write_json(os.path.join(root, 'vae_decoder', 'config.json'), vae)
        if encoder:
            write_json(os.path.join(root, 'vae_encoder', 'config.json'), vae)
    if reference:
        write_reference(name, te, unet, dec, {**SCHED_BASE, **scheduler}, pad)
    print('wrote', name, file=sys.stderr)


# ---------------------------------------------------------------------------
# Reference generation in torch (diffusers StableDiffusionPipeline semantics) for the
# pipeline parity test: same weights as the exported graphs, torch.Generator('cpu').
# ---------------------------------------------------------------------------

def bpe_encode(text):
    import re
    merges = [tuple(l.split(' ')) for l in MERGES.strip().split('\n')[1:]]
    ranks = {m: i for i, m in enumerate(merges)}
    ids = [VOCAB['<|startoftext|>']]
    for tok in re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", ' '.join(text.split()).lower()):
        word = tuple(tok[:-1]) + (tok[-1] + '</w>',)
        while len(word) > 1:
            pairs = list(zip(word, word[1:]))
            best = min(pairs, key=lambda p: ranks.get(p, float('inf')))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1]); i += 2
                else:
                    out.append(word[i]); i += 1
            word = tuple(out)
        ids += [VOCAB[w] for w in word]
    return ids + [VOCAB['<|endoftext|>']]

def padded(text, pad):
    ids = bpe_encode(text)[:77]
    return ids + [VOCAB[pad]] * (77 - len(ids))

def euler_sigmas(cfg, n):
    import numpy as np
    betas = torch.linspace(cfg['beta_start'] ** 0.5, cfg['beta_end'] ** 0.5, 1000, dtype=torch.float32) ** 2
    ac = torch.cumprod(1.0 - betas, dim=0)
    ratio = 1000 // n
    ts = (np.arange(0, n) * ratio).round()[::-1].copy().astype(np.float32) + cfg['steps_offset']
    sig = np.array(((1 - ac) / ac) ** 0.5)
    sig = np.interp(ts, np.arange(0, len(sig)), sig)
    sig = np.concatenate([sig, [0.0]]).astype(np.float32)
    return torch.from_numpy(ts), torch.from_numpy(sig)

def write_reference(name, te, unet, dec, sched, pad):
    """EulerDiscrete (leading) txt2img exactly as diffusers' __call__, on the torch modules."""
    assert sched['_class_name'] == 'EulerDiscreteScheduler'
    prompt, negative, steps, g, seed = 'a photo of a cat', 'blurry', 4, 7.5, 42
    with torch.no_grad():
        pos = te(torch.tensor([padded(prompt, pad)]))[0]
        neg = te(torch.tensor([padded(negative, pad)]))[0]
        embeds = torch.cat([neg, pos])
        ts, sig = euler_sigmas(sched, steps)
        init_sigma = float((sig.max() ** 2 + 1) ** 0.5)
        gen = torch.Generator('cpu').manual_seed(seed)
        x = torch.randn((1, 4, 8, 8), generator=gen, dtype=torch.float32) * init_sigma
        for i, t in enumerate(ts):
            s = sig[i]
            x_in = torch.cat([x, x]) / ((s ** 2 + 1) ** 0.5)
            eps = unet(x_in, torch.tensor([int(round(float(t)))]), embeds)
            u, c = eps.chunk(2)
            eps = u + g * (c - u)
            x0 = x - s * eps
            d = (x - x0) / s
            x = x + d * (sig[i + 1] - s)
        img = dec(x / 0.18215)
        img = (img / 2 + 0.5).clamp(0, 1)
        rgb = (img[0].permute(1, 2, 0) * 255).round().to(torch.uint8).flatten().tolist()
    os.makedirs(os.path.join(ROOT, '_reference'), exist_ok=True)
    with open(os.path.join(ROOT, '_reference', f'{name}.json'), 'w') as f:
        json.dump({
        'params': {'prompt': prompt, 'negativePrompt': negative, 'steps': steps, 'guidanceScale': g, 'seed': seed,
                   'width': 64, 'height': 64, 'rng': 'cpu'},
        'timesteps': ts.tolist(), 'sigmas': sig.tolist(), 'initNoiseSigma': init_sigma,
        'latents': [round(v, 6) for v in x.flatten().tolist()], 'rgb': rgb,
    }, f, separators=(',', ':'))

# ---------------------------------------------------------------------------
# Defective graphs used by test/engine/malformed-models.test.ts
# ---------------------------------------------------------------------------

class GroupNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, gamma, beta):
        return x

    @staticmethod
    def symbolic(g, x, gamma, beta):
        return g.op('com.microsoft::GroupNorm', x, gamma, beta, activation_i=0, channels_last_i=1, epsilon_f=1e-5, groups_i=4)

class ContribUNet(UNet):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.gamma = nn.Parameter(torch.ones(4)); self.beta = nn.Parameter(torch.zeros(4))

    def forward(self, sample, timestep, encoder_hidden_states):
        out = super().forward(sample, timestep, encoder_hidden_states)
        return GroupNormFn.apply(out.permute(0, 2, 3, 1), self.gamma, self.beta).permute(0, 3, 1, 2)

class DemoVae(VaeDecoder):
    pass

def defects():
    root = os.path.join(ROOT, '_defects')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    D = 32
    s = torch.randn(2, 4, 8, 8); t = torch.tensor([500.0]); e = torch.randn(2, 77, D)
    ax = {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'encoder_hidden_states': {0: 'batch'}, 'timestep': {0: 'b'}}
    # ORT CUDA demo-engine naming: output "latent"
    save(small(UNet(4, D)), (s, t, e), os.path.join(root, 'unet-demo-names.onnx'),
         ['sample', 'timestep', 'encoder_hidden_states'], ['latent'], {**ax, 'latent': {0: 'batch'}})
    # demo-engine VAE: latent -> images
    save(VaeDecoder(), (torch.randn(1, 4, 8, 8),), os.path.join(root, 'vae-demo-names.onnx'), ['latent'], ['images'],
         {'latent': {0: 'batch', 2: 'h', 3: 'w'}, 'images': {0: 'batch', 2: 'H', 3: 'W'}})

    # sample of rank 3 (flattened latents)
    class Rank3(nn.Module):
        def __init__(self):
            super().__init__(); self.u = small(UNet(4, D))
        def forward(self, sample, timestep, encoder_hidden_states):
            return self.u(sample.reshape(-1, 4, 8, 8), timestep, encoder_hidden_states).reshape(-1, 4, 64)
    save(Rank3(), (torch.randn(2, 4, 64), t, e), os.path.join(root, 'unet-rank3.onnx'),
         ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'], {'sample': {0: 'batch'}, 'timestep': {0: 'b'}})
    # text encoder taking float input_ids
    class FloatIds(nn.Module):
        def __init__(self):
            super().__init__(); self.te = TextEncoder(D)
        def forward(self, input_ids):
            return self.te(input_ids.long())
    save(FloatIds(), (torch.randint(0, 100, (1, 77)).float(),), os.path.join(root, 'te-float-ids.onnx'), ['input_ids'],
         ['last_hidden_state', 'pooler_output'], {'input_ids': {0: 'batch'}})
    # com.microsoft GroupNorm: CUDA/DML-only contrib op
    save(small(ContribUNet(4, D)), (s, t, e), os.path.join(root, 'unet-groupnorm.onnx'),
         ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'], ax, custom_opsets={'com.microsoft': 1})
    print('wrote _defects', file=sys.stderr)


if __name__ == '__main__':
    os.makedirs(ROOT, exist_ok=True)
    PNDM = {'_class_name': 'PNDMScheduler', 'set_alpha_to_one': False, 'skip_prk_steps': True, 'steps_offset': 1,
            'clip_sample': False}
    EULER = {'_class_name': 'EulerDiscreteScheduler', 'timestep_spacing': 'leading', 'steps_offset': 1,
             'prediction_type': 'epsilon', 'interpolation_type': 'linear', 'use_karras_sigmas': False}
    DDIM = {'_class_name': 'DDIMScheduler', 'set_alpha_to_one': False, 'steps_offset': 1, 'clip_sample': False,
            'prediction_type': 'epsilon', 'timestep_spacing': 'leading'}
    # diffusers scripts/convert_stable_diffusion_checkpoint_to_onnx.py: int32 ids, float timestep [batch], weights.pb
    variant('sd15-diffusers', pipeline_class='OnnxStableDiffusionPipeline', ids_dtype='int32', ts='float-batch', D=32,
            unet_external='weights.pb', scheduler=PNDM)
    # optimum <= 1.23: int64 ids, int64 timestep [steps], model.onnx_data, config.json per component
    variant('sd15-optimum-old', pipeline_class='ORTStableDiffusionPipeline', ids_dtype='int64', ts='int64-steps', D=32,
            unet_external='model.onnx_data', configs=True, scheduler=EULER, reference=True)
    # optimum >= 1.24: float scalar timestep [], vae_encoder -> latent_parameters [B,8,h,w]
    variant('sd15-optimum-new', pipeline_class='ORTStableDiffusionPipeline', ids_dtype='int64', ts='float-scalar', D=32,
            enc_out='latent_parameters', configs=True, scheduler=DDIM)
    # Olive SD1.x DML: fp16 I/O everywhere, fp16 timestep [batch]
    variant('sd15-fp16', pipeline_class='OnnxStableDiffusionPipeline', ids_dtype='int32', ts='float-batch', D=32, fp16=True,
            scheduler=PNDM)
    # SD2.x 768-v: different hidden size, v_prediction, pad "!"
    variant('sd2-v', pipeline_class='ORTStableDiffusionPipeline', ids_dtype='int64', ts='int64-steps', D=48, configs=True,
            pad='!', scheduler={**DDIM, 'prediction_type': 'v_prediction'}, unet_external='model.onnx_data')
    # 9-channel inpainting UNet
    variant('sd15-inpaint', pipeline_class='ORTStableDiffusionInpaintPipeline', ids_dtype='int64', ts='int64-steps', D=32,
            in_ch=9, configs=True, scheduler=EULER)
    # SD-Turbo: EulerAncestral trailing, pad "!"
    variant('sd-turbo', pipeline_class='ORTStableDiffusionPipeline', ids_dtype='int64', ts='float-scalar', D=48,
            configs=True, pad='!', enc_out='latent_parameters',
            scheduler={'_class_name': 'EulerAncestralDiscreteScheduler', 'timestep_spacing': 'trailing',
                       'steps_offset': 1, 'prediction_type': 'epsilon'})
    # Detection-only variants (engine reports "not yet supported")
    variant('sdxl', pipeline_class='ORTStableDiffusionXLPipeline', ids_dtype='int64', ts='int64-steps', D=32, configs=True,
            sdxl=True, encoder=False, scheduler=EULER)
    variant('lcm', pipeline_class='ORTLatentConsistencyModelPipeline', ids_dtype='int64', ts='int64-steps', D=32,
            configs=True, lcm=True, encoder=False,
            scheduler={'_class_name': 'LCMScheduler', 'original_inference_steps': 50, 'set_alpha_to_one': True,
                       'timestep_scaling': 10.0, 'steps_offset': 1, 'timestep_spacing': 'leading'})
    defects()
