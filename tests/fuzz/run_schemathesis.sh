#!/usr/bin/env bash
# Schemathesis over the live OpenAPI schema, with all its checks: no request it makes may get a
# 5xx, and every answer must be one the schema documents (status, content type, headers, body),
# every request the schema allows must be accepted and every one it forbids refused.
#
# Starts `manage.py serve` on the embedded PostgreSQL in a throwaway folder (nothing of the
# machine's services is touched), creates a provider whose admin key can reach every endpoint,
# and runs schemathesis against /api/schema/ with that key: a fixed seed, a time budget, and
# --checks all.
#
#   tests/fuzz/run_schemathesis.sh            # RS_FUZZ_SECONDS (default 180), RS_FUZZ_SEED (16)
#
# Exits non-zero when a check fails; schemathesis's report names the request to replay.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${RS_FUZZ_SECONDS:-180}
seed=${RS_FUZZ_SEED:-16}
data=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# The embedded database and in-process tasks; limits high enough that the fuzzer reaches the
# views instead of the throttles (a 429 is not what is being tested here).
server_env=(
  env -u DATABASE_URL -u DATABASE_MIGRATE_URL -u CELERY_BROKER_URL -u CACHE_URL
  -u DJANGO_SETTINGS_MODULE -u RS_KEY_DIR
  RS_DATA_DIR="$data"
  RS_THROTTLE_API_KEY=1000000/minute RS_THROTTLE_CLIENT_IP=1000000/minute
  RS_THROTTLE_LOOKUP=1000000/minute RS_THROTTLE_LOOKUP_DISTINCT=1000000/minute
  RS_THROTTLE_LOOKUP_DISTINCT_BURST=1000000 RS_THROTTLE_CA_READ=1000000/minute
  RS_THROTTLE_LOG_READ=1000000/minute RS_THROTTLE_HTML=1000000/minute
  RS_CHALLENGE_LIMIT_NUMBER="" RS_CHALLENGE_LIMIT_NUMBER_TOTAL="" RS_CHALLENGE_LIMIT_PROVIDER=""
  RS_CHALLENGE_LIMIT_CLIENT_IP="" RS_CHALLENGE_LIMIT_COUNTRY=""
  RS_API_KEY_MAX_PER_PROVIDER=100000 RS_API_KEY_CREATE_RATE=100000/second
  DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=127.0.0.1
)

log="$data/serve.log"
"${server_env[@]}" .venv/bin/python manage.py serve "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 180); do
  if curl -fsS "$base/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "$base/healthz" >/dev/null

key=$("${server_env[@]}" .venv/bin/python manage.py provider_create fuzz --name Fuzz 2>/dev/null | tail -n 1)

status=0
SCHEMATHESIS_HOOKS=tests.fuzz.hooks PYTHONPATH=. .venv/bin/schemathesis \
  --config-file tests/fuzz/schemathesis.toml run "$base/api/schema/" --url "$base" \
  --header "Authorization: Bearer $key" \
  --checks all \
  --seed "$seed" \
  --max-time "$seconds" \
  --max-examples 50 \
  --workers 1 \
  --no-color || status=$?

if grep -q "Traceback" "$log"; then
  echo "== the server logged tracebacks:" >&2
  grep -B2 -A30 "Traceback" "$log" | head -200 >&2
  status=1
fi
exit "$status"
