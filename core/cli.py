"""The ``badgebridge`` command: one CLI with subcommands over the badge core.

Exit codes: 0 success (for ``verify``: the badge is valid), 1 the badge is not valid or the
operation was refused, 2 usage errors (wrong arguments, unreadable files).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from core.config import Settings
from core.errors import BadgeBridgeError
from core.report import CheckStatus, VerificationReport

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_MARK = {
    CheckStatus.PASS: "PASS",
    CheckStatus.FAIL: "FAIL",
    CheckStatus.SKIP: "skip",
    CheckStatus.WARN: "WARN",
}


class UsageError(Exception):
    """Bad arguments or unreadable input files: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _service(args: argparse.Namespace, *, online: bool = False, create_kek: bool = False) -> Any:
    from core.service import BadgeService

    settings = Settings.from_env()
    fetcher = None
    if online:
        from core.guarded_http import GuardedHttpClient

        fetcher = GuardedHttpClient(settings)
    service = BadgeService(settings, fetcher=fetcher, create_kek=create_kek)
    service.upgrade()
    return service


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"No such file: {path}")
    from core.limits import MAX_IMAGE_BYTES

    if file.stat().st_size > MAX_IMAGE_BYTES:
        raise UsageError(f"{path} is too large (limit {MAX_IMAGE_BYTES:,} bytes).")
    return file.read_bytes()


def print_report(report: VerificationReport, out: TextIO) -> None:
    """The report for people: one line per check, then the verdict."""
    credential = report.credential or {}
    name = credential.get("name") if isinstance(credential, dict) else None
    if name:
        out.write(f"Badge: {name}\n")
    out.write(f"Format: {report.format}\n\n")
    for check in report.checks:
        out.write(f"  [{_MARK[check.status]}] {check.title}: {check.message}\n")
    verdict = "VALID" if report.valid else "NOT VALID"
    out.write(f"\n{verdict}\n")


# -- subcommands -------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    _service(args)
    print("Database is up to date.")
    return EXIT_OK


def cmd_issuer_create(args: argparse.Namespace) -> int:
    service = _service(args, create_kek=True)
    issuer = service.create_issuer(
        args.slug,
        args.name,
        url=args.url,
        email=args.email,
        description=args.description,
        proof_format=args.format,
    )
    print(f"Created issuer {issuer.name}: {issuer.profile_id}")
    return EXIT_OK


def cmd_issuer_list(args: argparse.Namespace) -> int:
    for issuer in _service(args).list_issuers():
        print(f"{issuer.slug:20} {issuer.name:40} {issuer.proof_format:5} {issuer.profile_id}")
    return EXIT_OK


def _print_key(key: Any) -> None:
    retired = f" retired {key.retired_at:%Y-%m-%d}" if key.retired_at else ""
    print(
        f"{key.key_id:8} {key.algorithm:8} {key.state:10} created {key.created_at:%Y-%m-%d}"
        f"{retired}  {key.verification_method}"
    )


def cmd_keys_new(args: argparse.Namespace) -> int:
    if args.kek:
        from core.keys import new_key_encryption_key

        print(new_key_encryption_key())
        print("Store this as BADGEBRIDGE_KEY_ENCRYPTION_KEY in your secret store.", file=sys.stderr)
        return EXIT_OK
    if not args.issuer:
        raise UsageError("keys new needs --issuer SLUG (or --kek for a key-encryption key).")
    _print_key(_service(args, create_kek=True).new_key(args.issuer, args.algorithm))
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    for key in _service(args).list_keys(args.issuer):
        _print_key(key)
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    key = _service(args).rotate_key(args.issuer, args.algorithm)
    print("New signing key (older keys keep verifying until retired):")
    _print_key(key)
    return EXIT_OK


def cmd_keys_retire(args: argparse.Namespace) -> int:
    _print_key(_service(args).retire_key(args.issuer, args.key_id))
    return EXIT_OK


def cmd_issue(args: argparse.Namespace) -> int:
    from core.json_input import parse_json_object

    achievement = parse_json_object(_read_input(args.achievement))
    issued = _service(args).issue(
        args.issuer, achievement, args.recipient, proof_format=args.format
    )
    _write_output(args.out, issued.text.encode("utf-8") + b"\n")
    print(f"Issued {issued.credential_id} ({issued.proof_format})", file=sys.stderr)
    return EXIT_OK


def _write_output(path: str | None, data: bytes) -> None:
    if path in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(path).write_bytes(data)


def cmd_verify(args: argparse.Namespace) -> int:
    source = args.source
    is_url = source.startswith(("https://", "http://"))
    data: bytes | str = source if is_url else _read_input(source)
    service = _service(args, online=not args.offline)
    report = service.verify(data, recipient=args.recipient)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_report(report, sys.stdout)
    return EXIT_OK if report.valid else EXIT_INVALID


def cmd_bake(args: argparse.Namespace) -> int:
    from core.baking import KEYWORD_OB2, KEYWORD_OB3, bake_badge

    image = _read_input(args.image)
    payload = _read_input(args.credential).decode("utf-8").strip()
    keyword = KEYWORD_OB2 if args.ob2 else KEYWORD_OB3
    _write_output(args.out, bake_badge(image, payload, keyword))
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from core.baking import extract_badge

    extracted = extract_badge(_read_input(args.image))
    _write_output(args.out, extracted.payload.encode("utf-8") + b"\n")
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    if args.reason is not None and (args.suspend or args.unsuspend):
        raise UsageError("--reason goes with a revocation, not a suspension.")
    service = _service(args)
    if args.unsuspend:
        service.set_status(args.credential_id, "suspension", False)
        print(f"Suspension lifted: {args.credential_id}")
    elif args.suspend:
        service.set_status(args.credential_id, "suspension", True)
        print(f"Suspended: {args.credential_id}")
    else:
        # The one revocation path: it also ends the award's active slot, clears LMS grades
        # and queues the learner's notification and the status list's publication.
        service.awarding.revoke(args.credential_id, args.reason or "")
        print(f"Revoked: {args.credential_id}")
    return EXIT_OK


def _read_new_password(args: argparse.Namespace) -> str:
    """The password from standard input (``--password-stdin``), else typed twice, unechoed."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Password again: ") != first:
        raise UsageError("The two passwords differ.")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    service = _service(args)
    user = service.accounts.create_user(
        args.email, args.name, _read_new_password(args), args.role, args.issuer
    )
    if user.role == "learner":
        scope = "logs in to their badges"
    else:
        scope = "every issuer" if user.issuer_slug is None else user.issuer_slug
    print(f"Created {user.role} {user.email} ({scope}).")
    return EXIT_OK


def cmd_user_password(args: argparse.Namespace) -> int:
    service = _service(args)
    user = service.accounts.set_password(args.email, _read_new_password(args))
    print(f"New password set for {user.email}.")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import DEMO_PASSWORD_FILE, seed_demo

    service = _service(args, create_kek=True)
    created = seed_demo(service, only_if_empty=args.if_empty)
    print("Demo data created." if created else "Demo data already present.")
    accounts = service.settings.data_dir / DEMO_PASSWORD_FILE
    if accounts.exists():
        print(f"Demo log-ins ({accounts}):")
        print(accounts.read_text())
    return EXIT_OK


def cmd_api_client_create(args: argparse.Namespace) -> int:
    service = _service(args)
    owner = service.accounts.find_user(args.owner)
    if owner is None:
        raise UsageError(f"No account {args.owner}: create it with `badgebridge user create`.")
    # The OAuth client store lives with the API in the web shell; named here, lazily.
    api = importlib.import_module("lti_tool.api")
    client = api.register_issuing_client(
        service, args.issuer, owner_user_id=owner.id, name=args.name
    )
    print(f"client_id:     {client.client_id}")
    print(f"client_secret: {client.client_secret}")
    print(
        "Shown once: only a digest of the secret is kept. The client gets tokens with the "
        "client credentials grant at /oauth/token (scope: issue) and calls "
        "POST /credentials/issue.",
        file=sys.stderr,
    )
    return EXIT_OK


def _print_platform(platform: Any) -> None:
    state = "active" if platform.active else "off"
    deployments = ",".join(platform.deployment_ids) or "-"
    print(
        f"{platform.public_id}  {platform.issuer}  client {platform.client_id}  "
        f"deployments {deployments}  {platform.registered_via}  {state}  {platform.name}"
    )


def cmd_lti_register(args: argparse.Namespace) -> int:
    service = _service(args, create_kek=True)
    key_set = None
    if args.key_file:
        key_set = _read_input(args.key_file).decode("utf-8", errors="replace")
    platform = service.lti.register_platform(
        issuer=args.issuer,
        client_id=args.client_id,
        auth_login_url=args.login_url,
        auth_token_url=args.token_url,
        key_set_url=args.jwks_url,
        key_set=key_set,
        auth_audience=args.token_audience,
        deployment_ids=args.deployment or [],
        name=args.name,
        email_trusted=args.email_trusted,
    )
    print("Registered:")
    _print_platform(platform)
    base = service.settings.base_url
    print(
        f"Give the platform: login {base}/lti/login, redirect/launch {base}/lti/launch, "
        f"keys {base}/lti/jwks.json",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_lti_list(args: argparse.Namespace) -> int:
    for platform in _service(args).lti.list_platforms():
        _print_platform(platform)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    # The web shell lives in lti_tool; core only names it here, the composition root.
    app_module = importlib.import_module("lti_tool.app")
    app = app_module.create_app()
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    import os
    import signal
    import threading

    from core import workers

    service = _service(args)
    workers.load_handler_modules(service, args.handlers or [])
    if args.lease_seconds is not None:
        service.outbox.lease_seconds = args.lease_seconds
    if args.rq:
        redis_url = (
            args.redis_url
            or os.environ.get(workers.REDIS_URL_ENV, "").strip()
            or "redis://127.0.0.1:6379/0"
        )
        queue = args.queue or os.environ.get(workers.RQ_QUEUE_ENV, "").strip()
        workers.run_rq_worker(
            service, redis_url, queue or workers.DEFAULT_RQ_QUEUE, burst=args.once
        )
        return EXIT_OK
    worker_id = workers.default_worker_id()
    stop = threading.Event()
    if not args.once:
        # Finish the job in hand on SIGTERM/SIGINT; a job cut off is redelivered anyway.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(f"Outbox worker {worker_id} delivering {', '.join(service.outbox.kinds)}.")
    delivered = workers.run_worker(
        service,
        once=args.once,
        worker_id=worker_id,
        batch=args.batch,
        poll_seconds=args.poll_seconds,
        stop=stop,
    )
    print(f"Delivered {delivered} outbox job(s).")
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used for ``--help`` docs)."""
    parser = _Parser(prog="badgebridge", description="Open Badges for Cities of Learning.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)

    issuer = sub.add_parser("issuer", help="create and list issuers")
    issuer_sub = issuer.add_subparsers(dest="action", required=True, parser_class=_Parser)
    create = issuer_sub.add_parser("create", help="create an issuer with an Ed25519 key")
    create.add_argument("slug")
    create.add_argument("name")
    create.add_argument("--url")
    create.add_argument("--email")
    create.add_argument("--description")
    create.add_argument("--format", choices=["rdfc", "jcs", "jwt"], default="rdfc")
    create.set_defaults(func=cmd_issuer_create)
    issuer_sub.add_parser("list", help="list issuers").set_defaults(func=cmd_issuer_list)

    keys = sub.add_parser("keys", help="issuer signing keys")
    keys_sub = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    new = keys_sub.add_parser("new", help="add a key (or print a new key-encryption key)")
    new.add_argument("--issuer")
    new.add_argument("--algorithm", choices=["Ed25519", "RS256", "ES256"], default="Ed25519")
    new.add_argument("--kek", action="store_true", help="print a new key-encryption key")
    new.set_defaults(func=cmd_keys_new)
    listing = keys_sub.add_parser("list", help="list an issuer's keys")
    listing.add_argument("--issuer", required=True)
    listing.set_defaults(func=cmd_keys_list)
    rotate = keys_sub.add_parser("rotate", help="a new key signs; old keys keep verifying")
    rotate.add_argument("--issuer", required=True)
    rotate.add_argument("--algorithm", choices=["Ed25519", "RS256", "ES256"], default="Ed25519")
    rotate.set_defaults(func=cmd_keys_rotate)
    retire = keys_sub.add_parser("retire", help="stop publishing an old key")
    retire.add_argument("--issuer", required=True)
    retire.add_argument("key_id")
    retire.set_defaults(func=cmd_keys_retire)

    issue = sub.add_parser("issue", help="sign a credential for a recipient")
    issue.add_argument("--issuer", required=True)
    issue.add_argument("--achievement", required=True, help="achievement JSON file, or -")
    issue.add_argument("--recipient", required=True, help="recipient email address")
    issue.add_argument("--format", choices=["rdfc", "jcs", "jwt"])
    issue.add_argument("--out", help="output file (default: standard output)")
    issue.set_defaults(func=cmd_issue)

    verify = sub.add_parser("verify", help="verify a badge: JSON, JWT, PNG, SVG file or URL")
    verify.add_argument("source", help="file, URL, or - for standard input")
    verify.add_argument("--json", action="store_true", help="machine-readable report")
    verify.add_argument("--recipient", help="check the badge was awarded to this email")
    verify.add_argument("--offline", action="store_true", help="never fetch over the network")
    verify.set_defaults(func=cmd_verify)

    bake = sub.add_parser("bake", help="bake a credential into a PNG or SVG image")
    bake.add_argument("--image", required=True)
    bake.add_argument("--credential", required=True)
    bake.add_argument("--out", required=True)
    bake.add_argument("--ob2", action="store_true", help="bake as an Open Badges 2.0 assertion")
    bake.set_defaults(func=cmd_bake)

    extract = sub.add_parser("extract", help="extract the credential from a baked image")
    extract.add_argument("image")
    extract.add_argument("--out")
    extract.set_defaults(func=cmd_extract)

    revoke = sub.add_parser("revoke", help="revoke or suspend an issued credential")
    revoke.add_argument("credential_id")
    group = revoke.add_mutually_exclusive_group()
    group.add_argument("--suspend", action="store_true")
    group.add_argument("--unsuspend", action="store_true")
    revoke.add_argument("--reason", help="why it is revoked (told to the learner)")
    revoke.set_defaults(func=cmd_revoke)

    user = sub.add_parser("user", help="accounts of administrators, organisers and reviewers")
    user_sub = user.add_subparsers(dest="action", required=True, parser_class=_Parser)
    user_create = user_sub.add_parser("create", help="create an account with a password")
    user_create.add_argument("email")
    user_create.add_argument("--name", required=True)
    user_create.add_argument(
        "--role", choices=["admin", "organiser", "reviewer", "learner"], required=True
    )
    user_create.add_argument("--issuer", help="the issuer an organiser or reviewer acts for")
    user_create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_create.set_defaults(func=cmd_user_create)
    user_password = user_sub.add_parser("password", help="set a new password")
    user_password.add_argument("email")
    user_password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_password.set_defaults(func=cmd_user_password)

    demo = sub.add_parser("demo", help="create demo issuers and badges")
    demo.add_argument("--if-empty", action="store_true", help="only when there are no issuers")
    demo.set_defaults(func=cmd_demo)

    api_client = sub.add_parser("api-client", help="VC-API issuing clients")
    api_client_sub = api_client.add_subparsers(dest="action", required=True, parser_class=_Parser)
    client_create = api_client_sub.add_parser(
        "create", help="register a client that issues for one issuer (client credentials)"
    )
    client_create.add_argument("--issuer", required=True)
    client_create.add_argument("--owner", required=True, help="email of the responsible admin")
    client_create.add_argument("--name", required=True)
    client_create.set_defaults(func=cmd_api_client_create)

    lti = sub.add_parser("lti", help="LTI 1.3 platforms (Moodle, Canvas, ...)")
    lti_sub = lti.add_subparsers(dest="action", required=True, parser_class=_Parser)
    lti_register = lti_sub.add_parser("register", help="register a platform by hand")
    lti_register.add_argument("--issuer", required=True, help="the platform's issuer (iss)")
    lti_register.add_argument("--client-id", required=True, help="our client id there")
    lti_register.add_argument("--login-url", required=True, help="OIDC authentication URL")
    lti_register.add_argument("--token-url", required=True, help="OAuth 2 access token URL")
    keys_group = lti_register.add_mutually_exclusive_group(required=True)
    keys_group.add_argument("--jwks-url", help="the platform's key set URL")
    keys_group.add_argument("--key-file", help="a PEM public key, JWK or JWKS file (or -)")
    lti_register.add_argument("--token-audience", help="aud of token requests, if not the URL")
    lti_register.add_argument(
        "--deployment", action="append", metavar="ID", help="a deployment id (repeatable)"
    )
    lti_register.add_argument("--name", help="how the platform is shown")
    lti_register.add_argument(
        "--email-trusted",
        action="store_true",
        help="the platform verifies its users' email addresses",
    )
    lti_register.set_defaults(func=cmd_lti_register)
    lti_sub.add_parser("list", help="list registered platforms").set_defaults(func=cmd_lti_list)

    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="deliver outbox jobs (follow-ups of awards)")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.add_argument("--rq", action="store_true", help="run an RQ worker (Redis)")
    worker.add_argument("--redis-url", help="default: $BADGEBRIDGE_REDIS_URL or local Redis")
    worker.add_argument("--queue", help="RQ queue name (default: badgebridge-outbox)")
    worker.add_argument("--batch", type=int, default=20, help="jobs claimed per pass")
    worker.add_argument("--poll-seconds", type=float, default=5.0, help="sleep when idle")
    worker.add_argument("--lease-seconds", type=float, help="how long a claimed job is held")
    worker.add_argument(
        "--handlers",
        action="append",
        metavar="MODULE",
        help="a module whose register_outbox_handlers(outbox) adds job kinds (repeatable)",
    )
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        print(f"badgebridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BadgeBridgeError as exc:
        print(f"badgebridge: {exc.message}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
