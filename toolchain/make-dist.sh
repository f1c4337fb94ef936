#!/bin/sh
# SPDX-License-Identifier: MIT
# Make the VM bundle: the signed binaries, their PDBs, the certificate to trust, INSTALL.txt
# and install.cmd (both with Windows line endings), zipped with fixed timestamps
# (SOURCE_DATE_EPOCH, else the last commit's time).
# Lines of the texts starting "@ARM64@" are for the ARM64 bundle only, "@GCC@" for a bundle of
# the gcc build (DIST_TOOLCHAIN=gcc), "@PDB@" for one of the clang build.
# Usage: [DIST_TOOLCHAIN=gcc] make-dist.sh ZIP DRIVER DISPLAY VERSION ARCH CAFILE FILE...
set -eu
zip=$1 driver=$2 display=$3 version=$4 arch=$5 ca=$6
shift 6
case $arch in
arm64) title="on Arm (ARM64)" only='s/^@ARM64@//' ;;
*) title=$arch only='/^@ARM64@/d' ;;
esac
case ${DIST_TOOLCHAIN:-clang} in
gcc) title="$title (gcc build)" debug='/^@PDB@/d; s/^@GCC@//' ;;
*) debug='/^@GCC@/d; s/^@PDB@//' ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$zip" .zip)
stage=$(dirname "$zip")/$name
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}

rm -rf "$stage" "$zip"
mkdir -p "$stage"
cp "$@" "$stage/"
# The certificate that verifies the signatures, as DER for Windows' certificate stores.
openssl x509 -in "$ca" -outform DER -out "$stage/$driver-test.cer"
for f in INSTALL.txt install.cmd; do
    sed -e "$only" -e "$debug" -e "s/@ARCH@/$title/g" -e "s/@DRIVER@/$driver/g" -e "s/@DISPLAY@/$display/g" \
        -e "s/@VERSION@/$version/g" -e "s/@SYS@/$driver.sys/g" -e "s/@CTL@/${driver}ctl.exe/g" \
        -e 's/$/\r/' \
        "$here/dist/$f" >"$stage/$f"
done
find "$stage" -exec touch -d "@$epoch" {} +
(cd "$(dirname "$stage")" && find "$name" -type f | LC_ALL=C sort | zip -q -X -D "$name.zip" -@)
rm -rf "$stage"
