"""Train the demo model's edge ControlNet (models/controlnets/demo-edges) on CPU.

The shipped demo networks are rebuilt from their ONNX files (onnx_weights.py) and frozen; only the
ControlNet trains (controlnet_nets.py: a copy of the UNet's encoder side initialised from it, a hint
encoder for the 64x64 edge map, zero-initialised 1x1 convs). Data: procedural scenes with the Canny
edge map of the same geometry under another light as the control (controlnet_data.py), encoded once
with the frozen VAE encoder; captions are drawn on the fly (half of them without the position).
Loss: eps-prediction MSE with min-SNR-5 weighting and offset noise 0.1, as the base model was trained;
with --distill W, distillation instead: the target is the frozen UNet's own prediction given a caption
that names the true position, while UNet + ControlNet get it without (controlnet_data.teacher_student_captions).

The shipped model (models/demo/README.md, "Edge ControlNet"), 41 min in all:
    PY="nice -n 10 /usr/bin/python3"; export LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread
    $PY models/tools/train_controlnet.py --minutes 30 --eval-every 14      # stopped at the 14.1-min checkpoint
    $PY models/tools/train_controlnet.py --resume --distill 10 --minutes 31 --eval-every 100
    $PY models/tools/train_controlnet.py --resume --distill 10 --minutes 41 --eval-every 100 --seed 1
    $PY models/tools/export_controlnet.py

Writes models/.work/controlnet_data.npz (rendered set + latents) and models/.work/controlnet_ckpt.pt
(best validation checkpoint: position + lighting hits on 16 validation cases, not the test cases).
"""
import os

os.environ.setdefault("ATELIER_DEMO_DATA", "3")  # the shipped model's fine-tune used recipe 3's scenes

import argparse  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import CTX_LEN, RECOMMENDED, WORK, alphas_cumprod, ddim_timesteps, images_to_tensor, load_tokenizer, make_logger, tensor_to_images  # noqa: E402
from controlnet_data import control_cases, render_training_set, teacher_student_captions, training_caption  # noqa: E402
from controlnet_nets import build_controlnet_nets, canny_control  # noqa: E402
from onnx_weights import check_against_parity, load_demo_nets  # noqa: E402
from scoring import analyze, position_ok  # noqa: E402

DATA = os.path.join(WORK, "controlnet_data.npz")
CKPT = os.path.join(WORK, "controlnet_ckpt.pt")
VALIDATION_SEED = 90000  # validation cases: training-distribution combos, other seeds than the test's


def prepare(n, enc, sf, log):
    if os.path.exists(DATA):
        d = np.load(DATA, allow_pickle=True)
        if len(d["images"]) == n:
            return d["latents"], d["controls"], list(d["attrs"])
    t = time.time()
    images, controls, attrs = render_training_set(n)
    log(f"rendered {n} scenes + control edge maps in {time.time() - t:.0f}s")
    with torch.no_grad():
        lat = torch.cat([enc(images_to_tensor(images[i:i + 256])) for i in range(0, n, 256)]) * sf
    np.savez(DATA, images=images, controls=controls, latents=lat.numpy(), attrs=np.array(attrs, dtype=object))
    return lat.numpy(), controls, attrs


def controls_to_tensor(c):
    """uint8 [N,64,64,3] edge maps -> float [N,3,64,64] in 0..1 (the engine's controlnet_cond range)."""
    return torch.from_numpy(np.ascontiguousarray(c)).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def sample_with_control(cn, cu, ctx, unc, cond, noise, steps=RECOMMENDED["steps"], cfg=RECOMMENDED["guidance_scale"]):
    """DDIM (leading, offset 1) with CFG; the control image conditions both halves, as in the engine."""
    ac = alphas_cumprod()
    x = noise.clone()
    B = x.shape[0]
    c2 = torch.cat([unc, ctx])
    cond2 = torch.cat([cond, cond])
    for t in ddim_timesteps(steps):
        tt = torch.full((2 * B,), float(t))
        xx = torch.cat([x, x])
        res = cn(xx, tt, c2, cond2) if cn is not None else None
        eps = cu(xx, tt, c2, *res) if res is not None else cu.un(xx, tt, c2)
        e = eps[:B] + cfg * (eps[B:] - eps[:B])
        prev = t - 1000 // steps
        a_t, a_p = ac[t], (ac[prev] if prev >= 0 else ac[0])
        x0 = (x - np.sqrt(1 - a_t) * e) / np.sqrt(a_t)
        x = np.sqrt(a_p) * x0 + np.sqrt(1 - a_p) * e
    return x


class Validator:
    """Position (the control's) and lighting side (the prompt's) hits on validation cases."""

    def __init__(self, te, dec, sf, tok, n=16):
        self.cases = control_cases(n, VALIDATION_SEED, heldout=False)
        ids = torch.tensor([tok(c["prompt"]) for c in self.cases], dtype=torch.int32)
        with torch.no_grad():
            self.ctx = te(ids, length=CTX_LEN)[0]
            self.unc = te(torch.tensor([tok("")] * n, dtype=torch.int32), length=CTX_LEN)[0]
        self.cond = controls_to_tensor(np.stack([canny_control(c["photo"]) for c in self.cases]))
        self.noise = torch.stack([torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(c["seed"])) for c in self.cases])
        self.dec, self.sf = dec, sf

    def run(self, cn, cu):
        z = sample_with_control(cn, cu, self.ctx, self.unc, self.cond, self.noise)
        with torch.no_grad():
            imgs = tensor_to_images(self.dec(z / self.sf))
        pos = light = 0
        for c, img in zip(self.cases, imgs):
            m = analyze(img)
            pos += position_ok(c["position"], m, False)
            light += m["light"] == c["light"]
        return pos, light, len(self.cases)


def batch_loss(args, nets, data, rng, gen):
    """One training batch's loss. nets: tok, te, un, cn, cu; data: lat, controls, attrs, ac, snr."""
    tok, te, un, cn, cu = nets
    lat, controls, attrs, ac, snr = data
    idx = gen.integers(0, len(lat), args.batch)
    if args.distill:
        pairs = [teacher_student_captions(attrs[i], rng) for i in idx]
        # 10% empty student captions (CFG's unconditional branch also gets the control): plain eps loss
        empty = torch.tensor([rng.random() < 0.1 for _ in idx])
        caps = ["" if e else s for e, (_, s) in zip(empty.tolist(), pairs)]
    else:
        caps = [training_caption(attrs[i], rng) for i in idx]
    ids = torch.tensor([tok(c) for c in caps], dtype=torch.int32)
    with torch.no_grad():
        ctx = te(ids, length=CTX_LEN)[0]
    z0, cond = lat[idx], controls_to_tensor(controls[idx])
    B = z0.shape[0]
    # 60% of the timesteps from the noisy half, where the object's place is decided (and the
    # residuals matter most); the rest uniform, so low-noise steps are trained too
    t = torch.from_numpy(np.where(gen.random(B) < 0.6, gen.integers(500, 1000, B), gen.integers(0, 1000, B)))
    noise = torch.randn_like(z0) + 0.1 * torch.randn(B, z0.shape[1], 1, 1)
    a = ac[t].view(B, 1, 1, 1)
    xt = a.sqrt() * z0 + (1 - a).sqrt() * noise
    pred = cu(xt, t.float(), ctx, *cn(xt, t.float(), ctx, cond))
    w = torch.clamp(snr[t], max=5.0) / snr[t]
    per = w * (pred - noise).pow(2).mean(dim=(1, 2, 3))
    if args.distill:
        # the frozen UNet told the true position in words is the target: a low-variance signal for
        # "put it where the edges are", which the noise-regression loss carries only faintly
        with torch.no_grad():
            target = un(xt, t.float(), te(torch.tensor([tok(tc) for tc, _ in pairs], dtype=torch.int32), length=CTX_LEN)[0])
        distill = (pred - target).pow(2).mean(dim=(1, 2, 3))
        per = torch.where(empty, per, args.distill * distill)
    return per.mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=32)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=float, default=10, help="minutes between validation runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distill", type=float, default=0.0,
                    help="> 0: distil from the frozen UNet given the true position in words, with this weight (see teacher_student_captions)")
    ap.add_argument("--resume", action="store_true", help="start from models/.work/controlnet_ckpt.pt")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    os.makedirs(WORK, exist_ok=True)
    log = make_logger("controlnet")
    tok = load_tokenizer()
    te, un, enc, dec, sf = load_demo_nets()
    log(f"rebuilt the shipped demo nets from ONNX; max diff to the parity fixtures {max(check_against_parity(te, un, enc, dec).values()):.2e}")
    for m in (te, un, enc, dec):
        for p in m.parameters():
            p.requires_grad_(False)
    lat, controls, attrs = prepare(args.n, enc, sf, log)
    lat = torch.from_numpy(lat)
    nets = build_controlnet_nets()
    cn, cu = nets["ControlNet"](un), nets["ControlUNet"](un)
    step = seen = 0
    prior_minutes = 0.0
    history = []
    if args.resume:
        ck = torch.load(CKPT)
        cn.load_state_dict(ck["controlnet"])
        step, seen, prior_minutes = ck["step"], ck["seen"], ck["train_minutes"]
        history = ck.get("history", [ck.get("args", {})])
        log(f"resumed from step {step} ({seen} images, {prior_minutes:.1f} min)")
    cn.train()
    opt = torch.optim.AdamW(cn.parameters(), lr=args.lr, weight_decay=0.0)
    val = Validator(te, dec, sf, tok)
    ac = torch.from_numpy(alphas_cumprod()).float()
    snr = ac / (1 - ac)
    rng, gen = random.Random(args.seed), np.random.default_rng(args.seed)
    nets_, data = (tok, te, un, cn, cu), (lat, controls, attrs, ac, snr)
    best = (-1, -1)
    t0 = last_log = time.time()
    last_eval = t0
    train_s = prior_minutes * 60
    loss_acc, run_steps = 0.0, 0
    while train_s < args.minutes * 60:
        ts = time.time()
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 50)
        loss = batch_loss(args, nets_, data, rng, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(cn.parameters(), 1.0)
        opt.step()
        step += 1
        seen += args.batch
        loss_acc += loss.item()
        run_steps += 1
        train_s += time.time() - ts
        now = time.time()
        if now - last_log > 60:
            log(f"step {step} seen {seen} loss {loss_acc / run_steps:.4f} (mean of this run) {seen / max(1e-9, train_s):.1f} img/s train {train_s / 60:.1f} min")
            last_log = now
        if now - last_eval > args.eval_every * 60 or train_s >= args.minutes * 60:
            cn.eval()
            pos, light, n = val.run(cn, cu)
            cn.train()
            log(f"VALID step {step} ({train_s / 60:.1f} min, {seen} img): position {pos}/{n}, lighting {light}/{n}")
            if (pos + light, pos) > best:
                best = (pos + light, pos)
                torch.save({"controlnet": cn.state_dict(), "step": step, "seen": seen, "train_minutes": train_s / 60,
                            "valid": {"position": pos, "lighting": light, "total": n},
                            "args": vars(args), "history": history + [vars(args)]}, CKPT)
                log(f"saved {CKPT}")
            last_eval = time.time()
    log(f"done: {step} steps, {seen} images, {train_s / 60:.1f} min of training ({(time.time() - t0) / 60:.1f} min wall)")


if __name__ == "__main__":
    main()
