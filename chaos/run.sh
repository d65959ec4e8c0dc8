#!/usr/bin/env bash
# Runs one ChaosExperiment on a cluster: applies it, watches it until its run ends, and prints a
# resilience report (faults injected, what the sidecars saw, expectations met). See docs/chaos.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: chaos/run.sh [options] <experiment.yaml>

Applies the ChaosExperiment in <experiment.yaml>, follows it (Pending → Running → Completed or
Aborted) and prints a Markdown report: targets, faults injected, the sidecars' requests, 5xx,
429s and open breakers over the run, expectations and the Verified condition.

Options:
  -n, --namespace <ns>   namespace when the file names none (default: kubectl's current one)
  --timeout <seconds>    give up watching after this long (default 900)
  --report <file>        also write the report there
  --keep                 leave the experiment in place afterwards (default: delete it)
  -h, --help             this help

Environment:
  KUBECTL                kubectl command (default: kubectl; KUBECONFIG is honoured)
  CHAOS_METRICS_CMD      command printing one sidecar's /metrics, run as
                         `$CHAOS_METRICS_CMD <namespace> <pod>`; default: through the API
                         server's pod proxy to the sidecar's probe port 15020

Exit status: 0 the run completed and nothing expected was missed; 1 it was aborted, refused or
an expectation was not met; 2 bad usage, or the watch timed out.
EOF
}

KUBECTL=${KUBECTL:-kubectl}
namespace=""
timeout=900
report=""
keep=0
file=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n | --namespace) namespace=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --report) report=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [[ -z $file ]] || { echo "run.sh: one experiment file only" >&2; exit 2; }; file=$1; shift ;;
  esac
done
[[ -n $file ]] || { usage >&2; exit 2; }
[[ -r $file ]] || { echo "run.sh: cannot read $file" >&2; exit 2; }
[[ $timeout =~ ^[0-9]+$ ]] || { echo "run.sh: --timeout takes seconds" >&2; exit 2; }
command -v jq >/dev/null || { echo "run.sh: needs jq" >&2; exit 2; }

ns_flag=()
[[ -z $namespace ]] || ns_flag=(-n "$namespace")

get() { $KUBECTL get chaosexperiments.palisade.dev -n "$namespace" "$name" -o json; }

metrics_of() { # <pod>: the sidecar's /metrics, or nothing when unreachable
  if [[ -n ${CHAOS_METRICS_CMD:-} ]]; then
    $CHAOS_METRICS_CMD "$namespace" "$1" 2>/dev/null || true
  else
    $KUBECTL get --raw "/api/v1/namespaces/$namespace/pods/$1:15020/proxy/metrics" 2>/dev/null || true
  fi
}

# One line per pod: requests errors(5xx) rate_limited injected(this experiment) open_breakers.
snapshot() {
  local pods pod
  pods=$($KUBECTL get pods -n "$namespace" -l palisade.dev/sidecar=injected \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
  for pod in $pods; do
    metrics_of "$pod" | awk -v pod="$pod" -v experiment="$namespace/$name" '
      function label(l, key,   m) { return match(l, key "=\"[^\"]*\"") ? substr(l, RSTART + length(key) + 2, RLENGTH - length(key) - 3) : "" }
      /^palisade_requests_total\{/ { req += $NF; if (label($0, "code") ~ /^5/) err += $NF }
      /^palisade_rate_limited_total\{/ { rl += $NF }
      /^palisade_faults_injected_total\{/ { if (label($0, "experiment") == experiment) inj += $NF }
      /^palisade_circuit_breaker_state\{/ { if ($NF == 1) open = open (open == "" ? "" : ",") label($0, "breaker") }
      END { if (NR > 0) printf "%s %d %d %d %d %s\n", pod, req, err, rl, inj, (open == "" ? "-" : open) }'
  done
}

# Which experiment the file holds (a dry run resolves the namespace), then the sidecars'
# counters before it is applied: the report covers everything from here to the run's end.
read -r namespace name < <($KUBECTL apply "${ns_flag[@]}" -f "$file" --dry-run=server \
  -o jsonpath='{.metadata.namespace} {.metadata.name}{"\n"}')
[[ -n ${name:-} ]] || { echo "run.sh: $file holds no ChaosExperiment" >&2; exit 2; }
before=$(snapshot)
$KUBECTL apply -n "$namespace" -f "$file" >/dev/null
applied_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "applied chaosexperiment $namespace/$name at $applied_at" >&2

deadline=$((SECONDS + timeout))
phase=""
while :; do
  object=$(get)
  now_phase=$(jq -r '.status.phase // "Pending"' <<<"$object")
  reason=$(jq -r '[.status.conditions[]? | select(.type == "Ready")][0].reason // ""' <<<"$object")
  if [[ $now_phase != "$phase" ]]; then
    echo "$(date -u +%H:%M:%S) phase $now_phase ${reason:+($reason)}" >&2
    phase=$now_phase
  fi
  end=$(jq -r '.status.endTime // ""' <<<"$object")
  if [[ ($phase == Completed || $phase == Aborted) && -n $end && ! $end < $applied_at ]]; then break; fi
  if [[ $phase == Pending && $reason == QuorumLossRefused ]]; then break; fi
  if ((SECONDS > deadline)); then
    echo "run.sh: still $phase after ${timeout}s" >&2
    exit 2
  fi
  sleep 1
done
after=$(snapshot)

render() { # <experiment JSON>
  local object=$1
  jq -r --arg file "$file" '
    def cond($t): [.status.conditions[]? | select(.type == $t)][0];
    "# Chaos report: \(.metadata.namespace)/\(.metadata.name)",
    "",
    "- experiment file: `\($file)`",
    "- phase: **\(.status.phase // "Pending")** (\(cond("Ready").reason // "-"): \(cond("Ready").message // "-"))",
    "- run: \(.status.startTime // "-") → \(.status.endTime // "-") (duration \(.spec.duration))",
    "- targets (\(.status.targets // [] | length) of \(.status.matchedPods // 0) matched): \(.status.targets // [] | join(", "))",
    (if any(.spec.faults[]; .type == "podKill" and .target == "raftLeader") then "  (podKill raftLeader ignores them: each round kills the Raft leader among the pods matched then)" else empty end),
    "- faults: \(.spec.faults | map(.type + (if .type == "latency" then " " + .delay + " on " + ((.percentage // 100) | tostring) + "% " + (.direction // "inbound")
        elif .type == "abort" then " " + (.httpStatus | tostring) + " on " + ((.percentage // 100) | tostring) + "% " + (.direction // "inbound")
        elif .type == "podKill" then " " + ((.count // 1) | tostring) + (if .target == "raftLeader" then " Raft leader" else "" end) + " every " + (.interval // "once") else "" end)) | join("; "))",
    "- injected (status): \(.status.injected // {} | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "-" else . end)",
    (if .status.podKillRounds then "- podKill rounds: \(.status.podKillRounds.done), skipped \(.status.podKillRounds.skipped)\(if .status.podKillRounds.lastSkipReason then " (last skip: " + .status.podKillRounds.lastSkipReason + ")" else "" end)" else empty end),
    "- abortWhen: \(.spec.abortWhen // {} | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "-" else . end)",
    "",
    "## Expectations",
    "",
    (if (.spec.expect // []) == [] then "none" else
      "Verified: **\(cond("Verified").status // "Unknown")** (\(cond("Verified").reason // "-"))", "",
      "| expectation | met | observed | note |", "|---|---|---|---|",
      (.status.expectations // [] | .[] | "| \(.type)\(if .subject then " " + .subject else "" end) | \(.met // false) | \(.observedTime // "-") | \(.message // "") |")
    end)
  ' <<<"$object"
  echo
  echo "## What the sidecars saw (from apply to the end of the run)"
  echo
  if [[ -z $after ]]; then
    echo "no sidecar metrics reachable (set CHAOS_METRICS_CMD, or check the pod proxy to port 15020)"
  else
    echo "| pod | target | requests | 5xx | 5xx ratio | 429s | faults injected | breakers open at end |"
    echo "|---|---|---|---|---|---|---|---|"
    local targets pod req err rl inj open b0 b1 b2 b3 ratio is_target
    targets=" $(jq -r '.status.targets // [] | join(" ")' <<<"$object") "
    while read -r pod req err rl inj open; do
      # Counters since the experiment was applied (a sidecar first seen at the end: from zero).
      read -r _ b0 b1 b2 b3 _ < <(grep "^$pod " <<<"$before" || echo "$pod 0 0 0 0 -")
      req=$((req - b0)) err=$((err - b1)) rl=$((rl - b2)) inj=$((inj - b3))
      ratio="-"
      ((req > 0)) && ratio=$(awk -v e="$err" -v r="$req" 'BEGIN { printf "%.3f", e / r }')
      is_target=no
      [[ $targets == *" $pod "* ]] && is_target=yes
      echo "| $pod | $is_target | $req | $err | $ratio | $rl | $inj | $open |"
    done <<<"$after"
  fi
}

final=$(get)
text=$(render "$final")
echo "$text"
[[ -z $report ]] || printf '%s\n' "$text" >"$report"
((keep)) || $KUBECTL delete chaosexperiments.palisade.dev -n "$namespace" "$name" --wait=false >/dev/null

verified=$(jq -r '[.status.conditions[]? | select(.type == "Verified")][0].status // ""' <<<"$final")
[[ $(jq -r '.status.phase // ""' <<<"$final") == Completed && $verified != False ]]
