#!/usr/bin/env bash
# The CUDA build, checked on a machine without a GPU or a CUDA install: installs nvcc and the
# CUDA headers from the registry's wheels into a cache folder (tools/cuda-env.sh), then runs
# `cargo check --features cuda --all-targets`, which compiles candle's kernels with nvcc and
# type-checks every CUDA path of ours. `.ci/run` calls it, so a change that breaks the GPU
# build does not land. About 11 minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/cuda-env.sh
. tools/cuda-env.sh
cuda_wheels nvidia-cuda-nvcc nvidia-cuda-crt nvidia-nvvm nvidia-cuda-runtime nvidia-cuda-cccl
# Its own target folder: the CUDA feature rebuilds candle, which would otherwise churn the
# CPU build's artefacts that the tests use.
export CARGO_TARGET_DIR=${SAELAB_CUDA_TARGET:-target/cuda}
cargo check --locked --features cuda --all-targets
