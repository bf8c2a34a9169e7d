"""`auralink.deferred_imports`: a deferred module is the same module, run at its first use; PyJWT's
`cryptography.x509` runs only where an HMAC key is checked. Each probe is a fresh interpreter, as a
cold container is (the test process has imported everything already)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.infra.template_support import ROOT
from tests.infra.test_cold_start_imports import IMPORT_ENVIRONMENT

_RAN = """
import importlib.util, sys
def ran(name):
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, importlib.util._LazyModule)
"""


def _probe(code: str) -> None:
    environment = {**os.environ, **IMPORT_ENVIRONMENT}
    result = subprocess.run(
        [sys.executable, "-c", _RAN + code],
        check=False,
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_a_deferred_module_runs_at_its_first_attribute_read_and_is_the_same_module():
    _probe("""
from auralink import deferred_imports
deferred_imports.defer("csv")
import csv
assert "csv" in sys.modules and not ran("csv")
from csv import reader
assert ran("csv") and sys.modules["csv"] is csv
assert list(reader(["a,b"])) == [["a", "b"]]
""")


def test_a_module_imported_before_it_is_deferred_stays_as_it_was():
    _probe("""
import csv
from auralink import deferred_imports
deferred_imports.defer("csv")
import csv as again
assert again is csv and ran("csv")
""")


def test_the_jwt_library_verifies_asymmetric_tokens_without_running_x509():
    _probe("""
import auralink.auth, jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
assert not ran("cryptography.x509")
for private_key, algorithm in (
    (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
    (ec.generate_private_key(ec.SECP256R1()), "ES256"),
):
    token = jwt.encode({"sub": "alice"}, private_key, algorithm=algorithm, headers={"kid": "k1"})
    jwk = jwt.PyJWK(jwt.get_algorithm_by_name(algorithm).to_jwk(private_key.public_key(), as_dict=True))
    assert jwt.decode(token, jwk, algorithms=[algorithm]) == {"sub": "alice"}
assert not ran("cryptography.x509")
""")


def test_an_hmac_key_is_still_checked_against_certificates():
    # PyJWT refuses a certificate as an HMAC secret (a public key used as one would let anybody
    # sign): that check is where x509 runs.
    _probe("""
import auralink.auth, certifi, jwt
from pathlib import Path
assert not ran("cryptography.x509")
token = jwt.encode({"sub": "alice"}, "s" * 32, algorithm="HS256")
assert jwt.decode(token, "s" * 32, algorithms=["HS256"]) == {"sub": "alice"}
assert ran("cryptography.x509")

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
end = b"-----END CERTIFICATE-----"
first = Path(certifi.where()).read_bytes().split(end)[0] + end
certificate = x509.load_pem_x509_certificate(first).public_bytes(Encoding.DER)
try:
    jwt.encode({"sub": "alice"}, certificate, algorithm="HS256")
except jwt.InvalidKeyError:
    pass
else:
    raise AssertionError("a DER certificate was taken as an HMAC secret")
""")


def test_a_snapshot_holds_the_jwt_library_with_x509_run():
    # SnapStart: a restored container verifies its first token with nothing left to load.
    _probe("""
import snapshot_restore_py
import auralink.auth
assert "jwt" not in sys.modules
for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
    hook(*args, **kwargs)
assert ran("jwt") and ran("cryptography.x509")
""")
