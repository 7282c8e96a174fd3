"""Eager-PyTorch side of bench/demo-torch-vs-ort-bench.ts: the demo model's full txt2img
(tokenize -> text encoder (prompt + empty prompt) -> DDIM with CFG -> VAE decode -> uint8) with the
training checkpoint's weights (the same EMA weights export_onnx.py writes to models/demo/).

Prints one JSON line: {"runs_ms": [...], "unet_calls": n, "threads": t, "step": training step, ...}.

    /usr/bin/python3 models/tools/bench_torch.py --runs 5 --steps 20 --threads 2
"""
import argparse
import json
import os
import time

import torch

from common import RECOMMENDED, WORK, ddim_sample, load_tokenizer
from nets import build_nets, load_text_encoder_and_unet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(WORK, "unet_ckpt.pt"))
    ap.add_argument("--ae", default=os.path.join(WORK, "ae.pt"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=RECOMMENDED["steps"])
    ap.add_argument("--cfg", type=float, default=RECOMMENDED["guidance_scale"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", default="a small yellow circle at the top on a purple background")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = load_tokenizer()
    ae = torch.load(args.ae)
    ck = torch.load(args.ckpt)
    te, un = load_text_encoder_and_unet(ck)
    dec = build_nets()["Decoder"](**ae.get("decoder_cfg", {}))
    dec.load_state_dict(ae["decoder"])
    dec.eval()
    sf = float(ck["scaling_factor"])
    calls = [0]
    unet_forward = un.forward

    def counted(*a, **k):
        calls[0] += 1
        return unet_forward(*a, **k)

    un.forward = counted

    def generate(seed):
        ids = torch.tensor([tok(args.prompt)] * args.batch, dtype=torch.int32)
        empty = torch.tensor([tok("")] * args.batch, dtype=torch.int32)
        ctx, _ = te(ids)
        unc, _ = te(empty)
        noise = torch.randn(args.batch, 4, 8, 8, generator=torch.Generator().manual_seed(seed))
        z = ddim_sample(un, ctx, unc, noise, steps=args.steps, cfg=args.cfg)
        x = dec(z / sf)
        return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).contiguous()

    runs = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            calls[0] = 0
            t0 = time.perf_counter()
            generate(i)
            ms = (time.perf_counter() - t0) * 1000
            if i >= args.warmup:
                runs.append(ms)
    print(json.dumps({"runs_ms": runs, "unet_calls": calls[0], "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "step": int(ck["step"]), "batch": args.batch, "steps": args.steps}))


if __name__ == "__main__":
    main()
