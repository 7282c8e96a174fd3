"""Rebuild the shipped demo networks in PyTorch from their ONNX files (models/demo/*/model.onnx).

The training checkpoints (models/.work/) are not committed, so scripts that build on the shipped model
(train_controlnet.py) read the weights back out of the exported graphs. torch.onnx keeps module names
for conv weights, biases, LayerNorm parameters and plain parameters; what it renames is recovered from
the node that consumes the initializer:
  - Linear weights become `onnx::MatMul_N`, transposed, consumed by `/<module path>/MatMul`;
  - GroupNorm's affine weight/bias become `onnx::Mul_N` / `onnx::Add_N` ([C,1,1]), consumed by
    `/<module path>/Mul` and `/<module path>/Add` after the InstanceNormalization;
  - the text encoder's position table (`pos[:77]`, all of it) is folded into the `/te/Add` constant.
Every parameter of the torch module must be found with the right shape, or loading fails (no silent
partial load); initializers that belong to no parameter (InstanceNormalization's unit scale, shape
constants) are ignored.
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper

from common import DEMO


def _module_path(node_name: str) -> str:
    """'/a0/self_attn/q/MatMul' -> 'a0.self_attn.q'."""
    return ".".join(p for p in node_name.split("/")[:-1] if p)


def onnx_state_dict(path: str) -> dict:
    """Candidate torch state-dict entries (name -> numpy array) recovered from an exported graph."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {name: arr for name, arr in inits.items() if not name.startswith("onnx::")}
    for node in m.graph.node:
        for name in node.input:
            if not name.startswith("onnx::") or name not in inits:
                continue
            arr, mod = inits[name], _module_path(node.name)
            if node.op_type == "MatMul" and arr.ndim == 2:
                out[f"{mod}.weight"] = arr.T.copy()
            elif node.op_type == "Mul" and node.name.endswith("/Mul") and arr.ndim == 3:
                out[f"{mod}.weight"] = arr.reshape(-1)
            elif node.op_type == "Add" and node.name.endswith("/Add") and arr.ndim == 3:
                out[f"{mod}.bias"] = arr.reshape(-1)
            elif node.op_type == "Add" and node.name == "/te/Add" and arr.ndim == 2:
                out["te.pos"] = arr  # the text encoder's position table: pos[:77] folded into one constant
    return out


def load_from_onnx(module, path: str, prefix: str = ""):
    """Fill every parameter of `module` from the ONNX file; raise naming what is missing or misshapen.
    `prefix`: the module's name inside the exported wrapper (export_onnx.py exports the text encoder as `te`)."""
    import torch
    found = {k[len(prefix):]: v for k, v in onnx_state_dict(path).items() if k.startswith(prefix)}
    want = module.state_dict()
    missing = [k for k in want if k not in found]
    bad = [f"{k} {tuple(want[k].shape)} vs {found[k].shape}" for k in want if k in found and tuple(want[k].shape) != found[k].shape]
    if missing or bad:
        raise ValueError(f"{path}: cannot rebuild {type(module).__name__}: missing {missing[:8]}, shape mismatch {bad[:8]}")
    module.load_state_dict({k: torch.from_numpy(np.array(found[k])).to(want[k].dtype) for k in want})
    module.eval()
    return module


def load_demo_nets():
    """(text encoder, UNet, VAE encoder, VAE decoder, scaling_factor) of the shipped demo model, eval mode."""
    import json
    from nets import TEXT_CFG, UNET_CFG, build_nets
    nets = build_nets()
    with open(os.path.join(DEMO, "text_encoder", "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    with open(os.path.join(DEMO, "vae_decoder", "config.json")) as f:
        sf = float(json.load(f)["scaling_factor"])
    te = load_from_onnx(nets["TextEncoder"](vocab, **TEXT_CFG), os.path.join(DEMO, "text_encoder", "model.onnx"), prefix="te.")
    un = load_from_onnx(nets["UNet"](**UNET_CFG), os.path.join(DEMO, "unet", "model.onnx"))
    enc = load_from_onnx(nets["Encoder"](), os.path.join(DEMO, "vae_encoder", "model.onnx"))
    dec = load_from_onnx(nets["Decoder"](), os.path.join(DEMO, "vae_decoder", "model.onnx"))
    return te, un, enc, dec, sf


def check_against_parity(te, un, enc, dec, tol=1e-4):
    """Max abs difference of the rebuilt nets against models/demo/parity (the export's own torch outputs)."""
    import json
    import torch
    pdir = os.path.join(DEMO, "parity")
    with open(os.path.join(pdir, "manifest.json")) as f:
        man = json.load(f)["tensors"]

    def t(name):
        e = man[name]
        return torch.from_numpy(np.fromfile(os.path.join(pdir, e["file"]), dtype={"float32": "<f4", "int32": "<i4"}[e["dtype"]]).reshape(e["shape"]))

    with torch.no_grad():
        diffs = {
            "text_encoder": (te(t("text_encoder.input_ids"))[0] - t("text_encoder.last_hidden_state")).abs().max().item(),
            "unet": (un(t("unet.sample"), t("unet.timestep"), t("unet.encoder_hidden_states")) - t("unet.out_sample")).abs().max().item(),
            "vae_decoder": (dec(t("vae_decoder.latent_sample")) - t("vae_decoder.sample")).abs().max().item(),
            "vae_encoder": (enc(t("vae_encoder.sample")) - t("vae_encoder.latent_sample")).abs().max().item(),
        }
    worst = max(diffs.values())
    if not worst <= tol:
        raise ValueError(f"rebuilt demo nets differ from the parity fixtures: {diffs}")
    return diffs
