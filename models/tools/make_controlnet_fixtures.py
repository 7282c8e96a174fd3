#!/usr/bin/python3
"""Write the tiny ControlNet fixtures into test/fixtures/controlnet/.

  cn-named/model.onnx      OnnxStack/axodox-style ControlNet: inputs sample, timestep, encoder_hidden_states,
                           controlnet_cond, conditioning_scale (float64 [1]); outputs
                           down_block_{0..11}_additional_residual + mid_block_additional_residual.
  cn-fp16io/model.onnx     fp16 inputs/outputs (Olive-style), conditioning_scale as a float32 scalar [].
  cn-numbered/model.onnx   onnx-web/diffusers.js-style: no scale input, int64 timestep, only the first two
                           outputs named (down_block_0, down_block_1); the rest keep torch's numbered names.
  unet-additional/model.onnx   a UNet taking the 13 residuals as down_block_{i}_additional_residual +
                           mid_block_additional_residual (Amuse `controlnet/` folder).
  unet-down-block/model.onnx   the same UNet with onnx-web's input names down_block_{i} + mid_block_res_sample.
  cn-sdxl/, unet-sdxl/     SDXL flavour: text_embeds + time_ids inputs, 9 down residuals + mid.
  canny/                   synthetic RGB image + OpenCV's cv2.Canny(img, 100, 200) golden (A1111's preprocessor).

Shapes follow SD's residual layout scaled down: at an h×w latent the down residuals have channels
[4,4,4,4,8,8,8,16,16,16,16,16] at spatial factors [1,1,1,2,2,2,4,4,4,8,8,8] and the mid residual 16
channels at 1/8 (SD1.5: 320/640/1280). The UNets match test/fixtures/models/sd15-diffusers (text width
32, float32 [batch] timestep) and test/fixtures/models/sdxl (64 / 32 / 6) so a copy of those folders with
a `controlnet/` UNet runs the whole pipeline. Weights are random (fixed seed); everything is small.

Run with Debian's python3 + python3-torch 1.13 (+ python3-opencv for the Canny golden):

    /usr/bin/python3 models/tools/make_controlnet_fixtures.py
"""
import io
import json
import math
import os
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(4321)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'controlnet')
OPSET = 17

SD_CHANNELS = [4, 4, 4, 4, 8, 8, 8, 16, 16, 16, 16, 16]
SD_MID = 16
SDXL_CHANNELS = [4, 4, 4, 4, 8, 8, 8, 16, 16]
SDXL_MID = 16


def small(m, scale=0.5):
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m


def time_embedding(t, freqs):
    arg = t.float().reshape(-1)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class FakeControlNet(nn.Module):
    """A ControlNet-shaped encoder: conv_in(sample) + hint(cond) + temb + text, a down path with stride-2
    convs every third residual (as SD's downsamplers), one random 1x1 "zero conv" per residual."""

    def __init__(self, D, channels, mid, scale_input, sdxl=None, fp16_io=False):
        super().__init__()
        self.channels = channels
        self.fp16_io = fp16_io
        c0 = channels[0]
        self.conv_in = nn.Conv2d(4, c0, 3, padding=1)
        self.hint = nn.Conv2d(3, c0, 8, stride=8)  # controlnet_cond is at pixel size (8x the latent)
        self.t_lin = nn.Linear(16, c0)
        self.text = nn.Linear(D, c0)
        self.add = nn.Linear(sdxl[0] + sdxl[1], c0) if sdxl else None
        self.blocks = nn.ModuleList()
        prev = c0
        for i, c in enumerate(channels[1:], start=1):
            stride = 2 if i % 3 == 0 else 1
            self.blocks.append(nn.Conv2d(prev, c, 3, stride=stride, padding=1))
            prev = c
        self.mid = nn.Conv2d(prev, mid, 3, padding=1)
        self.zero = nn.ModuleList([nn.Conv2d(c, c, 1) for c in channels])
        self.zero_mid = nn.Conv2d(mid, mid, 1)
        self.scale_input = scale_input
        self.register_buffer('freqs', torch.exp(-math.log(10000) * torch.arange(8) / 8))

    def forward(self, sample, timestep, encoder_hidden_states, controlnet_cond, *extra):
        temb = self.t_lin(time_embedding(timestep, self.freqs))
        if self.add is not None:
            temb = temb + self.add(torch.cat([extra[-2].float(), extra[-1].float()], dim=1))
        text = self.text(encoder_hidden_states.float().mean(dim=1))
        h = self.conv_in(sample.float()) + self.hint(controlnet_cond.float())
        h = torch.tanh(h + (temb + text)[:, :, None, None])
        hs = [h]
        for conv in self.blocks:
            h = torch.tanh(conv(h))
            hs.append(h)
        m = torch.tanh(self.mid(h))
        outs = [z(x) for z, x in zip(self.zero, hs)] + [self.zero_mid(m)]
        if self.scale_input:
            s = extra[0].float().reshape(())
            outs = [o * s for o in outs]
        if self.fp16_io:
            outs = [o.half() for o in outs]
        return tuple(outs)


class ResidualUNet(nn.Module):
    """sample, timestep, encoder_hidden_states[, text_embeds, time_ids], 12|9 down residuals, mid → out_sample.
    The residuals enter linearly (a 1x1 projection each, upsampled to the latent size), so the output
    moves with every one of them and a swapped or missing binding changes the image."""

    def __init__(self, D, channels, mid, sdxl=None, C=16):
        super().__init__()
        self.n = len(channels)
        self.conv_in = nn.Conv2d(4, C, 3, padding=1)
        self.t_lin = nn.Linear(16, C)
        self.add = nn.Linear(sdxl[0] + sdxl[1], C) if sdxl else None
        self.q = nn.Linear(C, C); self.k = nn.Linear(D, C); self.v = nn.Linear(D, C); self.o = nn.Linear(C, C)
        self.conv_out = nn.Conv2d(C, 4, 3, padding=1)
        self.proj = nn.ModuleList([nn.Conv2d(c, 4, 1) for c in channels])
        self.proj_mid = nn.Conv2d(mid, 4, 1)
        self.register_buffer('freqs', torch.exp(-math.log(10000) * torch.arange(8) / 8))
        self.sdxl = sdxl is not None

    def forward(self, sample, timestep, encoder_hidden_states, *rest):
        if self.sdxl:
            text_embeds, time_ids, rest = rest[0], rest[1], rest[2:]
        down, mid = rest[: self.n], rest[self.n]
        x = sample.float()
        e = encoder_hidden_states.float()
        temb = self.t_lin(time_embedding(timestep, self.freqs))
        if self.add is not None:
            temb = temb + self.add(torch.cat([text_embeds.float(), time_ids.float()], dim=1))
        h = F.silu(self.conv_in(x) + temb[:, :, None, None])
        B, C, H, W = h.shape
        q = self.q(h.flatten(2).transpose(1, 2))
        attn = torch.softmax(q @ self.k(e).transpose(1, 2) / math.sqrt(C), dim=-1)
        a = self.o(attn @ self.v(e)).transpose(1, 2).reshape(B, C, H, W)
        out = self.conv_out(h + a)
        size = sample.shape[-2:]
        for p, r in zip(self.proj, down):
            out = out + F.interpolate(p(r), size=size, mode='nearest')
        return out + F.interpolate(self.proj_mid(mid), size=size, mode='nearest')


def export(module, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    with open(path, 'wb') as f:
        f.write(buf.getvalue())


def latent_axes():
    return {0: 'batch', 2: 'height', 3: 'width'}


def residual_axes(name):
    # Each residual has its own spatial size: one shared dim name would tell ORT they are all equal.
    return {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'}


def residual_example(channels, mid, B, h, w):
    down = []
    hh, ww = h, w
    for i, c in enumerate(channels):
        if i > 0 and i % 3 == 0:
            hh, ww = (hh + 1) // 2, (ww + 1) // 2
        down.append(torch.randn(B, c, hh, ww))
    return down, torch.randn(B, mid, hh, ww)


def make_controlnet(name, *, D, channels, mid, scale_input, numbered, int64_timestep=False, sdxl=None, fp16_io=False, scalar_scale=False):
    net = small(FakeControlNet(D, channels, mid, scale_input, sdxl, fp16_io))
    B, h, w = 2, 8, 8
    ts = torch.tensor([500] * B, dtype=torch.int64) if int64_timestep else torch.tensor([500.0] * B)
    ft = torch.float16 if fp16_io else torch.float32
    args = [torch.randn(B, 4, h, w, dtype=ft), ts, torch.randn(B, 7, D, dtype=ft), torch.rand(B, 3, h * 8, w * 8, dtype=ft)]
    names = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond']
    axes = {'sample': latent_axes(), 'timestep': {0: 'batch'}, 'encoder_hidden_states': {0: 'batch', 1: 'sequence'},
            'controlnet_cond': {0: 'batch', 2: 'pixel_height', 3: 'pixel_width'}}
    if scale_input:
        # OnnxStack: float64 [1]; the fp16 variant takes a float32 scalar [] (exports disagree on both)
        args.append(torch.tensor(1.0, dtype=torch.float32) if scalar_scale else torch.tensor([1.0], dtype=torch.float64))
        names.append('conditioning_scale')
    if sdxl:
        args += [torch.randn(B, sdxl[0]), torch.randn(B, sdxl[1])]
        names += ['text_embeds', 'time_ids']
        axes['text_embeds'] = {0: 'batch'}
        axes['time_ids'] = {0: 'batch'}
    n = len(channels)
    if numbered:
        # onnx-web names only the first two; torch keeps its own value names for the rest
        outs = ['down_block_0', 'down_block_1']
    else:
        outs = [f'down_block_{i}_additional_residual' for i in range(n)] + ['mid_block_additional_residual']
    for o in outs:
        axes[o] = residual_axes(o)
    export(net, tuple(args), os.path.join(ROOT, name, 'model.onnx'), names, outs, axes)


def make_unet(name, *, D, channels, mid, naming, sdxl=None):
    net = small(ResidualUNet(D, channels, mid, sdxl))
    B, h, w = 2, 8, 8
    args = [torch.randn(B, 4, h, w), torch.tensor([500.0] * B), torch.randn(B, 7, D)]
    names = ['sample', 'timestep', 'encoder_hidden_states']
    axes = {'sample': latent_axes(), 'timestep': {0: 'batch'}, 'encoder_hidden_states': {0: 'batch', 1: 'sequence'}}
    if sdxl:
        args += [torch.randn(B, sdxl[0]), torch.randn(B, sdxl[1])]
        names += ['text_embeds', 'time_ids']
        axes['text_embeds'] = {0: 'batch'}
        axes['time_ids'] = {0: 'batch'}
    down, m = residual_example(channels, mid, B, h, w)
    args += down + [m]
    if naming == 'additional':
        res_names = [f'down_block_{i}_additional_residual' for i in range(len(channels))] + ['mid_block_additional_residual']
    else:
        res_names = [f'down_block_{i}' for i in range(len(channels))] + ['mid_block_res_sample']
    names += res_names
    for r in res_names:
        axes[r] = residual_axes(r)
    axes['out_sample'] = latent_axes()
    export(net, tuple(args), os.path.join(ROOT, name, 'model.onnx'), names, ['out_sample'], axes)


# ---------------------------------------------------------------------------
# Canny golden: OpenCV's own cv2.Canny, which A1111's / sd-webui-controlnet's preprocessor calls as is
# ---------------------------------------------------------------------------

def make_canny():
    import cv2
    import numpy as np
    rng = np.random.default_rng(7)
    W, H = 96, 64
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.float64)
    img[..., 0] = 40 + 1.2 * xx                        # horizontal ramp in red (weak gradient, no edges)
    img[..., 1] = 60
    img[..., 2] = 90
    disk = (xx - 30) ** 2 + (yy - 30) ** 2 < 17 ** 2  # a bright disk: curved edges, every direction
    img[disk] = [230, 210, 40]
    img[10:50, 55:85] = [20, 120, 220]               # a rectangle: straight edges, corners
    tri = (yy > 40) & (yy < 62) & (xx > 8) & (np.abs(xx - 30) < (yy - 40))  # a triangle: diagonals
    img[tri] = [200, 40, 160]
    img[45:60, 60:90, 1] += 70 * (np.sin(xx[45:60, 60:90] / 2.0) > 0)       # stripes in one channel only
    img += rng.normal(0, 9, img.shape)               # noise near the thresholds
    rgb = np.clip(np.round(img), 0, 255).astype(np.uint8)
    edges = cv2.Canny(rgb, 100, 200)
    out = os.path.join(ROOT, 'canny')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'input.rgb'), 'wb') as f:
        f.write(rgb.tobytes())
    with open(os.path.join(out, 'canny-100-200.gray'), 'wb') as f:
        f.write(edges.tobytes())
    lo = cv2.Canny(rgb, 50, 120)
    with open(os.path.join(out, 'canny-50-120.gray'), 'wb') as f:
        f.write(lo.tobytes())
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    with open(os.path.join(out, 'gray-canny-100-200.gray'), 'wb') as f:
        f.write(cv2.Canny(gray, 100, 200).tobytes())
    with open(os.path.join(out, 'gray.gray'), 'wb') as f:
        f.write(gray.tobytes())
    with open(os.path.join(out, 'meta.json'), 'w') as f:
        json.dump({'width': W, 'height': H, 'opencv': cv2.__version__,
                   'files': {'input.rgb': 'HxWx3 uint8 RGB', 'canny-100-200.gray': 'cv2.Canny(rgb, 100, 200)',
                             'canny-50-120.gray': 'cv2.Canny(rgb, 50, 120)', 'gray.gray': 'cv2.cvtColor RGB2GRAY',
                             'gray-canny-100-200.gray': 'cv2.Canny(gray, 100, 200)'},
                   'edgePixels': int((edges > 0).sum())}, f, indent=2)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    sd = dict(D=32, channels=SD_CHANNELS, mid=SD_MID)
    make_controlnet('cn-named', scale_input=True, numbered=False, **sd)
    make_controlnet('cn-numbered', scale_input=False, numbered=True, int64_timestep=True, **sd)
    make_controlnet('cn-fp16io', scale_input=True, numbered=False, fp16_io=True, scalar_scale=True, **sd)
    make_unet('unet-additional', naming='additional', **sd)
    make_unet('unet-down-block', naming='down_block', **sd)
    xl = dict(D=64, channels=SDXL_CHANNELS, mid=SDXL_MID, sdxl=(32, 6))
    make_controlnet('cn-sdxl', scale_input=True, numbered=False, **xl)
    make_unet('unet-sdxl', naming='additional', **xl)
    make_canny()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print(f'wrote {ROOT} ({total} bytes)')


if __name__ == '__main__':
    main()
