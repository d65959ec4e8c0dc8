#!/usr/bin/env bash
# bench:proxy — direct vs the palisade-sidecar binary (no policy, every filter) vs nginx vs
# HAProxy, one run (bench/src/proxy-bench.ts); then the global rate limit with three sidecar
# processes: accuracy under 3x overload and Redis killed mid-run (bench/src/ratelimit-accuracy.ts).
# Usage: bench/run-proxy.sh   (BENCH_SECONDS, BENCH_RATE, BENCH_REPEAT, BENCH_TARGETS,
#                              BENCH_RL_SECONDS tune it; BENCH_SKIP_RATELIMIT=1 skips the second part)
# Installs nginx-light, haproxy and wrk from Debian's packages if missing; never touches the
# system nginx service: every server runs from its own config in a temp dir on free ports.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v taskset >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  # The Debian nginx package starts a system service on install; stop it, we only need the binary.
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then "${sudo_cmd[@]}" systemctl stop nginx; fi
fi
cd "$root"
# A type error elsewhere in the tree must not block a benchmark of the proxy: report it, go on
# with what tsc emitted, and fail only if the bench itself was not built.
npx tsc -b sidecar bench || echo "bench:proxy: tsc reported errors (above); using the emitted JavaScript" >&2
[[ -f bench/dist/proxy-bench.js && -f bench/dist/ratelimit-accuracy.js && -f sidecar/dist/bin/palisade-sidecar.js ]] || { echo "bench:proxy: build missing" >&2; exit 1; }
node bench/dist/proxy-bench.js "$@"
[[ "${BENCH_SKIP_RATELIMIT:-0}" == 1 ]] || node bench/dist/ratelimit-accuracy.js
