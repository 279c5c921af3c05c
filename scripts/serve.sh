#!/usr/bin/env bash
# make serve / make stop: TorchServe (config.properties) and the gateway on 127.0.0.1:8080, in the
# background, from the repository root. `start` returns once every model answers.
set -euo pipefail
cd "$(dirname "$0")/.."
TS=.venv/bin/torchserve
GATEWAY=http://127.0.0.1:8080
UPSTREAM=$(sed -n 's/^inference_address=//p' config.properties)
MANAGEMENT=$(sed -n 's/^management_address=//p' config.properties)
MODELS=$(sed -n 's/^load_models=//p' config.properties | tr ',' ' ' | sed 's/\.mar//g')
PIDFILE=logs/gateway.pid
mkdir -p logs

gateway_running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    if curl -sf "$UPSTREAM/ping" >/dev/null 2>&1; then
      echo "TorchServe is already running at $UPSTREAM"
    else
      "$TS" --start --ncs --ts-config config.properties >logs/torchserve-launcher.log 2>&1
    fi
    if ! gateway_running; then
      PYTHONPATH=. nohup .venv/bin/python -m dronesr.gateway --port 8080 --upstream "$UPSTREAM" >logs/gateway.log 2>&1 &
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
    until curl -sf "$GATEWAY/ping" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { echo "the gateway did not start; see logs/gateway.log" >&2; exit 1; }
      sleep 0.5
    done
    echo "Serving on $GATEWAY/  (web page)"
    for m in $MODELS; do echo "  POST $GATEWAY/predictions/$m"; done
    echo "Try:  curl -o sharp.png --data-binary @photo.jpg '$GATEWAY/predictions/srgan?format=png'"
    echo "Stop: make stop"
    ;;
  stop)
    if gateway_running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    "$TS" --stop >/dev/null 2>&1 || true
    echo "stopped"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
