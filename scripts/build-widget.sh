#!/usr/bin/env bash
# Rebuild the web widget (bot/static/widget/) from bot/widget/: @chatui/core, React and socket.io-client
# from the npm registry (versions pinned by bot/widget/package-lock.json), bundled by esbuild.
# The built files are committed, so running Chuishao needs no Node; this needs Node >= 18 and npm.
set -euo pipefail
cd "$(dirname "$0")/../bot/widget"
command -v npm >/dev/null || { echo "npm not found: install Node.js 18 or later to rebuild the widget" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
