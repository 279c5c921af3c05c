#!/usr/bin/env bash
# make serve / make stop: TorchServe (config.properties: inference on 127.0.0.1:8080) and the web
# page's static server on 127.0.0.1:8090, in the background, from the repository root. `start`
# returns once every model answers.
set -euo pipefail
cd "$(dirname "$0")/.."
TS=.venv/bin/torchserve
INFERENCE=$(sed -n 's/^inference_address=//p' config.properties)
MANAGEMENT=$(sed -n 's/^management_address=//p' config.properties)
PAGE=$(sed -n 's/^cors_allowed_origin=//p' config.properties)   # the page's origin, allowed by CORS
PAGE_PORT=${PAGE##*:}
STORE=$(sed -n 's/^model_store=//p' config.properties)
MODELS=$(ls "$STORE" | sed -n 's/\.mar$//p')   # load_models=all: every archive in the store
PIDFILE=logs/page.pid
mkdir -p logs

page_running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    if curl -sf "$INFERENCE/ping" >/dev/null 2>&1; then
      echo "TorchServe is already running at $INFERENCE"
    else
      "$TS" --start --ncs --ts-config config.properties >logs/torchserve-launcher.log 2>&1
    fi
    if ! page_running; then
      nohup .venv/bin/python frontend/server.py --port "$PAGE_PORT" --api "$INFERENCE" \
        --model-store "$STORE" --management "$MANAGEMENT" --max-upload-bytes "$(sed -n 's/^max_request_size=//p' config.properties)" >logs/page.log 2>&1 &
      echo $! >"$PIDFILE"
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
    until curl -sf "$PAGE/" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { echo "the page server did not start; see logs/page.log" >&2; exit 1; }
      sleep 0.5
    done
    echo "Web page:  $PAGE/"
    for m in $MODELS; do echo "  POST $INFERENCE/predictions/$m"; done
    echo "Try:  curl -o sharp.png -T photo.jpg $INFERENCE/predictions/srgan"
    echo "Stop: make stop"
    ;;
  stop)
    if page_running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    "$TS" --stop >/dev/null 2>&1 || true
    echo "stopped"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
