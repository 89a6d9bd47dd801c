# shellcheck shell=bash
# tests/helpers/tls_certs.sh: sourced by the TLS tests after lib.sh. tls_certs DIR
# makes, with the openssl CLI: a CA (ca.pem) and a second, unrelated one
# (other-ca.pem); server.pem/server.key for localhost and 127.0.0.1 signed by the
# CA; expired.pem (same key, valid in the past only); client.pem/client.key for
# client authentication. tls_serial HOST:PORT prints the serial of the certificate
# a server presents (to see which one a new connection gets).

_tls_ext() { # FILE SAN
	printf 'basicConstraints=CA:FALSE\nsubjectAltName=%s\n' "$2" >"$1"
}

tls_certs() {
	local d=$1
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
			-subj "/CN=sluice test CA" 2>/dev/null || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem \
			-days 30 -subj "/CN=another CA" 2>/dev/null || exit 1
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
			-subj "/CN=localhost" 2>/dev/null || exit 1
		_tls_ext server.ext "DNS:localhost,IP:127.0.0.1"
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1001 \
			-days 30 -extfile server.ext -out server.pem 2>/dev/null || exit 1
		# Expired: valid in 2020 only (x509 -req cannot date a certificate in the
		# past; openssl ca can, with a throwaway database).
		mkdir -p cadb && : >cadb/index.txt && echo 1002 >cadb/serial
		printf '%s\n' '[ca]' 'default_ca = d' '[d]' 'database = cadb/index.txt' \
			'new_certs_dir = cadb' 'serial = cadb/serial' 'default_md = sha256' \
			'policy = p' 'unique_subject = no' '[p]' 'commonName = supplied' >ca.cnf
		openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in server.csr \
			-startdate 20200101000000Z -enddate 20200102000000Z -extfile server.ext \
			-notext -out expired.pem 2>/dev/null || exit 1
		openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
			-subj "/CN=sluice test client" 2>/dev/null || exit 1
		_tls_ext client.ext "DNS:client"
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 2001 \
			-days 30 -extfile client.ext -out client.pem 2>/dev/null || exit 1
	) || fail "tls_certs: openssl failed"
}

tls_serial() { # HOST:PORT
	openssl s_client -connect "$1" -showcerts </dev/null 2>/dev/null |
		openssl x509 -noout -serial
}
