#!/usr/bin/env bash
# Run a command against a running Chuishao system: reuse one that already answers on
# RASA_PORT, otherwise start `python -m bot run` in the background, wait for it, run the
# command, and stop the system again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RASA_PORT=${RASA_PORT:-5005}
BOT_PORT=${BOT_PORT:-8000}
export RASA_URL=${RASA_URL:-http://127.0.0.1:$RASA_PORT}

if curl -fsS -m 2 "http://127.0.0.1:$BOT_PORT/health" >/dev/null 2>&1 \
   && curl -fsS -m 2 "$RASA_URL/" >/dev/null 2>&1; then
  echo "Using the system already running on $RASA_URL"
  exec "$@"
fi

mkdir -p var
log=var/with-system.log
echo "Starting the system (log: $log)"
$PY -m bot run >"$log" 2>&1 </dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT

for _ in $(seq 1 240); do
  if grep -q "Chuishao is up" "$log"; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "The system did not start:"; tail -n 40 "$log"; exit 1; fi
  sleep 1
done
grep -q "Chuishao is up" "$log" || { echo "The system did not become ready in 240 s"; tail -n 40 "$log"; exit 1; }
"$@"
