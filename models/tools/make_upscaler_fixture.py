#!/usr/bin/python3
"""Write tiny random-weight Real-ESRGAN-like upscalers into test/fixtures/models/_upscalers/.

Same I/O contract as the RealESRGAN ONNX exports the catalog points at: one graph, input
[1,3,H,W] float in 0..1 with dynamic H/W, output [1,3,s*H,s*W]. The body is two 3x3 convs and a
pixel shuffle (the RRDBNet tail in miniature), so the receptive field is 5x5 input pixels:
tiling with an overlap wider than that must reproduce the untiled result exactly, which is what
the seam tests check. Weights are random (fixed seed); the output is the nearest-upsampled input
plus a small learned residual, clamped to 0..1, so results look like the input.

    /usr/bin/python3 models/tools/make_upscaler_fixture.py
"""
import io
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(4321)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models', '_upscalers')
OPSET = 17


class TinyEsrgan(nn.Module):
    def __init__(self, scale, hidden=8, fp16_io=False):
        super().__init__()
        self.scale = scale
        self.body = nn.Conv2d(3, hidden, 3, padding=1)
        self.tail = nn.Conv2d(hidden, 3 * scale * scale, 3, padding=1)
        self.fp16_io = fp16_io
        with torch.no_grad():
            self.tail.weight.mul_(0.2)
            self.tail.bias.mul_(0.1)

    def forward(self, image):
        x = image.float()
        residual = F.pixel_shuffle(self.tail(F.leaky_relu(self.body(x), 0.2)), self.scale)
        base = F.interpolate(x, scale_factor=float(self.scale), mode='nearest')
        out = torch.clamp(base + residual, 0.0, 1.0)
        return out.half() if self.fp16_io else out


def save(module, name, input_name='image', output_name='upscaled', fp16_io=False, static_size=None):
    os.makedirs(ROOT, exist_ok=True)
    module.eval()
    example = torch.rand(1, 3, static_size or 16, static_size or 16)
    if fp16_io:
        example = example.half()
    # Some exports fix H/W (tile-sized graphs): no dynamic axes, the engine pads tiles to that size.
    axes = None if static_size else {input_name: {0: 'batch', 2: 'height', 3: 'width'}, output_name: {0: 'batch', 2: 'out_height', 3: 'out_width'}}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (example,), buf, opset_version=OPSET, input_names=[input_name], output_names=[output_name],
                          dynamic_axes=axes, do_constant_folding=True)
    with open(os.path.join(ROOT, name), 'wb') as f:
        f.write(buf.getvalue())


x2 = TinyEsrgan(2)
save(x2, 'tiny-esrgan-x2.onnx')
save(TinyEsrgan(4), 'tiny-esrgan-x4.onnx', input_name='input', output_name='output')
save(TinyEsrgan(2, fp16_io=True), 'tiny-esrgan-x2-fp16.onnx', fp16_io=True)
save(x2, 'tiny-esrgan-x2-static32.onnx', static_size=32)  # same weights as tiny-esrgan-x2, fixed 32x32 input
print('wrote', sorted(os.listdir(ROOT)))
