"""Merkle tree hashing, proofs and their verification, as RFC 9162 defines them.

The tree is the one of RFC 9162 §2.1.1: ``MTH({}) = SHA-256()``, a leaf
hashes as ``SHA-256(0x00 || d)`` and an interior node as
``SHA-256(0x01 || left || right)``, a list of ``n > 1`` leaves splitting at
the largest power of two below ``n``.

Storage is by *perfect subtrees*. A :data:`NodeKey` ``(level, index)`` names
the subtree of ``2**level`` leaves starting at leaf ``index * 2**level``;
level 0 holds the leaf hashes. Such a node never changes once its last leaf
is in, so a database can keep nodes as rows. Every hash RFC 9162 needs -- a
root at any past size, each entry of an inclusion (§2.1.3.1) or consistency
(§2.1.4.1) proof -- is the hash of a range that splits into O(log n) perfect
subtrees. The planning functions :func:`root_plan`, :func:`inclusion_plan`
and :func:`consistency_plan` name exactly those nodes, so a stored tree
fetches them in one query and calls :meth:`Plan.assemble`;
:class:`MerkleTree` keeps its nodes in memory and runs the same plans.
:class:`Frontier` is the right edge a writer needs to append without
reading the whole tree. :func:`verify_inclusion` and
:func:`verify_consistency` follow RFC 9162 §2.1.3.2 and §2.1.4.2 and raise
:class:`~detente.errors.VerificationError` on any failure.

Example:
    >>> tree = MerkleTree()
    >>> for entry in (b"a", b"b", b"c"):
    ...     _ = tree.append(entry)
    >>> proof = tree.inclusion_proof(2, 3)
    >>> verify_inclusion(leaf_hash(b"c"), 2, 3, proof, tree.root())
    >>> old_root = tree.root(2)
    >>> verify_consistency(2, 3, tree.consistency_proof(2, 3), old_root, tree.root())
    >>> verify_inclusion(leaf_hash(b"x"), 2, 3, proof, tree.root())
    Traceback (most recent call last):
    ...
    detente.errors.VerificationError: inclusion proof does not lead to the root
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hmac import compare_digest

from detente.errors import InputError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MerkleTree",
    "NodeKey",
    "Plan",
    "consistency_plan",
    "inclusion_plan",
    "leaf_hash",
    "node_hash",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

NodeKey = tuple[int, int]
"""``(level, index)``: the perfect subtree of leaves ``[index << level, (index + 1) << level)``."""

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()
"""``MTH({})``, the root of the empty tree (RFC 9162 §2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """Hash one entry as a leaf: ``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1).

    Args:
        data: The entry, as the log stores it.

    Returns:
        The 32-byte leaf hash.
    """
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children into their parent: ``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1).

    Args:
        left: Hash of the left subtree.
        right: Hash of the right subtree.

    Returns:
        The 32-byte interior node hash.
    """
    return _sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True)
class Plan:
    """The perfect-subtree nodes one answer needs, and how to combine them.

    ``keys`` lists distinct nodes in order; ``groups`` cuts that list into
    consecutive runs, one per output hash. A run holds the perfect subtrees
    of one range of leaves, largest first, and its hash is their right fold
    ``node_hash(k0, node_hash(k1, ... kn))``: that is ``MTH`` of the range
    (RFC 9162 §2.1.1) since each range starts at a multiple of a power of
    two larger than its width. An empty run stands for the empty tree.

    Attributes:
        keys: The nodes to fetch, each once.
        groups: Length of each run of ``keys``; one output hash per run.
    """

    keys: tuple[NodeKey, ...]
    groups: tuple[int, ...]

    def assemble(self, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
        """Combine fetched node hashes into the planned answer.

        Args:
            nodes: Hash of at least every node in :attr:`keys`; extra
                entries are ignored.

        Returns:
            ``[root]`` for a :func:`root_plan`, the proof for an
            :func:`inclusion_plan` or :func:`consistency_plan`.

        Raises:
            InputError: A planned node is missing or is not 32 bytes.
        """
        return self._fold(self._fetch(nodes))

    def _fetch(self, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
        hashes = []
        for key in self.keys:
            try:
                value = nodes[key]
            except KeyError as e:
                raise InputError(f"Merkle node {key} is missing") from e
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise InputError(f"Merkle node {key} is not a {HASH_SIZE}-byte hash")
            hashes.append(value)
        return hashes

    def _fold(self, hashes: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        for count in self.groups:
            if count == 1:
                out.append(hashes[start])
                start += 1
            else:
                end = start + count
                out.append(_fold_right(hashes, start, end))
                start = end
        return out

    def _run(self, levels: Sequence[Sequence[bytes]]) -> list[bytes]:
        """Assemble from in-memory levels, trusting them to hold every key."""
        return self._fold([levels[level][index] for level, index in self.keys])


def _fold_right(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """Hash ``hashes[start:end]`` as ``node_hash(h0, node_hash(h1, ...))``; empty gives MTH({})."""
    if start == end:
        return EMPTY_ROOT
    h = hashes[end - 1]
    for i in range(end - 2, start - 1, -1):
        h = _sha256(b"\x01" + hashes[i] + h).digest()
    return h


def _check_count(value: object, what: str, error: type[Exception] = InputError) -> None:
    if not isinstance(value, int) or value < 0:
        raise error(f"{what} must be a non-negative integer, got {value!r}")


def _range_keys(start: int, end: int, keys: list[NodeKey]) -> int:
    """Append the perfect subtrees of ``[start, end)``, largest first; return how many.

    ``start`` must be 0 or a multiple of a power of two above ``end - start``,
    which holds for every range RFC 9162 hashes: each piece is then aligned.
    """
    width = end - start
    count = 0
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
            count += 1
    return count


def _path_keys(level: int, index: int, size: int, keys: list[NodeKey], groups: list[int]) -> None:
    """Plan the siblings of node ``(level, index)`` up to the root of a ``size``-leaf tree.

    Walking up the aligned binary tree matches RFC 9162 §2.1.3.1's recursion
    on the largest power of two below n: a sibling wholly inside the tree is
    one perfect node, one cut by the tree's right edge is the range up to
    ``size``, and one wholly outside is skipped (its parent is promoted).
    """
    top = (size - 1).bit_length()
    while level < top:
        sibling = index ^ 1
        start = sibling << level
        if start < size:
            if start + (1 << level) <= size:
                keys.append((level, sibling))
                groups.append(1)
            else:
                groups.append(_range_keys(start, size, keys))
        index >>= 1
        level += 1


def root_plan(size: int) -> Plan:
    """Plan ``MTH(D[0:size])``, the root at ``size`` leaves (RFC 9162 §2.1.1).

    Its keys are the tree's frontier: one perfect subtree per set bit of
    ``size``, largest first.

    Args:
        size: Tree size; 0 gives the empty root.

    Returns:
        A plan whose :meth:`~Plan.assemble` yields ``[root]``.

    Raises:
        InputError: ``size`` is negative.
    """
    _check_count(size, "tree size")
    keys: list[NodeKey] = []
    count = _range_keys(0, size, keys)
    return Plan(tuple(keys), (count,))


def inclusion_plan(index: int, size: int) -> Plan:
    """Plan ``PATH(index, D[0:size])``, the inclusion proof of RFC 9162 §2.1.3.1.

    Args:
        index: Leaf index, from 0.
        size: Tree size the proof is for.

    Returns:
        A plan whose :meth:`~Plan.assemble` yields the proof, leaf first.

    Raises:
        InputError: ``index`` is negative or not below ``size``.
    """
    _check_count(index, "leaf index")
    _check_count(size, "tree size")
    if index >= size:
        raise InputError(f"leaf index {index} is not below tree size {size}")
    keys: list[NodeKey] = []
    groups: list[int] = []
    _path_keys(0, index, size, keys, groups)
    return Plan(tuple(keys), tuple(groups))


def consistency_plan(old_size: int, new_size: int) -> Plan:
    """Plan ``PROOF(old_size, D[0:new_size])``, the consistency proof of RFC 9162 §2.1.4.1.

    The proof is the largest perfect subtree ending at ``old_size`` (left
    out when that subtree is the old root itself, i.e. ``old_size`` is a
    power of two), then that node's inclusion path in the new tree.

    Args:
        old_size: Size of the earlier tree; at least 1, since nothing can
            be proved about the empty tree.
        new_size: Size of the later tree.

    Returns:
        A plan whose :meth:`~Plan.assemble` yields the proof; empty when
        the sizes are equal.

    Raises:
        InputError: ``old_size`` is 0 or above ``new_size``.
    """
    _check_count(old_size, "old tree size")
    _check_count(new_size, "new tree size")
    if old_size == 0:
        raise InputError("no consistency proof exists from the empty tree (RFC 9162 §2.1.4)")
    if old_size > new_size:
        raise InputError(f"old tree size {old_size} is above new tree size {new_size}")
    keys: list[NodeKey] = []
    groups: list[int] = []
    if old_size < new_size:
        level = (old_size & -old_size).bit_length() - 1
        index = (old_size - 1) >> level
        if index:
            keys.append((level, index))
            groups.append(1)
        _path_keys(level, index, new_size, keys, groups)
    return Plan(tuple(keys), tuple(groups))


class Frontier:
    """The right edge of a tree: the perfect subtrees that make up ``[0, size)``.

    Holding one hash per set bit of the size, it appends leaves, reports
    each node an append completes (for a database to insert) and computes
    the current root, without the rest of the tree. Its keys are
    :func:`root_plan`'s, so :meth:`from_nodes` rebuilds it from stored rows.

    Example:
        >>> stored: dict[NodeKey, bytes] = {}
        >>> edge = Frontier()
        >>> for entry in (b"a", b"b", b"c"):
        ...     stored.update(edge.append(leaf_hash(entry)))
        >>> sorted(stored)
        [(0, 0), (0, 1), (0, 2), (1, 0)]
        >>> Frontier.from_nodes(3, stored).root() == edge.root()
        True
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """Start the frontier of the empty tree."""
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_nodes(cls, size: int, nodes: Mapping[NodeKey, bytes]) -> Frontier:
        """Rebuild the frontier of a ``size``-leaf tree from stored nodes.

        Args:
            size: Number of leaves already in the tree.
            nodes: Hash of at least every key in :meth:`keys_for` ``(size)``.

        Returns:
            A frontier that appends as the original would.

        Raises:
            InputError: ``size`` is negative, or a node is missing or is
                not 32 bytes.
        """
        frontier = cls()
        frontier._hashes = root_plan(size)._fetch(nodes)
        frontier._size = size
        return frontier

    @staticmethod
    def keys_for(size: int) -> list[NodeKey]:
        """Name the nodes :meth:`from_nodes` needs for a ``size``-leaf tree.

        Raises:
            InputError: ``size`` is negative.
        """
        return list(root_plan(size).keys)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def nodes(self) -> list[tuple[NodeKey, bytes]]:
        """The frontier's nodes with their keys, largest subtree first."""
        return list(zip(root_plan(self._size).keys, self._hashes, strict=True))

    def append(self, leaf_hash: bytes) -> list[tuple[NodeKey, bytes]]:
        """Append one leaf hash and return every perfect node it completes.

        The first item is the leaf itself at level 0, then each parent that
        the leaf closes, bottom up: O(log n) in the worst case, two on
        average.

        Args:
            leaf_hash: The leaf hash, as the module's :func:`leaf_hash` makes it.

        Returns:
            ``[(key, hash), ...]`` of the nodes to store.

        Raises:
            InputError: ``leaf_hash`` is not 32 bytes.
        """
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise InputError(f"leaf hash must be {HASH_SIZE} bytes")
        hashes = self._hashes
        index = self._size
        h = leaf_hash
        level = 0
        new = [((0, index), h)]
        while index & 1:
            h = _sha256(b"\x01" + hashes.pop() + h).digest()
            index >>= 1
            level += 1
            new.append(((level, index), h))
        hashes.append(h)
        self._size += 1
        return new

    def root(self) -> bytes:
        """Return ``MTH(D[0:size])`` (RFC 9162 §2.1.1)."""
        return _fold_right(self._hashes, 0, len(self._hashes))


class MerkleTree:
    """An append-only Merkle tree held in memory (RFC 9162 §2.1).

    Level ``l`` is a list of the complete perfect subtrees of ``2**l``
    leaves, so :meth:`node` is a list lookup and roots and proofs for any
    past size run the same plans a stored tree runs.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        """Start an empty tree."""
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaf_hashes(cls, hashes: Sequence[bytes]) -> MerkleTree:
        """Build a tree from all its leaf hashes at once, level by level.

        The result is the tree :meth:`append_leaf_hash` builds leaf by leaf:
        level ``l + 1`` holds the parents of consecutive pairs of level
        ``l``, an unpaired last node waiting for its sibling. Hashing one
        level in a single pass over a list skips the per-leaf bookkeeping of
        :meth:`_push`, which matters for a million leaves known up front (a
        committed inventory).

        Args:
            hashes: The 32-byte leaf hashes, in order.

        Returns:
            A tree of ``len(hashes)`` leaves, which may still grow.

        Raises:
            InputError: A hash is not 32 bytes; the message names its index.
        """
        row = list(hashes)
        for i, h in enumerate(row):
            if type(h) is not bytes or len(h) != HASH_SIZE:
                raise InputError(f"leaf hash {i} must be {HASH_SIZE} bytes")
        tree = cls()
        levels = tree._levels
        levels[0] = row
        sha256 = _sha256
        while len(row) > 1:
            pairs = iter(row)
            row = [
                sha256(b"\x01" + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            levels.append(row)
        return tree

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append an entry, hashing it with :func:`leaf_hash`.

        Args:
            data: The entry.

        Returns:
            The new leaf's index, from 0.
        """
        return self._push(_sha256(b"\x00" + data).digest())

    def append_leaf_hash(self, h: bytes) -> int:
        """Append a leaf whose hash the caller already computed.

        Args:
            h: The 32-byte leaf hash.

        Returns:
            The new leaf's index, from 0.

        Raises:
            InputError: ``h`` is not 32 bytes.
        """
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise InputError(f"leaf hash must be {HASH_SIZE} bytes")
        return self._push(h)

    def _push(self, h: bytes) -> int:
        """Store leaf hash ``h`` and every parent it completes; amortised O(1) hashes."""
        levels = self._levels
        row = levels[0]
        index = i = len(row)
        row.append(h)
        level = 0
        while i & 1:
            h = _sha256(b"\x01" + row[i - 1] + h).digest()
            i >>= 1
            level += 1
            try:
                row = levels[level]
            except IndexError:
                row = []
                levels.append(row)
            row.append(h)
        return index

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of the complete perfect subtree ``(level, index)``.

        Raises:
            InputError: No such subtree is complete yet.
        """
        levels = self._levels
        if not 0 <= level < len(levels) or not 0 <= index < len(levels[level]):
            raise InputError(f"Merkle node {(level, index)} is not in a tree of {self.size}")
        return levels[level][index]

    def _check_size(self, size: int) -> None:
        _check_count(size, "tree size")
        if size > self.size:
            raise InputError(f"tree size {size} is above the tree's {self.size} leaves")

    def root(self, size: int | None = None) -> bytes:
        """Return ``MTH(D[0:size])`` (RFC 9162 §2.1.1) for the current or any past size.

        Args:
            size: Tree size; the current size when ``None``.

        Raises:
            InputError: ``size`` is negative or above :attr:`size`.
        """
        if size is None:
            size = self.size
        self._check_size(size)
        return root_plan(size)._run(self._levels)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return ``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1).

        Args:
            index: Leaf index, from 0.
            size: Tree size the proof is for, at most :attr:`size`.

        Raises:
            InputError: ``index`` is not below ``size`` or ``size`` is out of range.
        """
        self._check_size(size)
        return inclusion_plan(index, size)._run(self._levels)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Return ``PROOF(old_size, D[0:new_size])`` (RFC 9162 §2.1.4.1).

        Args:
            old_size: Size of the earlier tree, at least 1.
            new_size: Size of the later tree, at most :attr:`size`.

        Raises:
            InputError: The sizes are out of order or out of range.
        """
        self._check_size(new_size)
        return consistency_plan(old_size, new_size)._run(self._levels)


def _require_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes):
        raise VerificationError(f"{what} is not bytes")
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _require_hashes(items: Sequence[object], what: str) -> None:
    for i, item in enumerate(items):
        if not isinstance(item, bytes) or len(item) != HASH_SIZE:
            _require_hash(item, f"{what} entry {i}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that a leaf is at ``index`` in the tree of ``size`` leaves with ``root``.

    Follows RFC 9162 §2.1.3.2 step by step, after checking that every hash
    is 32 bytes.

    Args:
        leaf_hash: Hash of the leaf, as :func:`leaf_hash` makes it.
        index: Claimed leaf index, from 0.
        size: Tree size the proof is for.
        proof: The inclusion path, leaf first.
        root: The tree's root at ``size``, from a trusted checkpoint.

    Raises:
        VerificationError: The proof does not hold: index not below size,
            a hash of the wrong length, a path too short or too long, or a
            computed root other than ``root``.
    """
    _check_count(index, "leaf index", VerificationError)
    _check_count(size, "tree size", VerificationError)
    if index >= size:
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    _require_hash(leaf_hash, "leaf hash")
    _require_hash(root, "root")
    _require_hashes(proof, "inclusion proof")
    sha256 = _sha256
    fn = index
    sn = size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree size allows")
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree size requires")
    if not compare_digest(r, root):
        raise VerificationError("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` leaves extends the one of ``old_size``.

    Follows RFC 9162 §2.1.4.2 for ``0 < old_size < new_size``. The RFC
    leaves two cases open; as the shared conformance vectors require, a
    proof from the empty tree always fails (it would prove nothing), and
    for equal sizes the proof must be empty and the roots equal (their
    length is not checked: equal values are trivially consistent).

    Args:
        old_size: Size of the earlier tree.
        new_size: Size of the later tree.
        proof: The consistency proof.
        old_root: Root of the earlier tree, from a trusted checkpoint.
        new_root: Root of the later tree.

    Raises:
        VerificationError: The proof does not hold: sizes out of order or
            zero, a hash of the wrong length, a proof too short or too
            long, or a computed root other than the one given.
    """
    _check_count(old_size, "old tree size", VerificationError)
    _check_count(new_size, "new tree size", VerificationError)
    if old_size > new_size:
        raise VerificationError(f"old tree size {old_size} is above new tree size {new_size}")
    if old_size == 0:
        raise VerificationError("consistency with the empty tree proves nothing")
    if old_size == new_size:
        if len(proof):
            raise VerificationError("consistency proof between equal sizes must be empty")
        if not isinstance(old_root, bytes) or not isinstance(new_root, bytes):
            raise VerificationError("roots are not bytes")
        if not compare_digest(old_root, new_root):
            raise VerificationError("roots differ for the same tree size")
        return
    _require_hash(old_root, "old root")
    _require_hash(new_root, "new root")
    _require_hashes(proof, "consistency proof")
    if not proof:
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    sha256 = _sha256
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the sizes allow")
        if fn & 1 or fn == sn:
            fr = sha256(b"\x01" + c + fr).digest()
            sr = sha256(b"\x01" + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the sizes require")
    if not compare_digest(fr, old_root):
        raise VerificationError("consistency proof does not lead to the old root")
    if not compare_digest(sr, new_root):
        raise VerificationError("consistency proof does not lead to the new root")
