#!/usr/bin/env bash
# Re-train the "shapes and light" demo model from scratch and export it to models/demo/.
#
#   models/tools/retrain.sh                 # full run (~2 h on 2 CPU cores)
#   UNET_MINUTES=30 AE_MINUTES=4 models/tools/retrain.sh   # shorter run
#
# Steps: tokenizer -> render dataset -> autoencoder (+ latents, scaling_factor) -> text encoder + UNet
# -> ONNX export (+ parity fixtures, heldout.json) -> held-out evaluation.
# Intermediate files go to models/.work/ (git-ignored). Resume an interrupted UNet run with
#   nice -n 19 python3 models/tools/train_unet.py --resume --minutes <total>
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
UNET_MINUTES=${UNET_MINUTES:-90}
N_IMAGES=${N_IMAGES:-120000}

# ATELIER_DEMO_WORK: where intermediates go (default models/.work); ATELIER_DEMO_DATA=2: the stronger-
# reflection recipe with the larger decoder (see models/demo/README.md); EXPORT=0: stop before
# overwriting models/demo/ (evaluate first, export by hand with export_onnx.py).
WORKDIR=${ATELIER_DEMO_WORK:-models/.work}
export ATELIER_DEMO_WORK="$(cd "$(dirname "$WORKDIR")" 2>/dev/null && pwd)/$(basename "$WORKDIR")"
mkdir -p "$ATELIER_DEMO_WORK"
rm -f "$ATELIER_DEMO_WORK/unet_ckpt.pt"
# The tokenizer is part of the shipped model (the text encoder was trained on its ids): rebuild it only
# on request. Its merge order among equal counts depends on Python's hash seed, hence PYTHONHASHSEED.
if [ "${REBUILD_TOKENIZER:-0}" = "1" ] || [ ! -f models/demo/tokenizer/vocab.json ]; then
  PYTHONHASHSEED=0 $PY models/tools/build_tokenizer.py
fi
$NICE $PY models/tools/render_dataset.py --n "$N_IMAGES"
$NICE $PY models/tools/train_autoencoder.py --minutes "$AE_MINUTES"
$NICE $PY models/tools/train_unet.py --minutes "$UNET_MINUTES"
if [ "${ATELIER_DEMO_DATA:-1}" = "2" ]; then
  # recipe 2: the larger decoder on the frozen encoder (the UNet stays valid; 25 min)
  $NICE $PY models/tools/train_decoder.py --minutes "${DECODER_MINUTES:-25}"
fi
if [ "${EXPORT:-1}" = "0" ]; then
  $PY models/tools/evaluate.py
  echo "done (not exported): checkpoints in $ATELIER_DEMO_WORK; export with models/tools/export_onnx.py"
  exit 0
fi
$PY models/tools/export_onnx.py
$PY models/tools/evaluate.py
echo "done: models/demo/ updated; run 'npx vitest run test/models/demo-parity.test.ts' to check ORT parity"
