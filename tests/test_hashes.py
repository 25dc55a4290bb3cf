"""helpers.hashes: the published MD5 collision really collides (step 07 relies on it)."""

from __future__ import annotations

import hashlib

import pytest

from helpers.hashes import MD5_COLLISION, MD5_COLLISION_DIGEST, differing_positions


def test_the_two_inputs_differ_and_have_the_same_length():
    first, second = MD5_COLLISION
    assert first != second
    assert len(first) == len(second) == 128


def test_md5_digests_are_equal():
    # usedforsecurity=False: MD5 is only demonstrated here (and ruff's S324 knows it).
    first, second = (hashlib.md5(data, usedforsecurity=False).hexdigest() for data in MD5_COLLISION)
    assert first == second == MD5_COLLISION_DIGEST


def test_sha256_tells_them_apart():
    first, second = MD5_COLLISION
    assert hashlib.sha256(first).digest() != hashlib.sha256(second).digest()


def test_they_differ_in_six_bytes_each_by_the_top_bit():
    first, second = MD5_COLLISION
    positions = differing_positions(first, second)
    assert positions == [19, 45, 59, 83, 109, 123]
    assert all(first[i] ^ second[i] == 0x80 for i in positions)


def test_differing_positions_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="lengths differ"):
        differing_positions(b"ab", b"abc")
