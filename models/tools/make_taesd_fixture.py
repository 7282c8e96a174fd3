#!/usr/bin/python3
"""Write tiny random-weight TAESD-shaped decoders into test/fixtures/models/_taesd/.

Same architecture and I/O contract as madebyollin/taesd's decoder as exported to ONNX
(deinferno/taesd-onnx, julienkay/taesd[xl]): input `latent_sample` [B,4,h,w] (the latent as the
UNet sees it, no 1/scaling_factor), output `sample` [B,3,8h,8w]; the graph is
tanh(x/3)*3, conv 4->C, ReLU, three stages of (Block x N, nearest x2 upsample, conv no-bias),
Block, conv C->3. Real TAESD has C=64, N=3 (1.22 M params); the committed fixtures use C=8, N=1
so they are a few KB while running every op type the real one runs (Div, Tanh, Mul, Conv, Relu,
Add, Resize).

Two output conventions exist in the wild, and the engine tells them apart from the graph's tail:
* taesd/         raw TAESD weights: image in ~[0,1] (the graph ends in a Conv)
* taesd-signed/  diffusers AutoencoderTiny (DecoderTiny ends with x.mul(2).sub(1)): [-1,1]

reference.json holds a fixed latent and torch's output for it (both fixtures), so the TS tests
check that ONNX Runtime + our range handling reproduce torch.

    /usr/bin/python3 models/tools/make_taesd_fixture.py
    /usr/bin/python3 models/tools/make_taesd_fixture.py --full --out /tmp/taesd-full
        (real-size C=64, N=3 random-weight decoder, ~5 MB: for timing previews, not committed)

Needs Debian python3 + python3-torch 1.13 only. Deterministic output.
"""
import argparse
import io
import json
import os

import torch
import torch.nn as nn

torch.set_num_threads(2)
OPSET = 17
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models', '_taesd')


def conv(n_in, n_out, **kwargs):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(), conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


class TaesdDecoder(nn.Module):
    def __init__(self, channels, blocks, signed):
        super().__init__()
        c = channels
        layers = [Clamp(), conv(4, c), nn.ReLU()]
        for _ in range(3):
            layers += [Block(c, c) for _ in range(blocks)]
            layers += [nn.Upsample(scale_factor=2), conv(c, c, bias=False)]
        layers += [Block(c, c), conv(c, 3)]
        self.net = nn.Sequential(*layers)
        self.signed = signed
        with torch.no_grad():
            # Random weights would drift far from [0,1]; keep the image mid-grey plus a latent-driven
            # signal so range handling is visible in the output.
            last = self.net[-1]
            last.weight.mul_(0.3)
            last.bias.fill_(0.5)

    def forward(self, latent_sample):
        x = self.net(latent_sample)
        return x.mul(2).sub(1) if self.signed else x


def export(module, path):
    module.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    example = torch.randn(1, 4, 8, 8)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (example,), buf, opset_version=OPSET, input_names=['latent_sample'], output_names=['sample'],
                          dynamic_axes={'latent_sample': {0: 'batch', 2: 'height', 3: 'width'},
                                        'sample': {0: 'batch', 2: 'image_height', 3: 'image_width'}},
                          do_constant_folding=True)
    with open(path, 'wb') as f:
        f.write(buf.getvalue())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=ROOT)
    ap.add_argument('--full', action='store_true', help='real TAESD size (C=64, 3 blocks per stage) into --out/vae_decoder/')
    args = ap.parse_args()

    if args.full:
        torch.manual_seed(1)
        export(TaesdDecoder(64, 3, signed=False), os.path.join(args.out, 'vae_decoder', 'model.onnx'))
        return

    reference = {'latentShape': [1, 4, 2, 3]}
    g = torch.Generator().manual_seed(7)
    latent = torch.randn(1, 4, 2, 3, generator=g) * 1.5
    reference['latent'] = [round(v, 6) for v in latent.flatten().tolist()]
    for name, signed in (('taesd', False), ('taesd-signed', True)):
        torch.manual_seed(1234)  # same weights for both: outputs differ exactly by x*2-1
        module = TaesdDecoder(8, 1, signed)
        export(module, os.path.join(args.out, name, 'vae_decoder', 'model.onnx'))
        with torch.no_grad():
            out = module.eval()(torch.tensor(reference['latent']).reshape(1, 4, 2, 3))
        reference[name] = {'shape': list(out.shape), 'sample': [round(v, 6) for v in out.flatten().tolist()]}
    with open(os.path.join(args.out, 'reference.json'), 'w') as f:
        json.dump(reference, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
