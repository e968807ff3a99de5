#!/bin/sh
# bootstrap.sh: from a fresh Debian 12 checkout to a running gateway or a test run.
#
#   ./bootstrap.sh serve [preread serve options]   install, build, run the gateway
#   ./bootstrap.sh check                           install, build, run the test suite
#   ./bootstrap.sh deps                            only install the Debian packages
#   ./bootstrap.sh packages                        print the Debian packages needed
#
# Installing packages needs root (it uses sudo when available). Everything
# else builds in this folder; nothing is installed system-wide.
set -eu

cd "$(dirname "$0")"

# Build: compilers, autotools, and the libraries preread links.
BUILD_PACKAGES="build-essential autoconf autoconf-archive automake libtool pkg-config xz-utils
  libglib2.0-dev libxml2-dev libxml2-utils libsqlite3-dev libdcmtk-dev libsndfile1-dev
  libsoup-3.0-dev libjson-glib-dev libssl-dev libcairo2-dev fonts-dejavu-core"
# Run and test: DCMTK's tools as peers, a real PACS, the DICOM validator,
# test-data generation, the command-line tools the benchmarks use, and the
# browser that tests/test-browser drives.
TOOL_PACKAGES="dcmtk orthanc dicom3tools python3-pydicom python3-numpy sqlite3 curl chromium openssl"
# node and npm run the browser test (playwright-core, from npm). Debian's
# packages only where no node is installed: another build (NodeSource's
# nodejs, which bundles npm) conflicts with Debian's npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    TOOL_PACKAGES="$TOOL_PACKAGES nodejs npm"
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "bootstrap: installing packages needs root (or sudo)" >&2
        exit 1
    fi
}

install_deps() {
    missing=""
    for p in $BUILD_PACKAGES $TOOL_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        echo "bootstrap: all Debian packages are installed"
        return
    fi
    echo "bootstrap: installing:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # Orthanc's package starts a system service where systemd runs; we only
    # want its binary, and the tests start their own instances.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# playwright-core for tests/test-browser, pinned by tests/browser/package-lock.json
# (into tests/browser/node_modules, which git ignores). Without it, or without
# the registry, that test skips and says so.
install_browser_test_deps() {
    command -v npm >/dev/null 2>&1 || return 0
    if [ tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]; then
        return 0
    fi
    echo "bootstrap: npm ci --prefix tests/browser"
    npm ci --prefix tests/browser --silent --no-audit --no-fund >/dev/null ||
        echo "bootstrap: npm ci failed; tests/test-browser will skip" >&2
}

build() {
    if [ ! -x configure ]; then
        NOCONFIGURE=1 ./autogen.sh >/dev/null
    fi
    if [ ! -f Makefile ]; then
        ./configure -q
    fi
    make -j"$(nproc)" >/dev/null
}

# The last line a CI log shows: "N passed, N failed".
summarize() {
    if [ -f test-suite.log ]; then
        passed=$(sed -n 's/^# PASS: *//p' test-suite.log | head -1)
        skipped=$(sed -n 's/^# SKIP: *//p' test-suite.log | head -1)
        failed=$(sed -n 's/^# FAIL: *//p' test-suite.log | head -1)
        errors=$(sed -n 's/^# ERROR: *//p' test-suite.log | head -1)
        echo "${passed:-0} passed, $(( ${failed:-0} + ${errors:-0} )) failed (${skipped:-0} skipped)"
    else
        echo "0 passed, 1 failed (no test-suite.log: the build or the test run did not start)"
    fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
    packages)
        # The Debian packages the build and the tests need, one line (.ci/run installs them).
        echo $BUILD_PACKAGES $TOOL_PACKAGES
        ;;
    deps)
        install_deps
        install_browser_test_deps
        ;;
    serve)
        install_deps
        build
        # The bundled analyzers by name (module="skin-lesion"), from this build tree.
        PREREAD_ANALYZER_PATH="$PWD/plugin/analyzers/skin-lesion/.libs:$PWD/plugin/analyzers/lung-nodule/.libs${PREREAD_ANALYZER_PATH:+:$PREREAD_ANALYZER_PATH}"
        export PREREAD_ANALYZER_PATH
        exec ./preread serve "$@"
        ;;
    check)
        install_deps
        install_browser_test_deps
        build
        status=0
        make -j"$(nproc)" check "$@" || status=$?
        summarize
        exit $status
        ;;
    *)
        sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
