#!/usr/bin/env bash
# Train the three built-in models and their reference-recipe baselines, evaluate all six on their
# validation/test splits, and package the built-ins. Meant for a GPU machine; CPU works, slowly.
#
#   tools/train_builtins.sh                       # DATA=../shared/data/train, RUNS=runs, EPOCHS=100
#   EPOCHS=1 STEPS=2 BATCH=2 MAX_PAIRS=4 RUNS=/tmp/dry PACKAGE_DIR=/tmp/dry/pkg tools/train_builtins.sh   # dry run
#
# Baselines follow the reference pix2pix recipe (U-Net-256, ngf 64, lambda 100, batch 1, paper preset)
# for the same number of iterations as the built-in (batch 16): max_steps_per_epoch = ceil(train / 16).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
RUNS=${RUNS:-runs}
EPOCHS=${EPOCHS:-100}
BATCH=${BATCH:-16}
STEPS=${STEPS:-}
DEVICE=${DEVICE:-auto}
mkdir -p "$RUNS"

steps_opt() {  # iterations per epoch of the built-in run (all of them, or STEPS for a dry run)
  if [ -n "$STEPS" ]; then echo "--set max_steps_per_epoch=$STEPS"; fi
}

baseline() {  # name data iterations-per-epoch extra-options...
  local name=$1 data=$2 per_epoch=$3; shift 3
  geo2map train --mode pix2pix --preset paper --data "$data" --out "$RUNS/${name}_baseline" --generator unet_256 \
    --ngf 64 --batch-size 1 --epochs "$EPOCHS" --device "$DEVICE" --set name="${name}_baseline" \
    --set lambda_l1=100 --set max_steps_per_epoch="${STEPS:-$per_epoch}" --set checkpoint_every=10 "$@" -q
}

evaluate() {  # run-folder data split
  geo2map evaluate -m "$1/model.safetensors" --data "$2" --split "$3" -o "$1/eval" --precision fp32 -q \
    ${MAX_PAIRS:+--max-pairs "$MAX_PAIRS"}
}

# sar2rgb: 1312 training pairs (82 fragments), the 288-pair scene-split test set for validation
S=$DATA/sar2rgb_sen12_volkov
GEO=$(( (1312 + BATCH - 1) / BATCH ))
geo2map train --mode pix2pix --preset stable --data "$S" --out "$RUNS/sar2rgb" --generator unet_256 --ngf 16 \
  --epochs "$EPOCHS" --batch-size "$BATCH" --device "$DEVICE" --set name=sar2rgb --set half_weights=true \
  --set checkpoint_every=10 $(steps_opt) -q
baseline sar2rgb "$S" "$GEO"
evaluate "$RUNS/sar2rgb" "$S" test
evaluate "$RUNS/sar2rgb_baseline" "$S" test

# sat2map: 1096 A|B images, 10% held out (seed 0) for validation by both training and evaluate
M=$DATA/sat2map_pix2pix_maps
GEO=$(( (986 + BATCH - 1) / BATCH ))
geo2map train --mode pix2pix --preset stable --data "$M" --out "$RUNS/sat2map" --generator unet_256 --ngf 16 \
  --epochs "$EPOCHS" --batch-size "$BATCH" --device "$DEVICE" --set name=sat2map --set half_weights=true \
  --set checkpoint_every=10 $(steps_opt) -q
baseline sat2map "$M" "$GEO"
evaluate "$RUNS/sat2map" "$M" holdout
evaluate "$RUNS/sat2map_baseline" "$M" holdout

# dsm2rgb: 400 training pairs, valA/valB (200) for validation
P=$DATA/dsm2rgb_potsdam
GEO=$(( (400 + BATCH - 1) / BATCH ))
geo2map train --mode pix2pix --preset stable --data "$P" --out "$RUNS/dsm2rgb" --generator unet_256 --ngf 16 \
  --epochs "$EPOCHS" --batch-size "$BATCH" --device "$DEVICE" --set name=dsm2rgb --set half_weights=true \
  --set checkpoint_every=10 $(steps_opt) -q
baseline dsm2rgb "$P" "$GEO"
evaluate "$RUNS/dsm2rgb" "$P" val
evaluate "$RUNS/dsm2rgb_baseline" "$P" val

for name in sar2rgb sat2map dsm2rgb; do
  python tools/make_builtin.py "$name" "$RUNS/$name" --metrics "$RUNS/$name/eval/report.json" \
    ${PACKAGE_DIR:+--out-dir "$PACKAGE_DIR"}
  python - "$RUNS/$name/eval/report.json" "$RUNS/${name}_baseline/eval/report.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["metrics"] for p in sys.argv[1:3])
print(f"| {sys.argv[1].split('/')[-3]} | " + " | ".join(f"{a[k]:.3f} vs {b[k]:.3f}" for k in ("rmse", "mae", "psnr", "ssim", "acc_delta5", "acc_delta10")) + " |")
PY
done
