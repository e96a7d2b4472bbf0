"""Password hashing with argon2id at OWASP's parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from parlour.errors import InvalidInput

# OWASP: argon2id with 19 MiB of memory, 2 iterations, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 12
# Refused before hashing, so a megabyte-long password costs nothing; the sign-in form refuses longer ones too.
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            f"A password has {MIN_LENGTH} to {MAX_LENGTH} characters; this one has {len(password)}.",
            field="password",
        )
    return HASHER.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
