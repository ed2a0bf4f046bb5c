#!/bin/bash
# On the GPU machine (the device tool): build layerlab with CUDA against Debian 12 -dev packages
# carried in .device/sysroot.tar.xz (that machine has no OpenBLAS / sentencepiece / ICU /
# nlohmann-json / gtest). The tarball is made here from `apt-get download` + `dpkg -x` of
# libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0 nlohmann-json3-dev
# libsentencepiece0 libsentencepiece-dev libprotobuf-lite32 libgtest-dev libicu72 libicu-dev
# pkgconf-bin libpkgconf3 libdnnl2 libdnnl-dev ocl-icd-libopencl1, with static libraries (but
# gtest's), docs, OpenBLAS's liblapack/libblas copies removed, and libicudata.so.72.1 replaced by
# a stub defining only icudt72_dat (the CUDA targets never tokenize; the real one is 30 MB).
# Keep the carried total under the tool's 64 MiB: the tarball is about 16 MB, so carry at most
# two of the three golden folders per call. To build exactly the committed tree (not others'
# uncommitted work in the checkout), carry `git archive HEAD` as .device/src.tar and build there:
#   mkdir -p /tmp/w && tar -C /tmp/w -xf .device/src.tar && ln -sfn $PWD/.device /tmp/w/.device && cd /tmp/w
# Only the CUDA test and benchmark targets (and what EXTRA_TARGETS names) are built; the
# explainer server is configured out (-DLAYERLAB_SERVER=OFF: that machine has no cpp-httplib). Usage, from the repo root: bash bench/cuda/device_build.sh [BUILD_DIR]
set -e
B=${1:-build-gpu}
S=$PWD/.device/sysroot
mkdir -p "$S"
[ -d "$S/usr" ] || tar -C "$S" -xJf .device/sysroot.tar.xz
A=$S/usr/lib/x86_64-linux-gnu
# pkg-config files with the sysroot's paths
mkdir -p "$S/pc"
sed "s#/usr#$S/usr#g" "$A/openblas-openmp/pkgconfig/openblas.pc" > "$S/pc/openblas.pc"
sed "s#^prefix=/usr#prefix=$S/usr#" "$A/pkgconfig/sentencepiece.pc" > "$S/pc/sentencepiece.pc"
sed "s#^prefix = /usr#prefix = $S/usr#" "$A/pkgconfig/icu-uc.pc" > "$S/pc/icu-uc.pc"
export PKG_CONFIG_PATH=$S/pc PKG_CONFIG_LIBDIR=$S/pc
if ! command -v pkg-config >/dev/null; then
  mkdir -p "$S/bin"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$A" "$S/usr/bin/pkgconf" > "$S/bin/pkg-config"
  chmod +x "$S/bin/pkg-config"
  export PATH=$S/bin:$PATH
fi
export LD_LIBRARY_PATH=$A/openblas-openmp:$A:$LD_LIBRARY_PATH
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$S/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLAYERLAB_SHARED_DIR="$PWD/.device/shared" -DLAYERLAB_CUDA=ON -DLAYERLAB_SERVER=OFF >"$B.configure.log" 2>&1 || { tail -40 "$B.configure.log"; exit 1; }
T="--target test_cuda_backend bench_cuda ${EXTRA_TARGETS:-}"
cmake --build "$B" -j16 $T 2>&1 | grep -E "error|FAILED" -A3 | head -60
cmake --build "$B" -j16 $T >/dev/null
echo "export LD_LIBRARY_PATH=$LD_LIBRARY_PATH" > "$B/env.sh"
