#!/usr/bin/env bash
# Times the logexport CLI against the Python a user would write (requests +
# zlib into a file), on the same gzip file served from loopback, and prints
# each output path's median time and its ratio to the Python peer.
#
#   bash benches/peer/run.sh            # 500 MiB of decoded log, 5 runs each
#   SIZE_MIB=100 RUNS=3 bash benches/peer/run.sh
#   BEFORE_BIN=/path/to/older/logexport bash benches/peer/run.sh
#
# BEFORE_BIN (optional) adds the same four CLI cases run with another build
# (rows prefixed `before-`), interleaved in the same run, for a before/after.
#
# Skips (exit 0) when python3 or requests is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-500}
RUNS=${RUNS:-5}

if ! command -v python3 >/dev/null || ! python3 -c 'import requests' 2>/dev/null; then
  echo "skipped: needs python3 with requests (pip install requests)"
  exit 0
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

(cd "$root" && cargo build --release --features cli --quiet)
bin="$root/target/release/logexport"

data="$root/target/peer-bench-${SIZE_MIB}mib.gz"
if [ ! -s "$data" ]; then
  echo "generating $SIZE_MIB MiB of audit lines ..."
  python3 "$here/gen.py" "$data" "$SIZE_MIB"
fi
echo "input: $(du -m "$data" | cut -f1) MiB gzip, $SIZE_MIB MiB decoded"

python3 "$here/server.py" "$data" > "$work/port" &
server=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
project=5f0c8e1a2b3c4d5e6f708192
url="$base/api/atlas/v2/groups/$project/clusters/h0/logs/mongodb-audit-log.gz"
export MONGODB_ATLAS_CLIENT_ID=mdb_sa_id_bench MONGODB_ATLAS_CLIENT_SECRET=mdb_sa_sk_bench
cli=("$bin" -q --endpoint "$base")
old=("${BEFORE_BIN:-}" -q --endpoint "$base")
atlas=(atlas cluster-logs --project "$project" --host h0 --log mongodb-audit-log --start 1h)

# One run of a named case; prints seconds.
run_case() {
  rm -f "$work"/out* "$work"/ckpt*
  local start end
  start=$(date +%s.%N)
  case "$1" in
    python)     python3 "$here/peer.py" "$url" "$work/out" ;;
    file)       "${cli[@]}" -o "$work/out.ndjson" "${atlas[@]}" ;;
    stdout)     "${cli[@]}" "${atlas[@]}" > "$work/out.ndjson" ;;
    checkpoint) "${cli[@]}" -o "$work/out.ndjson" "${atlas[@]}" --checkpoint "$work/ckpt" ;;
    raw)        "${cli[@]}" --raw -o "$work/out.gz" "${atlas[@]}" ;;
    before-file)       "${old[@]}" -o "$work/out.ndjson" "${atlas[@]}" ;;
    before-stdout)     "${old[@]}" "${atlas[@]}" > "$work/out.ndjson" ;;
    before-checkpoint) "${old[@]}" -o "$work/out.ndjson" "${atlas[@]}" --checkpoint "$work/ckpt" ;;
    before-raw)        "${old[@]}" --raw -o "$work/out.gz" "${atlas[@]}" ;;
  esac || { echo "case $1 failed" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.4f\n", b - a}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cases=(python file stdout checkpoint raw)
if [ -n "${BEFORE_BIN:-}" ]; then
  [ -x "$BEFORE_BIN" ] || { echo "BEFORE_BIN=$BEFORE_BIN is not an executable"; exit 1; }
  cases+=(before-file before-stdout before-checkpoint before-raw)
fi
declare -A times
for c in "${cases[@]}"; do run_case "$c" >/dev/null || exit 1; done   # warm-up
for _ in $(seq "$RUNS"); do
  # Interleaved, so drift in the machine's speed hits every case alike.
  for c in "${cases[@]}"; do times[$c]+="$(run_case "$c") "; done
done
py=$(echo "${times[python]}" | tr ' ' '\n' | grep . | median)
printf '%-17s %9s %8s %10s\n' path median_s ratio MiB/s
for c in "${cases[@]}"; do
  m=$(echo "${times[$c]}" | tr ' ' '\n' | grep . | median)
  awk -v c="$c" -v m="$m" -v p="$py" -v s="$SIZE_MIB" 'BEGIN {printf "%-17s %9.3f %7.2fx %10.0f\n", c, m, m / p, s / m}'
done
echo "(ratio: time against the Python peer in the same run; lower is faster; goal <= 0.50x)"
