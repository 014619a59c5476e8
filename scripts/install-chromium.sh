#!/usr/bin/env bash
# Install Debian's Chromium, ChromeDriver and a Chinese font (readable screenshots) for the browser
# tests. Never a browser download: only Debian's packages are reachable from these machines.
set -euo pipefail
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-chromium: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-wqy-microhei >/dev/null
echo "chromium: $(chromium --version)"
