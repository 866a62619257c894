"""`signaling-server token`: mint a signed token; and the JWT flags the server shares with it.

    signaling-server token --agent alice --ttl 8h [--max-calls 4]
    signaling-server token --customer cust-42 --name "Ada Lovelace" --ttl 15m [--queue billing]

The secret comes from `--jwt-secret` or `SIGNALING_JWT_SECRET` (or an RS256 / ES256 private
key, `--jwt-private-key`); the token alone is printed on stdout, for scripts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from signaling_server.protocol import MAX_NAME_CHARS, Role
from signaling_server.tokens import (
    MIN_SECRET_BYTES,
    TokenKeys,
    load_private_key,
    load_public_key,
    mint,
    parse_duration,
)


def add_key_flags(parser: argparse.ArgumentParser, *, private: bool) -> None:
    """The JWT flags: the key (public to verify, private to sign), audience and issuer."""
    add = parser.add_argument
    add(
        "--jwt-secret",
        default=os.environ.get("SIGNALING_JWT_SECRET"),
        metavar="SECRET",
        help=f"HS256 secret shared with the token issuer, at least {MIN_SECRET_BYTES} bytes "
        "(env SIGNALING_JWT_SECRET)",
    )
    kind = "private" if private else "public"
    add(
        f"--jwt-{kind}-key",
        dest="jwt_key",
        type=Path,
        default=os.environ.get(f"SIGNALING_JWT_{kind.upper()}_KEY"),
        metavar="FILE",
        help=f"PEM {kind} key, RSA (RS256) or EC P-256 (ES256) "
        f"(env SIGNALING_JWT_{kind.upper()}_KEY)",
    )
    add(
        "--jwt-audience",
        default=os.environ.get("SIGNALING_JWT_AUDIENCE"),
        metavar="AUD",
        help="tokens must carry this `aud` (env SIGNALING_JWT_AUDIENCE; default: tokens "
        "must carry none)",
    )
    add(
        "--jwt-issuer",
        default=os.environ.get("SIGNALING_JWT_ISSUER"),
        metavar="ISS",
        help="tokens must carry this `iss` (env SIGNALING_JWT_ISSUER; default: any)",
    )


def token_keys(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, private: bool
) -> TokenKeys:
    """The keys the JWT flags name; a bad key is a usage error."""
    secret = args.jwt_secret or None
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        parser.error(f"--jwt-secret must be at least {MIN_SECRET_BYTES} bytes")
    algorithm = key = None
    if args.jwt_key:
        path = Path(args.jwt_key)
        load = load_private_key if private else load_public_key
        try:
            algorithm, key = load(path)
        except (OSError, ValueError, TypeError) as exc:
            kind = "private" if private else "public"
            parser.error(f"{path}: not a usable PEM {kind} key: {exc}")
    return TokenKeys(secret, algorithm, key, args.jwt_audience or None, args.jwt_issuer or None)


def parse_args(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="signaling-server token", description="Mint a signed agent or customer token."
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", metavar="SUB", help="an agent token for this identity")
    who.add_argument("--customer", metavar="SUB", help="a customer token for this identity")
    add = parser.add_argument
    add("--name", help=f"display name, at most {MAX_NAME_CHARS} characters (default: SUB)")
    add("--ttl", type=parse_duration, default=parse_duration("8h"),
        help="validity: seconds, or 30m, 8h, 2d (default 8h)")  # fmt: skip
    add("--max-calls", type=int, help="agent tokens: the most calls at once (1-1000)")
    add("--queue", help="customer tokens: the `queue` claim")
    add("--priority", type=int, help="customer tokens: the `priority` claim")
    add_key_flags(parser, private=True)
    return parser, parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """Print one token; usage errors exit 2."""
    parser, args = parse_args(argv)
    keys = token_keys(parser, args, private=True)
    if not keys.configured:
        parser.error("give --jwt-secret (or SIGNALING_JWT_SECRET) or --jwt-private-key")
    name = args.name
    if name is not None and len(name) > MAX_NAME_CHARS:
        parser.error(f"--name is longer than {MAX_NAME_CHARS} characters")
    extra: dict[str, object] = {}
    if args.agent is not None:
        if args.queue is not None or args.priority is not None:
            parser.error("--queue and --priority are for customer tokens")
        if args.max_calls is not None:
            if not 1 <= args.max_calls <= 1000:
                parser.error("--max-calls must be 1-1000")
            extra["maxCalls"] = args.max_calls
        role, sub = Role.AGENT, args.agent
    else:
        if args.max_calls is not None:
            parser.error("--max-calls is for agent tokens")
        extra.update({k: v for k, v in (("queue", args.queue), ("priority", args.priority))
                      if v is not None})  # fmt: skip
        role, sub = Role.CUSTOMER, args.customer
    sys.stdout.write(mint(keys, role, sub, args.ttl, name=name, extra=extra) + "\n")
    return 0
