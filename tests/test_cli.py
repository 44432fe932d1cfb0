"""The badgebridge CLI as a person uses it: real subprocesses, real files, exit codes."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from core.keys import new_key_encryption_key

ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Buurtreporter",
    "description": "Wrote three local news stories.",
    "criteria": {"narrative": "Publish three stories in the neighbourhood paper."},
}


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "BADGEBRIDGE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "BADGEBRIDGE_BASE_URL": "http://badges.test",
        "BADGEBRIDGE_KEY_ENCRYPTION_KEY": new_key_encryption_key(),
    }

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "core.cli", *args],
            env=env,
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            timeout=120,
        )

    return run


def test_issue_verify_bake_extract_revoke(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("issuer", "create", "utrecht", "Utrecht City of Learning").returncode == 0
    (tmp_path / "achievement.json").write_text(json.dumps(ACHIEVEMENT))
    for fmt in ("rdfc", "jcs", "jwt"):
        if fmt == "jwt":
            assert cli("keys", "new", "--issuer", "utrecht", "--algorithm", "ES256").returncode == 0
        out = tmp_path / f"badge-{fmt}.txt"
        issued = cli(
            "issue",
            "--issuer",
            "utrecht",
            "--achievement",
            "achievement.json",
            "--recipient",
            "kim@example.org",
            "--format",
            fmt,
            "--out",
            str(out),
        )
        assert issued.returncode == 0, issued.stderr
        verified = cli("verify", str(out), "--offline", "--recipient", "kim@example.org")
        assert verified.returncode == 0, verified.stdout.decode()
        assert b"VALID" in verified.stdout and b"NOT VALID" not in verified.stdout

    (tmp_path / "plain.png").write_bytes(tiny_png())
    baked = cli(
        "bake", "--image", "plain.png", "--credential", "badge-rdfc.txt", "--out", "baked.png"
    )
    assert baked.returncode == 0, baked.stderr
    report = cli("verify", "baked.png", "--offline", "--json")
    assert report.returncode == 0
    parsed = json.loads(report.stdout)
    assert parsed["valid"] is True and parsed["format"] == "ob3-json"
    assert cli("extract", "baked.png", "--out", "extracted.json").returncode == 0
    assert json.loads((tmp_path / "extracted.json").read_text()) == json.loads(
        (tmp_path / "badge-rdfc.txt").read_text()
    )

    credential_id = json.loads((tmp_path / "badge-rdfc.txt").read_text())["id"]
    assert cli("revoke", credential_id).returncode == 0
    after = cli("verify", "baked.png", "--offline", "--json")
    assert after.returncode == 1
    status = next(c for c in json.loads(after.stdout)["checks"] if c["id"] == "status")
    assert status["status"] == "fail" and "revoked" in status["message"].lower()


def test_exit_codes_for_people(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wrong_recipient_free = cli("verify", "missing-file.json")
    assert wrong_recipient_free.returncode == 2
    assert b"No such file" in wrong_recipient_free.stderr
    assert cli("verify").returncode == 2
    assert cli("frobnicate").returncode == 2

    (tmp_path / "broken.json").write_text('{"@context": [')
    broken = cli("verify", "broken.json", "--offline")
    assert broken.returncode == 1
    assert b"Not valid JSON" in broken.stdout
    assert b"Traceback" not in broken.stderr

    unknown = cli("keys", "list", "--issuer", "nobody")
    assert unknown.returncode == 1 and b"No issuer" in unknown.stderr


def test_keys_rotate_and_list(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("issuer", "create", "rdam", "Rotterdam").returncode == 0
    rotated = cli("keys", "rotate", "--issuer", "rdam")
    assert rotated.returncode == 0 and b"key-2" in rotated.stdout
    listing = cli("keys", "list", "--issuer", "rdam").stdout.decode()
    assert "key-1" in listing and "verifying" in listing
    assert "key-2" in listing and "active" in listing
    kek = cli("keys", "new", "--kek")
    assert kek.returncode == 0 and len(kek.stdout.strip()) == 43


def test_api_client_create(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("issuer", "create", "gouda", "Gouda").returncode == 0
    created = cli(
        "user",
        "create",
        "admin@gouda.example",
        "--name",
        "Admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin=b"a-long-enough-passphrase-9\n",
    )
    assert created.returncode == 0, created.stderr
    client = cli(
        "api-client",
        "create",
        "--issuer",
        "gouda",
        "--owner",
        "admin@gouda.example",
        "--name",
        "School portal",
    )
    assert client.returncode == 0, client.stderr
    assert b"client_id:" in client.stdout and b"client_secret:" in client.stdout
    unknown = cli("api-client", "create", "--issuer", "gouda", "--owner", "x@y.z", "--name", "n")
    assert unknown.returncode == 2 and b"No account" in unknown.stderr
