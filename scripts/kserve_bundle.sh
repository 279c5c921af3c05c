#!/usr/bin/env bash
# Lay out the folder that KServe's TorchServe runtime expects under an InferenceService's storageUri:
#
#   bundle/config/config.properties   deploy/kserve-config.properties + a generated model_snapshot line
#   bundle/model-store/<model>.mar    copies of the archives built by `make archive`
#
# Usage: scripts/kserve_bundle.sh [OUT_DIR]        (make kserve-bundle; OUT_DIR defaults to bundle)
#        MODELS="srgan" scripts/kserve_bundle.sh   (default: every archive in model_store/, your own
#        from `make archive NAME=... WEIGHTS=...` too: MODELS="srgan my-model")
# The snapshot's workers, batch size and timeout come from the model-config.yaml inside each archive, so the pod
# runs each model as `make serve` does. Upload and apply: deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-bundle}
STORE=$(sed -n 's/^model_store=//p' config.properties)  # where make archive puts them (config.properties)
MODELS=${MODELS:-$(ls "$STORE" | sed -n 's/\.mar$//p')}   # default: every archive make archive built
TEMPLATE=deploy/kserve-config.properties
VERSION=1.0  # torch-model-archiver --version in the Makefile

# A numeric top-level key of a model-config.yaml ("minWorkers: 1" -> 1), or the default given.
yaml_number() {
  local value
  value=$(sed -n "s/^$2:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1)
  echo "${value:-$3}"
}

# The model-config.yaml packed inside an archive (MAR-INF/MANIFEST.json names it), to stdout.
mar_config() {
  .venv/bin/python -c 'import json, sys, zipfile
mar = zipfile.ZipFile(sys.argv[1])
sys.stdout.write(mar.read(json.loads(mar.read("MAR-INF/MANIFEST.json"))["model"]["configFile"]).decode())' "$1"
}

# One model's entry in TorchServe's snapshot JSON.
snapshot_entry() {
  local model=$1 yaml
  yaml=$(mktemp)
  mar_config "$STORE/$model.mar" >"$yaml"
  printf '"%s":{"%s":{"defaultVersion":true,"marName":"%s.mar","minWorkers":%s,"maxWorkers":%s,"batchSize":%s,"maxBatchDelay":%s,"responseTimeout":%s}}' \
    "$model" "$VERSION" "$model" \
    "$(yaml_number "$yaml" minWorkers 1)" "$(yaml_number "$yaml" maxWorkers 1)" \
    "$(yaml_number "$yaml" batchSize 1)" "$(yaml_number "$yaml" maxBatchDelay 100)" \
    "$(yaml_number "$yaml" responseTimeout 300)"
  rm -f "$yaml"
}

entries=()
for model in $MODELS; do
  [[ -f $STORE/$model.mar ]] || { echo "$STORE/$model.mar is missing: run make archive" >&2; exit 1; }
  entries+=("$(snapshot_entry "$model")")
done

# Only the two sub-folders this script owns are replaced, whatever OUT_DIR is.
rm -rf -- "$OUT/config" "$OUT/model-store"
mkdir -p "$OUT/config" "$OUT/model-store"
for model in $MODELS; do
  cp "$STORE/$model.mar" "$OUT/model-store/"
done
{
  cat "$TEMPLATE"
  # TorchServe and the KServe wrapper both read this as one line of JSON.
  printf 'model_snapshot={"name":"startup.cfg","modelCount":%d,"models":{%s}}\n' "${#entries[@]}" "$(IFS=,; echo "${entries[*]}")"
} > "$OUT/config/config.properties"

echo "KServe bundle in $OUT/: $(cd "$OUT" && find config model-store -type f | sort | tr '\n' ' ')"
