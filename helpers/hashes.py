"""A published MD5 collision: two different byte strings with the same MD5 digest.

Step 07 uses it to show that MD5 is broken as a cryptographic hash. The pair is the
first MD5 collision, found by Xiaoyun Wang and Hongbo Yu ("How to Break MD5 and Other
Hash Functions", Eurocrypt 2005; announced at CRYPTO 2004), in the 128-byte form that
Peter Selinger's "MD5 Collision Demo" (https://www.mscs.dal.ca/~selinger/md5collision/)
and many write-ups since reproduce. Both blocks are 128 bytes (two MD5 input blocks),
differ in six bytes (each by its top bit, 0x80), and share the digest
``79054025255fb1a26e4bc422aef54eb4``; SHA-256 tells them apart.

``tests/test_hashes.py`` checks all of that with :mod:`hashlib`, so the constant cannot
silently drift from a real collision.
"""

from __future__ import annotations

__all__ = ["MD5_COLLISION", "MD5_COLLISION_DIGEST", "differing_positions"]

#: Wang and Yu's colliding pair (hex copied from Selinger's demo page), as bytes.
MD5_COLLISION: tuple[bytes, bytes] = (
    bytes.fromhex(
        "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89"
        "55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b"
        "d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0"
        "e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70"
    ),
    bytes.fromhex(
        "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89"
        "55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b"
        "d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0"
        "e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70"
    ),
)

#: The MD5 digest both halves of :data:`MD5_COLLISION` share.
MD5_COLLISION_DIGEST = "79054025255fb1a26e4bc422aef54eb4"


def differing_positions(first: bytes, second: bytes) -> list[int]:
    """Return the byte offsets at which two equal-length byte strings differ."""
    if len(first) != len(second):
        raise ValueError(f"lengths differ: {len(first)} and {len(second)}")
    return [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
