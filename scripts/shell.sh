#!/usr/bin/env bash
# Chat with the trained assistant in the terminal; the action server runs alongside.
set -euo pipefail
cd "$(dirname "$0")/.."
export ACTION_PORT=${ACTION_PORT:-5055}
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://127.0.0.1:$ACTION_PORT/webhook}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
eval "$(.venv/bin/python -m bot env)"
.venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" >var/shell-actions.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -fsS -m 1 "http://127.0.0.1:$ACTION_PORT/health" >/dev/null 2>&1 && break; sleep 1; done
.venv/bin/rasa shell -m models/chuishao.tar.gz --endpoints endpoints.yml
