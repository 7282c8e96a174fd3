"""Train the CLIP-style text encoder and the UNet jointly on the frozen autoencoder's latents.

eps-prediction, SD's scaled_linear schedule (beta 0.00085..0.012, 1000 steps), caption dropout
10% (empty prompt, for CFG), offset noise 0.1, min-SNR-5 loss weighting, EMA 0.999.
Captions are generated on the fly from each image's attributes (varied wording and subsets).

Checkpoints every few minutes into models/.work/unet_ckpt.pt (resumable with --resume); a quick
held-out evaluation (DDIM 20 steps, common.RECOMMENDED guidance, fixed seeds, pixel scoring) runs every --eval-every
minutes and writes its scores to models/.work/train.log.

    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread \
      nice -n 19 /usr/bin/python3 models/tools/train_unet.py --minutes 90 [--resume]
"""
import argparse
import copy
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from common import COLORS, CTX_LEN, LIGHTS, POSITIONS, SHAPES, SIZES, TINTS, WORK, Attrs, alphas_cumprod, caption, load_tokenizer, make_logger
from nets import TEXT_CFG, UNET_CFG, build_nets

# Auxiliary text-encoder heads (training only, not exported): predict each attribute the caption
# mentions (or "not mentioned") from the pooled output. Without them the jointly trained text
# encoder collapsed position/lighting words (the UNet learned colour first and never asked for them).
AUX = {"color": COLORS, "bg": COLORS, "shape": SHAPES, "position": POSITIONS, "size": SIZES,
       "light": LIGHTS[1:], "tint": TINTS[1:], "reflection": [True]}


def aux_targets(mentions):
    return [(vals.index(mentions[k]) + 1) if k in mentions else 0 for k, vals in AUX.items()]

CKPT = os.path.join(WORK, "unet_ckpt.pt")
log = make_logger("unet")




def make_models(vocab_size):
    nets = build_nets()
    te = nets["TextEncoder"](vocab_size, **TEXT_CFG)
    un = nets["UNet"](**UNET_CFG)
    return nets, te, un


@torch.no_grad()
def ema_update(ema, model, decay):
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=90.0, help="total training time (including earlier runs when resuming)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--ckpt-every", type=float, default=4.0, help="minutes")
    ap.add_argument("--eval-every", type=float, default=8.0, help="minutes (0 = never)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aux-weight", type=float, default=0.1)
    ap.add_argument("--refl-oversample", type=float, default=0.0,
                    help="fraction of each batch drawn from images with a reflection (0 = uniform, the data's 30%%)")
    ap.add_argument("--lr-final", type=float, default=1.0,
                    help="cosine-decay the learning rate to lr*lr_final over this run (1 = constant)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    tok = load_tokenizer()
    ae = torch.load(os.path.join(WORK, "ae.pt"))
    sf = ae["scaling_factor"]
    lat = torch.from_numpy(np.load(os.path.join(WORK, "latents.npy"))) * sf
    with open(os.path.join(WORK, "attrs.json")) as f:
        attrs = [Attrs(**a) for a in json.load(f)]
    N = len(attrs)
    refl_idx = np.array([i for i, a in enumerate(attrs) if a.reflection])
    nets, te, un = make_models(len(tok.encoder))
    log(f"data {N} latents, scaling_factor {sf:.5f}; text encoder {sum(p.numel() for p in te.parameters())/1e6:.3f}M params, "
        f"UNet {sum(p.numel() for p in un.parameters())/1e6:.3f}M params")
    aux = torch.nn.ModuleDict({k: torch.nn.Linear(TEXT_CFG["dim"], len(v) + 1) for k, v in AUX.items()})
    params = list(te.parameters()) + list(un.parameters()) + list(aux.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema_te, ema_un = copy.deepcopy(te), copy.deepcopy(un)
    step, seen, elapsed = 0, 0, 0.0
    if args.resume and os.path.exists(CKPT):
        ck = torch.load(CKPT)
        # checkpoints from before the coordinate input channels: zero-pad inp.weight (same function)
        for k in ("unet", "ema_unet"):
            w = ck[k]["inp.weight"]
            if w.shape[1] == 4:
                ck[k]["inp.weight"] = torch.cat([w, torch.zeros(w.shape[0], 2, *w.shape[2:])], 1)
                ck.pop("opt", None)
        if "aux" in ck:
            aux.load_state_dict(ck["aux"])
        else:
            ck.pop("opt", None)
        te.load_state_dict(ck["te"]); un.load_state_dict(ck["unet"])
        ema_te.load_state_dict(ck["ema_te"]); ema_un.load_state_dict(ck["ema_unet"])
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:
            log("optimizer state reset (architecture changed)")
        step, seen, elapsed = ck["step"], ck["seen"], ck["elapsed"]
        log(f"resumed at step {step} ({seen} images, {elapsed/60:.1f} min)")
    for g in opt.param_groups:
        g["lr"] = args.lr
    ema_te.eval(); ema_un.eval()

    ac = torch.from_numpy(alphas_cumprod()).float()
    snr = ac / (1 - ac)
    rng = random.Random(args.seed * 7919 + step)
    gen = np.random.default_rng(args.seed * 7919 + step)
    empty_ids = torch.tensor([tok("")], dtype=torch.int32)

    eval_state = None
    if args.eval_every > 0:
        from evaluate import Evaluator
        eval_state = Evaluator(tok, ae, sf)

    def save():
        tmp = CKPT + ".tmp"
        torch.save({"te": te.state_dict(), "unet": un.state_dict(), "ema_te": ema_te.state_dict(),
                    "ema_unet": ema_un.state_dict(), "aux": aux.state_dict(), "opt": opt.state_dict(), "step": step, "seen": seen,
                    "elapsed": elapsed, "vocab_size": len(tok.encoder), "scaling_factor": sf,
                    "text_cfg": TEXT_CFG, "unet_cfg": UNET_CFG}, tmp)
        os.replace(tmp, CKPT)

    t_start = time.time()
    base_elapsed = elapsed
    last_ck = last_log = time.time()
    last_eval = time.time() if step > 0 else time.time() - args.eval_every * 60 + 180  # first eval after ~3 min
    run_seen = 0
    loss_acc, n_acc = 0.0, 0
    while elapsed < args.minutes * 60:
        if args.refl_oversample > 0:
            n_r = int(round(args.batch * args.refl_oversample))
            idx = np.concatenate([gen.choice(refl_idx, n_r), gen.integers(0, N, args.batch - n_r)])
        else:
            idx = gen.integers(0, N, args.batch)
        caps, tg = [], []
        for i in idx:
            men = {}
            c = caption(attrs[i], rng, mentions=men)
            if rng.random() < 0.1:
                c, men = "", {}
            caps.append(c)
            tg.append(aux_targets(men))
        tg = torch.tensor(tg)
        ids = torch.tensor([tok(c) for c in caps], dtype=torch.int32)
        z0 = lat[idx]
        B = z0.shape[0]
        t = torch.from_numpy(gen.integers(0, 1000, B))
        noise = torch.randn_like(z0) + 0.1 * torch.randn(B, z0.shape[1], 1, 1)
        a = ac[t].view(B, 1, 1, 1)
        xt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        warm = min(1.0, (step + 1) / 200)
        progress = min(1.0, (elapsed - base_elapsed) / max(1.0, args.minutes * 60 - base_elapsed))
        decay_lr = args.lr_final + (1 - args.lr_final) * 0.5 * (1 + math.cos(math.pi * progress))
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * decay_lr
        ctx, pooled = te(ids, length=CTX_LEN)
        aux_loss = sum(F.cross_entropy(head(pooled), tg[:, j]) for j, head in enumerate(aux.values())) / len(AUX)
        pred = un(xt, t.float(), ctx)
        w = torch.clamp(snr[t], max=5.0) / snr[t]
        loss = (w * (pred - noise).pow(2).mean(dim=(1, 2, 3))).mean() + args.aux_weight * aux_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        seen += B
        run_seen += B
        decay = min(0.999, (1 + step) / (10 + step))
        ema_update(ema_te, te, decay)
        ema_update(ema_un, un, decay)
        loss_acc += loss.item() - args.aux_weight * aux_loss.item(); n_acc += 1
        aux_acc = aux_loss.item() if n_acc == 1 else aux_acc + aux_loss.item()  # noqa: F821
        now = time.time()
        elapsed = base_elapsed + (now - t_start)
        if now - last_log > 60:
            log(f"step {step} seen {seen} loss {loss_acc/n_acc:.4f} aux {aux_acc/n_acc:.3f} {run_seen/(now-t_start):.0f} img/s elapsed {elapsed/60:.1f} min")
            loss_acc, n_acc = 0.0, 0
            last_log = now
        if now - last_ck > args.ckpt_every * 60:
            save()
            last_ck = now
        if eval_state is not None and now - last_eval > args.eval_every * 60:
            save()
            sc = eval_state.run(ema_te, ema_un, tag=f"{step:06d}")
            log(f"EVAL step {step} ({elapsed/60:.1f} min, {seen} img): " + " ".join(f"{k} {v:.2f}" for k, v in sc.items() if v is not None))
            last_eval = time.time()
            # don't count eval time as training time
            t_start += time.time() - now
    save()
    log(f"finished: step {step}, {seen} images, {elapsed/60:.1f} min training")
    if eval_state is not None:
        sc = eval_state.run(ema_te, ema_un, tag=f"{step:06d}")
        log(f"EVAL step {step} ({elapsed/60:.1f} min, {seen} img): " + " ".join(f"{k} {v:.2f}" for k, v in sc.items() if v is not None))


if __name__ == "__main__":
    main()
