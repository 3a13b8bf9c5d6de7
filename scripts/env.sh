# Sourced by demo.sh and test.sh: prerequisites, the venv, and the environment both run in.
bash scripts/prereqs.sh
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
