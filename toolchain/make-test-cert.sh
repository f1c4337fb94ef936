#!/bin/sh
# SPDX-License-Identifier: MIT
# Make the self-signed test code-signing certificate once: RSA 3072, SHA-256, codeSigning,
# valid from two days ago (a VM whose clock is behind the build host must not see a
# certificate from the future) for ten years.
# Usage: make-test-cert.sh DIR [NAME]   (writes NAME-test.key, .crt (PEM) and .cer (DER, for
# Windows); NAME defaults to sanctum)
set -eu
dir=${1:?usage: make-test-cert.sh DIR [NAME]}
mkdir -p "$dir"
name=${2:-sanctum}
key=$dir/$name-test.key crt=$dir/$name-test.crt cer=$dir/$name-test.cer
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `openssl req -x509` cannot backdate; `openssl ca -selfsign` can, with a throwaway CA database.
: >"$work/index.txt"
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/index.txt
new_certs_dir = $work
default_md = sha256
rand_serial = yes
policy = names
unique_subject = no
email_in_dn = no
x509_extensions = extensions
[names]
commonName = supplied
organizationName = supplied
[extensions]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
CNF
openssl req -new -newkey rsa:3072 -nodes -sha256 \
    -subj "/CN=$name test signing/O=$name test certificate (do not trust outside a test VM)" \
    -keyout "$work/key" -out "$work/csr" 2>/dev/null
openssl ca -batch -config "$work/ca.cnf" -selfsign -keyfile "$work/key" -in "$work/csr" \
    -notext -out "$work/crt" \
    -startdate "$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d '10 years' +%Y%m%d%H%M%SZ)" 2>"$work/log" ||
    { cat "$work/log" >&2; exit 1; }
chmod 644 "$work/crt"
openssl x509 -in "$work/crt" -outform DER -out "$cer"
mv "$work/key" "$key"
mv "$work/crt" "$crt"
