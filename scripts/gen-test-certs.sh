#!/usr/bin/env bash
# Regenerates the test certificates under tests/data/certs/ with the openssl
# CLI, and records for each one what the CLI itself says about it (SHA-256
# fingerprint, RFC 2253 subject, validity as epoch seconds) in <name>.expect,
# so unit tests compare rw_cert_identity() against an independent derivation.
#
#   ca        test CA (also signs the CRL)
#   client    CN + O + SANs: 2 DNS, 1 URI, 1 email, 1 IP
#   ipsan     CN + IP SANs 192.0.2.10, 2001:db8::7, 198.51.100.255 + 1 DNS
#   cnonly    only a CN, no SAN extension
#   utf8      CN and O with non-ASCII UTF-8
#   expired   valid 2020-01-01 .. 2021-01-01
#   nulsan    a dNSName SAN with an embedded NUL (raw DER extension)
#   revoked   an ordinary client certificate, revoked in crl.pem
#   server    TLS server certificate for registry.example.test (terminate-
#             mode tests); `gen-test-certs.sh server` makes only this one,
#             signed by the existing ca.pem/ca.key, and touches nothing else
#
# Keys are P-256 (small DER for the fuzz corpus). The DER of every
# certificate is also copied into tests/fuzz/corpus/cert/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data/certs

# server NAME: a serverAuth leaf for registry.example.test signed by the CA
# already in $out (openssl x509 -req, so no CA database is needed).
server_cert() {
	local w
	w=$(mktemp -d)
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/server.key" 2>/dev/null
	openssl req -new -key "$out/server.key" -subj "/CN=registry.example.test" -out "$w/server.csr"
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=DNS:registry.example.test,DNS:push.registry.example.test" > "$w/ext"
	openssl x509 -req -in "$w/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
		-set_serial 0x5e7e7 -days 3650 -sha256 -extfile "$w/ext" -out "$out/server.pem" 2>/dev/null
	rm -rf "$w"
}
if [ "${1:-}" = server ]; then
	server_cert
	echo "server certificate written to $out/server.pem"
	exit 0
fi
corpus=tests/fuzz/corpus/cert
mkdir -p "$out" "$corpus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = testca
[ testca ]
dir = $work
database = $work/index.txt
new_certs_dir = $work/newcerts
serial = $work/serial
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 3650
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
countryName = optional
organizationName = optional
commonName = optional
[ ext_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ ext_client_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:ci-bot.example.test, DNS:Build.Example.Test, URI:spiffe://example.test/ci/bot, email:CI-Bot@Example.Test, IP:203.0.113.7
[ ext_ipsan ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = IP:192.0.2.10, IP:2001:db8::7, IP:198.51.100.255, DNS:ip-client.example.test
[ ext_nulsan ]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = clientAuth
# GeneralNames { dNSName "good.example.test\\0.evil.test" } (28 bytes): the
# config syntax cannot express a NUL, so the extension is given as raw DER.
subjectAltName = DER:$(printf 'good.example.test\0.evil.test' | od -An -tx1 | tr -d ' \n' | sed 's/^/301e821c/')
CNF
mkdir -p "$work/newcerts"; : > "$work/index.txt"; echo 1000 > "$work/serial"; echo 01 > "$work/crlnumber"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# CA
key "$work/ca.key"
openssl req -new -x509 -key "$work/ca.key" -subj "/O=Regwall Test/CN=Regwall Test CA" \
	-days 3650 -sha256 -out "$out/ca.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
cp "$work/ca.key" "$out/ca.key"

# leaf NAME SUBJ EXT [startdate enddate]
leaf() {
	local name=$1 subj=$2 ext=$3
	key "$work/$name.key"
	openssl req -new -utf8 -key "$work/$name.key" -subj "$subj" -out "$work/$name.csr"
	local dates=(-days 3650)
	if [ $# -ge 5 ]; then dates=(-startdate "$4" -enddate "$5"); fi
	openssl ca -batch -notext -utf8 -config "$work/ca.cnf" -cert "$out/ca.pem" -keyfile "$work/ca.key" \
		-extensions "$ext" "${dates[@]}" -in "$work/$name.csr" -out "$out/$name.pem" 2>/dev/null
	cp "$work/$name.key" "$out/$name.key"
}
leaf client "/C=DE/O=Example Org/CN=ci-bot" ext_client_san
leaf cnonly "/CN=cn-only-client" ext_client
leaf utf8 "/O=Bücher GmbH/CN=Jürgen Müller 🚀" ext_client
leaf expired "/CN=expired-client" ext_client 20200101000000Z 20210101000000Z
leaf nulsan "/CN=nul-san-client" ext_nulsan
leaf revoked "/CN=revoked-client" ext_client
leaf ipsan "/CN=ip-san-client" ext_ipsan

openssl ca -config "$work/ca.cnf" -cert "$out/ca.pem" -keyfile "$work/ca.key" \
	-revoke "$out/revoked.pem" -crl_reason keyCompromise 2>/dev/null
server_cert
openssl ca -gencrl -config "$work/ca.cnf" -cert "$out/ca.pem" -keyfile "$work/ca.key" \
	-out "$out/crl.pem" 2>/dev/null

epoch() { date -u -d "$(echo "$1" | sed 's/^[^=]*=//')" +%s; }
for n in ca client cnonly utf8 expired nulsan revoked ipsan; do
	openssl x509 -in "$out/$n.pem" -outform DER -out "$out/$n.der"
	cp "$out/$n.der" "$corpus/$n.der"
	fp=$(openssl x509 -in "$out/$n.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
	# RFC 2253 with UTF-8 kept as is (rw_cert does the same; see its header)
	subj=$(openssl x509 -in "$out/$n.pem" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')
	nb=$(epoch "$(openssl x509 -in "$out/$n.pem" -noout -startdate)")
	na=$(epoch "$(openssl x509 -in "$out/$n.pem" -noout -enddate)")
	printf 'sha256=%s\nsubject=%s\nnot_before=%s\nnot_after=%s\n' "$fp" "$subj" "$nb" "$na" > "$out/$n.expect"
	[ "$n" = ipsan ] && openssl x509 -in "$out/$n.pem" -noout -ext subjectAltName | tail -1 |
		tr ',' '\n' | sed -n 's/^ *IP Address:/ip=/p' >>"$out/$n.expect"
done
echo "certificates written to $out"
