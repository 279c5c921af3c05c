#!/usr/bin/env bash
# Compile the connection guard (tsguard/, a Java agent for TorchServe's frontend) into OUT.jar,
# against the model-server.jar of the TorchServe installed in .venv.
# Usage: scripts/build_tsguard.sh build/tsguard.jar          (make install runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/build_tsguard.sh OUT.jar}
FRONTEND=$(.venv/bin/python -c 'import pathlib, ts; print(pathlib.Path(ts.__file__).parent / "frontend" / "model-server.jar")')
CLASSES=$(mktemp -d)
trap 'rm -rf "$CLASSES"' EXIT
javac --release 17 -Xlint:all,-processing -Werror -cp "$FRONTEND" -d "$CLASSES" tsguard/src/dev/dronesr/tsguard/*.java
mkdir -p "$(dirname "$OUT")"
jar --create --file "$OUT.tmp" --manifest tsguard/MANIFEST.MF -C "$CLASSES" .
mv "$OUT.tmp" "$OUT"
