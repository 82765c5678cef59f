#!/usr/bin/env bash
# The demo: builds bluegreen, starts the AWS API emulator, creates a sandbox
# load balancer in it, then runs `validate` and `plan` on examples/web.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulator.sh

ensure_emulator
cargo build --quiet --bin bluegreen --example sandbox
start_emulator
mapfile -t sandbox_vars < <(target/debug/examples/sandbox "$EMULATOR_URL")

run() {
  printf '\n$ %s\n' "$*" >&2
  "$@"
}
run target/debug/bluegreen validate examples/web.json
run target/debug/bluegreen plan examples/web.json "${sandbox_vars[@]}" --endpoint-url "$EMULATOR_URL"
