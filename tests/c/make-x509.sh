#!/bin/sh
# Make a CA, a server directory and a client directory for TLS tests
# with certtool (gnutls-bin): DIR/server (ca-cert.pem, server-cert.pem,
# server-key.pem, names localhost and 127.0.0.1) and DIR/client
# (ca-cert.pem, client-cert.pem, client-key.pem).
set -e
d="$1"
mkdir -p "$d/ca" "$d/server" "$d/client"
key () { certtool --generate-privkey --key-type=rsa --bits=2048 --outfile "$1" 2>/dev/null; }
key "$d/ca/ca-key.pem"
printf 'cn = "test CA"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n' > "$d/ca.tmpl"
certtool --generate-self-signed --load-privkey "$d/ca/ca-key.pem" --template "$d/ca.tmpl" \
  --outfile "$d/ca/ca-cert.pem" 2>/dev/null
issue () {
  certtool --generate-certificate --load-ca-certificate "$d/ca/ca-cert.pem" \
    --load-ca-privkey "$d/ca/ca-key.pem" --load-privkey "$1" --template "$3" \
    --outfile "$2" 2>/dev/null
}
key "$d/server/server-key.pem"
printf 'organization = nbd-rs\ncn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 365\n' > "$d/server.tmpl"
issue "$d/server/server-key.pem" "$d/server/server-cert.pem" "$d/server.tmpl"
key "$d/client/client-key.pem"
printf 'organization = nbd-rs\ncn = client\ntls_www_client\nsigning_key\nencryption_key\nexpiration_days = 365\n' > "$d/client.tmpl"
issue "$d/client/client-key.pem" "$d/client/client-cert.pem" "$d/client.tmpl"
cp "$d/ca/ca-cert.pem" "$d/server/ca-cert.pem"
cp "$d/ca/ca-cert.pem" "$d/client/ca-cert.pem"
