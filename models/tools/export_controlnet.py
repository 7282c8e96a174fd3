"""Export the demo edge ControlNet and the demo's ControlNet-capable UNet, and write the test fixtures.

    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread \\
      /usr/bin/python3 models/tools/export_controlnet.py [--ckpt models/.work/controlnet_ckpt.pt]

Writes (opset 17, fp32, one file each, no external data):
  models/controlnets/demo-edges/model.onnx   sample f32 [B,4,h,w], timestep f32 [B'] (B' = B or 1),
      encoder_hidden_states f32 [B,S,128], controlnet_cond f32 [B,3,8h,8w] in 0..1, conditioning_scale f64 [1]
      -> down_block_{0..8}_additional_residual, mid_block_additional_residual (controlnet_nets.py's table)
  models/controlnets/demo-edges/config.json
  models/demo/controlnet/model.onnx          the demo UNet (the same weights, read back from
      models/demo/unet/model.onnx, which is not touched) with the 9 + 1 residual inputs (Amuse layout)
  test/fixtures/demo-controlnet/cases.json + photos.png   the held-out "change the light" cases
  test/fixtures/demo-controlnet/parity/*.bin + manifest.json   fixed inputs and the torch outputs of both graphs
"""
import os

os.environ.setdefault("ATELIER_DEMO_DATA", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import DEMO, MODELS, WORK, load_tokenizer  # noqa: E402
from controlnet_data import control_cases  # noqa: E402
from controlnet_nets import MID_CHANNELS, SLOT_CHANNELS, build_controlnet_nets, residual_shapes  # noqa: E402
from export_onnx import save_bin, write_json  # noqa: E402
from onnx_weights import check_against_parity, load_demo_nets  # noqa: E402

ROOT = os.path.dirname(MODELS)
CN_DIR = os.path.join(MODELS, "controlnets", "demo-edges")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "demo-controlnet")
TEST_SEED = 7000
TEST_CASES = 40
DOWN = [f"down_block_{i}_additional_residual" for i in range(len(SLOT_CHANNELS))]
MID = "mid_block_additional_residual"


def residual_axes(name):
    # each residual has its own spatial size: one shared dim name would tell ORT they are all equal
    return {0: "batch", 2: f"{name}_height", 3: f"{name}_width"}


def export(module, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=17, do_constant_folding=True)


def write_cases():
    from PIL import Image
    cases = control_cases(TEST_CASES, TEST_SEED, heldout=True)
    os.makedirs(FIXTURES, exist_ok=True)
    Image.fromarray(np.concatenate([c["photo"] for c in cases], 0)).save(os.path.join(FIXTURES, "photos.png"), optimize=True)
    write_json(os.path.join(FIXTURES, "cases.json"), {
        "note": "Made by models/tools/export_controlnet.py. photos.png stacks one 64x64 photo per case (case k = rows 64k..64k+63): "
                "the object at `position`, lit from `source_light`. The prompts never name that light; `prompt` names no position, "
                "`other_prompt` names `other_position`. Colour-shape-background combos are the demo's held-out ones.",
        "width": 64, "height": 64,
        "cases": [{k: v for k, v in c.items() if k != "photo"} for c in cases]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(WORK, "controlnet_ckpt.pt"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    te, un, enc, dec, sf = load_demo_nets()
    check_against_parity(te, un, enc, dec)
    nets = build_controlnet_nets()
    cn, cu = nets["ControlNet"](un), nets["ControlUNet"](un)
    ck = torch.load(args.ckpt)
    cn.load_state_dict(ck["controlnet"])
    cn.eval()

    tok = load_tokenizer()
    g = torch.Generator().manual_seed(11)
    B = 2
    ids = torch.tensor([tok("a small red circle on a green background, lit from the left"), tok("")], dtype=torch.int32)
    with torch.no_grad():
        ehs = te(ids)[0]
    sample = torch.randn(B, 4, 8, 8, generator=g)
    timestep = torch.tensor([741.0])
    cond = (torch.rand(B, 3, 64, 64, generator=g) > 0.9).float()
    scale = torch.tensor([0.8], dtype=torch.float64)
    with torch.no_grad():
        res = cn(sample, timestep, ehs, cond, scale)
        out = cu(sample, timestep, ehs, *res)
        plain = un(sample, timestep, ehs)
        zero = cu(sample, timestep, ehs, *[torch.zeros(s) for s in residual_shapes(B)])
    assert torch.equal(zero, plain), "the control UNet with zero residuals must compute the plain UNet"

    lat_axes = {0: "batch", 2: "height", 3: "width"}
    cn_axes = {"sample": lat_axes, "timestep": {0: "timestep_batch"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
               "controlnet_cond": {0: "batch", 2: "pixel_height", 3: "pixel_width"}, **{n: residual_axes(n) for n in DOWN + [MID]}}
    export(cn, (sample, timestep, ehs, cond, scale), os.path.join(CN_DIR, "model.onnx"),
           ["sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale"], DOWN + [MID], cn_axes)
    un_axes = {"sample": lat_axes, "timestep": {0: "timestep_batch"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
               "out_sample": lat_axes, **{n: residual_axes(n) for n in DOWN + [MID]}}
    export(cu, (sample, timestep, ehs, *res), os.path.join(DEMO, "controlnet", "model.onnx"),
           ["sample", "timestep", "encoder_hidden_states"] + DOWN + [MID], ["out_sample"], un_axes)
    write_json(os.path.join(CN_DIR, "config.json"), {
        "control_type": "canny", "base_model": "atelier-demo", "annotator": {"kind": "canny", "low": 100, "high": 200},
        "conditioning_channels": 3, "conditioning_size": [64, 64], "residuals": {"down": list(SLOT_CHANNELS), "mid": MID_CHANNELS,
        "layout": "SDXL-shaped 9 + 1 (three levels; see models/tools/controlnet_nets.py)"},
        "unet": "models/demo/controlnet/model.onnx", "license": "MIT",
        "training": {k: ck[k] for k in ("step", "seen", "train_minutes", "valid")}})

    pdir = os.path.join(FIXTURES, "parity")
    shutil.rmtree(pdir, ignore_errors=True)
    os.makedirs(pdir)
    man = {}
    for name, arr in [("sample", sample), ("timestep", timestep), ("encoder_hidden_states", ehs), ("controlnet_cond", cond),
                      *[(n, r) for n, r in zip(DOWN + [MID], res)], ("out_sample", out), ("plain_out_sample", plain)]:
        save_bin(pdir, name, arr.numpy(), man)
    write_json(os.path.join(pdir, "manifest.json"), {
        "note": "Torch inputs/outputs of models/controlnets/demo-edges (conditioning_scale 0.8) and models/demo/controlnet "
                "(fed those residuals -> out_sample; plain_out_sample = models/demo/unet on the same sample/timestep/states).",
        "conditioning_scale": 0.8, "tensors": man})
    write_cases()
    sizes = {p: os.path.getsize(p) for p in (os.path.join(CN_DIR, "model.onnx"), os.path.join(DEMO, "controlnet", "model.onnx"))}
    print(f"exported step {ck['step']} (validation {ck['valid']}); sizes {sizes}")


if __name__ == "__main__":
    main()
