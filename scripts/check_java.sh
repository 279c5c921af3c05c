#!/usr/bin/env bash
# TorchServe 0.12's frontend is a Java program and needs Java 17 or newer; a JDK (javac, jar),
# because make install compiles the connection guard TorchServe runs with (tsguard/).
set -u
if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
  cat >&2 <<'MSG'
A Java 17 JDK (java, javac, jar) is required by TorchServe and its connection guard, and was not found.
  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jdk-headless
  Fedora/RHEL:    sudo dnf install -y java-17-openjdk-devel
  macOS:          brew install openjdk@17
  other:          https://adoptium.net (Temurin 17 JDK), then put its bin/ on PATH
MSG
  exit 1
fi
major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  echo "TorchServe needs Java 17 or newer; found: $(java -version 2>&1 | head -n1). Install openjdk-17 (see README)." >&2
  exit 1
fi
