"""The egk ``allAvailable`` election record (specs/egk-compat.md §2, §6, §9) as library values.

The record follows EG 2.0 plus egk's record dialect (:data:`e2evote.hashing.EGK`), so a real
:class:`~e2evote.protocol.election.ElectionContext` is built from it: the manifest model is filled
from egk's ``manifest.json`` (contest/option indices = egk's ``sequence_order``, option limit 1 as
egk has no such field, contest limit = ``votes_allowed``, contest data of ``votes_allowed + 1``
blocks) and its ``raw`` bytes are the file exactly as stored, which is what H_M hashes.
"""

from __future__ import annotations

import functools
from typing import Any

from egkdata import (
    GROUP,
    Trustee,
    elem,
    encrypted_ballot,
    hb,
    load_record,
    record_bytes,
    record_files,
    scalar,
    schnorr_proof,
    signed_bytes,
)

from e2evote.groups.base import Element, Scalar
from e2evote.hashing import EGK
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import BallotStyle, Contest, Manifest, Option


@functools.cache
def manifest() -> Manifest:
    doc = load_record("manifest.json")
    contests = tuple(
        Contest(
            c["sequence_order"],
            c["object_id"],
            tuple(Option(s["sequence_order"], s["object_id"]) for s in c["ballot_selections"]),
            1,
            c["votes_allowed"],
            c["votes_allowed"] + 1,
            district=c["electoral_district_id"],
        )
        for c in doc["contests"]
    )
    styles = tuple(
        BallotStyle(
            n,
            st["object_id"],
            tuple(c.index for c in contests if c.district in st["geopolitical_unit_ids"]),
        )
        for n, st in enumerate(doc["ballot_styles"], 1)
    )
    cfg = load_record("election_config.json")
    return Manifest(
        doc["election_scope_id"],
        contests,
        styles,
        raw=record_bytes("manifest.json"),
        chaining=bool(cfg["chain_confirmation_codes"]),
        device_info=signed_bytes(cfg["baux0"]),
    )


@functools.cache
def parameters() -> ElectionParameters:
    cfg = load_record("election_config.json")
    return ElectionParameters(
        GROUP,
        manifest(),
        cfg["number_of_guardians"],
        cfg["quorum"],
        version=cfg["config_version"],
        dialect=EGK,
    )


@functools.cache
def guardian_public_keys() -> tuple[GuardianPublicKeys, ...]:
    init = load_record("election_initialized.json")
    return tuple(
        GuardianPublicKeys(
            G["x_coordinate"],
            tuple(elem(p["public_key"]) for p in G["coefficient_proofs"]),
            tuple(schnorr_proof(p) for p in G["coefficient_proofs"]),
        )
        for G in init["guardians"]
    )


@functools.cache
def context() -> ElectionContext:
    return ElectionContext(parameters(), elem(load_record("election_initialized.json")["joint_public_key"]))


@functools.cache
def trustees() -> tuple[Trustee, ...]:
    out = []
    for f in record_files("private_data/trustees/*.json"):
        t = load_record(f)
        out.append(
            Trustee(
                t["x_coordinate"],
                tuple(scalar(a) for a in t["polynomial_coefficients"]),
                scalar(t["key_share"]),
            )
        )
    return tuple(sorted(out, key=lambda t: t.x))


@functools.cache
def joint_secret() -> Scalar:
    """s = Σ_i a_{i,0} from the trustees' private data."""
    s = GROUP.scalar(0)
    for t in trustees():
        s = s + t.coefficients[0]
    return s


BALLOT_FILES = tuple(record_files("encrypted_ballots/*/eballot-*.json"))


def ballot_json(f: str) -> Any:
    return load_record(f)


@functools.cache
def ballot(f: str) -> EncryptedBallot:
    return encrypted_ballot(load_record(f))


def plaintext_json(f: str) -> Any:
    """private_data/input/pballot-<id>.json for encrypted_ballots/<device>/eballot-<id>.json."""
    name = f.rsplit("/", 1)[1].replace("eballot-", "pballot-", 1)
    return load_record(f"private_data/input/{name}")


def plaintext_votes(f: str) -> dict[tuple[str, str], int]:
    pb = plaintext_json(f)
    return {(c["contest_id"], s["selection_id"]): s["vote"] for c in pb["contests"] for s in c["selections"]}


@functools.cache
def encrypted_sn(f: str) -> tuple[Element, Element]:
    e = load_record(f)["encrypted_sn"]
    return elem(e["pad"]), elem(e["data"])


__all__ = [
    "BALLOT_FILES",
    "ballot",
    "ballot_json",
    "context",
    "encrypted_sn",
    "guardian_public_keys",
    "hb",
    "joint_secret",
    "manifest",
    "parameters",
    "plaintext_json",
    "plaintext_votes",
    "trustees",
]
