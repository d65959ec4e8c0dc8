#!/usr/bin/env bash
# Deletes one random Running pod matching a label selector every interval, and reports how long
# the workload took to be fully Ready again after each deletion. For clusters whose pods run
# (a kubelet); an operator-driven alternative is a ChaosExperiment with a podKill fault, which
# also protects Raft quorum. See docs/chaos.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: chaos/pod-delete-loop.sh -n <namespace> -l <selector> [--interval 10] [--count 6] [--grace 0]

Every <interval> seconds, deletes one random Running pod matching <selector> (with
--grace-period <grace>), <count> times, then prints one line per deletion: the pod, and the
seconds until as many matching pods as before were Ready again (or "not recovered").

Environment: KUBECTL (default kubectl; KUBECONFIG is honoured).
EOF
}

KUBECTL=${KUBECTL:-kubectl}
namespace="" selector="" interval=10 count=6 grace=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n | --namespace) namespace=${2:?}; shift 2 ;;
    -l | --selector) selector=${2:?}; shift 2 ;;
    --interval) interval=${2:?}; shift 2 ;;
    --count) count=${2:?}; shift 2 ;;
    --grace) grace=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "pod-delete-loop.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n $namespace && -n $selector ]] || { usage >&2; exit 2; }
for n in "$interval" "$count" "$grace"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "pod-delete-loop.sh: numbers only: $n" >&2; exit 2; }
done

ready_count() {
  $KUBECTL get pods -n "$namespace" -l "$selector" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null)
        | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}

want=$(ready_count)
((want > 0)) || { echo "pod-delete-loop.sh: no Ready pod matches $selector in $namespace" >&2; exit 1; }
echo "# pod-delete loop: $namespace, $selector, $want Ready, every ${interval}s, $count deletions"
echo
echo "| # | time (UTC) | pod | Ready again after |"
echo "|---|---|---|---|"
for ((i = 1; i <= count; i++)); do
  started=$SECONDS
  victim=$($KUBECTL get pods -n "$namespace" -l "$selector" --field-selector=status.phase=Running \
    -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name' |
    shuf -n 1)
  if [[ -z $victim ]]; then
    echo "| $i | $(date -u +%H:%M:%S) | (no Running pod) | - |"
  else
    $KUBECTL delete pod -n "$namespace" "$victim" --grace-period="$grace" --wait=false >/dev/null
    at=$(date -u +%H:%M:%S)
    recovered="not recovered in ${interval}s"
    # Give the deletion a moment to show, then wait for the Ready count to come back.
    sleep 1
    while ((SECONDS - started < interval)); do
      if (($(ready_count) >= want)); then
        recovered="$((SECONDS - started))s"
        break
      fi
      sleep 1
    done
    echo "| $i | $at | $victim | $recovered |"
  fi
  ((i == count)) || sleep $((interval - (SECONDS - started) > 0 ? interval - (SECONDS - started) : 0))
done
