"""Export the trained networks to models/demo/ in the diffusers-ONNX layout (opset 17, fp32),
write the component configs, the scheduler config, model_index.json, heldout.json, and the
parity fixtures (fixed inputs + torch outputs) used by test/models/demo-parity.test.ts.

    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread \
      /usr/bin/python3 models/tools/export_onnx.py [--ckpt models/.work/unet_ckpt.pt] [--raw]

I/O (as diffusers' convert_stable_diffusion_checkpoint_to_onnx.py writes them):
  text_encoder: input_ids int32 [B,77] -> last_hidden_state [B,77,128], pooler_output [B,128]
  unet: sample f32 [B,4,h,w], timestep f32 [B'] (B' = B or 1), encoder_hidden_states f32 [B,S,128] (S >= 40) -> out_sample
  vae_decoder: latent_sample [B,4,h,w] (unscaled, i.e. latents / scaling_factor) -> sample [B,3,8h,8w] in ~[-1,1]
  vae_encoder: sample [B,3,H,W] in [-1,1] -> latent_sample [B,4,H/8,W/8] (posterior mean, unscaled)
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch

from common import CTX_LEN, DEMO, RECOMMENDED, WORK, load_tokenizer
from nets import TEXT_CFG, UNET_CFG, build_nets, load_text_encoder_and_unet
from scoring import SCORING_DOC, heldout_items

DIFFUSERS_VERSION = "0.30.0"


class TEWrap(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        return self.te(input_ids)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export(model, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=17, do_constant_folding=True)


def save_bin(folder, name, arr, manifest):
    arr = np.ascontiguousarray(arr)
    fn = f"{name}.bin"
    arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(folder, fn))
    manifest[name] = {"file": fn, "dtype": {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32"}[arr.dtype],
                      "shape": list(arr.shape)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(WORK, "unet_ckpt.pt"))
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA weights")
    ap.add_argument("--out", default=DEMO)
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = args.out
    tok = load_tokenizer()
    ae = torch.load(os.path.join(WORK, "ae.pt"))
    ck = torch.load(args.ckpt)
    sf = float(ck["scaling_factor"])
    nets = build_nets()
    enc, dec = nets["Encoder"](), nets["Decoder"](**ae.get("decoder_cfg", {}))
    enc.load_state_dict(ae["encoder"]); dec.load_state_dict(ae["decoder"])
    text_cfg = ck.get("text_cfg", TEXT_CFG)
    unet_cfg = ck.get("unet_cfg", UNET_CFG)
    te, un = load_text_encoder_and_unet(ck, raw=args.raw)
    for m in (enc, dec):
        m.eval()

    D = text_cfg["dim"]
    ids = torch.tensor([tok("a large red star on a blue background, lit from the left"), tok("")], dtype=torch.int32)
    g = torch.Generator().manual_seed(42)
    sample = torch.randn(2, 4, 8, 8, generator=g)
    timestep = torch.tensor([981.0, 981.0])
    lat = torch.randn(1, 4, 8, 8, generator=g) / sf
    img = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1

    with torch.no_grad():
        hs, pooled = te(ids)
        eps = un(sample, timestep, hs)
        dimg = dec(lat)
        elat = enc(img)

    export(TEWrap(te), (ids,), os.path.join(out, "text_encoder", "model.onnx"), ["input_ids"],
           ["last_hidden_state", "pooler_output"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
    export(un, (sample, timestep, hs), os.path.join(out, "unet", "model.onnx"), ["sample", "timestep", "encoder_hidden_states"],
           ["out_sample"], {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "timestep_batch"},
                            "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    export(dec, (lat,), os.path.join(out, "vae_decoder", "model.onnx"), ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    export(enc, (img,), os.path.join(out, "vae_encoder", "model.onnx"), ["sample"], ["latent_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}})

    # ---- configs ----
    vae_cfg = {"_class_name": "AutoencoderKL", "_diffusers_version": DIFFUSERS_VERSION, "in_channels": 3, "out_channels": 3,
               "latent_channels": 4, "sample_size": 64, "scaling_factor": sf, "force_upcast": False,
               "block_out_channels": [16, 32, 64, 96], "note": "Atelier shapes-and-light autoencoder (8x downsampling, deterministic encoder)"}
    # The live preview's latent_rgb_factors / latent_rgb_bias are fitted on the exported decoder and
    # added to vae_decoder/config.json afterwards by scripts/fit-preview-coefficients.ts (retrain.sh runs it).
    write_json(os.path.join(out, "vae_decoder", "config.json"), vae_cfg)
    write_json(os.path.join(out, "vae_encoder", "config.json"), vae_cfg)
    write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": DIFFUSERS_VERSION, "in_channels": 4, "out_channels": 4,
        "sample_size": 8, "cross_attention_dim": D, "block_out_channels": list(unet_cfg["ch"]), "time_cond_proj_dim": None,
        "addition_time_embed_dim": None, "prediction_type": "epsilon",
        "note": f"cross-attends to the first {CTX_LEN} text positions"})
    write_json(os.path.join(out, "text_encoder", "config.json"), {
        "architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": D,
        "intermediate_size": 4 * D, "num_hidden_layers": text_cfg["layers"], "num_attention_heads": text_cfg["heads"],
        "max_position_embeddings": 77, "vocab_size": ck["vocab_size"], "hidden_act": "quick_gelu",
        "bos_token_id": tok.bos, "eos_token_id": tok.eos, "pad_token_id": tok.eos, "projection_dim": D})
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
        "_class_name": "DDIMScheduler", "_diffusers_version": DIFFUSERS_VERSION, "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon",
        "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
        "thresholding": False, "rescale_betas_zero_snr": False})
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": DIFFUSERS_VERSION,
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"]})

    # ---- held-out prompts ----
    items = heldout_items()
    write_json(os.path.join(out, "heldout.json"), {
        "description": "Held-out prompts: their colour-shape-background combinations never appear in training. "
                       "Generate each at 64x64 with its seed, default scheduler, CFG on, and score from pixels as described in 'scoring'.",
        "width": 64, "height": 64, "recommended": RECOMMENDED,
        "heldout_combos": [list(c) for c in sorted({(it["labels"]["color"], it["labels"]["shape"], it["labels"]["background"]) for it in items})],
        "scoring": SCORING_DOC,
        "prompts": items})

    # ---- parity fixtures ----
    pdir = os.path.join(out, "parity")
    shutil.rmtree(pdir, ignore_errors=True)
    os.makedirs(pdir)
    man = {}
    save_bin(pdir, "text_encoder.input_ids", ids.numpy(), man)
    save_bin(pdir, "text_encoder.last_hidden_state", hs.numpy(), man)
    save_bin(pdir, "text_encoder.pooler_output", pooled.numpy(), man)
    save_bin(pdir, "unet.sample", sample.numpy(), man)
    save_bin(pdir, "unet.timestep", timestep.numpy(), man)
    save_bin(pdir, "unet.encoder_hidden_states", hs.numpy(), man)
    save_bin(pdir, "unet.out_sample", eps.numpy(), man)
    save_bin(pdir, "vae_decoder.latent_sample", lat.numpy(), man)
    save_bin(pdir, "vae_decoder.sample", dimg.numpy(), man)
    save_bin(pdir, "vae_encoder.sample", img.numpy(), man)
    save_bin(pdir, "vae_encoder.latent_sample", elat.numpy(), man)
    write_json(os.path.join(pdir, "manifest.json"), {
        "note": "Fixed inputs and PyTorch outputs for the ORT-vs-torch parity test; little-endian raw arrays.",
        "checkpoint_step": ck["step"], "tensors": man})
    total = 0
    for root, _, files in os.walk(out):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f"exported step {ck['step']} ({'raw' if args.raw else 'EMA'}) to {out}; scaling_factor {sf:.5f}; total {total/1e6:.1f} MB")


if __name__ == "__main__":
    main()
