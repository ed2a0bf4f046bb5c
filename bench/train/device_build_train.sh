#!/bin/bash
# On the GPU machine: unpack the committed tree (.device/src-train.tar = git archive HEAD) into
# /tmp/wtrain once and build the CUDA training targets there with bench/cuda/device_build.sh
# (its sysroot recipe) plus EXTRA_TARGETS. Sourced by device_cuda.sh / device_compare.sh; leaves
# the shell in /tmp/wtrain with build-gpu/env.sh sourced. Build output: $OUT/build.log.
W=/tmp/wtrain
R=$PWD
if [ ! -d $W/src ]; then
  mkdir -p $W && tar -C $W -xf .device/src-train.tar && ln -sfn "$R/.device" $W/.device || exit 1
fi
cd $W || exit 1
EXTRA_TARGETS="test_cuda_train layerlab_train" bash bench/cuda/device_build.sh build-gpu >> "$OUT/build.log" 2>&1 \
  || { tail -60 "$OUT/build.log"; exit 1; }
source build-gpu/env.sh
