#!/usr/bin/env bash
# Runs the whole LstmStream test suite on a Debian machine that has the .NET SDK: installs the Debian
# packages the tests need when any is missing, then runs `dotnet test` on the solution in Release and
# exits with its status. Extra arguments are passed to `dotnet test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages the tests need, one per entry (installed only when missing).
APT_PACKAGES=(
    libopenblas0-pthread   # the openblas matrix-multiply backend
    libdnnl2               # the onednn matrix-multiply backend
    libmkl-rt              # the mkl matrix-multiply backend (Debian's non-free component, enabled below)
    mosquitto              # MQTT broker the Mqtt tests start on a loopback port
    gcc                    # cc: builds the broken native library the backend-failure tests load
    prometheus             # promtool and a Prometheus server for the examples/prometheus tests
    systemd                # systemd-analyze verify for examples/systemd/lstmstream.service
    librsvg2-bin           # rsvg-convert: the benchmark chart's SVG rendered to PNG in its test
    postgresql             # PostgreSQL 15 (initdb, pg_ctl): the durable-session store tests start a private server
)

# Where the deb822 entry enabling Debian's non-free component (for libmkl-rt) is written.
NON_FREE_SOURCES=/etc/apt/sources.list.d/lstmstream-non-free.sources

# Prints deb822 stanzas with the URIs and Suites (and Signed-By) of every Debian archive entry for release $1
# (its suites: the codename or codename-*) in the machine's apt sources, with `Components: non-free`.
debian_non_free_sources() {
    local codename=$1
    [[ -n $codename ]] || return 0
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        awk -v codename="$codename" '
            function flush(   i, n, all, kept) {
                n = split(suites, all, " ")
                kept = ""
                for (i = 1; i <= n; i++) if (all[i] == codename || index(all[i], codename "-") == 1) kept = kept (kept == "" ? "" : " ") all[i]
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && kept != "") {
                    printf "%sTypes: deb\nURIs: %s\nSuites: %s\nComponents: non-free\n", (printed++ ? "\n" : ""), uris, kept
                    if (signed != "") printf "Signed-By: %s\n", signed
                }
                types = uris = suites = signed = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
            key == "types:" { types = $0 } key == "uris:" { uris = $0 } key == "suites:" { suites = $0 }
            key == "signed-by:" { signed = $0 } key == "enabled:" { enabled = tolower($0) }
            END { flush() }' /etc/apt/sources.list.d/debian.sources
    elif [[ -r /etc/apt/sources.list ]]; then
        # One-line format: deb [options] URI SUITE COMPONENTS...
        awk -v codename="$codename" '
            $1 != "deb" { next }
            {
                i = 2; signed = ""
                if ($2 ~ /^\[/) { while (i <= NF) { if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) } if ($(i++) ~ /\]$/) break } }
                uri = $i; suite = $(i + 1)
                if (suite != codename && index(suite, codename "-") != 1) next
                printf "%sTypes: deb\nURIs: %s\nSuites: %s\nComponents: non-free\n", (printed++ ? "\n" : ""), uri, suite
                if (signed != "") printf "Signed-By: %s\n", signed
            }' /etc/apt/sources.list
    fi
}

missing=()
for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "scripts/test.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    if [[ " ${missing[*]} " == *" libmkl-rt "* ]]; then
        # libmkl-rt is in the non-free component of Debian's archive. Enable that component on the archives this
        # machine already uses, read from its own apt sources (the deb822 debian.sources, or sources.list), as
        # one extra deb822 file; the same file is written again on a later run, so this is idempotent.
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        non_free=$(debian_non_free_sources "$codename")
        if [[ -z $non_free ]]; then
            echo "scripts/test.sh: no Debian archive for '$codename' found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; cannot enable non-free for libmkl-rt" >&2
            exit 1
        fi
        printf '%s\n' "$non_free" | "${as_root[@]}" tee "$NON_FREE_SOURCES" >/dev/null
    fi
    echo "scripts/test.sh: installing ${missing[*]}"
    "${as_root[@]}" apt-get update
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v dotnet >/dev/null 2>&1; then
    echo "scripts/test.sh: the .NET SDK (dotnet) is not on PATH" >&2
    exit 1
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
# The native backends were installed above, so their tests must run, not skip.
export LSTMSTREAM_REQUIRE_NATIVE="${LSTMSTREAM_REQUIRE_NATIVE:-1}"
dotnet test LstmStream.sln -c Release "$@"

# Every vector width the kernels have, checked on every machine: the numerics, golden and differential tests
# once more with 512-bit vectors off (AVX2 path; the native libraries limited to AVX2 as well) and once with
# only 128-bit vectors. VectorWidthTests fails if the runtime did not honour a knob. Cases that force a width wider
# than a rerun's (a `bits: 512` case with 512-bit vectors off) ran in the main run already, on the same code; in the
# rerun they would only time .NET's software emulation of the wider vectors (a third of the 128-bit rerun), so each
# rerun leaves them out.
ISA_FILTER='(FullyQualifiedName~LstmStream.Tests.Numerics|FullyQualifiedName~LstmStream.Tests.Golden|FullyQualifiedName~LstmStream.Tests.Models.Onnx)&DisplayName!~bits: 512'
if grep -qw avx512f /proc/cpuinfo; then
    echo "scripts/test.sh: numerics, golden and differential tests with 512-bit vectors off"
    env DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0 LSTMSTREAM_EXPECT_VECTOR_BITS=256 \
        OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
        dotnet test Tests/LstmStream.Tests.csproj -c Release --no-build --filter "$ISA_FILTER"
else
    echo "scripts/test.sh: this CPU has no AVX-512: the main run above already took the 256-bit path"
fi
echo "scripts/test.sh: numerics, golden and differential tests with 128-bit vectors only"
env DOTNET_EnableAVX2=0 DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0 LSTMSTREAM_EXPECT_VECTOR_BITS=128 \
    OPENBLAS_CORETYPE=Sandybridge ONEDNN_MAX_CPU_ISA=AVX MKL_ENABLE_INSTRUCTIONS=AVX \
    dotnet test Tests/LstmStream.Tests.csproj -c Release --no-build --filter "$ISA_FILTER&DisplayName!~bits: 256"
