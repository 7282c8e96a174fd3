"""Train the small 8x-downsampling conv autoencoder (4 latent channels), then freeze it:
encode the whole rendered set to latents and measure scaling_factor = 1/std(latents).

Outputs (models/.work/): ae.pt (encoder + decoder weights + scaling_factor), latents.npy
(float32 [N,4,8,8], *unscaled*). Log: models/.work/train.log.

    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread \
      nice -n 19 /usr/bin/python3 models/tools/train_autoencoder.py [--minutes 8]
"""
import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from common import WORK, images_to_tensor as to_t, make_logger
from nets import build_nets

log = make_logger("ae")






def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--encode-only", action="store_true", help="skip training, re-encode with existing ae.pt")
    ap.add_argument("--keep-scaling-factor", action="store_true",
                    help="with --encode-only: keep ae.pt's scaling_factor (a UNet trained on it stays valid when the data changes)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nets = build_nets()
    enc, dec = nets["Encoder"](), nets["Decoder"]()
    log(f"encoder {sum(p.numel() for p in enc.parameters())/1e3:.1f}k params, decoder {sum(p.numel() for p in dec.parameters())/1e3:.1f}k params")
    imgs = np.load(os.path.join(WORK, "images.npy"), mmap_mode="r")
    N = len(imgs)
    path = os.path.join(WORK, "ae.pt")

    if not args.encode_only:
        params = list(enc.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, lr=args.lr)
        rng = np.random.default_rng(0)
        t0 = time.time()
        budget = args.minutes * 60
        step = 0
        seen = 0
        last = t0
        while True:
            el = time.time() - t0
            if el > budget:
                break
            lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, el / budget))))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = np.sort(rng.choice(N, args.batch, replace=False))
            x = to_t(np.ascontiguousarray(imgs[idx]))
            # fully convolutional: train on 32x32 crops aligned to the 8-pixel latent grid (4x cheaper)
            cy, cx = 8 * int(rng.integers(0, 5)), 8 * int(rng.integers(0, 5))
            x = x[:, :, cy:cy + args.crop, cx:cx + args.crop]
            if rng.random() < 0.5:  # flips are free augmentation for the autoencoder
                x = x.flip(3)
            z = enc(x)
            zn = z + 0.1 * z.detach().std() * torch.randn_like(z)  # robustness to imperfect latents
            y = dec(zn)
            rec = F.l1_loss(y, x) + F.mse_loss(y, x)
            loss = rec + 1e-4 * z.pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += args.batch
            if time.time() - last > 30:
                last = time.time()
                log(f"step {step} loss {rec.item():.4f} lr {lr:.2e} {seen/(time.time()-t0):.0f} img/s")
        log(f"trained {step} steps, {seen} images in {(time.time()-t0)/60:.1f} min, final rec loss {rec.item():.4f}")
        torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, path)
    ck = torch.load(path)
    enc.load_state_dict(ck["encoder"])
    dec.load_state_dict(ck["decoder"])
    enc.eval(); dec.eval()
    lat = np.lib.format.open_memmap(os.path.join(WORK, "latents.npy.tmp"), mode="w+", dtype=np.float32, shape=(N, 4, 8, 8))
    err = []
    with torch.no_grad():
        for i in range(0, N, 500):
            x = to_t(np.ascontiguousarray(imgs[i:i + 500]))
            z = enc(x)
            lat[i:i + 500] = z.numpy()
            if i < 5000:
                err.append((dec(z) - x).abs().mean().item())
    lat.flush()
    std = float(np.asarray(lat[:]).std())
    mean = float(np.asarray(lat[:]).mean())
    del lat
    os.replace(os.path.join(WORK, "latents.npy.tmp"), os.path.join(WORK, "latents.npy"))
    sf = 1.0 / std
    if args.keep_scaling_factor and "scaling_factor" in ck:
        log(f"keeping scaling_factor {ck['scaling_factor']:.5f} (this data alone would give {sf:.5f})")
    else:
        ck["scaling_factor"] = sf
        ck["latent_mean"] = mean
    torch.save(ck, path)
    log(f"encoded {N} images: latent mean {mean:.4f} std {std:.4f}, scaling_factor {ck['scaling_factor']:.5f}; recon L1 (0..2 range) {np.mean(err):.4f}")


if __name__ == "__main__":
    main()
