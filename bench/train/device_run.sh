#!/bin/bash
# One call on the GPU machine (the device tool): build the layerlab CLI (CPU build) against the
# Debian 12 -dev packages carried in .device/sysroot.tar.xz (made by the CUDA engineer, see
# bench/cuda/device_build.sh), then
#   1. the 50-step preln comparison with PyTorch on the GPU (bench/train/compare_torch.sh);
#   2. the block-type comparison: preln, parallel, sas, sasp trained side by side on that
#      machine's CPU cores (4 threads each, equal tokens), packed into $OUT/blocks.tar.gz.
# Carry: .device/sysroot.tar.xz .device/httplib.h .device/train (tokenizer gpt2/, val.jsonl and
# corpus.jsonl from bench/train/make_python_corpus.py).
#   bash bench/train/device_run.sh [STEPS]
set -o pipefail
OUT=${OUT:-/tmp/out}
STEPS=${1:-60}
mkdir -p "$OUT"
t0=$(date +%s)
S=$PWD/.device/sysroot
mkdir -p "$S"
[ -d "$S/usr" ] || tar -C "$S" -xJf .device/sysroot.tar.xz
A=$S/usr/lib/x86_64-linux-gnu
mkdir -p "$S/pc"
sed "s#/usr#$S/usr#g" "$A/openblas-openmp/pkgconfig/openblas.pc" > "$S/pc/openblas.pc"
sed "s#^prefix=/usr#prefix=$S/usr#" "$A/pkgconfig/sentencepiece.pc" > "$S/pc/sentencepiece.pc"
sed "s#^prefix = /usr#prefix = $S/usr#" "$A/pkgconfig/icu-uc.pc" > "$S/pc/icu-uc.pc"
cp .device/httplib.h "$S/usr/include/httplib.h"
printf 'Name: cpp-httplib\nDescription: header only\nVersion: 0.11.4\nCflags:\nLibs:\n' > "$S/pc/cpp-httplib.pc"
export PKG_CONFIG_PATH=$S/pc PKG_CONFIG_LIBDIR=$S/pc
if ! command -v pkg-config >/dev/null; then
  mkdir -p "$S/bin"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$A" "$S/usr/bin/pkgconf" > "$S/bin/pkg-config"
  chmod +x "$S/bin/pkg-config"
  export PATH=$S/bin:$PATH
fi
export LD_LIBRARY_PATH=$A/openblas-openmp:$A:$LD_LIBRARY_PATH
B=build-train-gpu
cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$S/usr" -DLAYERLAB_CUDA=OFF \
  -DLAYERLAB_SHARED_DIR="$PWD/.device/shared" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
cmake --build $B -j16 --target layerlab >> "$OUT/build.log" 2>&1 || { grep -A5 error "$OUT/build.log" | head -40; exit 1; }
# The full CLI also links the explainer server (cpp-httplib's library is not in the sysroot):
# link a train-only driver instead.
mkdir -p $B/app
g++ -std=c++20 -O3 -march=native -fopenmp -Iinclude -Isrc -Iapp -I"$S/usr/include" \
  -I"$S/usr/include/x86_64-linux-gnu/openblas-openmp" bench/train/train_main.cpp app/cmd_train.cpp app/args.cpp \
  $B/liblayerlab.a $(pkg-config --libs openblas sentencepiece icu-uc) -o $B/app/layerlab >> "$OUT/build.log" 2>&1 \
  || { grep -B2 -A8 error "$OUT/build.log" | head -40; exit 1; }
echo "# build $(( $(date +%s) - t0 ))s; $(nproc) cores; $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))')"

# 1. PyTorch comparison (GPU, fp32, no TF32).
TRAIN_DATA=.device/train/val.jsonl TRAIN_TOKENIZER=.device/train/gpt2 OMP_NUM_THREADS=16 \
  bash bench/train/compare_torch.sh $B/app/layerlab /tmp/torchcmp cuda python3 2>&1 | tee "$OUT/torch_compare.log"
cp /tmp/torchcmp/torch_compare_cuda.json "$OUT/" 2>/dev/null
echo "# torch comparison done at $(( $(date +%s) - t0 ))s"

# 2. Block comparison: same data, seed, steps, batch; 4 runs at once with 4 threads each.
R=/tmp/blocks
mkdir -p $R
for blk in preln parallel sas sasp; do
  OMP_NUM_THREADS=4 timeout 500 $B/app/layerlab train --blocks $blk --layers 6 --width 256 --heads 4 --context 128 \
    --batch 16 --steps $STEPS --lr 2e-3 --eval-every 10 --eval-batches 4 --threads 4 \
    --tokenizer .device/train/gpt2 --data .device/train/corpus.jsonl --val .device/train/val.jsonl \
    --out $R/$blk > $R/$blk.log 2>&1 &
done
wait
tail -n 2 $R/*.log
$B/app/layerlab train --compare $R/preln $R/parallel $R/sas $R/sasp --out $R/compare && cat $R/compare.md
tar -C /tmp -czf "$OUT/blocks.tar.gz" --exclude='model' --exclude='checkpoint' blocks
echo "# total $(( $(date +%s) - t0 ))s"
