#!/usr/bin/env bash
# Checks what the demo and the tests need before anything is installed; says how to get it.
set -u
missing=0
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "MISSING: Python 3.11 or newer ($PYTHON not found). Install it, e.g. apt-get install python3 python3-venv" >&2
  missing=1
elif ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "MISSING: Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11" >&2
  missing=1
elif ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "MISSING: Python's venv module. Install it, e.g. apt-get install python3-venv" >&2
  missing=1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "MISSING: Java 17 for Spark. Install it, e.g. apt-get install openjdk-17-jre-headless" >&2
  missing=1
else
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "MISSING: Java 17 or newer for Spark (found: $(java -version 2>&1 | head -1)). Install openjdk-17-jre-headless" >&2
    missing=1
  fi
fi
exit $missing
