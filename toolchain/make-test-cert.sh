#!/bin/sh
# SPDX-License-Identifier: MIT
# Make the self-signed test code-signing certificate once: RSA 3072, SHA-256, codeSigning.
# Usage: make-test-cert.sh DIR [NAME]   (writes NAME-test.key, .crt (PEM) and .cer (DER, for
# Windows); NAME defaults to sanctum)
set -eu
dir=${1:?usage: make-test-cert.sh DIR [NAME]}
mkdir -p "$dir"
name=${2:-sanctum}
key=$dir/$name-test.key crt=$dir/$name-test.crt cer=$dir/$name-test.cer
umask 077
openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -subj "/CN=$name test signing/O=$name test certificate (do not trust outside a test VM)" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=codeSigning" \
    -keyout "$key.tmp" -out "$crt.tmp" 2>/dev/null
chmod 644 "$crt.tmp"
openssl x509 -in "$crt.tmp" -outform DER -out "$cer"
mv "$key.tmp" "$key"
mv "$crt.tmp" "$crt"
