#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser test (tests/e2e/test_frontend_browser.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright (requirements.txt)
# drives this system browser; `playwright install` is never used (it downloads its own builds).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "chromium: already installed ($("$CHROMIUM" --version 2>/dev/null || echo "version unknown"))"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "chromium: $CHROMIUM is missing and this script is not running as root." >&2
    echo "Install it with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
fi

echo "chromium: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
"$CHROMIUM" --version
