#!/usr/bin/env bash
# Run HERE (Debian 12, with apt): prepares .device/ for the GPU machine, whose image has CUDA,
# NCCL and PyTorch but none of Debian's -dev packages. Writes
#   .device/sysroot.tar.xz  the -dev packages layerlab builds against (apt-get download + dpkg -x,
#                           pruned: static libraries but gtest's, docs, OpenBLAS's liblapack/libblas
#                           copies, and ICU's 30 MB data library replaced by a stub: the CUDA
#                           targets never tokenize)
#   .device/httplib.h       cpp-httplib's header (the server is configured, not run, there)
#   .device/src.tar         `git archive HEAD`: the committed tree, not uncommitted work
#   .device/shared/golden/  the golden folders named in $GOLDEN (default: gpt2-tiny llama-tiny)
# The device tool carries at most 64 MiB: carry ".device" (about 60 MB with two golden folders).
# Then, on the device: bash scripts/gpu/device.sh [tests|all|...] (see docs/CUDA.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=.device
mkdir -p "$D"
PKGS="libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0 nlohmann-json3-dev
      libsentencepiece0 libsentencepiece-dev libprotobuf-lite32 libgtest-dev libicu72 libicu-dev
      pkgconf-bin libpkgconf3 libdnnl2 libdnnl-dev ocl-icd-libopencl1 libcli11-dev"
if [ ! -f "$D/sysroot.tar.xz" ]; then
  work=$(mktemp -d)
  (cd "$work" && apt-get download $PKGS >/dev/null)
  mkdir -p "$work/root"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
  A="$work/root/usr/lib/x86_64-linux-gnu"
  find "$work/root" -name '*.a' ! -name 'libgtest*' -delete
  rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/lintian"
  rm -f "$A"/openblas-openmp/liblapack* "$A"/openblas-openmp/libblas*
  # ICU's data library: a stub that defines only the symbol libicuuc links against.
  rm -f "$A"/libicudata.so.72.1
  echo 'const char icudt72_dat[16] = {0};' | gcc -shared -fPIC -x c - -o "$A/libicudata.so.72.1" -Wl,-soname,libicudata.so.72
  tar -C "$work/root" -cJf "$D/sysroot.tar.xz" .
  rm -rf "$work"
fi
cp /usr/include/httplib.h "$D/httplib.h"
git archive HEAD > "$D/src.tar"
rm -rf "$D/shared"
mkdir -p "$D/shared/golden"
for g in ${GOLDEN:-gpt2-tiny llama-tiny}; do cp -r "../shared/golden/$g" "$D/shared/golden/"; done
# The CUDA tests never tokenize: llama-tiny and bert-tiny go without their tokenizer files.
# (gpt2-tiny keeps its own: the CLI smoke test evaluates with it.)
[ -n "${KEEP_TOKENIZERS:-}" ] || rm -f "$D"/shared/golden/llama-tiny/tokenizer.model "$D"/shared/golden/bert-tiny/vocab.txt
cp ../shared/golden/tokenizer_golden.json "$D/shared/golden/" 2>/dev/null || true
# STUDY=1: the first STUDY_ITEMS (default 200) items of each task file, the files' full item
# counts in data/ITEMS.json (bench/study/run.py scales by them), and the Llama 2 tokenizer.
# GRID_MODEL=FILE.gguf (or a folder): a model for the grid sweep of device.sh's study mode.
if [ -n "${STUDY:-}" ]; then
  mkdir -p "$D/shared/data"
  counts="{"
  for f in arc_easy/test.jsonl arc_challenge/test.jsonl hellaswag/validation.jsonl winogrande/validation.jsonl \
           lambada_openai/test.jsonl; do
    t=${f%%/*}
    mkdir -p "$D/shared/data/$t"
    awk -v n="${STUDY_ITEMS:-200}" 'NF && c++ < n' "../shared/data/$f" > "$D/shared/data/$f"
    counts="$counts\"$t\": $(awk 'NF' "../shared/data/$f" | wc -l), "
  done
  echo "${counts%, }}" > "$D/shared/data/ITEMS.json"
  mkdir -p "$D/shared/tokenizers" && cp -r ../shared/tokenizers/llama2 "$D/shared/tokenizers/"
fi
if [ -n "${GRID_MODEL:-}" ]; then
  mkdir -p "$D/shared/models" && cp -r "$GRID_MODEL" "$D/shared/models/"
fi
du -sh "$D" "$D"/*
