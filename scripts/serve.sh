#!/usr/bin/env bash
# make serve / make stop: TorchServe in the background with config.properties, from the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
TS=.venv/bin/torchserve
INFERENCE=http://127.0.0.1:8080
MANAGEMENT=http://127.0.0.1:8081
MODELS=$(sed -n 's/^load_models=//p' config.properties | tr ',' ' ' | sed 's/\.mar//g')

case "${1:-}" in
  start)
    if curl -sf "$INFERENCE/ping" >/dev/null 2>&1; then
      echo "TorchServe is already running at $INFERENCE"
    else
      "$TS" --start --ncs --ts-config config.properties >/dev/null
    fi
    deadline=$((SECONDS + 300))
    for model in $MODELS; do
      until curl -sf "$MANAGEMENT/models/$model" 2>/dev/null | grep -q '"status": "READY"'; do
        if [ $SECONDS -ge $deadline ]; then
          echo "TorchServe did not report $model READY within 300 s; see logs/model_log.log" >&2
          exit 1
        fi
        sleep 1
      done
    done
    echo "TorchServe is serving: $(for m in $MODELS; do printf '%s/predictions/%s ' "$INFERENCE" "$m"; done)"
    echo "Try: curl -o out.png --data-binary @photo.jpg $INFERENCE/predictions/srgan"
    echo "Stop with: make stop"
    ;;
  stop)
    "$TS" --stop || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
