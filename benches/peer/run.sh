#!/usr/bin/env bash
# Times the logexport CLI against the Python a user would write (requests +
# zlib into a file), on the same gzip file served from loopback, and prints
# each output path's median time and its ratio to the Python peer.
#
# The CLS cases do the same for a CLS export: a .tar.gz of JSON lines, and
# one of CSV (header, multi-line quoted fields), downloaded from a pre-signed
# URL and written as NDJSON, by the library (`examples/cls_export_download.rs`)
# and by Python (requests + tarfile `r|gz` + csv/json: `peer_cls.py`).
#
#   bash benches/peer/run.sh            # 500 MiB of decoded log, 5 runs each
#   SIZE_MIB=100 RUNS=3 bash benches/peer/run.sh
#   BEFORE_BIN=/path/to/older/logexport bash benches/peer/run.sh
#
#   ONLY=cls bash benches/peer/run.sh   # only the CLS cases (ONLY=atlas: the rest)
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

ONLY=${ONLY:-}
(cd "$root" && cargo build --release --features cli --bin logexport --example cls_export_download --quiet)
bin="$root/target/release/logexport"
cls_bin="$root/target/release/examples/cls_export_download"

data="$root/target/peer-bench-${SIZE_MIB}mib.gz"
declare -A cls_data
if [ ! -s "$data" ]; then
  echo "generating $SIZE_MIB MiB of audit lines ..."
  python3 "$here/gen.py" "$data" "$SIZE_MIB"
fi
echo "input: $(du -m "$data" | cut -f1) MiB gzip, $SIZE_MIB MiB decoded"
for f in json csv; do
  cls_data[$f]="$root/target/peer-bench-cls-${SIZE_MIB}mib.$f.tar.gz"
  if [ ! -s "${cls_data[$f]}" ]; then
    echo "generating $SIZE_MIB MiB of CLS $f records ..."
    python3 "$here/gen_cls.py" "${cls_data[$f]}" "$SIZE_MIB" "$f"
  fi
  echo "CLS $f input: $(du -m "${cls_data[$f]}" | cut -f1) MiB tar.gz, $SIZE_MIB MiB of records"
done

python3 "$here/server.py" "$data" "${cls_data[json]}" "${cls_data[csv]}" > "$work/port" &
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
cls_topic=5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f
declare -A cls_export=([json]=0a1b2c3d-4e5f-4a6b-8c7d-000000000001 [csv]=0a1b2c3d-4e5f-4a6b-8c7d-000000000002)

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
    cls-json-python|cls-csv-python)
      f=${1#cls-}; f=${f%-python}
      python3 "$here/peer_cls.py" "$base/cls/$f?sign=bench" "$f" "$work/out.ndjson" ;;
    cls-json|cls-csv)
      f=${1#cls-}
      "$cls_bin" "$base" "$cls_topic" "${cls_export[$f]}" "$work/out.ndjson" 2>/dev/null ;;
  esac || { echo "case $1 failed" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.4f\n", b - a}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cases=()
[ "$ONLY" = cls ] || cases+=(python file stdout checkpoint raw)
[ "$ONLY" = atlas ] || cases+=(cls-json-python cls-json cls-csv-python cls-csv)
if [ -n "${BEFORE_BIN:-}" ] && [ "$ONLY" != cls ]; then
  [ -x "$BEFORE_BIN" ] || { echo "BEFORE_BIN=$BEFORE_BIN is not an executable"; exit 1; }
  cases+=(before-file before-stdout before-checkpoint before-raw)
fi
declare -A times
for c in "${cases[@]}"; do run_case "$c" >/dev/null || exit 1; done   # warm-up
for _ in $(seq "$RUNS"); do
  # Interleaved, so drift in the machine's speed hits every case alike.
  for c in "${cases[@]}"; do times[$c]+="$(run_case "$c") "; done
done
med() { echo "${times[$1]}" | tr ' ' '\n' | grep . | median; }
printf '%-17s %9s %8s %10s\n' path median_s ratio MiB/s
for c in "${cases[@]}"; do
  # Each case against its own Python peer: Atlas's, or CLS's of its format.
  case "$c" in
    cls-*-python) peer=$c ;;
    cls-*) peer=$c-python ;;
    *) peer=python ;;
  esac
  awk -v c="$c" -v m="$(med "$c")" -v p="$(med "$peer")" -v s="$SIZE_MIB" 'BEGIN {printf "%-17s %9.3f %7.2fx %10.0f\n", c, m, m / p, s / m}'
done
echo "(ratio: time against the Python peer in the same run; lower is faster; goal <= 0.50x)"
