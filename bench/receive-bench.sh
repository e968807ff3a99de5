#!/bin/bash
# receive-bench.sh: how fast does preread take in a CT study, next to DCMTK's
# storescp and (when installed) Orthanc?
#
# Sends the same synthetic 300-slice 512x512 16-bit CT to each receiver, one
# after another within every round, with one sender and with 4 parallel
# senders, and prints the median time of each and the ratios. It is a
# measurement, not a test: it prints numbers, never pass/fail, but it aborts
# if any receiver did not really store all instances, because a fast wrong
# answer is worth nothing.
set -euo pipefail
export LC_ALL=C # decimal points, not commas, in the numbers we compute

usage() {
    cat <<'EOF'
Usage: bench/receive-bench.sh [OPTIONS]

Times how long DICOM senders (DCMTK storescu) take to deliver a 300-slice
512x512 16-bit CT to preread, to DCMTK storescp and, when installed, to
Orthanc. Every receiver starts each round from empty storage. Ratios are
against storescp and Orthanc with TCP_NODELAY=1, as preread sets it itself.

Options:
  --preread PATH       preread binary (default: $PREREAD, ./preread, preread on PATH)
  --rounds N           rounds per receiver and mode (default: 5)
  --data DIR           keep the generated study in DIR and reuse it next time
  --skip-untuned       skip storescp and Orthanc with Debian's default socket
                       options (Nagle on: ~13-16 s per delivery)
  --untuned-rounds N   rounds for those slow runs (default: 1)
  --save               also write the results to bench/results/receive-DATE.txt
  -h, --help           show this help

Needs: dcmtk (storescu, storescp, echoscu), sqlite3, curl, /usr/bin/python3
with pydicom and numpy; optional: orthanc.
EOF
}

die() { echo "receive-bench: $*" >&2; exit 1; }
note() { echo "receive-bench: $*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)
SLICES=300 SENDERS=4
rounds=5 untuned_rounds=1 skip_untuned=0 save=0 data="" preread_bin=${PREREAD:-}

while [[ $# -gt 0 ]]; do
    case $1 in
        --preread) preread_bin=${2:?--preread needs a path}; shift 2 ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
        --data) data=${2:?--data needs a folder}; shift 2 ;;
        --skip-untuned) skip_untuned=1; shift ;;
        --untuned-rounds) untuned_rounds=${2:?--untuned-rounds needs a number}; shift 2 ;;
        --save) save=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "receive-bench: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number"
[[ $untuned_rounds =~ ^[0-9]+$ ]] || die "--untuned-rounds must be a number"

if [[ -z $preread_bin ]]; then
    if [[ -x ./preread ]]; then preread_bin=./preread
    else preread_bin=$(command -v preread) || die "no preread binary: use --preread PATH"; fi
fi
[[ -x $preread_bin ]] || die "$preread_bin is not executable"
preread_bin=$(cd "$(dirname "$preread_bin")" && pwd)/$(basename "$preread_bin")

for tool in storescu storescp echoscu sqlite3 curl; do
    command -v $tool >/dev/null || die "$tool not found (apt-get install dcmtk sqlite3 curl)"
done
generator=$script_dir/../tests/tools/pr-make-study.py
[[ -f $generator ]] || die "missing $generator"
orthanc_bin=/usr/sbin/Orthanc
have_orthanc=0; [[ -x $orthanc_bin ]] && have_orthanc=1

work=$(mktemp -d "${TMPDIR:-/tmp}/receive-bench.XXXXXX")
rx_pid=""
cleanup() {
    if [[ -n $rx_pid ]]; then kill -TERM "$rx_pid" 2>/dev/null || true; wait "$rx_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- test data: generated, never committed; once per run unless cached ---
[[ -n $data ]] || data=$work/data
mkdir -p "$data"; data=$(cd "$data" && pwd)
count_files() { find "$1" -name '*.dcm' | wc -l; }
if [[ $(count_files "$data") -ne $SLICES ]]; then
    [[ $(count_files "$data") -eq 0 ]] || die "$data holds other .dcm files; give an empty or cached folder"
    note "generating $SLICES CT slices in $data"
    /usr/bin/python3 "$generator" --out "$data" --slices $SLICES --size 512 --seed bench >/dev/null \
        || die "generator failed (needs Debian's python3-pydicom and python3-numpy)"
fi
mb=$(du -smL "$data" | cut -f1)

# 4 senders each take a contiguous quarter, like modalities pushing parts of a study.
mapfile -t files < <(find "$data" -name '*.dcm' | sort)
for ((i = 0; i < SLICES; i++)); do
    part=$work/parts/p$((i * SENDERS / SLICES + 1))
    mkdir -p "$part"; ln -s "${files[i]}" "$part/"
done

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_echo() { # aet port: until the receiver answers C-ECHO
    local i
    for ((i = 0; i < 200; i++)); do
        echoscu -to 2 -aec "$1" 127.0.0.1 "$2" >/dev/null 2>&1 && return 0
        kill -0 "$rx_pid" 2>/dev/null || break
        sleep 0.05
    done
    die "$target did not answer C-ECHO on port $2; log: $(tail -5 "$rx_dir/log")"
}

# --- receivers: start_* leaves rx_pid, rx_port, rx_aet set; count_* prints what was stored ---
start_preread() {
    : >"$rx_dir/log"
    "$preread_bin" serve --storage "$rx_dir/store" --port 0 --quiet-period 30 --reserve-mb 0 2>"$rx_dir/log" &
    rx_pid=$! rx_aet=PREREAD rx_port=""
    local i
    for ((i = 0; i < 200; i++)); do
        rx_port=$(sed -n 's/.*ready: AE PREREAD listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$rx_dir/log")
        [[ -n $rx_port ]] && return 0
        kill -0 "$rx_pid" 2>/dev/null || break
        sleep 0.05
    done
    die "preread did not become ready; log: $(tail -5 "$rx_dir/log")"
}
count_preread() { sqlite3 "$rx_dir/store/index.sqlite" 'select count(*) from instances'; }

# Debian's DCMTK 3.6.7 (also under Orthanc) keeps Nagle's algorithm on unless
# TCP_NODELAY=1 is in the environment, which costs ~40 ms per C-STORE on
# loopback. preread sets TCP_NODELAY itself, so the DCMTK-based receivers run
# both ways: "tuned" (fair, used for the ratios) and "default" (as installed).
nodelay_env() { # tuned|default: env(1) arguments
    if [[ $1 == tuned ]]; then echo TCP_NODELAY=1; else echo "-u TCP_NODELAY"; fi
}

# storescp serves one association at a time unless told to fork; with 4
# senders it gets --fork so it is not serialised (that would flatter preread).
start_storescp() { # tuned|default
    mkdir -p "$rx_dir/store"
    rx_port=$(free_port) rx_aet=STORESCP
    local fork=(); [[ $mode == 1 ]] || fork=(--fork)
    # shellcheck disable=SC2046 # word splitting of the env arguments is wanted
    env $(nodelay_env "$1") storescp "${fork[@]}" --output-directory "$rx_dir/store" "$rx_port" >"$rx_dir/log" 2>&1 &
    rx_pid=$!
    wait_echo "$rx_aet" "$rx_port"
}
start_storescp_tuned() { start_storescp tuned; }
start_storescp_default() { start_storescp default; }
count_storescp() { find "$rx_dir/store" -type f | wc -l; }
count_storescp_tuned() { count_storescp; }
count_storescp_default() { count_storescp; }

# Orthanc with its defaults (SyncStorageArea: fsync on) and no plugins; our own
# config file keeps /etc/orthanc out of the picture.
start_orthanc() { # tuned|default
    rx_port=$(free_port) rx_aet=ORTHANC
    rx_http=$(free_port)
    cat >"$rx_dir/orthanc.json" <<EOF
{"Name":"bench","StorageDirectory":"$rx_dir/storage","IndexDirectory":"$rx_dir/index",
 "DicomAet":"ORTHANC","DicomPort":$rx_port,"HttpPort":$rx_http,"RemoteAccessAllowed":false,
 "AuthenticationEnabled":false,"DicomCheckCalledAet":false,"Plugins":[],"StorageCompression":false}
EOF
    # shellcheck disable=SC2046
    env $(nodelay_env "$1") "$orthanc_bin" "$rx_dir/orthanc.json" >"$rx_dir/log" 2>&1 &
    rx_pid=$!
    local i
    for ((i = 0; i < 300; i++)); do
        curl -sf "http://127.0.0.1:$rx_http/system" >/dev/null && break
        kill -0 "$rx_pid" 2>/dev/null || die "Orthanc exited; log: $(tail -5 "$rx_dir/log")"
        sleep 0.1
    done
    wait_echo "$rx_aet" "$rx_port"
}
start_orthanc_tuned() { start_orthanc tuned; }
start_orthanc_default() { start_orthanc default; }
count_orthanc() {
    curl -sf "http://127.0.0.1:$rx_http/statistics" | sed -n 's/.*"CountInstances" *: *\([0-9]*\).*/\1/p'
}
count_orthanc_tuned() { count_orthanc; }
count_orthanc_default() { count_orthanc; }

stop_rx() {
    kill -TERM "$rx_pid" 2>/dev/null || true
    wait "$rx_pid" 2>/dev/null || true
    rx_pid=""
}

# --- one timed delivery: only the sender run(s) until exit are timed ---
declare -A times
run_one() { # target mode round
    target=$1 mode=$2
    rx_dir=$work/rx-$target-$mode-$3
    mkdir -p "$rx_dir"
    "start_$target"
    local t0 t1 pids=() p failed=0
    t0=$EPOCHREALTIME
    if [[ $mode == 1 ]]; then
        env TCP_NODELAY=1 storescu -aec "$rx_aet" 127.0.0.1 "$rx_port" +sd "$data" >"$rx_dir/send.log" 2>&1 || failed=1
    else
        for p in "$work"/parts/p*; do
            env TCP_NODELAY=1 storescu -aec "$rx_aet" 127.0.0.1 "$rx_port" +sd "$p" >>"$rx_dir/send.log" 2>&1 &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || failed=1; done
    fi
    t1=$EPOCHREALTIME
    [[ $failed == 0 ]] || die "storescu to $target failed: $(tail -3 "$rx_dir/send.log")"
    # What the receiver acknowledged must be stored when the sender is done;
    # a short grace period is reported rather than silently absorbed.
    local n i
    n=$("count_$target" || true)
    for ((i = 0; i < 50 && ${n:-0} != SLICES; i++)); do sleep 0.2; n=$("count_$target" || true); done
    [[ ${n:-0} == "$SLICES" ]] || die "$target ($mode sender(s), round $3) stored ${n:-0} of $SLICES instances"
    ((i == 0)) || note "$target: all $SLICES visible only $((i * 200)) ms after the senders exited"
    stop_rx
    rm -rf "$rx_dir"
    times[$target,$mode]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}') "
    note "round $3: $target, $mode sender(s): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') s"
}

untuned=1; ((skip_untuned || untuned_rounds == 0)) && untuned=0
targets=(preread storescp_tuned)
((untuned)) && targets+=(storescp_default)
((have_orthanc)) && targets+=(orthanc_tuned)
((have_orthanc && untuned)) && targets+=(orthanc_default)

start_time=$EPOCHREALTIME
for ((r = 1; r <= rounds; r++)); do
    for mode in 1 $SENDERS; do
        # Interleaved, so that drift (cache, thermal, neighbours) hits every receiver alike.
        for t in "${targets[@]}"; do
            [[ $t == *_default && $r -gt $untuned_rounds ]] && continue
            run_one "$t" "$mode" "$r"
        done
    done
done
elapsed=$(awk -v a="$start_time" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b - a}')

# --- report ---
median() { tr ' ' '\n' <<<"${times[$1]:-}" | grep . | sort -n | awk '{a[NR]=$1} END{
    if (NR == 0) exit; m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; print m }'; }
cell() { # target mode: "median [min-max]"
    tr ' ' '\n' <<<"${times[$1,$2]:-}" | grep . | sort -n | awk -v rounds="$rounds" '{a[NR]=$1} END{
        if (NR == 0) { printf "-"; exit }
        m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
        if (NR == 1) printf "%.2f%s", m, (rounds > 1 ? " (1 round)" : "")
        else printf "%.2f [%.2f-%.2f]%s", m, a[1], a[NR], (NR < rounds ? " (" NR " rounds)" : "") }'
}
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# First line "NAME VERSION"; read it whole: head would SIGPIPE the writer under pipefail.
version_of() { local v; v=$("$1" --version 2>/dev/null) || true; v=${v%%$'\n'*}; echo "${v##* }"; }
fs=$(df -T "$work" | awk 'NR == 2 {print $2}')
report=$work/report.txt
{
    echo "preread receive benchmark: $SLICES CT slices 512x512x16 bit ($mb MiB), $rounds round$( ((rounds > 1)) && echo s), median [min-max] seconds"
    echo "machine: $(nproc) cores, $(uname -sr), $fs ($(dirname "$work")); sender: storescu with TCP_NODELAY=1"
    printf '%-40s %-28s %s\n' "" "1 sender" "$SENDERS senders"
    row() { printf '%-40s %-28s %s\n' "$1" "$(cell "$2" 1)" "$(cell "$2" $SENDERS)"; }
    row "preread $(version_of "$preread_bin") (fsync file+dir)" preread
    row "storescp TCP_NODELAY=1 (no fsync)" storescp_tuned
    ((untuned)) && row "storescp Debian default (no fsync)" storescp_default
    if ((have_orthanc)); then
        ov=$(version_of "$orthanc_bin")
        row "Orthanc $ov TCP_NODELAY=1 (fsync)" orthanc_tuned
        ((untuned)) && row "Orthanc $ov Debian default (fsync)" orthanc_default
    else
        echo "Orthanc: not installed (apt-get install orthanc), skipped"
    fi
    ((untuned)) || echo "Debian-default (Nagle on) runs skipped (--skip-untuned)"
    echo "storescp gets --fork with $SENDERS senders (it serves one association at a time otherwise)"
    for mode in 1 $SENDERS; do
        line="ratios, $mode sender(s): preread/storescp(tuned) = $(ratio "preread,$mode" "storescp_tuned,$mode")"
        if ((have_orthanc)); then
            line+="   preread/Orthanc(tuned) = $(ratio "preread,$mode" "orthanc_tuned,$mode")"
            line+=" (Orthanc takes $(ratio "orthanc_tuned,$mode" "preread,$mode")x as long)"
        fi
        echo "$line"
    done
    echo "issue targets: preread/storescp(tuned) <= 1.0, preread/Orthanc <= 0.33"
    echo "run took $elapsed s ($(date -u +%Y-%m-%dT%H:%MZ))"
} >"$report"
cat "$report"
if ((save)); then
    mkdir -p "$script_dir/results"
    out=$script_dir/results/receive-$(date +%Y%m%d-%H%M%S).txt
    cp "$report" "$out"
    note "saved to $out"
fi
