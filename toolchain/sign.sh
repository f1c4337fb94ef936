#!/bin/sh
# SPDX-License-Identifier: MIT
# Sign a PE file (SHA-256) and verify it; signing is the last step that touches the bytes,
# and osslsigncode also rewrites the PE checksum (lld leaves it 0). No page hashes unless
# --page-hashes: public reports tie Windows' refusals of osslsigncode signatures to them.
# Usage: sign.sh (--cert CRT --key KEY | --pfx PFX) [--page-hashes] --cafile CA IN OUT
#        PFX_PASSWORD_FILE in the environment names a file holding the .pfx password
#        (a file, not an argument, so the password never shows in the process list).
set -eu
cert= key= pfx= ca= page_hashes=
while [ $# -gt 2 ]; do
    case $1 in
    --cert) cert=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --pfx) pfx=$2; shift 2 ;;
    --cafile) ca=$2; shift 2 ;;
    --page-hashes) page_hashes=-ph; shift ;;
    *) echo "sign.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -eq 2 ] && [ -n "$ca" ] || { echo "usage: sign.sh (--cert CRT --key KEY | --pfx PFX) [--page-hashes] --cafile CA IN OUT" >&2; exit 2; }
in=$1 out=$2 tmp=$2.signing log=$2.signing.log
trap 'rm -f "$tmp" "$log"' EXIT

if [ -n "$pfx" ]; then
    set -- -pkcs12 "$pfx" ${PFX_PASSWORD_FILE:+-readpass "$PFX_PASSWORD_FILE"}
else
    set -- -certs "$cert" -key "$key"
fi
rm -f "$tmp"
if ! osslsigncode sign "$@" -h sha256 $page_hashes -n "Sanctum" -in "$in" -out "$tmp" >"$log" 2>&1; then
    echo "sign.sh: signing $in failed:" >&2; cat "$log" >&2; exit 1
fi
if ! osslsigncode verify -CAfile "$ca" -in "$tmp" >"$log" 2>&1 ||
    ! grep -q "Signature verification: ok" "$log"; then
    echo "sign.sh: $out does not verify against $ca:" >&2; cat "$log" >&2; exit 1
fi
mv "$tmp" "$out"
