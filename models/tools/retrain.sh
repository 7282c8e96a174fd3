#!/usr/bin/env bash
# Re-train the "shapes and light" demo model from scratch and export it to models/demo/.
#
#   models/tools/retrain.sh                 # full run (~3 h on 2 CPU cores)
#   UNET_MINUTES=30 FINETUNE_MINUTES=20 AE_MINUTES=4 models/tools/retrain.sh   # shorter run
#
# Steps: tokenizer -> render dataset (recipe 1) -> autoencoder (+ latents, scaling_factor) -> text
# encoder + UNet -> re-render with recipe 3's fainter reflections, re-encode with the frozen autoencoder
# (same scaling_factor) -> fine-tune text encoder + UNet -> ONNX export (+ parity fixtures, heldout.json)
# -> live-preview coefficients fitted on the new autoencoder (scripts/fit-preview-coefficients.ts, Node)
# -> held-out evaluation. Why two data recipes: models/demo/README.md, "Reflections and guidance".
# Intermediate files go to models/.work/ (git-ignored). Resume an interrupted UNet run with
#   nice -n 19 python3 models/tools/train_unet.py --resume --minutes <total> [same flags as below]
# and export with
#   python3 models/tools/export_onnx.py
#
# Needs Debian's python3 with python3-torch, python3-numpy, python3-pil (python3-regex optional).
# Torch on Debian uses a slow reference BLAS; OpenBLAS is ~4x faster:
#   cd /tmp && apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread*.deb /tmp/openblas
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-/usr/bin/python3}
OPENBLAS=${OPENBLAS:-/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread}
if [ -d "$OPENBLAS" ]; then
  export LD_LIBRARY_PATH="$OPENBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "note: $OPENBLAS not found, torch will use its default (slower) BLAS" >&2
fi
NICE="nice -n ${NICE_LEVEL:-19}"
AE_MINUTES=${AE_MINUTES:-7}
UNET_MINUTES=${UNET_MINUTES:-99}
FINETUNE_MINUTES=${FINETUNE_MINUTES:-70}
N_IMAGES=${N_IMAGES:-120000}

# ATELIER_DEMO_WORK: where intermediates go (default models/.work); EXPORT=0: stop before overwriting
# models/demo/ (evaluate first, export by hand with export_onnx.py).
WORKDIR=${ATELIER_DEMO_WORK:-models/.work}
export ATELIER_DEMO_WORK="$(cd "$(dirname "$WORKDIR")" 2>/dev/null && pwd)/$(basename "$WORKDIR")"
mkdir -p "$ATELIER_DEMO_WORK"
rm -f "$ATELIER_DEMO_WORK/unet_ckpt.pt"
# The tokenizer is part of the shipped model (the text encoder was trained on its ids): rebuild it only
# on request. Its merge order among equal counts depends on Python's hash seed, hence PYTHONHASHSEED.
if [ "${REBUILD_TOKENIZER:-0}" = "1" ] || [ ! -f models/demo/tokenizer/vocab.json ]; then
  PYTHONHASHSEED=0 $PY models/tools/build_tokenizer.py
fi
# phase 1: recipe 1 data, model from scratch
ATELIER_DEMO_DATA=1 $NICE $PY models/tools/render_dataset.py --n "$N_IMAGES"
ATELIER_DEMO_DATA=1 $NICE $PY models/tools/train_autoencoder.py --minutes "$AE_MINUTES"
ATELIER_DEMO_DATA=1 $NICE $PY models/tools/train_unet.py --minutes "$UNET_MINUTES"
# phase 2: recipe 3 reflections (fainter, so guidance does not fuse them to the object), same latent space
export ATELIER_DEMO_DATA=3
$NICE $PY models/tools/render_dataset.py --n "$N_IMAGES"
$NICE $PY models/tools/train_autoencoder.py --encode-only --keep-scaling-factor
$NICE $PY models/tools/train_unet.py --resume --minutes "$((UNET_MINUTES + FINETUNE_MINUTES))" \
  --lr 5e-4 --lr-final 0.1 --refl-oversample 0.3 --eval-every 0
if [ "${EXPORT:-1}" = "0" ]; then
  $PY models/tools/evaluate.py
  echo "done (not exported): checkpoints in $ATELIER_DEMO_WORK; export with models/tools/export_onnx.py"
  exit 0
fi
$PY models/tools/export_onnx.py
# export_onnx.py writes vae_decoder/config.json afresh: fit the new autoencoder's preview coefficients
npx tsx scripts/fit-preview-coefficients.ts --write
$PY models/tools/evaluate.py
echo "done: models/demo/ updated; run 'npx vitest run test/models/demo-parity.test.ts' to check ORT parity"
