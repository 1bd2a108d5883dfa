#!/usr/bin/env bash
# A stripped release `saelab` built with `--features cuda` on a machine without CUDA or a GPU,
# to carry to a CUDA machine (the GPU smoke run: tools/gpu-smoke.sh). By default for compute
# capability 9.0 (H100, H200) and CUDA 13.0 (the wheels, and so the PTX and cudarc's
# bindings, match the target's driver: PTX from a newer nvcc than the driver is refused).
#
#   SAELAB_CUDA=13.0 CUDA_COMPUTE_CAP=90 tools/build-cuda.sh      → dist/saelab-cuda
#
# It links against the registry's wheels: cuBLAS, cuBLASLt, cuRAND, NVRTC and the CUDA runtime
# (candle's MoE kernels are a static library that calls it), and a link-time
# stub of the driver library (libcuda has no wheel): every `cu*` function cudarc declares,
# as an empty function in a shared library whose SONAME is the driver's, libcuda.so.1. The
# binary records `NEEDED libcuda.so.1`, so the real driver is what loads at run time; the
# readelf listing printed at the end shows what the binary needs. On the CUDA machine those
# libraries come from its toolkit or its PyTorch (the smoke script finds them).
#
# On your own CUDA box, with the toolkit installed, none of this is needed:
#   cargo install --path . --features cuda      (CUDA_COMPUTE_CAP if nvidia-smi cannot tell)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/cuda-env.sh
. tools/cuda-env.sh
# cuRAND is versioned apart from CUDA: 10.4.0 is CUDA 13.0's.
CUDA_EXTRA_WHEELS=("nvidia-curand==${SAELAB_CURAND:-10.4.0}.*")
cuda_wheels nvidia-cuda-nvcc nvidia-cuda-crt nvidia-nvvm nvidia-cuda-runtime nvidia-cuda-cccl \
    nvidia-cuda-nvrtc nvidia-cublas
wheels=$CUDA_WHEELS

link="$wheels/link"
mkdir -p "$link"
# The linker asks for unversioned names; the wheels hold libcublas.so.13 and the like.
for lib in cublas cublasLt curand nvrtc cudart; do
    found=$(find "$wheels/nvidia" -name "lib$lib.so.*" -type f | sort | head -n 1)
    [ -n "$found" ] || { echo "build-cuda: no lib$lib in the wheels" >&2; exit 1; }
    ln -sf "$found" "$link/lib$lib.so"
done

# The driver stub, from cudarc's own list of driver functions.
cudarc=$(cargo metadata --format-version 1 --locked --features cuda 2>/dev/null |
    python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')
cudarc=$(dirname "$cudarc")
grep -ho 'fn cu[A-Za-z0-9_]*' "$cudarc/src/driver/sys/mod.rs" | awk '{ print $2 }' | sort -u |
    awk '{ print "void " $1 "(void) {}" }' >"$link/cuda-stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/cuda-stub.c"
echo "build-cuda: libcuda stub with $(wc -l <"$link/cuda-stub.c") functions" >&2

libdirs=$(find "$wheels/nvidia" -type d -name lib | paste -sd: -)
export RUSTFLAGS="${RUSTFLAGS:-} -L native=$link -C link-arg=-Wl,-rpath-link,$link:$libdirs"
export CARGO_TARGET_DIR=${SAELAB_CUDA_TARGET:-target/cuda}
cargo build --locked --release --features cuda --bin saelab
mkdir -p dist
strip -o dist/saelab-cuda "$CARGO_TARGET_DIR/release/saelab"
readelf -d dist/saelab-cuda | grep NEEDED
# The PTX inside compresses well: the .xz is what fits a 64 MiB carry (gpu-smoke.sh unpacks it).
xz -T0 -6 -k -f dist/saelab-cuda
mib() { echo $(($(stat -c %s "$1") / 1024 / 1024)); }
echo "build-cuda: dist/saelab-cuda, $(mib dist/saelab-cuda) MiB ($(mib dist/saelab-cuda.xz) MiB as .xz), CUDA $SAELAB_CUDA, compute capability $CUDA_COMPUTE_CAP" >&2
