#!/usr/bin/env bash
# One prepared run of the whole study on a CUDA machine, with the binary that
# tools/build-cuda.sh made, and no network. Every stage has its own timeout and appends its
# result to the JSON as it finishes, so a run cut short still reports. Exits non-zero when a
# stage fails. With --device cpu it runs anywhere (the tests run it so).
#
#   tools/gpu-smoke.sh [--device cuda|cpu] [--bin PATH] [--out FILE.json] [--work DIR]
#                      [--quick] [--only STAGE,STAGE...]
#
# Stages: libs (CUDA libraries found and linked: stops at once when one is missing), demo,
# sweep (the study's 3-λ sweep), topk (a TopK sweep), agreement (short ReLU and TopK runs on
# the CPU and on the device, f32, their metrics to 1e-4), throughput (training examples/s at batch 4096 in
# f32, tf32 and bf16, ReLU and TopK), zeroshot, latents, steer (a preview), embed (a few
# hundred pictures through a random full-size ViT-B/32), caption (latents labelled by a
# random BLIP of the base model's sizes), kandinsky (the study's triptych from a set's row
# through Kandinsky 2.2's decoder at its real sizes, random weights, 512 px, a few steps),
# ref_sae and ref_sae_4096 (PyTorch's tools/bench/ref_sae.py on the same device at batch 256
# and 4096, when torch is there). --quick uses small sizes and the repo's tiny fixtures.
set -uo pipefail

usage() {
    sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
device=cuda
bin=""
out=gpu-smoke.json
work=""
quick=0
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device=${2:-}; shift 2 ;;
        --bin) bin=${2:-}; shift 2 ;;
        --out) out=${2:-}; shift 2 ;;
        --work) work=${2:-}; shift 2 ;;
        --quick) quick=1; shift ;;
        --only) only=${2:-}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "gpu-smoke: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$device" in cuda|cpu) ;; *) echo "gpu-smoke: --device is cuda or cpu, not '$device'" >&2; usage ;; esac
if [ -z "$bin" ]; then
    for b in "$here/saelab" "$here/../target/release/saelab" "$(command -v saelab || true)"; do
        if [ -n "$b" ] && [ -x "$b" ]; then bin=$b; break; fi
    done
fi
if [ -z "$bin" ] || { [ ! -x "$bin" ] && [[ "$bin" != *.xz ]]; }; then
    echo "gpu-smoke: no saelab binary (pass --bin PATH)" >&2
    exit 2
fi
work=${work:-$(mktemp -d)}
mkdir -p "$work"
# A binary carried compressed (build-cuda.sh's .xz) is unpacked beside the results.
if [[ "$bin" == *.xz ]]; then
    xz -dc "$bin" >"$work/saelab" && chmod +x "$work/saelab" && bin="$work/saelab" || {
        echo "gpu-smoke: could not unpack $bin" >&2
        exit 2
    }
fi
ws="$work/ws"
stages="$work/stages.jsonl"
: >"$stages"

# Sizes: the study's, or small ones for a quick check.
if [ $quick = 1 ]; then
    images=2000 dict=256 epochs=1 pictures=24 agree_images=1000
    big_batch=512 bench_steps=10 side=32 denoise=2
    blip="$here/../fixtures/blip-tiny"
    k_prior="$here/../fixtures/kandinsky-tiny/prior" k_decoder="$here/../fixtures/kandinsky-tiny/decoder"
    k_encoder="$k_prior/image_encoder"
else
    images=31783 dict=4096 epochs=5 pictures=300 agree_images=4000
    big_batch=4096 bench_steps=200 side=512 denoise=4
    blip=random:blip-base
    k_prior=random:kandinsky-2-2 k_decoder=random:kandinsky-2-2 k_encoder=random:kandinsky-2-2
fi

json_escape() {
    # Backslashes, quotes and control characters, for a JSON string.
    printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037' | sed 's/\\/\\\\/g; s/"/\\"/g' |
        awk 'BEGIN { ORS = "\\n" } { print }' | sed 's/\\n$//'
}

write_json() {
    {
        printf '{"device":"%s","binary":"%s","quick":%s,"peak_gpu_mib":%s,"stages":[' \
            "$device" "$(json_escape "$bin")" "$([ $quick = 1 ] && echo true || echo false)" \
            "$(peak_gpu)"
        paste -sd, "$stages"
        printf ']}\n'
    } >"$out.tmp" && mv "$out.tmp" "$out"
}

peak_gpu() {
    if [ -s "$work/gpu-mem.txt" ]; then sort -n "$work/gpu-mem.txt" | tail -n 1; else echo null; fi
}

wanted() {
    [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]
}

failed=0
# stage NAME SECONDS COMMAND...: runs it under a timeout; its stdout's last line, when it is a
# JSON object, is kept as the stage's figures.
stage() {
    local name=$1 limit=$2
    shift 2
    wanted "$name" || return 0
    echo "gpu-smoke: $name…" >&2
    local start end rc figures=null
    start=$(date +%s.%N)
    # Stages are functions of this script: a child bash runs them under the timeout, which
    # signals its whole process group.
    timeout "$limit" bash -c '"$@"' stage "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    end=$(date +%s.%N)
    local last
    last=$(tail -n 1 "$work/$name.out" 2>/dev/null || true)
    if [[ "$last" == \{* || "$last" == \[* ]]; then figures=$last; fi
    local seconds
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ $rc = 0 ]; then
        printf '{"stage":"%s","ok":true,"seconds":%s,"figures":%s}\n' "$name" "$seconds" "$figures" >>"$stages"
    else
        failed=1
        local why
        why=$(tail -n 5 "$work/$name.err")
        [ $rc = 124 ] && why="timed out after ${limit}s. $why"
        printf '{"stage":"%s","ok":false,"seconds":%s,"exit":%d,"error":"%s"}\n' \
            "$name" "$seconds" "$rc" "$(json_escape "$why")" >>"$stages"
        echo "gpu-smoke: $name failed (exit $rc); see $work/$name.err" >&2
    fi
    write_json
    return $rc
}

S() { "$bin" --workspace "$ws" --device "$device" "$@"; }
# A command's --json answer on one line, for the stage's figures.
J() { S --json "$@" | tr -d '\n'; echo; }

# Figures from `metrics --json`: mean training examples/s of the named runs.
speed() {
    S --json metrics "$@" | tr -d ' \n' | grep -o '"examples_per_sec":[0-9.e+-]*' |
        cut -d: -f2 | awk '{ s += $1; n++ } END { printf "{\"examples_per_sec\":%.1f,\"runs\":%d}\n", s / n, n }'
}

# The CUDA libraries candle links: from the toolkit, the driver, or PyTorch's wheels; set in
# this shell, so every stage after inherits the path.
library_path() {
    local dirs=() d
    for d in "${CUDA_HOME:-}/lib64" /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu; do
        [ -d "$d" ] && dirs+=("$d")
    done
    if command -v python3 >/dev/null; then
        while read -r d; do [ -d "$d" ] && dirs+=("$d"); done < <(python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
for r in roots:
    for lib in glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "torch", "lib")):
        print(lib)
PY
        )
    fi
    local joined
    joined=$(IFS=:; echo "${dirs[*]}")
    export LD_LIBRARY_PATH="$joined${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

libs() {
    ldd "$bin" >&2
    if ldd "$bin" | grep -q "not found"; then
        echo "missing: $(ldd "$bin" | grep 'not found' | awk '{ print $1 }' | tr '\n' ' ')" >&2
        return 1
    fi
    printf '{"library_path":"%s"}\n' "$(json_escape "$LD_LIBRARY_PATH")"
}

sweep() {
    S sweep --data demo --lambdas 1e-3,1e-2,3e-2 --dict "$dict" --epochs "$epochs" --prefix study >&2 &&
        speed study-lam1e-3 study-lam1e-2 study-lam3e-2
}

topk() {
    S sweep --data demo --arch topk --k 16,32,64 --dict "$dict" --epochs "$epochs" --prefix tk >&2 &&
        speed tk-topk-k16 tk-topk-k32 tk-topk-k64
}

agreement() {
    local a="$work/agree-cpu" b="$work/agree-dev" args
    args=(demo --images "$agree_images")
    "$bin" --workspace "$a" "${args[@]}" >&2 && "$bin" --workspace "$b" "${args[@]}" >&2 || return 1
    # ReLU, and TopK (on the device: one sort per row and the decode from gathered rows).
    local run arch runs="" line failed=0
    for arch in relu topk; do
        run=agree-$arch
        args=(train --data demo --arch "$arch" --dict 256 --epochs 1 --name "$run")
        if [ "$arch" = topk ]; then args+=(--k 16); else args+=(--lambda 1e-2); fi
        "$bin" --workspace "$a" --device cpu "${args[@]}" >&2 &&
            "$bin" --workspace "$b" --device "$device" "${args[@]}" >&2 || return 1
        # A disagreement is shown with its figures, and the other family is still compared.
        line=$(compare "$a" "$b" "$run") || { echo "disagree: $line" >&2; failed=1; }
        runs+="${runs:+,}$line"
    done
    printf '{%s}\n' "$runs"
    return $failed
}

# One run's final MSE on the CPU (workspace $1) and the device ($2), as "run":{...}; fails
# past a relative difference of 1e-4.
compare() {
    local x y
    x=$("$bin" --workspace "$1" --json metrics "$3" | tr -d ' \n' | grep -o '"mse":[0-9.e+-]*' | cut -d: -f2)
    y=$("$bin" --workspace "$2" --json metrics "$3" | tr -d ' \n' | grep -o '"mse":[0-9.e+-]*' | cut -d: -f2)
    awk -v r="$3" -v x="$x" -v y="$y" 'BEGIN {
        d = (x > y ? x - y : y - x) / (x > 0 ? x : 1)
        printf "\"%s\":{\"cpu_mse\":%s,\"device_mse\":%s,\"relative_difference\":%.3g}", r, x, y, d
        exit (d <= 1e-4 ? 0 : 1) }'
}

# The demo's first pictures as PNG files, once: what embed and kandinsky read.
pictures() {
    local pics="$work/pictures" i
    mkdir -p "$pics"
    for ((i = 0; i < pictures; i++)); do
        [ -s "$pics/p$i.png" ] && continue
        "$bin" --workspace "$ws" image demo "$i" --out "$pics/p$i.png" >/dev/null 2>&1 || return 1
    done
}

embed() {
    pictures || return 1
    local model=random:vit-b32
    [ $quick = 1 ] && model=random:tiny
    S --json embed --model "$model" --dataset "folder:$work/pictures" --name pictures | tr -d '\n '
    echo
}

# Training examples/s at a large batch per precision (f32 alone on the CPU, which has no
# tf32 or bf16 trainer), ReLU and TopK.
throughput() {
    local precisions=(f32) p arch rate figures=""
    [ "$device" = cuda ] && precisions=(f32 tf32 bf16)
    for arch in relu topk; do
        for p in "${precisions[@]}"; do
            rate=$(S --json bench --arch "$arch" --batch "$big_batch" --dict "$dict" --epochs 1000 \
                --steps "$bench_steps" --precision "$p" | tr -d ' \n' |
                grep -o '"train_examples_per_sec":[0-9.e+-]*' | cut -d: -f2) || return 1
            [ -n "$rate" ] || return 1
            figures+="${figures:+,}\"${arch}_$p\":$rate"
        done
    done
    printf '{"batch":%s,"dict":%s,%s}\n' "$big_batch" "$dict" "$figures"
}

# Eight latents of the study's run labelled from their top pictures' captions.
caption() {
    S --json latents study-lam1e-2 --label caption --captioner "$blip" --from 0 --count 8 \
        --captioned 4 --list 8 >"$work/caption.json" || return 1
    local labelled captions
    labelled=$(grep -c '"captions":' "$work/caption.json")
    captions=$(tr -d ' \n' <"$work/caption.json" | grep -o '"captions":\[[^]]*\]' |
        grep -o '","\|\["' | wc -l)
    printf '{"latents_labelled":%s,"captions":%s}\n' "$labelled" "$captions"
}

# The triptych: pictures embedded into the prior's dimensions, an SAE on them, one latent
# steered through the decoder.
kandinsky() {
    pictures || return 1
    S embed --model "$k_encoder" --dataset "folder:$work/pictures" --name kpics >&2 &&
        S train --data kpics --lambda 1e-3 --dict 64 --epochs 1 --batch 8 --name kr >&2 || return 1
    S --json steer kr --image 0 --latent 1 --strength 3 --method add --generate \
        --prior "$k_prior" --decoder "$k_decoder" --steps "$denoise" --size "$side" |
        tr -d '\n '
    echo
}

# ref_sae [BATCH]: PyTorch's reference trainer on the same device.
ref_sae() {
    [ -f "$here/bench/ref_sae.py" ] || { echo "no tools/bench/ref_sae.py beside the script" >&2; return 1; }
    python3 -c "import torch" 2>/dev/null || { echo "no PyTorch here" >&2; return 1; }
    local args=(--device "$device" --threads "$(nproc)" --batch "${1:-256}")
    [ $quick = 1 ] && args+=(--n 2000 --m 256 --epochs 1)
    python3 "$here/bench/ref_sae.py" "${args[@]}" | tail -n 1
}

export bin ws work device quick images dict epochs pictures agree_images here big_batch \
    bench_steps side denoise blip k_prior k_decoder k_encoder
export -f S J speed libs sweep topk agreement compare pictures embed throughput caption kandinsky ref_sae \
    json_escape

if [ "$device" = cuda ] && command -v nvidia-smi >/dev/null; then
    (while true; do
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -n 1 >>"$work/gpu-mem.txt"
        sleep 1
    done) &
    sampler=$!
    trap 'kill $sampler 2>/dev/null' EXIT
fi

write_json
if [ "$device" = cuda ]; then
    library_path
    stage libs 60 libs || { echo "gpu-smoke: a CUDA library is missing; nothing else runs" >&2; exit 1; }
fi
stage demo 120 S demo --images "$images"
stage sweep 300 sweep
stage topk 300 topk
stage agreement 180 agreement
stage throughput 180 throughput
stage zeroshot 120 J zeroshot --task demo100
stage latents 120 S latents study-lam1e-2
stage steer 60 J steer study-lam1e-2 --image 7 --latent 19 --strength 3
stage embed 300 embed
stage caption 180 caption
stage kandinsky 300 kandinsky
if wanted ref_sae; then stage ref_sae 300 ref_sae 256; fi
if wanted ref_sae_4096; then stage ref_sae_4096 300 ref_sae 4096; fi
echo "gpu-smoke: wrote $out" >&2
exit $failed
