"""Learn a small byte-level BPE vocabulary from the caption corpus and write it in CLIP's
file format (vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json).

Vocabulary layout is exactly CLIP's: 256 byte symbols, the same 256 with `</w>`, one entry
per merge (in merge order), then `<|startoftext|>` and `<|endoftext|>` as the last two ids.
Every text can be tokenized (unknown words fall back to byte symbols).

    /usr/bin/python3 models/tools/build_tokenizer.py [--captions 200000] [--out models/demo/tokenizer]
"""
import argparse
import collections
import json
import os
import random

from common import DEMO, Attrs, bytes_to_unicode, caption, pre_tokenize, random_attrs, COLORS, SHAPES, PALETTE

EXTRA_WORDS = (
    # words users are likely to type in this domain, so they get whole tokens too
    "a an the of and with on in at to from by over under against near photo picture image render "
    "object shape shapes light lit lighting shadow background backdrop gradient floor glossy reflection "
    "reflected left right top bottom centre center middle above below small large big tiny little huge "
    "golden blue hour warm cool soft bright dark color colour plain side frame coming red green yellow "
    "purple orange white black circle square triangle ring star"
).split()


def learn_bpe(word_counts, max_merges):
    # words as tuples of symbols, last symbol carries </w>
    words = {tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in word_counts.items()}
    merges = []
    while len(merges) < max_merges:
        pairs = collections.Counter()
        for w, c in words.items():
            for p in zip(w[:-1], w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]  # deterministic tie-break
        if pairs[best] < 2:
            break
        merges.append(best)
        a, b = best
        new = {}
        for w, c in words.items():
            out = []
            i = 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--captions", type=int, default=100000)
    ap.add_argument("--max-merges", type=int, default=700)
    ap.add_argument("--out", default=os.path.join(DEMO, "tokenizer"))
    args = ap.parse_args()

    rng = random.Random(7)
    b2u = bytes_to_unicode()
    counts = collections.Counter()
    for _ in range(args.captions):
        a = random_attrs(rng)
        for tok in pre_tokenize(caption(a, rng)):
            counts["".join(b2u[b] for b in tok.encode("utf-8"))] += 1
    for w in EXTRA_WORDS:
        counts[w] += 50
    merges = learn_bpe(counts, args.max_merges)

    byte_syms = list(b2u.values())
    vocab_list = byte_syms + [s + "</w>" for s in byte_syms] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    # a merge can produce an entry that already exists; CLIP's vocab has unique entries, keep first
    vocab = {}
    for t in vocab_list:
        if t not in vocab:
            vocab[t] = len(vocab)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    added = lambda s: {"__type": "AddedToken", "content": s, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    cfg = {
        "add_prefix_space": False,
        "bos_token": added("<|startoftext|>"),
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": added("<|endoftext|>"),
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": added("<|endoftext|>"),
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tok = lambda s: {"content": s, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    stm = {"bos_token": tok("<|startoftext|>"), "eos_token": tok("<|endoftext|>"), "pad_token": "<|endoftext|>", "unk_token": tok("<|endoftext|>")}
    with open(os.path.join(args.out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(stm, f, indent=2)
        f.write("\n")

    # report
    from common import CLIPTokenizer
    t = CLIPTokenizer.load(args.out)
    lens = []
    r2 = random.Random(99)
    for _ in range(5000):
        lens.append(len(t.encode(caption(random_attrs(r2), r2))) + 2)
    print(f"vocab {len(vocab)} merges {len(merges)}; caption tokens incl BOS/EOS: mean {sum(lens)/len(lens):.1f} max {max(lens)}")
    print("example:", t("a large red star on a blue background, lit from the left")[:20])
    print("fallback:", t.encode("Zebra ünïcode 42!"))


if __name__ == "__main__":
    main()
