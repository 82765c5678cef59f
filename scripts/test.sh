#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against the AWS API
# emulator (each test starts its own emulator server).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulator.sh

ensure_emulator
export BLUEGREEN_MOTO_SERVER="$PWD/.venv/bin/moto_server"
cargo test --all-targets "$@"
