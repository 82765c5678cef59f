#!/usr/bin/env bash
# The demo, on the AWS API emulator: builds bluegreen, creates a sandbox load
# balancer whose listener forwards to a "legacy" target group, then tells the
# whole story: release v1 (taking over from legacy), release v2 in steps with
# a bake and blue's teardown, then v3, rolled back by `rollback --app` while it
# bakes, with `status` between the steps.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulator.sh

ensure_emulator
cargo build --quiet --bin bluegreen --example sandbox
start_emulator
mapfile -t sandbox_vars < <(target/debug/examples/sandbox "$EMULATOR_URL")

bluegreen() {
  target/debug/bluegreen --endpoint-url "$EMULATOR_URL" --region us-east-1 "$@"
}
run() {
  printf '\n\033[1m$ bluegreen %s\033[0m\n' "$*" >&2
  bluegreen "$@"
}
quick=(--var step_interval_seconds=0 --var bake_seconds=0)

run validate examples/web.json
run plan examples/web.json "${sandbox_vars[@]}"
run apply examples/web.json "${sandbox_vars[@]}" --var release=v1 "${quick[@]}" --auto-approve
run status --app shop

run apply examples/web.json "${sandbox_vars[@]}" --var release=v2 \
  --var step_interval_seconds=2 --var bake_seconds=3 --auto-approve
run status --app shop

printf '\n\033[1m$ bluegreen apply examples/web.json --var release=v3 … --auto-approve &   # bakes for 5 minutes\033[0m\n' >&2
bluegreen apply examples/web.json "${sandbox_vars[@]}" --var release=v3 \
  --var step_interval_seconds=1 --var bake_seconds=300 --auto-approve &
apply_pid=$!
until bluegreen status --app shop --output json 2>/dev/null | grep -q '"phase": "baking"'; do
  sleep 0.5
done
run status --app shop
echo "# v3 misbehaves in ways health checks cannot see: the on-call engineer reverts, without the spec" >&2
run rollback --app shop --auto-approve
# The baking apply notices that traffic was taken from it and stops.
wait "$apply_pid" || echo "(the v3 apply stopped with exit code $?)" >&2
run status --app shop
