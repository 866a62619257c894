"""Signed identity tokens (JWT, with PyJWT): verified at connect, minted for operators.

HS256 with a shared secret (the company's backend signs with it), and/or RS256 / ES256 with a
public key file (the backend keeps the private key). Claims: `sub`, `name`, `role`
("customer" or "agent"), `exp`; customers optionally `queue` and `priority`, agents
`maxCalls`; `aud` / `iss` when the server is configured with them. See docs/deployment.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signaling_server.identity import Identity
from signaling_server.protocol import MAX_NAME_CHARS, Role

LEEWAY = 10.0
"""Seconds of clock skew allowed between the token's issuer and this server."""
MIN_SECRET_BYTES = 32
"""An HS256 secret shorter than its hash (RFC 7518 §3.2) is refused."""
# three base64url segments, the first a JSON object (`{"` encodes as `eyJ`)
JWT_SHAPE = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(Exception):
    """A token that does not verify; the message says why, without the token."""


def looks_like_jwt(token: str) -> bool:
    return JWT_SHAPE.match(token) is not None


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `8h`, `2d` → seconds; raises ValueError."""
    match = DURATION.match(text.strip())
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"{text!r} is not a duration like 3600, 30m, 8h or 2d")
    return float(match[1]) * UNITS[match[2]]


def _algorithm(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise ValueError(f"ES256 needs a P-256 key, not {key.curve.name}")
        return "ES256"
    raise ValueError(f"unsupported key type {type(key).__name__}: use RSA or EC P-256")


def load_public_key(path: Path) -> tuple[str, Any]:
    """(algorithm, key) of a PEM public key file; raises ValueError / OSError."""
    key = serialization.load_pem_public_key(path.read_bytes())
    return _algorithm(key), key


def load_private_key(path: Path) -> tuple[str, Any]:
    """(algorithm, key) of an unencrypted PEM private key file; raises ValueError / OSError."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return _algorithm(key), key


@dataclass(frozen=True)
class TokenKeys:
    """What verifies (or signs) tokens: a shared secret and/or an asymmetric key."""

    secret: str | None = field(default=None, repr=False)
    algorithm: str | None = None
    key: Any = field(default=None, repr=False)
    audience: str | None = None
    issuer: str | None = None

    @property
    def configured(self) -> bool:
        return self.secret is not None or self.key is not None

    def _key_for(self, algorithm: str) -> Any:
        if algorithm == "HS256" and self.secret is not None:
            return self.secret
        if self.key is not None and algorithm == self.algorithm:
            return self.key
        raise TokenError(f"algorithm {algorithm} is not accepted")

    def describe(self) -> str:
        algorithms = ["HS256"] if self.secret is not None else []
        algorithms += [self.algorithm] if self.algorithm else []
        return (
            f"{'/'.join(algorithms)}, audience {self.audience or 'none'}, "
            f"issuer {self.issuer or 'any'}"
        )


def verify(keys: TokenKeys, token: str, role: Role) -> Identity:
    """The identity in `token`, a valid token for `role`; raises `TokenError`."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        claims = jwt.decode(
            token,
            keys._key_for(str(algorithm)),
            algorithms=[str(algorithm)],
            audience=keys.audience,
            issuer=keys.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad signature") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise TokenError("wrong issuer") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("not valid yet") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"missing claim {exc.claim!r}") from None
    except jwt.InvalidTokenError:
        raise TokenError("malformed") from None
    return _identity(claims, role)


def _identity(claims: dict[str, Any], role: Role) -> Identity:
    if claims.get("role") != role:
        raise TokenError(f"not {'an agent' if role is Role.AGENT else 'a customer'} token")
    sub, name = claims["sub"], claims.get("name", claims["sub"])
    queue, priority, max_calls = claims.get("queue"), claims.get("priority"), None
    if not isinstance(sub, str) or not 0 < len(sub) <= 256:
        raise TokenError("sub must be a string of 1-256 characters")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        raise TokenError(f"name must be a string of at most {MAX_NAME_CHARS} characters")
    if queue is not None and not (isinstance(queue, str) and len(queue) <= MAX_NAME_CHARS):
        raise TokenError(f"queue must be a string of at most {MAX_NAME_CHARS} characters")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        raise TokenError("priority must be an integer")
    if role is Role.AGENT:
        max_calls = claims.get("maxCalls")
        if max_calls is not None and (type(max_calls) is not int or not 1 <= max_calls <= 1000):
            raise TokenError("maxCalls must be an integer 1-1000")
        queue = priority = None
    return Identity(sub, name, queue, priority, max_calls)


def mint(
    keys: TokenKeys,
    role: Role,
    sub: str,
    ttl: float,
    *,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """A signed token for `sub` valid `ttl` seconds; with the asymmetric key if there is one."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": sub,
        "name": name or sub,
        "role": str(role),
        "iat": issued,
        "exp": issued + round(ttl),
        **(extra or {}),
    }
    if keys.audience is not None:
        claims["aud"] = keys.audience
    if keys.issuer is not None:
        claims["iss"] = keys.issuer
    if keys.key is not None and keys.algorithm is not None:
        return jwt.encode(claims, keys.key, algorithm=keys.algorithm)
    if keys.secret is None:
        raise TokenError("no secret or private key to sign with")
    return jwt.encode(claims, keys.secret, algorithm="HS256")
