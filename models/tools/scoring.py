"""Pixel-based adherence scoring and the held-out prompt list (the TypeScript adherence test,
test/models/pixel-scoring.ts, does the same; the recipe is written to models/demo/heldout.json)."""
import random

import numpy as np

from common import COLORS, PALETTE, POSITIONS, SIZES, Attrs, caption, heldout_combos

# ----------------------------------------------------------------------------------------------
# Pixel scoring (the TypeScript adherence test should do the same; see models/demo/heldout.json)
# ----------------------------------------------------------------------------------------------
_PAL = np.array([PALETTE[c] for c in COLORS], np.float32)


def nearest_color(rgb):
    d = ((_PAL - np.asarray(rgb, np.float32)[None]) ** 2).sum(1)
    return COLORS[int(d.argmin())]


def analyze(img: np.ndarray) -> dict:
    """img uint8 [64,64,3] -> measured attributes (see SCORING_DOC)."""
    im = img.astype(np.float32)
    H, W, _ = im.shape
    b = 2
    # background: median of the border frame, upper 60% of the image (the floor may be darker)
    ylim = int(H * 0.6)
    frame = np.concatenate([im[:b, :].reshape(-1, 3), im[:ylim, :b].reshape(-1, 3), im[:ylim, W - b:].reshape(-1, 3)])
    bg = np.median(frame, axis=0)
    dist = np.sqrt(((im - bg) ** 2).sum(-1))
    cand = dist > 60
    res = {"bg": nearest_color(bg), "color": None, "cx": None, "cy": None, "light": None, "reflection": False}
    if cand.sum() < 6:
        return res
    dmax = np.percentile(dist[cand], 90)
    strong = dist > max(60.0, 0.6 * dmax)  # the object, not its fading reflection
    ys, xs = np.nonzero(strong)
    obj = im[strong]
    res["color"] = nearest_color(np.median(obj, axis=0))
    cx, cy = float(xs.mean()), float(ys.mean())
    res["cx"], res["cy"] = cx, cy
    lum = 0.299 * obj[:, 0] + 0.587 * obj[:, 1] + 0.114 * obj[:, 2]
    left = lum[xs < cx].mean() if (xs < cx).any() else 0
    right = lum[xs > cx].mean() if (xs > cx).any() else 0
    res["lum_left"], res["lum_right"] = float(left), float(right)
    res["light"] = "left" if left > right else "right"
    # reflection: band right below the object (object columns, height = object height / 2)
    y1 = int(ys.max()) + 1
    hgt = max(3, int((ys.max() - ys.min() + 1) / 2))
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    if y1 + 1 < H:
        band = im[y1 + 1:min(H, y1 + 1 + hgt), x0:x1]
        floor_rows = im[y1 + 1:min(H, y1 + 1 + hgt)]
        # reference: the same rows outside the object columns (floor colour)
        outside = np.concatenate([floor_rows[:, :max(0, x0 - 2)], floor_rows[:, min(W, x1 + 2):]], axis=1).reshape(-1, 3)
        ref = np.median(outside, axis=0) if len(outside) else bg
        bd = np.sqrt(((band - ref) ** 2).sum(-1))
        res["refl_frac"] = float((bd > 30).mean())
        res["reflection"] = res["refl_frac"] > 0.25
    return res


def position_ok(pos, m, reflection):
    cx, cy = m["cx"], m["cy"]
    if cx is None:
        return False
    if pos == "left":
        return cx < 28
    if pos == "right":
        return cx > 36
    if pos == "top":
        return cy < 26
    if pos == "bottom":
        return cy > 38
    if pos == "centre":
        return abs(cx - 32) <= 8 and (reflection or abs(cy - 32) <= 8)
    return False


SCORING_DOC = {
    "palette": PALETTE,
    "background": "median RGB of the 2-pixel border frame restricted to rows y < 0.6*H (top rows + left/right columns); nearest palette colour (Euclidean RGB)",
    "object_mask": "pixels with Euclidean RGB distance to the background median > max(60, 0.6 * p90(distance over pixels with distance > 60)) (excludes the fading reflection)",
    "object_colour": "nearest palette colour to the per-channel median of object-mask pixels",
    "position": "centroid (cx, cy) of the object mask in pixel coords (0..63): left cx<28, right cx>36, top cy<26, bottom cy>38, centre |cx-32|<=8 and |cy-32|<=8 (x only when the prompt has a reflection)",
    "lighting": "mean luma (0.299R+0.587G+0.114B) of object-mask pixels left of cx vs right of cx; the named side must be brighter",
    "reflection": "band of rows y in [ymax+2, ymax+2+h/2) over the object's columns [xmin, xmax] (h = object mask height); reference colour = median of the same rows outside columns [xmin-2, xmax+2]; reflection present if > 25% of band pixels are > 30 RGB-distance from the reference",
}


def score(items, images):
    """items: heldout entries (dicts with 'labels'); images: list of uint8 arrays."""
    tot = {"color": [0, 0], "background": [0, 0], "position": [0, 0], "lighting": [0, 0], "reflection": [0, 0]}
    for it, img in zip(items, images):
        L = it["labels"]
        m = analyze(img)
        tot["color"][0] += m["color"] == L["color"]; tot["color"][1] += 1
        tot["background"][0] += m["bg"] == L["background"]; tot["background"][1] += 1
        if L.get("position"):
            tot["position"][0] += position_ok(L["position"], m, L.get("reflection", False)); tot["position"][1] += 1
        if L.get("lighting") in ("left", "right"):
            tot["lighting"][0] += m["light"] == L["lighting"]; tot["lighting"][1] += 1
        if L.get("reflection"):
            tot["reflection"][0] += bool(m["reflection"]); tot["reflection"][1] += 1
    return {k: (v[0] / v[1] if v[1] else None) for k, v in tot.items()}


def heldout_items():
    """The held-out prompt list (deterministic). One prompt per held-out combo."""
    rng = random.Random(1234)
    items = []
    for i, (c, s, b) in enumerate(heldout_combos()):
        refl = i % 3 == 0
        pos = rng.choice(["left", "right", "top", "centre"] if refl else POSITIONS)
        light = ["left", "right", "none"][i % 3 if i % 2 == 0 else (i + 1) % 3]
        a = Attrs(color=c, shape=s, bg=b, bg2=None, position=pos, size=rng.choice(SIZES), light=light,
                  tint="none", reflection=refl)
        prompt = caption(a, random.Random(i), full=True)
        items.append({
            "prompt": prompt,
            "seed": 1000 + i,
            "labels": {"color": c, "shape": s, "background": b, "position": pos, "size": a.size,
                       "lighting": light if light != "none" else None, "reflection": refl},
        })
    return items
