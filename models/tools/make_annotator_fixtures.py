#!/usr/bin/python3
"""Write the tiny annotator fixtures into test/fixtures/annotators/ (laid out as `<modelsDir>/annotators`).

  depth/model.onnx        Depth-Anything-v2-shaped graph: input `pixel_values` [1, 3, H, W] (dynamic, H and W
                          multiples of 14: a 14×14 stride-14 patch conv), output `predicted_depth` [1, H, W].
  pose/yolox_l.onnx       YOLOX-shaped person detector: input `images` [1, 3, 640, 640] (raw 0..255), output
                          `output` [1, 8400, 85] = per stride-8/16/32 cell [dx, dy, log w, log h] + sigmoid
                          objectness + 80 sigmoid class scores (DWPose's export, decode_in_inference=False).
                          Objectness follows brightness, so a bright figure on a dark ground is "a person".
  pose/dw-ll_ucoco_384.onnx  DWPose-shaped whole-body model: input `input` [1, 3, 384, 288], outputs
                          `simcc_x` [1, 133, 576] and `simcc_y` [1, 133, 768] (SimCC split ratio 2), made from
                          the picture's column / row profiles.
  golden/                 test pictures and the expected annotator results, computed here by an independent
                          numpy implementation of the pre/post-processing (Depth Anything's DPTImageProcessor
                          sizing and ControlNet's min–max; DWPose's onnxdet.py / onnxpose.py / wholebody.py)
                          around the same networks run in torch.

Weights are random (fixed seed) except where noted; everything is small. Run with Debian's python3 +
python3-torch 1.13 + python3-numpy:

    /usr/bin/python3 models/tools/make_annotator_fixtures.py
"""
import io
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(2024)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'annotators')
OPSET = 17


def export(module, args, path, input_names, output_names, dynamic_axes=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes or {}, do_constant_folding=True)
    with open(path, 'wb') as f:
        f.write(buf.getvalue())


# ------------------------------------------------------------------------------------------------ networks

class TinyDepth(nn.Module):
    """Patch-14 conv → 3×3 head → bilinear back to the input size, positive like a disparity map."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 14, stride=14)
        self.head = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, pixel_values):
        h, w = pixel_values.shape[2], pixel_values.shape[3]
        d = self.head(torch.relu(self.patch(pixel_values)))
        d = F.interpolate(d, size=(h, w), mode='bilinear', align_corners=False)
        return F.softplus(d)[:, 0]


class TinyYolox(nn.Module):
    """Per stride: average-pool the picture, a 3×3 conv to 85 channels; objectness from brightness."""

    def __init__(self):
        super().__init__()
        self.levels = nn.ModuleList([nn.Conv2d(3, 85, 3, padding=1) for _ in range(3)])
        with torch.no_grad():
            for k, conv in enumerate(self.levels):
                stride = 8 * 2 ** k
                conv.weight.mul_(0.3)
                conv.bias.zero_()
                conv.bias[2:4] = math.log(240 / stride)  # boxes of about 240 input px
                conv.weight[4] = 0
                conv.weight[4, :, 1, 1] = 10.0 / 3  # objectness rises with the cell's mean brightness
                conv.bias[4] = -7.0
                conv.bias[5] = 2.0  # class 0 (person) likely
                conv.bias[6:] = -2.0

    def forward(self, images):
        x = images / 255.0
        outs = []
        for k, conv in enumerate(self.levels):
            s = 8 * 2 ** k
            o = conv(F.avg_pool2d(x, s, s))
            o = torch.cat([o[:, :4], torch.sigmoid(o[:, 4:])], 1)
            outs.append(o.flatten(2))
        return torch.cat(outs, 2).permute(0, 2, 1)


class TinyPose(nn.Module):
    """SimCC logits from the crop's column and row profiles (repeated ×2 = split ratio 2)."""

    def __init__(self):
        super().__init__()
        self.cx = nn.Conv1d(3, 133, 7, padding=3)
        self.cy = nn.Conv1d(3, 133, 7, padding=3)

    @staticmethod
    def twice(profile):
        # Each value repeated (nearest ×2): exact in ONNX, where a linear Resize's edges differ from torch's.
        n, c, length = profile.shape
        return profile.unsqueeze(-1).expand(n, c, length, 2).reshape(n, c, 2 * length)

    def forward(self, input):
        return self.cx(self.twice(input.mean(2))), self.cy(self.twice(input.mean(3)))


# ------------------------------------------------------------------------------------------------ reference pre/post-processing (numpy)

def resize_linear(img, dw, dh):
    """cv2.resize INTER_LINEAR geometry (half-pixel centres, source clamped at 0 and the last pixel), float."""
    sh, sw = img.shape[:2]

    def taps(out, size_in):
        f = np.maximum((np.arange(out) + 0.5) * (size_in / out) - 0.5, 0)
        i0 = np.minimum(np.floor(f).astype(np.int64), size_in - 1)
        i1 = np.minimum(i0 + 1, size_in - 1)
        return i0, i1, f - i0

    y0, y1, wy = taps(dh, sh)
    x0, x1, wx = taps(dw, sw)
    img = img.astype(np.float64)
    if img.ndim == 2:
        img = img[..., None]
    top = img[y0][:, x0] * (1 - wx)[None, :, None] + img[y0][:, x1] * wx[None, :, None]
    bottom = img[y1][:, x0] * (1 - wx)[None, :, None] + img[y1][:, x1] * wx[None, :, None]
    return top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]


def dpt_size(w, h, target=518, multiple=14):
    """transformers' DPTImageProcessor get_resize_output_image_size with keep_aspect_ratio."""
    sh, sw = target / h, target / w
    if abs(1 - sw) < abs(1 - sh):
        sh = sw
    else:
        sw = sh

    def constrain(v):
        x = round(v / multiple) * multiple  # Python's round: halves to even
        return x if x > 0 else math.ceil(v / multiple) * multiple

    return constrain(sw * w), constrain(sh * h)


def depth_reference(model, rgb):
    h, w = rgb.shape[:2]
    iw, ih = dpt_size(w, h)
    x = resize_linear(rgb, iw, ih) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        depth = model(torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32)))[0].numpy()
    d = resize_linear(depth, w, h)[..., 0]
    d = (d - d.min()) / (d.max() - d.min()) * 255.0
    return np.minimum(np.floor(d), 255).astype(np.uint8), (iw, ih)


def yolox_reference(model, rgb, size=640):
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    rw, rh = int(w * r), int(h * r)
    padded = np.full((size, size, 3), 114.0)
    padded[:rh, :rw] = np.minimum(np.floor(resize_linear(rgb, rw, rh) + 0.5), 255)
    with torch.no_grad():
        pred = model(torch.from_numpy(padded.transpose(2, 0, 1)[None].astype(np.float32)))[0].numpy().astype(np.float64)
    grids, strides = [], []
    for s in (8, 16, 32):
        yv, xv = np.mgrid[0:size // s, 0:size // s]
        grids.append(np.stack([xv.ravel(), yv.ravel()], 1))
        strides.append(np.full((grids[-1].shape[0], 1), s))
    grids, strides = np.concatenate(grids), np.concatenate(strides)
    centre = (pred[:, :2] + grids) * strides
    wh = np.exp(pred[:, 2:4]) * strides
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], 1) / r
    scores = pred[:, 4] * pred[:, 5]
    valid = scores > 0.1
    boxes, scores = boxes[valid], scores[valid]
    order = np.argsort(-scores, kind='stable')
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx2 - xx1 + 1) * np.maximum(0, yy2 - yy1 + 1)
        area = lambda b: (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
        iou = inter / (area(boxes[i]) + area(boxes[rest]) - inter)
        order = rest[iou <= 0.45]
    return [(boxes[i], scores[i]) for i in keep if scores[i] > 0.3]


def warp(rgb, centre, scale, out_w, out_h):
    """cv2.warpAffine for DWPose's rot-0 matrix: dst = (src − centre)·(out_w / scale_w) + out/2, zero border, uint8."""
    h, w = rgb.shape[:2]
    s = scale[0] / out_w
    # The shift is summed first, as the engine does, so both land on the same float64 sample positions.
    xs = np.arange(out_w) * s + (centre[0] - out_w / 2 * s)
    ys = np.arange(out_h) * s + (centre[1] - out_h / 2 * s)
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    wx, wy = xs - x0, ys - y0
    pad = np.zeros((h + 4, w + 4, 3))
    pad[2:-2, 2:-2] = rgb
    cx0, cx1 = np.clip(x0 + 2, 0, w + 3), np.clip(x0 + 3, 0, w + 3)
    cy0, cy1 = np.clip(y0 + 2, 0, h + 3), np.clip(y0 + 3, 0, h + 3)
    top = pad[cy0][:, cx0] * (1 - wx)[None, :, None] + pad[cy0][:, cx1] * wx[None, :, None]
    bottom = pad[cy1][:, cx0] * (1 - wx)[None, :, None] + pad[cy1][:, cx1] * wx[None, :, None]
    out = top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]
    return np.minimum(np.floor(out + 0.5), 255)


def pose_reference(model, rgb, box, in_w=288, in_h=384):
    x1, y1, x2, y2 = box
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    scale = np.array([x2 - x1, y2 - y1]) * 1.25
    aspect = in_w / in_h
    scale = np.array([scale[0], scale[0] / aspect]) if scale[0] > scale[1] * aspect else np.array([scale[1] * aspect, scale[1]])
    img = (warp(rgb, centre, scale, in_w, in_h) - np.array([123.675, 116.28, 103.53])) / np.array([58.395, 57.12, 57.375])
    with torch.no_grad():
        sx, sy = model(torch.from_numpy(img.transpose(2, 0, 1)[None].astype(np.float32)))
    sx, sy = sx[0].numpy(), sy[0].numpy()
    locs = np.stack([sx.argmax(1), sy.argmax(1)], 1).astype(np.float64)
    vals = np.minimum(sx.max(1), sy.max(1)).astype(np.float64)
    locs[vals <= 0] = -1
    kps = locs / 2 / np.array([in_w, in_h]) * scale + centre - scale / 2
    info = np.concatenate([kps, vals[:, None]], 1)
    neck = info[[5, 6]].mean(0)
    neck[2] = float(info[5, 2] > 0.3 and info[6, 2] > 0.3)
    info = np.insert(info, 17, neck, axis=0)
    mm = [17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3]
    op = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17]
    info[op] = info[mm]
    return info


# ------------------------------------------------------------------------------------------------ pictures

def textured(w, h, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 40, size=(h, w, 3)).astype(np.float64)


def depth_picture():
    """A gradient ground with a bright disc in front: structure the tiny net can see."""
    w, h = 64, 48
    img = textured(w, h, 1)
    img += np.linspace(0, 120, h)[:, None, None]
    yy, xx = np.mgrid[0:h, 0:w]
    img[(xx - 40) ** 2 + (yy - 20) ** 2 < 100] = [230, 200, 180]
    return np.clip(img, 0, 255).astype(np.uint8)


def pose_picture():
    """A bright standing figure (head, torso, legs) on a dark textured ground, 96 × 128."""
    w, h = 96, 128
    img = textured(w, h, 2)
    yy, xx = np.mgrid[0:h, 0:w]
    img[(xx - 48) ** 2 + (yy - 22) ** 2 < 81] = [240, 210, 190]
    img[(yy >= 32) & (yy < 80) & (xx >= 34) & (xx < 62)] = [220, 220, 230]
    img[(yy >= 80) & (yy < 120) & (((xx >= 36) & (xx < 45)) | ((xx >= 51) & (xx < 60)))] = [200, 200, 210]
    img += np.random.default_rng(3).integers(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    golden = os.path.join(ROOT, 'golden')
    os.makedirs(golden, exist_ok=True)

    depth = TinyDepth().eval()
    export(depth, (torch.zeros(1, 3, 56, 70),), os.path.join(ROOT, 'depth', 'model.onnx'), ['pixel_values'], ['predicted_depth'],
           {'pixel_values': {2: 'height', 3: 'width'}, 'predicted_depth': {1: 'height', 2: 'width'}})
    pic = depth_picture()
    grey, (iw, ih) = depth_reference(depth, pic)
    pic.tofile(os.path.join(golden, 'depth-input.rgb'))
    grey.tofile(os.path.join(golden, 'depth-expected.gray'))

    yolox = TinyYolox().eval()
    pose = TinyPose().eval()
    export(yolox, (torch.zeros(1, 3, 640, 640),), os.path.join(ROOT, 'pose', 'yolox_l.onnx'), ['images'], ['output'])
    export(pose, (torch.zeros(1, 3, 384, 288),), os.path.join(ROOT, 'pose', 'dw-ll_ucoco_384.onnx'), ['input'], ['simcc_x', 'simcc_y'])
    person = pose_picture()
    person.tofile(os.path.join(golden, 'pose-input.rgb'))
    people = yolox_reference(yolox, person)
    boxes = [box for box, _ in people] or [np.array([0, 0, person.shape[1], person.shape[0]], dtype=np.float64)]
    keypoints = [pose_reference(pose, person, box) for box in boxes]
    meta = {
        'depth': {'width': pic.shape[1], 'height': pic.shape[0], 'modelInput': [iw, ih]},
        'pose': {
            'width': person.shape[1],
            'height': person.shape[0],
            'boxes': [{'box': [float(v) for v in box], 'score': float(s)} for box, s in people],
            'people': [{'xy': [float(v) for v in k[:, :2].ravel()], 'score': [float(v) for v in k[:, 2]]} for k in keypoints],
        },
    }
    with open(os.path.join(golden, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'depth: model input {iw}×{ih}; pose: {len(people)} person box(es), '
          f'{sum(int((k[:, 2] > 0.3).sum()) for k in keypoints)} visible keypoints')


if __name__ == '__main__':
    main()
