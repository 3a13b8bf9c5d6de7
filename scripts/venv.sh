#!/usr/bin/env bash
# Creates .venv and installs the project once per pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ -f "$stamp" ]; then exit 0; fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
echo "Installing DeepFlame and its dependencies into $VENV (a few minutes the first time)..."
"$VENV/bin/pip" install --quiet --upgrade pip
# torch is pinned to the CPU build (a looser range pulls a multi-GB CUDA build).
"$VENV/bin/pip" install --quiet "torch==2.13.0" -e '.[dev]'
rm -f "$VENV"/.installed-*
touch "$stamp"
