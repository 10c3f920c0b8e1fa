#!/usr/bin/env python3
"""A minimal bearer-token service for docker-registry's `auth: token` mode (the docker
distribution token spec), for tests of the WWW-Authenticate bearer flow on loopback.

usage: tokenserver.py DIR PORT USER PASSWORD
Writes DIR/token-cert.pem (the registry's rootcertbundle), then serves GET /token: with the
right basic credentials it grants the scopes asked for; anonymous or wrong ones get 401.
Requests are appended to DIR/token-requests.log.
"""
import base64, datetime, http.server, json, os, sys, time, urllib.parse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

directory, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swiftlet-test-token-issuer")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
der = cert.public_bytes(serialization.Encoding.DER)
b64url = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def token(scopes):
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        repo, _, actions = rest.rpartition(":")
        access.append({"type": kind, "name": repo, "actions": [a for a in actions.split(",") if a]})
    t = int(time.time())
    header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode()]}
    claims = {"iss": "swiftlet-test-issuer", "sub": user, "aud": "swiftlet-test-registry", "exp": t + 300,
              "nbf": t - 10, "iat": t, "jti": os.urandom(8).hex(), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        ok = self.headers.get("Authorization") == expected
        with open(os.path.join(directory, "token-requests.log"), "a") as log:
            log.write(json.dumps({"path": url.path, "query": query, "authorized": ok}) + "\n")
        if url.path != "/token" or not ok:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"details":"unauthorized"}')
            return
        body = json.dumps({"token": token(query.get("scope", [])), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(os.path.join(directory, "token-cert.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
server.serve_forever()
