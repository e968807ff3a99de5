#!/bin/bash
# e2e-latency.sh: from the last instance acknowledged to every result in the PACS.
#
# Sends a study to `preread serve`, which analyzes it and delivers the result
# objects to a real Orthanc, and measures, per round, the time from the
# moment the sender got its last C-STORE acknowledgement to the moment
# Orthanc holds every result object, then subtracts the quiet period the
# gateway waits on purpose. The analyzer's own run time is shown apart, and
# the rest is split into its stages (completion, scheduling, result
# objects, delivery) from the gateway's own timestamps. No peer publishes
# this figure; this prints ours. A measurement, not a test.
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
Usage: bench/e2e-latency.sh [OPTIONS]

Options:
  --preread PATH     preread binary (default: ./preread, or preread on PATH)
  --module PATH      analyzer module (default: the bundled example,
                     plugin/examples/.libs/brightest-spot.so next to the binary)
  --study DIR        DICOM study to send (default: the real chest CT in
                     ../shared/data when present, else a generated 300-slice CT)
  --quiet-period S   the gateway's quiet period (default: 2)
  --rounds N         rounds (default: 5)
  -h, --help         show this help

Needs: orthanc, curl, sqlite3, dcmtk; /usr/bin/python3 with pydicom and numpy
when a study has to be generated.
EOF
}

die() { echo "e2e-latency: $*" >&2; exit 1; }
note() { echo "e2e-latency: $*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)
preread_bin="" module="" study="" quiet=2 rounds=5
while [[ $# -gt 0 ]]; do
    case $1 in
        --preread) preread_bin=${2:?}; shift 2 ;;
        --module) module=${2:?}; shift 2 ;;
        --study) study=${2:?}; shift 2 ;;
        --quiet-period) quiet=${2:?}; shift 2 ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number"
[[ $quiet =~ ^[1-9][0-9]*$ ]] || die "--quiet-period must be a positive number of seconds"
if [[ -z $preread_bin ]]; then
    if [[ -x ./preread ]]; then preread_bin=./preread; else preread_bin=$(command -v preread) || die "no preread: use --preread"; fi
fi
preread_bin=$(cd "$(dirname "$preread_bin")" && pwd)/$(basename "$preread_bin")
[[ -n $module ]] || module=$(dirname "$preread_bin")/plugin/examples/.libs/brightest-spot.so
[[ -f $module ]] || die "no analyzer module $module (build with make check, or give --module)"
orthanc_bin=/usr/sbin/Orthanc
[[ -x $orthanc_bin ]] || die "Orthanc not found (apt-get install orthanc)"
for tool in curl sqlite3; do command -v $tool >/dev/null || die "$tool not found"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-latency.XXXXXX")
orthanc_pid="" preread_pid=""
cleanup() {
    for pid in $preread_pid $orthanc_pid; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z $study ]]; then
    real=$script_dir/../../shared/data/ct/lung-pet-ct-dx-A0001/images/04-04-2007-NA-Chest-07990/3.000000-5mm-41315
    if [[ -d $real ]]; then
        study=$real
    else
        note "generating a 300-slice CT (no ../shared/data)"
        /usr/bin/python3 "$script_dir/../tests/tools/pr-make-study.py" --out "$work/study" --slices 300 --size 512 >/dev/null
        study=$work/study
    fi
fi
n_files=$(find "$study" -type f | wc -l)

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -a total_list analyzer_list completion_list scheduling_list results_list delivery_list
for ((round = 1; round <= rounds; round++)); do
    r=$work/round-$round; mkdir -p "$r/orthanc" "$r/store"
    dicom_port=$(free_port); http_port=$(free_port); scp_port=$(free_port)
    cat > "$r/orthanc.json" <<EOF
{ "Name": "bench-pacs", "StorageDirectory": "$r/orthanc", "IndexDirectory": "$r/orthanc",
  "DicomAet": "PACS", "DicomPort": $dicom_port, "HttpPort": $http_port, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [], "StorageCompression": false }
EOF
    "$orthanc_bin" "$r/orthanc.json" > "$r/orthanc.log" 2>&1 & orthanc_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/system" >/dev/null && break; sleep 0.1; done
    cat > "$r/preread.xml" <<EOF
<?xml version="1.0"?>
<preread version="1">
  <node ae-title="PREREAD" port="$scp_port" storage="$r/store" quiet-period="$quiet" free-space-reserve-mb="0"/>
  <peers><peer name="pacs" ae-title="PACS" host="127.0.0.1" port="$dicom_port"/></peers>
  <analyzers><analyzer name="bench" module="$module" max-attempts="1"/></analyzers>
  <routes><route name="bench"><analyze analyzer="bench"/><results-to peer="pacs"/></route></routes>
</preread>
EOF
    "$preread_bin" serve --config "$r/preread.xml" > "$r/preread.log" 2>&1 & preread_pid=$!
    for _ in $(seq 100); do grep -q "ready:" "$r/preread.log" && break; sleep 0.1; done
    db=$r/store/index.sqlite
    q() { sqlite3 -readonly "$db" "$1" 2>/dev/null || echo ""; }

    "$preread_bin" send -q --to "PREREAD@127.0.0.1:$scp_port" "$study" >/dev/null
    acked=$(now_us)
    done_at=""
    for _ in $(seq 6000); do
        built=$(q "SELECT count(*) FROM jobs WHERE results_state IN ('built', 'failed')")
        state=$(q "SELECT state FROM jobs LIMIT 1")
        if [[ $state == failed || $state == declined || $state == timed-out ]]; then die "the job ended $state: $(q 'SELECT reason FROM jobs')"; fi
        if [[ $built == 1 ]]; then
            want=$(q "SELECT count(*) FROM results")
            have=$(curl -sf "http://127.0.0.1:$http_port/statistics" | sed -n 's/.*"CountInstances" : \([0-9]*\).*/\1/p')
            if [[ -n $have && $have == "$want" && $want -gt 0 ]]; then done_at=$(now_us); break; fi
        fi
        sleep 0.05
    done
    [[ -n $done_at ]] || die "round $round: the results did not all reach Orthanc in 5 min"

    run=$(q "SELECT created_at FROM route_runs LIMIT 1")
    started=$(q "SELECT started_at FROM jobs LIMIT 1")
    finished=$(q "SELECT finished_at FROM jobs LIMIT 1")
    built_at=$(q "SELECT max(created_at) FROM results")
    sent=$(q "SELECT max(sent_at) FROM outbox")
    s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }
    total=$(awk -v a="$acked" -v b="$done_at" -v q="$quiet" 'BEGIN { printf "%.3f", (b - a) / 1e6 - q }')
    total_list+=("$total"); analyzer_list+=("$(s "$started" "$finished")")
    completion_list+=("$(awk -v a="$acked" -v b="$run" -v q="$quiet" 'BEGIN { printf "%.3f", (b - a) / 1e6 - q }')")
    scheduling_list+=("$(s "$run" "$started")"); results_list+=("$(s "$finished" "$built_at")")
    delivery_list+=("$(s "$built_at" "$sent")")
    note "round $round: $total s after the quiet period (analyzer $(s "$started" "$finished") s), $want result objects"
    kill -TERM $preread_pid $orthanc_pid; wait $preread_pid $orthanc_pid 2>/dev/null || true; preread_pid="" orthanc_pid=""
done

m() { printf '%s\n' "$@" | median; }
echo
echo "End-to-end latency, $n_files instances, $(basename "$module"), median of $rounds rounds"
echo "(last C-STORE acknowledged -> every result object stored in Orthanc, minus the ${quiet} s quiet period)"
printf "  %-44s %8s s\n" "end to end, quiet period excluded" "$(m "${total_list[@]}")"
printf "  %-44s %8s s\n" "  of which the analyzer's own run" "$(m "${analyzer_list[@]}")"
printf "  %-44s %8s s\n" "  completion (beyond the quiet period)" "$(m "${completion_list[@]}")"
printf "  %-44s %8s s\n" "  scheduling (route fired -> analyzer started)" "$(m "${scheduling_list[@]}")"
printf "  %-44s %8s s\n" "  result objects (job done -> objects made)" "$(m "${results_list[@]}")"
printf "  %-44s %8s s\n" "  delivery (objects made -> last stored)" "$(m "${delivery_list[@]}")"
