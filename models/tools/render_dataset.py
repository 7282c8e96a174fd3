"""Render the procedural "shapes and light" training set.

Writes models/.work/images.npy (uint8 [N,64,64,3]) and models/.work/attrs.json (one attribute
record per image). Held-out colour-shape-background combos (common.heldout_combos) are never
rendered. Captions are generated on the fly during training from the attributes, so every epoch
sees different wordings and different subsets of mentioned attributes.

    /usr/bin/python3 models/tools/render_dataset.py [--n 120000] [--workers 2]
"""
import argparse
import json
import os
import random
import time
from dataclasses import asdict
from multiprocessing import Pool

import numpy as np

from common import WORK, random_attrs, render, RES


def _chunk(args):
    seed, n = args
    rng = random.Random(seed)
    attrs = [random_attrs(rng) for _ in range(n)]
    imgs = np.stack([render(a) for a in attrs])
    return imgs, [asdict(a) for a in attrs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    t = time.time()
    chunk = 2000
    jobs = [(args.seed * 100003 + i, min(chunk, args.n - i * chunk)) for i in range((args.n + chunk - 1) // chunk)]
    imgs = np.lib.format.open_memmap(os.path.join(WORK, "images.npy.tmp"), mode="w+", dtype=np.uint8, shape=(args.n, RES, RES, 3))
    attrs = []
    off = 0
    with Pool(args.workers) as pool:
        for im, at in pool.imap(_chunk, jobs):
            imgs[off:off + len(im)] = im
            attrs.extend(at)
            off += len(im)
            print(f"rendered {off}/{args.n} ({time.time() - t:.0f}s)", flush=True)
    imgs.flush()
    del imgs
    os.replace(os.path.join(WORK, "images.npy.tmp"), os.path.join(WORK, "images.npy"))
    with open(os.path.join(WORK, "attrs.json"), "w") as f:
        json.dump(attrs, f)
    print(f"done: {args.n} images in {time.time() - t:.0f}s")


if __name__ == "__main__":
    main()
