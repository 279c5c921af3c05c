#!/usr/bin/env bash
# TorchServe 0.12's frontend is a Java program and needs Java 17 or newer.
set -u
if ! command -v java >/dev/null 2>&1; then
  cat >&2 <<'MSG'
Java 17 is required by TorchServe and was not found.
  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless
  Fedora/RHEL:    sudo dnf install -y java-17-openjdk-headless
  macOS:          brew install openjdk@17
  other:          https://adoptium.net (Temurin 17), then put its bin/ on PATH
MSG
  exit 1
fi
major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  echo "TorchServe needs Java 17 or newer; found: $(java -version 2>&1 | head -n1). Install openjdk-17 (see README)." >&2
  exit 1
fi
