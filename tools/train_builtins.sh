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

baseline() {  # name data iterations-per-epoch: the reference pix2pix recipe
  local name=$1 data=$2 per_epoch=$3
  geo2map train --mode pix2pix --preset paper --data "$data" --out "$RUNS/${name}_baseline" --generator unet_256 \
    --ngf 64 --batch-size 1 --epochs "$EPOCHS" --device "$DEVICE" --set name="${name}_baseline" \
    --set lambda_l1=100 --set max_steps_per_epoch="${STEPS:-$per_epoch}" --set checkpoint_every=10 -q
}

evaluate() {  # run-folder data split
  geo2map evaluate -m "$1/model.safetensors" --data "$2" --split "$3" -o "$1/eval" --precision fp32 -q \
    ${MAX_PAIRS:+--max-pairs "$MAX_PAIRS"}
}

model() {  # name data n-train eval-split: the built-in, its baseline for as many iterations, both evaluated
  local name=$1 data=$2 n_train=$3 split=$4
  geo2map train --mode pix2pix --preset stable --data "$data" --out "$RUNS/$name" --generator unet_256 --ngf 16 \
    --epochs "$EPOCHS" --batch-size "$BATCH" --device "$DEVICE" --set name="$name" --set half_weights=true \
    --set checkpoint_every=10 $(steps_opt) -q
  baseline "$name" "$data" $(( (n_train + BATCH - 1) / BATCH ))
  evaluate "$RUNS/$name" "$data" "$split"
  evaluate "$RUNS/${name}_baseline" "$data" "$split"
}

# sar2rgb: 1312 training pairs (82 fragments), the 288-pair scene-split test set for validation
model sar2rgb "$DATA/sar2rgb_sen12_volkov" 1312 test
# sat2map: 1096 A|B images, 10% held out (seed 0) for validation by both training and evaluate
model sat2map "$DATA/sat2map_pix2pix_maps" 986 holdout
# dsm2rgb: 400 training pairs, valA/valB (200) for validation
model dsm2rgb "$DATA/dsm2rgb_potsdam" 400 val

for name in sar2rgb sat2map dsm2rgb; do
  python tools/make_builtin.py "$name" "$RUNS/$name" --metrics "$RUNS/$name/eval/report.json" \
    ${PACKAGE_DIR:+--out-dir "$PACKAGE_DIR"}
done
python tools/builtin_table.py "$RUNS"
