# Sourced by check-cuda.sh and build-cuda.sh: the CUDA compiler, headers and (for linking)
# libraries from the registry's NVIDIA wheels, in a cache folder, so no system CUDA is needed.
#
#   SAELAB_CUDA_CACHE   where the wheels go (default ~/.cache/saelab-cuda)
#   SAELAB_CUDA         the CUDA release the wheels are pinned to (default 13.0: the target
#                       driver's; PTX built by a newer nvcc than the driver is refused)
#   CUDA_COMPUTE_CAP    the GPU's compute capability (default 90, Hopper: H100, H200)
#
# It sets CUDA_WHEELS (the folder), CUDA_ROOT, CUDA_PATH, PATH, CUDARC_CUDA_VERSION (cudarc 0.19 knows CUDA releases by
# name, so the wheels' version is passed explicitly) and CUDA_COMPUTE_CAP.

SAELAB_CUDA_CACHE=${SAELAB_CUDA_CACHE:-$HOME/.cache/saelab-cuda}
SAELAB_CUDA=${SAELAB_CUDA:-13.0}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
# Wheels versioned apart from CUDA, as full pip specs (build-cuda.sh adds cuRAND's).
CUDA_EXTRA_WHEELS=()

# cuda_wheels PACKAGE...: installs the wheels of release $SAELAB_CUDA into the cache, once for
# each set of packages. Each is pinned and no dependency is pulled (pip would otherwise pair
# nvcc 13.0 with the newest crt headers), and all go in one call: pip --target does not merge
# into a folder an earlier call made.
cuda_wheels() {
    local key dir specs=() p
    key=$(echo "$* ${CUDA_EXTRA_WHEELS[*]}" | cksum | cut -d' ' -f1)
    dir="$SAELAB_CUDA_CACHE/$SAELAB_CUDA/$key"
    for p in "$@"; do specs+=("$p==$SAELAB_CUDA.*"); done
    if [ ! -e "$dir/.complete" ]; then
        echo "cuda-env: installing ${specs[*]} into $dir" >&2
        rm -rf "$dir"
        # A distribution's Python may mark itself externally managed; these wheels go into a
        # folder of our own, not into its site-packages.
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$dir" "${specs[@]}" "${CUDA_EXTRA_WHEELS[@]}" >&2
        touch "$dir/.complete"
    fi
    CUDA_WHEELS=$dir
    local nvcc
    nvcc=$(find "$dir/nvidia" -path '*/bin/nvcc' -type f 2>/dev/null | head -n 1)
    if [ -z "$nvcc" ]; then
        echo "cuda-env: no nvcc in $dir (did nvidia-cuda-nvcc install?)" >&2
        return 1
    fi
    CUDA_ROOT=$(dirname "$(dirname "$nvcc")")
    export CUDA_ROOT CUDA_PATH="$CUDA_ROOT" PATH="$CUDA_ROOT/bin:$PATH"
    # "release 13.0, V13.0.88" → 13000
    local release major minor
    release=$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    read -r major minor <<<"$release"
    export CUDARC_CUDA_VERSION=$((major * 1000 + minor * 10))
    echo "cuda-env: nvcc $major.$minor at $CUDA_ROOT, CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION, CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP" >&2
}
