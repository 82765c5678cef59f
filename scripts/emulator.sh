# Sourced by the other scripts: installs and starts the AWS API emulator
# (moto's standalone server) on a free loopback port.

# Installs moto into .venv once, and again only when requirements-dev.txt changes.
ensure_emulator() {
  local stamp=.venv/.requirements-dev.txt
  if [ ! -x .venv/bin/moto_server ] || ! cmp -s requirements-dev.txt "$stamp"; then
    echo "installing the AWS API emulator (moto) into .venv ..." >&2
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt "$stamp"
  fi
}

# Starts the emulator, sets EMULATOR_URL and stops it when the script exits.
start_emulator() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/bluegreen-moto-$port.log" 2>&1 &
  EMULATOR_PID=$!
  trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
  EMULATOR_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$EMULATOR_URL/moto-api/')" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "the emulator did not start; see ${TMPDIR:-/tmp}/bluegreen-moto-$port.log" >&2
  return 1
}

# Throwaway credentials: the emulator accepts any, and nothing may reach AWS.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
