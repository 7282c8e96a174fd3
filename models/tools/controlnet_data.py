"""Scenes, control images and prompts for the demo ControlNet (train_controlnet.py, export_controlnet.py).

Training pair: a procedural scene (common.render) is the target; its control image is the Canny edge
map (controlnet_nets.canny_control, what the engine's annotator makes from a photo) of the SAME
geometry rendered again with a random other light and tint, so the edges say where the object is
and what shape it has but nothing about the light, which stays the prompt's job.

Evaluation cases ("keep this shape where it is, change the light"): a photo of an unlit or
oppositely lit object at a known position is the control (through the Canny annotator); the prompt
names colour, shape, background and a lighting side, and no position ('no_position') or a different
one ('other_position'). The test set uses the 80 held-out colour-shape-background combos, which the
ControlNet never saw either (random_attrs excludes them).
"""
import random
import re
from dataclasses import replace

from common import LIGHTS, POS_PHRASES, POSITIONS, SIZES, TINTS, Attrs, caption, heldout_combos, random_attrs, render
from controlnet_nets import canny_control

_POS_RE = {p: re.compile(r",?\s*\b(?:" + "|".join(sorted(map(re.escape, ph), key=len, reverse=True)) + r")\b,?")
           for p, ph in POS_PHRASES.items()}


def without_position(text: str, position: str) -> str:
    """Remove the position phrase from a caption, keeping its punctuation tidy."""
    # "… on the left, lit …" keeps its comma; the clean-up below drops what is left over at either end
    out = _POS_RE[position].sub(lambda m: ", " if m.group(0).endswith(",") else " ", text)
    out = re.sub(r"\s+,", ",", re.sub(r"\s{2,}", " ", out)).strip(" ,")
    return out


def training_example(seed: int):
    """(target image, control edge map, attrs) for one training scene."""
    rng = random.Random(seed)
    a = random_attrs(rng)
    other = replace(a, light=rng.choice(LIGHTS), tint=rng.choices(TINTS, weights=[0.6, 0.2, 0.2])[0])
    return render(a), canny_control(render(other)), a


def _examples(seeds):
    import numpy as np
    ex = [training_example(s) for s in seeds]
    return np.stack([e[0] for e in ex]), np.stack([e[1] for e in ex]), [e[2] for e in ex]


def render_training_set(n: int, seed: int = 0, workers: int = 2):
    """(images uint8 [n,64,64,3], controls uint8 [n,64,64,3], attrs list), scenes seed*1_000_003 + i."""
    from multiprocessing import Pool
    import numpy as np
    chunks = [list(range(seed * 1_000_003 + k, seed * 1_000_003 + min(n, k + 500))) for k in range(0, n, 500)]
    with Pool(workers) as pool:
        parts = pool.map(_examples, chunks)
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            [a for p in parts for a in p[2]])


def training_caption(a: Attrs, rng: random.Random) -> str:
    """A training caption: common.caption, then the position dropped for half of the scenes (the
    control image carries it) and, for 10%, replaced by a wrong one (the control image wins)."""
    c = caption(a, rng)
    r = rng.random()
    if r < 0.5:
        c = without_position(c, a.position)
    elif r < 0.6 and not a.reflection:
        wrong = rng.choice([p for p in POSITIONS if p != a.position])
        c = caption(replace(a, position=wrong), rng)
    return "" if rng.random() < 0.1 else c


def teacher_student_captions(a: Attrs, rng: random.Random):
    """(teacher, student) captions for distillation: the teacher's always names the true position (the
    frozen UNet places objects well from words); the student's, given to UNet + ControlNet, names no
    position (70%), a wrong one (15%, scenes without reflection) or the true one (15%)."""
    teacher = caption(a, rng)
    if without_position(teacher, a.position) == teacher:
        teacher = f"{teacher} {POS_PHRASES[a.position][0]}"
    r = rng.random()
    if r < 0.7:
        student = without_position(teacher, a.position)
    elif r < 0.85 and not a.reflection:
        student = caption(replace(a, position=rng.choice([p for p in POSITIONS if p != a.position])), rng)
    else:
        student = teacher
    return teacher, student


def control_cases(n: int, seed: int, heldout: bool):
    """n evaluation cases: dicts with prompt, other_prompt, seed, position, light, source_light, attrs, photo."""
    rng = random.Random(seed)
    combos = heldout_combos()
    cases = []
    for i in range(n):
        if heldout:
            color, shape, bg = combos[(i * 37) % len(combos)]
        else:
            t = random_attrs(rng)
            color, shape, bg = t.color, t.shape, t.bg
        position = POSITIONS[i % len(POSITIONS)]
        light = "left" if (i // 5) % 2 == 0 else "right"
        source_light = ["none", "right" if light == "left" else "left", "above"][i % 3]
        geo = dict(color=color, shape=shape, bg=bg, bg2=None, position=position, size=SIZES[(i // 10) % 2], tint="none",
                   reflection=False, jx=rng.uniform(-2.5, 2.5), jy=rng.uniform(-2.5, 2.5), jr=rng.uniform(-1, 1),
                   rot=rng.uniform(-0.15, 0.15))
        photo = render(Attrs(light=source_light, **geo))
        wanted = Attrs(light=light, **geo)
        other_pos = POSITIONS[(i + 2) % len(POSITIONS)]
        cases.append({
            "prompt": without_position(caption(wanted, rng, full=True), position),
            "other_prompt": caption(replace(wanted, position=other_pos), rng, full=True),
            "other_position": other_pos,
            "seed": seed + i, "position": position, "light": light, "source_light": source_light,
            "labels": {"color": color, "shape": shape, "background": bg, "size": geo["size"]},
            "photo": photo,
        })
    return cases
