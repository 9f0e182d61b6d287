#!/usr/bin/env bash
# Runs the http-tests/cache-tests suite against bench/conformance/app.ts (@CachePage in front of the
# suite's origin server) and prints how many REQUIRED tests pass, then the failing ones by group.
#
#   bash bench/conformance/run.sh            # the whole suite, summary on stdout
#   bash bench/conformance/run.sh <test-id>  # one test, with the suite's request/response dump
#
# Environment: CACHE_TESTS_DIR (default /work/cache-tests, a checkout of http-tests/cache-tests with
# its dependencies installed), CONFORMANCE_OUT (default $TMPDIR/custom-cache-page-conformance: the
# last run's results.json and the two servers' logs), CONFORMANCE_TIMEOUT (seconds, default 170).
# Everything listens on 127.0.0.1 only; both servers are stopped on exit, also on Ctrl-C.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
suite="${CACHE_TESTS_DIR:-/work/cache-tests}"
out="${CONFORMANCE_OUT:-${TMPDIR:-/tmp}/custom-cache-page-conformance}"
limit="${CONFORMANCE_TIMEOUT:-170}"
test_id="${1:-}"

if [[ ! -f "$suite/test-engine/cli.mjs" || ! -f "$suite/tests/index.mjs" ]]; then
  echo "no cache-tests suite at $suite (set CACHE_TESTS_DIR); see $here/README.md" >&2
  exit 2
fi
if [[ ! -d "$suite/node_modules" ]]; then
  echo "the suite at $suite has no node_modules: run 'npm install --omit=dev' in $suite" >&2
  exit 2
fi
mkdir -p "$out"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    # Each server runs in a process group of its own (setsid): stop the group, then wait for it.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for_port PORT PID NAME LOG: until PORT accepts connections, or PID died, or 30 s passed.
wait_for_port() {
  local port="$1" pid="$2" name="$3" log="$4"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before listening on $port; its log ($log):" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not listen on 127.0.0.1:$port within 30 s; its log ($log):" >&2
  tail -n 40 "$log" >&2
  exit 1
}

origin_port="$(free_port)"
app_port="$(free_port)"
while [[ "$app_port" == "$origin_port" ]]; do app_port="$(free_port)"; done

# The suite's origin server, bound to loopback by a preload (it listens on every interface itself).
(
  cd "$suite"
  exec setsid env npm_config_port="$origin_port" npm_config_protocol=http \
    npm_config_pidfile="$out/origin.pid" \
    node --require "$here/loopback.cjs" test-engine/server/server.mjs
) >"$out/origin.log" 2>&1 &
pids+=("$!")
wait_for_port "$origin_port" "$!" "the suite's origin server" "$out/origin.log"

# The app under test, as the repo runs TypeScript elsewhere (.mocharc.js): transpile-only ts-node.
(
  cd "$repo"
  exec setsid env ORIGIN="http://127.0.0.1:$origin_port" PORT="$app_port" \
    node --require ts-node/register/transpile-only --require reflect-metadata "$here/app.ts"
) >"$out/app.log" 2>&1 &
pids+=("$!")
wait_for_port "$app_port" "$!" "bench/conformance/app.ts" "$out/app.log"

base="http://127.0.0.1:$app_port"

# The suite's client runs in the background and is waited for: bash runs a trap only once the
# foreground command is done, and `wait` lets Ctrl-C / TERM stop everything at once.
run_client() {
  (
    cd "$suite"
    exec setsid env npm_config_base="$base" npm_config_id="$test_id" npm_package_config_id="$test_id" \
      timeout "$limit" node --no-warnings test-engine/cli.mjs
  ) &
  pids+=("$!")
  wait "$!"
}

if [[ -n "$test_id" ]]; then
  # One test: the suite prints both sides of every exchange and the verdict.
  status=0
  run_client || status=$?
  exit $status
fi

started=$SECONDS
status=0
run_client >"$out/results.json" 2>"$out/cli.log" || status=$?
elapsed=$((SECONDS - started))
cleanup
if [[ $status -ne 0 ]]; then
  echo "the suite's client failed (exit $status after ${elapsed}s; 124 = timed out after ${limit}s); $out/cli.log:" >&2
  tail -n 40 "$out/cli.log" >&2
  exit 1
fi

node "$here/summarize.mjs" "$suite" "$out/results.json" "$elapsed"
