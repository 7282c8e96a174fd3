"""Held-out adherence evaluation in Python (mirrors the TypeScript adherence test).

Samples every held-out prompt (models/demo/heldout.json) at 64x64 with DDIM, the recommended steps
and guidance (common.RECOMMENDED) and a fixed seed per prompt, decodes with the autoencoder and
scores object colour, background colour, position, lighting side and reflection from the pixels
(scoring.analyze / scoring.SCORING_DOC).

    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread \
      /usr/bin/python3 models/tools/evaluate.py [--ckpt models/.work/unet_ckpt.pt] [--steps N] [--cfg W]
"""
import argparse
import os

import numpy as np
import torch

from common import CTX_LEN, RECOMMENDED, WORK, ddim_sample, load_tokenizer, tensor_to_images
from nets import build_nets, load_text_encoder_and_unet
from scoring import heldout_items, score


class Evaluator:
    def __init__(self, tok, ae, sf, steps=RECOMMENDED["steps"], cfg=RECOMMENDED["guidance_scale"], seed_offset=0):
        nets = build_nets()
        self.dec = nets["Decoder"](**ae.get("decoder_cfg", {}))
        self.dec.load_state_dict(ae["decoder"])
        self.dec.eval()
        self.tok, self.sf, self.steps, self.cfg = tok, sf, steps, cfg
        # seed_offset > 0 draws other noise for the same prompts: a validation set for choosing
        # sampling settings (guidance_sweep.py) without tuning on the held-out test seeds.
        self.items = [dict(it, seed=it["seed"] + seed_offset) for it in heldout_items()]
        self.noise = torch.stack([torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(it["seed"])) for it in self.items])
        self.ids = torch.tensor([tok(it["prompt"]) for it in self.items], dtype=torch.int32)
        self.empty = torch.tensor([tok("")] * len(self.items), dtype=torch.int32)

    @torch.no_grad()
    def images(self, te, un):
        ctx, _ = te(self.ids)
        unc, _ = te(self.empty)
        out = []
        for i in range(0, len(self.items), 40):
            z = ddim_sample(un, ctx[i:i + 40], unc[i:i + 40], self.noise[i:i + 40], steps=self.steps, cfg=self.cfg)
            x = self.dec(z / self.sf)
            out.append(np.stack(tensor_to_images(x)))
        return list(np.concatenate(out))

    def run(self, te, un, tag="eval"):
        imgs = self.images(te, un)
        try:
            from PIL import Image
            g = np.concatenate([np.concatenate(imgs[r * 10:(r + 1) * 10], 1) for r in range(len(imgs) // 10)], 0)
            Image.fromarray(g).resize((g.shape[1] * 2, g.shape[0] * 2), Image.NEAREST).save(os.path.join(WORK, f"eval_{tag}.png"))
        except Exception:
            pass
        return score(self.items, imgs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(WORK, "unet_ckpt.pt"))
    ap.add_argument("--steps", type=int, default=RECOMMENDED["steps"])
    ap.add_argument("--cfg", type=float, default=RECOMMENDED["guidance_scale"])
    ap.add_argument("--raw", action="store_true", help="use the raw (non-EMA) weights")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = load_tokenizer()
    ae = torch.load(os.path.join(WORK, "ae.pt"))
    ck = torch.load(args.ckpt)
    te, un = load_text_encoder_and_unet(ck, raw=args.raw)
    ev = Evaluator(tok, ae, ck["scaling_factor"], steps=args.steps, cfg=args.cfg)
    sc = ev.run(te, un, tag=f"manual_s{args.steps}_c{args.cfg}")
    print(f"step {ck['step']} ({ck['elapsed']/60:.1f} min): " + " ".join(f"{k} {v:.3f}" for k, v in sc.items() if v is not None))


if __name__ == "__main__":
    main()
