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
    mosquitto              # MQTT broker the Mqtt tests start on a loopback port
    prometheus             # promtool and a Prometheus server for the examples/prometheus tests
    systemd                # systemd-analyze verify for examples/systemd/lstmstream.service
    librsvg2-bin           # rsvg-convert: the benchmark chart's SVG rendered to PNG in its test
)

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
# only 128-bit vectors. VectorWidthTests fails if the runtime did not honour a knob.
ISA_FILTER='FullyQualifiedName~LstmStream.Tests.Numerics|FullyQualifiedName~LstmStream.Tests.Golden|FullyQualifiedName~LstmStream.Tests.Onnx|FullyQualifiedName~LstmStream.Tests.NativeBackends'
if grep -qw avx512f /proc/cpuinfo; then
    echo "scripts/test.sh: numerics, golden and differential tests with 512-bit vectors off"
    env DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0 LSTMSTREAM_EXPECT_VECTOR_BITS=256 \
        OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 \
        dotnet test Tests/LstmStream.Tests.csproj -c Release --no-build --filter "$ISA_FILTER"
else
    echo "scripts/test.sh: this CPU has no AVX-512: the main run above already took the 256-bit path"
fi
echo "scripts/test.sh: numerics, golden and differential tests with 128-bit vectors only"
env DOTNET_EnableAVX2=0 DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0 LSTMSTREAM_EXPECT_VECTOR_BITS=128 \
    OPENBLAS_CORETYPE=Sandybridge ONEDNN_MAX_CPU_ISA=AVX \
    dotnet test Tests/LstmStream.Tests.csproj -c Release --no-build --filter "$ISA_FILTER"
