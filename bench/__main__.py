"""``make bench``: sign/s and verify/s for each proof format on the OB 3.0 implementation guide
credential, with openbadgeslib (a Python peer) measured in the same run.

Each figure is the median of several timed rounds after a warm-up, single-threaded.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

REPO = Path(__file__).resolve().parents[1]
VECTOR = REPO.parent / "shared" / "standards" / "vectors" / "ob3-impl-guide-eddsa-rdfc-2022"
JS_REFERENCE_RDFC = (
    115  # Digital Bazaar eddsa-rdfc-2022, signs/s and verifies/s, this machine class
)
ROUND_SECONDS = 1.0
ROUNDS = 3


def rate(operation: Callable[[], object]) -> float:
    """Operations per second: median of ROUNDS rounds of about ROUND_SECONDS each."""
    for _ in range(20):  # warm-up: caches, lazy imports
        operation()
    results = []
    for _ in range(ROUNDS):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < ROUND_SECONDS:
            operation()
            count += 1
        results.append(count / elapsed)
    return statistics.median(results)


class StaticResolver:
    """The guide credential's issuer publishes its one key (no network in a benchmark)."""

    def __init__(self, keys: dict[str, Any]) -> None:
        from core.key_resolution import ResolvedKey

        self._keys = {
            vm: ResolvedKey(vm, vm.split("#")[0], "Multikey", key, frozenset({"assertionMethod"}))
            for vm, key in keys.items()
        }

    def resolve(self, verification_method: str) -> Any:
        return self._keys[verification_method]


def guide_material() -> tuple[dict[str, Any], ed25519.Ed25519PrivateKey, str]:
    key = json.loads((VECTOR / "key.json").read_text())
    seed = bytes.fromhex(key["privateKeyHex_seed_plus_public"])[:32]
    credential = json.loads((VECTOR / "unsigned-credential.json").read_text())
    return credential, ed25519.Ed25519PrivateKey.from_private_bytes(seed), key["id"]


def ours() -> dict[str, tuple[float, float]]:
    from core.keys import IssuerSigningKey, generate_private_key
    from core.proofs.data_integrity import create_proof, verify_proof
    from core.proofs.vc_jwt import decode_vc_jwt, encode_vc_jwt
    from core.verification import VerificationOptions, verify_credential

    credential, private_key, vm = guide_material()
    results: dict[str, tuple[float, float]] = {}
    eddsa = IssuerSigningKey(private_key, vm)
    for suite in ("eddsa-rdfc-2022", "eddsa-jcs-2022"):
        resolver = StaticResolver({vm: private_key.public_key()})
        signed = create_proof(credential, eddsa, cryptosuite=suite)
        assert verify_proof(signed, resolver).ok
        results[suite] = (
            rate(lambda s=suite: create_proof(credential, eddsa, cryptosuite=s)),  # type: ignore[misc]
            rate(lambda d=signed, r=resolver: verify_proof(d, r)),  # type: ignore[misc]
        )
    for algorithm in ("EdDSA", "RS256", "ES256"):
        private = private_key if algorithm == "EdDSA" else generate_private_key(algorithm)
        signer = IssuerSigningKey(private, vm)
        resolver = StaticResolver({vm: private.public_key()})
        token = encode_vc_jwt(credential, signer)
        assert decode_vc_jwt(token, resolver).ok
        results[f"VC-JWT {algorithm}"] = (
            rate(lambda s=signer: encode_vc_jwt(credential, s)),  # type: ignore[misc]
            rate(lambda t=token, r=resolver: decode_vc_jwt(t, r)),  # type: ignore[misc]
        )
    # The full report: schema, contexts, proof, key, dates, status, recipient.
    resolver = StaticResolver({vm: private_key.public_key()})
    signed_text = json.dumps(create_proof(credential, eddsa))
    options = VerificationOptions(resolver=resolver)  # type: ignore[arg-type]
    assert verify_credential(signed_text, options).valid
    results["full report (rdfc)"] = (0.0, rate(lambda: verify_credential(signed_text, options)))
    return results


def peer() -> dict[str, tuple[float, float]]:
    """openbadgeslib 4.6: OB3LdpSigner/Verifier (eddsa-rdfc-2022) and OB3Signer/Verifier (JWT)."""
    warnings.simplefilter("ignore")
    from openbadgeslib.ob3 import OB3Signer, OB3Verifier, OpenBadgeCredential
    from openbadgeslib.ob3.ldp import OB3LdpSigner, OB3LdpVerifier

    from core.keys import generate_private_key

    credential, private_key, vm = guide_material()
    results: dict[str, tuple[float, float]] = {}

    def pem(key: Any) -> tuple[bytes, bytes]:
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return private_pem, public_pem

    model = OpenBadgeCredential.from_vc_document(copy.deepcopy(credential))
    private_pem, public_pem = pem(private_key)
    ldp_signer = OB3LdpSigner(private_pem, vm)
    signed = ldp_signer.sign(model)
    ldp_verifier = OB3LdpVerifier(pubkey_pem=public_pem)
    ldp_verifier.verify(signed)
    results["eddsa-rdfc-2022"] = (
        rate(lambda: ldp_signer.sign(model)),
        rate(lambda: ldp_verifier.verify(signed)),
    )
    for algorithm in ("EdDSA", "RS256", "ES256"):
        key = private_key if algorithm == "EdDSA" else generate_private_key(algorithm)
        private_pem, public_pem = pem(key)
        signer = OB3Signer(private_pem, algorithm=algorithm)
        token = signer.sign(model)
        verifier = OB3Verifier(public_pem)
        verifier.verify(token)
        results[f"VC-JWT {algorithm}"] = (
            rate(lambda s=signer: s.sign(model)),  # type: ignore[misc]
            rate(lambda v=verifier, t=token: v.verify(t)),  # type: ignore[misc]
        )
    return results


def main() -> int:
    if not VECTOR.is_dir():
        print(f"The OB 3.0 guide vector is missing: {VECTOR}", file=sys.stderr)
        return 2
    print("badgebridge benchmark: OB 3.0 implementation guide credential, one thread")
    print(f"(median of {ROUNDS} rounds of {ROUND_SECONDS:.0f} s after warm-up)\n")
    mine = ours()
    try:
        theirs = peer()
    except Exception as exc:  # the peer is optional for the figures of our own
        print(f"openbadgeslib could not be measured: {exc}\n")
        theirs = {}
    header = f"{'format':22} {'sign/s':>9} {'verify/s':>9} {'peer sign/s':>12} {'peer verify/s':>14} {'sign x':>7} {'verify x':>9}"
    print(header)
    print("-" * len(header))
    for name, (sign, verify) in mine.items():
        peer_sign, peer_verify = theirs.get(name, (0.0, 0.0))
        sign_ratio = f"{sign / peer_sign:.1f}" if peer_sign and sign else "-"
        verify_ratio = f"{verify / peer_verify:.1f}" if peer_verify else "-"
        print(
            f"{name:22} {sign or 0:9.0f} {verify:9.0f} {peer_sign or 0:12.0f} "
            f"{peer_verify or 0:14.0f} {sign_ratio:>7} {verify_ratio:>9}"
        )
    rdfc_sign, rdfc_verify = mine["eddsa-rdfc-2022"]
    print(
        f"\neddsa-rdfc-2022 against the JavaScript reference (~{JS_REFERENCE_RDFC}/s): "
        f"sign {rdfc_sign / JS_REFERENCE_RDFC:.1f}x, verify {rdfc_verify / JS_REFERENCE_RDFC:.1f}x "
        "(target 2x)"
    )
    for name in ("eddsa-jcs-2022", "VC-JWT EdDSA", "VC-JWT RS256", "VC-JWT ES256"):
        sign, verify = mine[name]
        print(
            f"{name} against the JavaScript reference: sign {sign / JS_REFERENCE_RDFC:.0f}x, "
            f"verify {verify / JS_REFERENCE_RDFC:.0f}x (target 10x)"
        )
    from bench.awards import main as awards

    awards()
    from bench.lti_launches import main as lti_launches

    lti_launches()
    return 0


if __name__ == "__main__":
    sys.exit(main())
