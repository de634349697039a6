#!/bin/sh
# Regenerates the test certificates of the HTTP monitor's tests (our own artefacts, not secrets).
# The leaf is valid for 100 years (GeneralizedTime) and the UTCTime example for 8000 days, so
# the tests never expire; they set `now` themselves to get the "days left" they want.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A private CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" \
  -subj "/CN=Periscope Test CA" -days 36500 -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# The server certificate for 127.0.0.1 / localhost, signed by the CA.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/leaf.key" \
  -subj "/CN=localhost" -out "$tmp/leaf.csr"
cat > "$tmp/leaf.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -in "$tmp/leaf.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAcreateserial \
  -CAserial "$tmp/ca.srl" -days 36500 -extfile "$tmp/leaf.ext" -outform DER -out leaf.der
openssl pkcs8 -topk8 -nocrypt -in "$tmp/leaf.key" -outform DER -out leaf.key.der

# A self-signed certificate valid for 8000 days (ending before 2050), so its dates are UTCTime.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/utc.key" \
  -subj "/CN=utctime.example" -days 8000 -outform DER -out utc.der

# The dates the tests expect (update der.rs's tests after regenerating).
for f in leaf.der utc.der; do
  echo "$f: $(openssl x509 -inform DER -in "$f" -noout -startdate -enddate | tr '\n' ' ')"
done
