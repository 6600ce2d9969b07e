#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine (as root), then run them.
#   bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian clients and peers the tests drive: skopeo and podman (real OCI clients), the CNCF
# distribution registry (differential tests, benchmarks), hey (HEAD-capable load generator).
packages=(skopeo podman docker-registry hey)
commands=(skopeo podman docker-registry hey)
missing=()
for i in "${!commands[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
# The Debian package starts its own registry on :5000 via systemd where systemd runs; the
# tests start their own instances on free ports and need nothing of it.

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
