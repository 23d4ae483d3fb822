#!/usr/bin/env bash
# Create .bench-venv/ (git-ignored) with the project (editable) and the peer tools
# of bench/requirements-peers.txt, for `python -m bench.dedup_peers`.
# Needs only PyPI. Usage: bash bench/setup_peers.sh [PYTHON]   (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-$(command -v python3.11 || command -v python3)}"
VENV=.bench-venv
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e . -r bench/requirements-peers.txt
"$VENV/bin/python" -m pip check
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("cleaner", "datasketch", "xxhash", "rensa", "datatrove", "text-dedup", "datasets", "psutil", "rapidfuzz"):
    print(f"{name:12} {md.version(name)}")
PY
echo "ready: $VENV/bin/python -m bench.dedup_peers --docs 300   (quick) | --docs 3000 (default)"
