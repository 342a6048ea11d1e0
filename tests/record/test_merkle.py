"""Unit and property tests of detente.record.merkle against a naive RFC 9162 reference."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import InputError, VerificationError
from detente.record.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    NodeKey,
    Plan,
    consistency_plan,
    inclusion_plan,
    leaf_hash,
    node_hash,
    root_plan,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- reference
# Written straight from RFC 9162: MTH (§2.1.1), PATH (§2.1.3.1), PROOF and
# SUBPROOF (§2.1.4.1). Deliberately slow and recursive.


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + entries[0])
    k = _split(n)
    return _sha(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return ref_path(m, entries[:k]) + [ref_mth(entries[k:])]
    return ref_path(m - k, entries[k:]) + [ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = _split(n)
    if m <= k:
        return ref_subproof(m, entries[:k], b) + [ref_mth(entries[k:])]
    return ref_subproof(m - k, entries[k:], False) + [ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


# --------------------------------------------------------------------------- fixtures

MAX = 300
ENTRIES = [b"entry %d" % i for i in range(MAX)]

# RFC 6962's reference test data (certificate-transparency), roots at sizes 1..8.
CT_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@cache
def big_tree() -> MerkleTree:
    tree = MerkleTree()
    for entry in ENTRIES:
        tree.append(entry)
    return tree


@cache
def stored_nodes() -> dict[NodeKey, bytes]:
    """Every node a database would hold after the Frontier appended ENTRIES."""
    nodes: dict[NodeKey, bytes] = {}
    frontier = Frontier()
    for entry in ENTRIES:
        for key, value in frontier.append(leaf_hash(entry)):
            assert key not in nodes
            nodes[key] = value
    return nodes


@cache
def ref_root(size: int) -> bytes:
    return ref_mth(ENTRIES[:size])


def tree_of(size: int) -> MerkleTree:
    tree = MerkleTree()
    for entry in ENTRIES[:size]:
        tree.append(entry)
    return tree


# --------------------------------------------------------------------------- hashing


def test_hashes_follow_rfc_9162_section_2_1_1() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == _sha(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == _sha(b"\x01" + b"L" * 32 + b"R" * 32)


def test_known_roots_of_the_ct_test_tree() -> None:
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT
    for size, entry in enumerate(CT_ENTRIES, start=1):
        assert tree.append(entry) == size - 1
        assert tree.root().hex() == CT_ROOTS[size - 1]
        assert ref_mth(CT_ENTRIES[:size]).hex() == CT_ROOTS[size - 1]
    assert [tree.root(s).hex() for s in range(1, 9)] == CT_ROOTS
    assert tree.root(0) == EMPTY_ROOT


def test_append_leaf_hash_matches_append() -> None:
    a, b = MerkleTree(), MerkleTree()
    for entry in ENTRIES[:50]:
        a.append(entry)
        assert b.append_leaf_hash(leaf_hash(entry)) == a.size - 1
    assert a.size == b.size == 50
    assert a.root() == b.root()


@pytest.mark.parametrize("size", [*range(34), 64, 65, 100])
def test_from_leaf_hashes_builds_the_tree_append_builds(size: int) -> None:
    grown = tree_of(size)
    built = MerkleTree.from_leaf_hashes([leaf_hash(entry) for entry in ENTRIES[:size]])
    assert built._levels == grown._levels
    assert built.root() == ref_root(size)
    for index in range(size):
        assert built.inclusion_proof(index, size) == ref_path(index, ENTRIES[:size])
    built.append(b"one more")
    grown.append(b"one more")
    assert built._levels == grown._levels


def test_from_leaf_hashes_refuses_bad_hashes() -> None:
    with pytest.raises(InputError, match="leaf hash 1 must be 32 bytes"):
        MerkleTree.from_leaf_hashes([b"\x00" * 32, b"\x00" * 31])
    with pytest.raises(InputError, match="leaf hash 0 must be 32 bytes"):
        MerkleTree.from_leaf_hashes([bytearray(32)])  # type: ignore[list-item]


def test_node_accessor_holds_perfect_subtrees() -> None:
    tree = tree_of(13)
    assert tree.node(0, 12) == leaf_hash(ENTRIES[12])
    assert tree.node(2, 1) == ref_mth(ENTRIES[4:8])
    assert tree.node(3, 0) == ref_mth(ENTRIES[:8])
    with pytest.raises(InputError):
        tree.node(3, 1)  # leaves 8..15 are not all in yet
    with pytest.raises(InputError):
        tree.node(0, 13)
    with pytest.raises(InputError):
        tree.node(9, 0)
    with pytest.raises(InputError):
        tree.node(-1, 0)


# --------------------------------------------------------------------------- small trees


@pytest.mark.parametrize("size", range(1, 34))
def test_every_proof_of_small_trees_matches_reference(size: int) -> None:
    tree = tree_of(size)
    entries = ENTRIES[:size]
    root = tree.root()
    assert root == ref_mth(entries)
    for index in range(size):
        proof = tree.inclusion_proof(index, size)
        assert proof == ref_path(index, entries)
        verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)
    for old in range(1, size + 1):
        proof = tree.consistency_proof(old, size)
        expected = ref_proof(old, entries) if old < size else []
        assert proof == expected
        verify_consistency(old, size, proof, ref_mth(entries[:old]), root)


def test_plans_stay_logarithmic() -> None:
    size = 2**20 - 1
    assert len(root_plan(size).keys) == 20
    for index in (0, 1, size // 2, size - 2, size - 1):
        assert len(inclusion_plan(index, size).keys) <= 2 * 20
    for old in (1, 3, 1000, size - 1):
        assert len(consistency_plan(old, size).keys) <= 2 * 20 + 1


def test_plan_keys_are_distinct_and_groups_cover_them() -> None:
    for size in range(1, 70):
        plans = [root_plan(size)]
        plans += [inclusion_plan(i, size) for i in range(size)]
        plans += [consistency_plan(o, size) for o in range(1, size + 1)]
        for plan in plans:
            assert len(set(plan.keys)) == len(plan.keys)
            assert sum(plan.groups) == len(plan.keys)


def test_empty_root_plan() -> None:
    plan = root_plan(0)
    assert plan.keys == ()
    assert plan.assemble({}) == [EMPTY_ROOT]
    assert consistency_plan(5, 5).assemble({}) == []


# --------------------------------------------------------------------------- frontier


def test_frontier_emits_exactly_the_tree_nodes() -> None:
    tree = big_tree()
    nodes = stored_nodes()
    expected = {
        (level, index): tree.node(level, index)
        for level in range(MAX.bit_length())
        for index in range(MAX >> level)
    }
    assert nodes == expected


def test_frontier_append_reports_leaf_then_parents() -> None:
    frontier = Frontier()
    for entry in ENTRIES[:7]:
        frontier.append(leaf_hash(entry))
    new = frontier.append(leaf_hash(ENTRIES[7]))
    assert [key for key, _ in new] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert new[-1][1] == ref_mth(ENTRIES[:8])
    assert frontier.size == 8
    assert frontier.nodes == [((3, 0), ref_mth(ENTRIES[:8]))]


def test_frontier_round_trip() -> None:
    nodes = stored_nodes()
    for size in (0, 1, 2, 3, 7, 8, 100, 255, 256, MAX):
        keys = Frontier.keys_for(size)
        assert keys == list(root_plan(size).keys)
        assert len(keys) == size.bit_count()
        frontier = Frontier.from_nodes(size, nodes)
        assert frontier.size == size
        assert frontier.root() == ref_root(size)
        assert [key for key, _ in frontier.nodes] == keys


def test_frontier_refuses_bad_input() -> None:
    with pytest.raises(InputError, match="missing"):
        Frontier.from_nodes(3, {(1, 0): b"x" * 32})
    with pytest.raises(InputError, match="32-byte"):
        Frontier.from_nodes(3, {(1, 0): b"x" * 32, (0, 2): b"short"})
    with pytest.raises(InputError):
        Frontier.from_nodes(-1, {})
    with pytest.raises(InputError):
        Frontier().append(b"x" * 31)
    with pytest.raises(InputError):
        Frontier().append("x" * 32)  # type: ignore[arg-type]


def test_plan_assemble_refuses_missing_or_bad_nodes() -> None:
    plan = inclusion_plan(2, 5)
    nodes = dict(stored_nodes())
    assert plan.assemble(nodes) == big_tree().inclusion_proof(2, 5)
    del nodes[plan.keys[0]]
    with pytest.raises(InputError, match="missing"):
        plan.assemble(nodes)
    with pytest.raises(InputError, match="32-byte"):
        Plan(((0, 0),), (1,)).assemble({(0, 0): b"\x00" * 33})


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: t.root(11), "above"),
        (lambda t: t.root(-1), "non-negative"),
        (lambda t: t.inclusion_proof(10, 10), "not below"),
        (lambda t: t.inclusion_proof(0, 11), "above"),
        (lambda t: t.inclusion_proof(-1, 5), "non-negative"),
        (lambda t: t.inclusion_proof(0, 0), "not below"),
        (lambda t: t.consistency_proof(6, 5), "above"),
        (lambda t: t.consistency_proof(0, 5), "empty tree"),
        (lambda t: t.consistency_proof(0, 0), "empty tree"),
        (lambda t: t.consistency_proof(3, 11), "above"),
        (lambda t: t.append_leaf_hash(b"\x00" * 31), "32 bytes"),
    ],
)
def test_bad_arguments_raise_input_error(call: Callable[[MerkleTree], object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        call(tree_of(10))


def test_plan_functions_refuse_bad_arguments() -> None:
    with pytest.raises(InputError):
        root_plan(-1)
    with pytest.raises(InputError):
        inclusion_plan(3, 3)
    with pytest.raises(InputError):
        consistency_plan(4, 3)
    with pytest.raises(InputError):
        consistency_plan(0, 3)
    with pytest.raises(InputError):
        consistency_plan(1, -3)


# --------------------------------------------------------------------------- tampering


def _flips(proof: list[bytes]) -> Iterator[list[bytes]]:
    for i, item in enumerate(proof):
        for byte in range(len(item)):
            for bit in (0x01, 0x80):
                changed = bytearray(item)
                changed[byte] ^= bit
                yield proof[:i] + [bytes(changed)] + proof[i + 1 :]


def test_tampering_any_inclusion_proof_bit_fails() -> None:
    tree, size = big_tree(), 37
    root = tree.root(size)
    for index in (0, 5, 32, 36):
        proof = tree.inclusion_proof(index, size)
        leaf = tree.node(0, index)
        verify_inclusion(leaf, index, size, proof, root)
        for bad in _flips(proof):
            with pytest.raises(VerificationError):
                verify_inclusion(leaf, index, size, bad, root)
        for bad_leaf in _flips([leaf]):
            with pytest.raises(VerificationError):
                verify_inclusion(bad_leaf[0], index, size, proof, root)
        for bad_root in _flips([root]):
            with pytest.raises(VerificationError):
                verify_inclusion(leaf, index, size, proof, bad_root[0])


def test_tampering_any_consistency_proof_bit_fails() -> None:
    tree, new = big_tree(), 37
    new_root = tree.root(new)
    for old in (1, 4, 5, 36):
        old_root = tree.root(old)
        proof = tree.consistency_proof(old, new)
        verify_consistency(old, new, proof, old_root, new_root)
        for bad in _flips(proof):
            with pytest.raises(VerificationError):
                verify_consistency(old, new, bad, old_root, new_root)
        for bad_root in _flips([old_root]):
            with pytest.raises(VerificationError):
                verify_consistency(old, new, proof, bad_root[0], new_root)
        for bad_root in _flips([new_root]):
            with pytest.raises(VerificationError):
                verify_consistency(old, new, proof, old_root, bad_root[0])


def test_inclusion_rejects_wrong_shapes() -> None:
    tree, size, index = big_tree(), 37, 6
    root, leaf = tree.root(size), tree.node(0, index)
    proof = tree.inclusion_proof(index, size)
    cases = [
        (leaf, index, size, proof[:-1], root),
        (leaf, index, size, [*proof, proof[0]], root),
        (leaf, index, size, [proof[0], *proof], root),
        (leaf, index + 1, size, proof, root),
        # sizes 33..64 give index 6 the same path shape: only the root tells them apart
        (leaf, index, size * 2, proof, root),
        (leaf, index, 32, proof, root),
        (leaf, size, size, proof, root),
        (leaf, -1, size, proof, root),
        (leaf, index, -1, proof, root),
        (leaf[:31], index, size, proof, root),
        (leaf, index, size, proof, root + b"\x00"),
        (leaf, index, size, [proof[0][:16], *proof[1:]], root),
        (leaf.hex(), index, size, proof, root),
        (leaf, index, size, [b"", *proof], root),
    ]
    for args in cases:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)  # type: ignore[arg-type]


def test_consistency_rejects_wrong_shapes() -> None:
    tree, old, new = big_tree(), 6, 37
    r1, r2 = tree.root(old), tree.root(new)
    proof = tree.consistency_proof(old, new)
    cases = [
        (old, new, proof[:-1], r1, r2),
        (old, new, [*proof, proof[0]], r1, r2),
        (old, new, [], r1, r2),
        (old + 1, new, proof, r1, r2),
        (old, new * 2, proof, r1, r2),
        (old, 32, proof, r1, r2),
        (new, old, proof, r2, r1),
        (0, new, proof, EMPTY_ROOT, r2),
        (0, 0, [], EMPTY_ROOT, EMPTY_ROOT),
        (-1, new, proof, r1, r2),
        (old, new, proof, r1[:31], r2),
        (old, new, proof, r1, r2 + b"\x00"),
        (old, new, [proof[0] + b"\x00", *proof[1:]], r1, r2),
        (old, new, proof, r1.hex(), r2),
        (old, old, [r1], r1, r1),
        (old, old, [], r1, r2),
        (old, old, [], r1.hex(), r1.hex()),
    ]
    for args in cases:
        with pytest.raises(VerificationError):
            verify_consistency(*args)  # type: ignore[arg-type]


def test_consistency_of_equal_sizes() -> None:
    root = big_tree().root(9)
    verify_consistency(9, 9, [], root, root)
    verify_consistency(9, 9, big_tree().consistency_proof(9, 9), root, root)


def test_consistency_from_power_of_two_leaves_out_old_root() -> None:
    tree = big_tree()
    proof = tree.consistency_proof(8, 13)
    assert tree.root(8) not in proof
    assert proof == ref_proof(8, ENTRIES[:13])


# --------------------------------------------------------------------------- properties

sizes = st.integers(min_value=1, max_value=MAX)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new)), new


@settings(max_examples=150, deadline=None)
@given(index_and_size())
def test_inclusion_matches_reference_and_verifies(args: tuple[int, int]) -> None:
    index, size = args
    tree = big_tree()
    proof = tree.inclusion_proof(index, size)
    assert proof == ref_path(index, ENTRIES[:size])
    verify_inclusion(leaf_hash(ENTRIES[index]), index, size, proof, ref_root(size))
    assert inclusion_plan(index, size).assemble(stored_nodes()) == proof


@settings(max_examples=150, deadline=None)
@given(old_and_new())
def test_consistency_matches_reference_and_verifies(args: tuple[int, int]) -> None:
    old, new = args
    tree = big_tree()
    proof = tree.consistency_proof(old, new)
    assert proof == (ref_proof(old, ENTRIES[:new]) if old < new else [])
    verify_consistency(old, new, proof, ref_root(old), ref_root(new))
    assert consistency_plan(old, new).assemble(stored_nodes()) == proof


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=MAX))
def test_roots_at_past_sizes(size: int) -> None:
    assert big_tree().root(size) == ref_root(size)
    assert root_plan(size).assemble(stored_nodes()) == [ref_root(size)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=MAX // 2), st.integers(min_value=1, max_value=MAX // 2))
def test_frontier_rebuilt_from_nodes_continues_like_uninterrupted(split: int, more: int) -> None:
    stored: dict[NodeKey, bytes] = {}
    uninterrupted = Frontier()
    for entry in ENTRIES[:split]:
        stored.update(uninterrupted.append(leaf_hash(entry)))
    only_needed = {key: stored[key] for key in Frontier.keys_for(split)}
    resumed = Frontier.from_nodes(split, only_needed)
    assert resumed.root() == uninterrupted.root() == ref_root(split)
    for entry in ENTRIES[split : split + more]:
        assert resumed.append(leaf_hash(entry)) == uninterrupted.append(leaf_hash(entry))
        assert resumed.root() == uninterrupted.root() == ref_root(resumed.size)
