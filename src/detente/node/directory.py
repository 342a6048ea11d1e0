"""The node directory: ``config.toml``, ``node.key`` (0600) and ``detente.db``.

A node serves one party of one agreement, or is a neutral *witness* under
it (``role = "witness"``): a node named for an office that is not a party,
which keeps no log of its own but mirrors, cosigns and gossips the
parties' logs. The agreement is pinned by its id at ``init``: if the
agreement file (or a built-in, after an upgrade) later resolves to another
id, the node refuses to open rather than sign under rules its peers do not
share.

Example:
    >>> import tempfile, pathlib
    >>> home = pathlib.Path(tempfile.mkdtemp()) / "us"
    >>> node = init_node(home, party="us", agreement_ref="security-replies-2022")
    >>> node.config.party, (home / "node.key").stat().st_mode & 0o777 == 0o600
    ('us', True)
    >>> node.close()
"""

from __future__ import annotations

import json
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from detente.agreement import Agreement, resolve_agreement
from detente.crypto.keys import SigningKey, VerifierKey, save_signing_key
from detente.errors import ConfigError, EncodingError, KeyFileError
from detente.node.bell import ChangeBell
from detente.node.exercise import ExerciseClock
from detente.node.exercise import start as exercise_start
from detente.node.keyfiles import KEY_FILE, NEXT_KEY_FILE, load_current_key
from detente.record.checkpoint import origin_for, witness_key_name
from detente.record.keyhistory import KeyHistory
from detente.record.settlement import Policy
from detente.store.database import Database, open_database, sqlite_url
from detente.store.keylog import read_key_history

__all__ = [
    "CONFIG_FILE",
    "KEY_FILE",
    "ROLES",
    "Node",
    "NodeConfig",
    "Peer",
    "TrustedKey",
    "init_node",
    "open_node",
]

CONFIG_FILE = "config.toml"
DB_FILE = "detente.db"
PASSPHRASE_ENV = "DETENTE_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
ROLES = ("party", "witness")
# A witness's name is an id like a party's (agreement format, "Slug").
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class TrustedKey:
    """A key this node trusts to cosign, exchanged out of band."""

    name: str
    key: VerifierKey


@dataclass(frozen=True)
class Peer:
    """Another node: where it answers and its key, exchanged out of band.

    ``party`` is the peer's party id, or for a neutral witness (``witness``
    true) its name; either is the ``keyid`` of its signed requests.
    """

    party: str
    url: str
    key: VerifierKey
    witness: bool = False


@dataclass(frozen=True)
class NodeConfig:
    """What ``config.toml`` holds.

    ``party`` is the agreement party this node serves, or, when ``role`` is
    ``"witness"``, the witness's own name (never an agreement party).
    """

    party: str
    agreement: str
    agreement_id: str
    key_name: str
    verifier_key: str
    key_encrypted: bool = False
    database_url: str = ""
    cosigners: tuple[TrustedKey, ...] = field(default=())
    peers: tuple[Peer, ...] = field(default=())
    role: str = "party"
    policies: tuple[Policy, ...] = field(default=())
    exercise_clock: str = ""

    @property
    def witness(self) -> bool:
        """True for a neutral witness: no log of its own, it mirrors and cosigns."""
        return self.role == "witness"

    def peer(self, party: str) -> Peer | None:
        """The peer serving ``party``, if configured."""
        for peer in self.peers:
            if peer.party == party:
                return peer
        return None

    def to_toml(self) -> str:
        """Render the configuration as TOML."""

        def s(value: str) -> str:
            return json.dumps(value, ensure_ascii=False)

        lines = [
            "# Détente node configuration. Keys are node configuration, never agreement data.",
            "[node]",
            "# party: a node serves a party; witness: a neutral node with no log of its own.",
            f"role = {s(self.role)}",
            "# The party id, or a witness's name.",
            f"party = {s(self.party)}",
            "# A built-in agreement name or a path to an agreement TOML file.",
            f"agreement = {s(self.agreement)}",
            "# Pinned at init: the node refuses to open if the agreement resolves otherwise.",
            f"agreement_id = {s(self.agreement_id)}",
            f"key_name = {s(self.key_name)}",
            "# The node's public key (C2SP verifier key); node.key holds the private half.",
            f"verifier_key = {s(self.verifier_key)}",
            f"key_encrypted = {'true' if self.key_encrypted else 'false'}",
            "# Empty: the SQLite file detente.db in this directory.",
            f"database_url = {s(self.database_url)}",
        ]
        if self.exercise_clock:
            lines += [
                "# An exercise: this node's time is the system clock plus the offset kept",
                "# in this file (docs/exercises.md). Never on a real network.",
                f"exercise_clock = {s(self.exercise_clock)}",
            ]
        for cosigner in self.cosigners:
            lines += ["", "[[cosigners]]", f"name = {s(cosigner.name)}"]
            lines.append(f"key = {s(cosigner.key.to_text())}")
        for peer in self.peers:
            lines += ["", "[[peers]]", f"party = {s(peer.party)}", f"url = {s(peer.url)}"]
            lines.append(f"key = {s(peer.key.to_text())}")
            if peer.witness:
                lines.append("witness = true")
        for policy in self.policies:
            names = ", ".join(s(name) for name in policy.cosigners)
            lines += ["", "[[policies]]", f"name = {s(policy.name)}", f"k = {policy.k}"]
            lines.append(f"cosigners = [{names}]")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str, *, source: str) -> NodeConfig:
        """Parse ``config.toml``.

        Raises:
            ConfigError: the file is not TOML or lacks a field; the message
                names the file and field.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{source}: {e}") from e
        node = data.get("node")
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: missing [node] table")

        def text_field(name: str, *, required: bool = True) -> str:
            value = node.get(name, None if required else "")
            if not isinstance(value, str) or (required and not value):
                raise ConfigError(f"{source}: node.{name} must be a non-empty string")
            return value

        cosigners = []
        for i, item in enumerate(data.get("cosigners", [])):
            try:
                key = VerifierKey.from_text(str(item["key"]))
                cosigners.append(TrustedKey(name=str(item["name"]), key=key))
            except (KeyError, TypeError, EncodingError) as e:
                raise ConfigError(f"{source}: cosigners[{i}]: {e}") from e
        peers = []
        for i, item in enumerate(data.get("peers", [])):
            try:
                key = VerifierKey.from_text(str(item["key"]))
                witness = item.get("witness", False)
                if not isinstance(witness, bool):
                    raise TypeError("witness must be true or false")
                peers.append(
                    Peer(party=str(item["party"]), url=str(item["url"]), key=key, witness=witness)
                )
            except (KeyError, TypeError, AttributeError, EncodingError) as e:
                raise ConfigError(f"{source}: peers[{i}]: {e}") from e
        encrypted = node.get("key_encrypted", False)
        if not isinstance(encrypted, bool):
            raise ConfigError(f"{source}: node.key_encrypted must be true or false")
        role = node.get("role", "party")
        if role not in ROLES:
            raise ConfigError(f"{source}: node.role must be one of {', '.join(ROLES)}")
        party = text_field("party")
        known = {party, *(p.party for p in peers), *(c.name for c in cosigners)}
        return cls(
            role=role,
            policies=_policies(data.get("policies", []), known=known, source=source),
            party=party,
            agreement=text_field("agreement"),
            agreement_id=text_field("agreement_id"),
            key_name=text_field("key_name"),
            verifier_key=text_field("verifier_key"),
            key_encrypted=encrypted,
            database_url=text_field("database_url", required=False),
            exercise_clock=text_field("exercise_clock", required=False),
            cosigners=tuple(cosigners),
            peers=tuple(peers),
        )


def _policies(items: object, *, known: set[str], source: str) -> tuple[Policy, ...]:
    """The ``[[policies]]`` tables: named k-of-n rules over known cosigners.

    Raises:
        ConfigError: a policy is malformed, names an unknown cosigner, needs
            a ``k`` it cannot meet, or repeats another's name; the message
            names the file and field.
    """
    if not isinstance(items, list):
        raise ConfigError(f"{source}: policies must be an array of tables ([[policies]])")
    out: list[Policy] = []
    for i, item in enumerate(items):
        where = f"{source}: policies[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: not a table")
        extra = set(item) - {"name", "k", "cosigners"}
        if extra:
            raise ConfigError(f"{where}: unknown field {sorted(extra)[0]!r}")
        name, k, cosigners = item.get("name"), item.get("k"), item.get("cosigners")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.name must be a non-empty string")
        if any(p.name == name for p in out):
            raise ConfigError(f"{where}.name: another policy is already named {name!r}")
        if type(k) is not int:
            raise ConfigError(f"{where}.k must be an integer")
        if not isinstance(cosigners, list) or not all(isinstance(c, str) for c in cosigners):
            raise ConfigError(f"{where}.cosigners must be a list of peer or witness names")
        unknown = [c for c in cosigners if c not in known]
        if unknown:
            raise ConfigError(
                f"{where}.cosigners: {unknown[0]!r} is not this node, a peer or a "
                f"[[cosigners]] name (known: {', '.join(sorted(known))})"
            )
        if len(set(cosigners)) != len(cosigners):
            raise ConfigError(f"{where}.cosigners: a cosigner is named twice")
        if not 1 <= k <= len(cosigners):
            raise ConfigError(
                f"{where}.k: {k} is not between 1 and the {len(cosigners)} cosigners named"
            )
        out.append(Policy(name=name, k=k, cosigners=tuple(cosigners)))
    return tuple(out)


class LaneGate:
    """Lets a FLASH message on the priority lane go before routine work in this process.

    Threads taking an entry ahead hold the gate closed (:meth:`closed`);
    routine work calls :meth:`wait` between steps, which returns at once
    while the gate is open and otherwise waits for it (at most ``timeout``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._open = threading.Event()
        self._open.set()

    @contextmanager
    def closed(self) -> Iterator[None]:
        """Hold the gate closed for the duration of the block."""
        with self._lock:
            self._holders += 1
            self._open.clear()
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._open.set()

    def wait(self, timeout: float = 1.0) -> None:
        """Return once the gate is open, or after ``timeout`` seconds."""
        self._open.wait(timeout)


class Node:
    """An opened node directory. The signing key is loaded on first use."""

    def __init__(
        self,
        directory: Path,
        config: NodeConfig,
        agreement: Agreement,
        database: Database,
        *,
        passphrase: Callable[[], bytes | None],
        clock: Clock = utc_now,
    ) -> None:
        self.directory = directory
        self.config = config
        self.agreement = agreement
        self.database = database
        self.clock = clock
        # Set when the node runs on an exercise's clock (node/exercise.py).
        self.exercise = clock if isinstance(clock, ExerciseClock) else None
        self._passphrase = passphrase
        self._key: SigningKey | None = None
        self._key_stamp: tuple[int, int, int] | None = None
        # One writer of the own log at a time in this process (API threads,
        # the CLI); another process appending at once gets a StoreError.
        self.write_lock = threading.Lock()
        # Open while no FLASH message is being taken ahead of the log: the
        # routine receive path waits at it between entries (exchange.priority).
        self.lane_gate = LaneGate()
        # Rung once a change that the console shows has committed in this
        # process: open consoles look at once (console.live).
        self.bell = ChangeBell()
        try:
            self._verifier = VerifierKey.from_text(config.verifier_key)
        except EncodingError as e:
            raise ConfigError(f"{directory / CONFIG_FILE}: node.verifier_key: {e}") from e

    @property
    def party(self) -> str:
        """The party this node serves, or a witness's name."""
        return self.config.party

    @property
    def is_witness(self) -> bool:
        """True for a neutral witness, which has no log of its own."""
        return self.config.witness

    @property
    def key(self) -> SigningKey:
        """The node's signing key in force (asks for the passphrase once if encrypted).

        The own log says which key is in force; when it names another key
        than the one loaded (a rotation by another process), the key files
        are read again.

        Raises:
            KeyFileError: the key cannot be read or unlocked.
        """
        stamp = self._key_files()
        if self._key is not None and stamp is not None and stamp == self._key_stamp:
            # Only a rotation changes the key in force, and a rotation changes
            # node.key's file (or leaves node.key.next behind): unchanged files,
            # unchanged key, without reading the log on every signature.
            return self._key
        current = self.current_verifier()
        if self._key is None or self._key.verifier != current:
            # First use, or another process (`detente keys rotate`) rotated the key.
            self._key = load_current_key(
                self.directory,
                name=self.config.key_name,
                passphrase=self.passphrase(),
                current=current,
            )
        self._key_stamp = self._key_files()
        return self._key

    def _key_files(self) -> tuple[int, int, int] | None:
        """node.key's device, inode and mtime, or None while a rotation is unfinished."""
        if (self.directory / NEXT_KEY_FILE).exists():
            return None
        try:
            info = (self.directory / KEY_FILE).stat()
        except OSError:
            return None
        return (info.st_dev, info.st_ino, info.st_mtime_ns)

    def passphrase(self) -> bytes | None:
        """The key passphrase, asked for only if the key is encrypted."""
        return self._passphrase() if self.config.key_encrypted else None

    def use_key(self, key: SigningKey) -> None:
        """Sign with ``key`` from now on (after a rotation committed)."""
        self._key = key
        self._key_stamp = None

    def first_key(self, party: str) -> VerifierKey | None:
        """The key ``party``'s log starts with, from the configuration, if known."""
        if party == self.party:
            return self.verifier
        peer = self.config.peer(party)
        return None if peer is None else peer.key

    def key_history(self, party: str, conn: Connection | None = None) -> KeyHistory | None:
        """Which key signs which position of ``party``'s log as held, if the party is known.

        Raises:
            VerificationError: a held key entry does not hold.
        """
        first = self.first_key(party)
        if first is None:
            return None
        if conn is not None:
            return read_key_history(conn, party, first)
        with self.database.engine.connect() as own:
            return read_key_history(own, party, first)

    def current_verifier(self) -> VerifierKey:
        """The key in force for the node's own log (after its last rotation)."""
        history = self.key_history(self.party)
        assert history is not None  # the own party always has a key  # noqa: S101
        return history.current

    @property
    def verifier(self) -> VerifierKey:
        """The key the node's log starts with, from the configuration (no passphrase needed).

        After a rotation the log is signed by later keys: see :meth:`key_history`.
        """
        return self._verifier

    def trusted_key(self, name: str) -> VerifierKey | None:
        """The cosigner or peer key called ``name``, if any."""
        for cosigner in self.config.cosigners:
            if cosigner.name == name or cosigner.key.name == name:
                return cosigner.key
        for peer in self.config.peers:
            if peer.key.name == name:
                return peer.key
        return None

    def cosigner_keys(self) -> dict[str, VerifierKey]:
        """The key of every cosigner a policy may name: this node, its peers, ``[[cosigners]]``."""
        keys = {cosigner.name: cosigner.key for cosigner in self.config.cosigners}
        keys.update({peer.party: peer.key for peer in self.config.peers})
        keys[self.party] = self.verifier
        return keys

    def save_config(self, config: NodeConfig) -> None:
        """Replace ``config.toml`` atomically and use the new configuration."""
        _write_atomic(self.directory / CONFIG_FILE, config.to_toml(), mode=0o600)
        self.config = config

    def close(self) -> None:
        """Release the database."""
        self.database.dispose()


def env_passphrase() -> bytes | None:
    """The passphrase from ``DETENTE_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _write_atomic(path: Path, text: str, *, mode: int) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # a leftover temp file keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _database_url(directory: Path, config: NodeConfig) -> str:
    return config.database_url or sqlite_url(directory / DB_FILE)


def init_node(
    directory: Path,
    *,
    party: str,
    agreement_ref: str,
    passphrase: bytes | None = None,
    database_url: str = "",
    witness: bool = False,
    exercise_clock: Path | None = None,
    clock: Clock = utc_now,
) -> Node:
    """Create a node directory for ``party`` under the agreement ``agreement_ref``.

    With ``witness``, ``party`` is the name of a neutral witness instead
    (an office such as ``osce``), which must not be one of the agreement's
    parties; its key is named ``detente.witness/<id[:16]>/<name>``. With
    ``exercise_clock``, the node runs on the exercise clock kept in that
    file (created at offset 0 if missing; :mod:`detente.node.exercise`).

    Raises:
        ConfigError: the directory already holds a node, the party is not
            one of the agreement's, or a witness's name is one of them or
            not an id (a lower-case letter, then letters, digits, ``_``, ``-``).
        AgreementError: the agreement cannot be resolved.
        StoreError: the database cannot be created.
    """
    agreement = resolve_agreement(agreement_ref)
    _check_name(agreement, party, witness=witness)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (directory / CONFIG_FILE).exists() or (directory / KEY_FILE).exists():
        raise ConfigError(f"{directory}: already holds a node; refusing to overwrite it")
    reference = agreement_ref
    if Path(agreement_ref).suffix == ".toml":
        reference = str(Path(agreement_ref).resolve())
    key_name = witness_key_name(agreement.id, party) if witness else origin_for(agreement.id, party)
    exercise = ""
    if exercise_clock is not None:
        exercise_start(exercise_clock)
        exercise = str(exercise_clock.resolve())
        if clock is utc_now:
            clock = ExerciseClock(Path(exercise))
    key = SigningKey.generate(key_name)
    config = NodeConfig(
        role="witness" if witness else "party",
        party=party,
        agreement=reference,
        agreement_id=agreement.id,
        key_name=key_name,
        verifier_key=key.verifier.to_text(),
        key_encrypted=passphrase is not None,
        database_url=database_url,
        exercise_clock=exercise,
    )
    save_signing_key(directory / KEY_FILE, key, passphrase=passphrase)
    database = open_database(_database_url(directory, config))
    if not database_url:
        # The record is not secret from its peers, but it is this party's own:
        # the SQLite file (and the WAL files SQLite derives from it) owner-only.
        (directory / DB_FILE).chmod(0o600)
    # config.toml may hold a database URL with a password.
    _write_atomic(directory / CONFIG_FILE, config.to_toml(), mode=0o600)
    node = Node(directory, config, agreement, database, passphrase=lambda: passphrase, clock=clock)
    node._key = key
    return node


def _check_name(agreement: Agreement, name: str, *, witness: bool) -> None:
    parties = ", ".join(sorted(agreement.party_ids()))
    if not witness and name not in agreement.party_ids():
        raise ConfigError(f"party {name!r} is not a party of {agreement.name} (parties: {parties})")
    if witness and name in agreement.party_ids():
        raise ConfigError(
            f"witness {name!r} is a party of {agreement.name}; a witness is neutral: "
            f"name it for its office, not one of {parties}"
        )
    if witness and not _NAME.fullmatch(name):
        raise ConfigError(
            f"witness name {name!r}: a lower-case letter, then up to 63 letters, digits, _ or -"
        )


def open_node(
    directory: Path,
    *,
    passphrase: Callable[[], bytes | None] = env_passphrase,
    clock: Clock = utc_now,
) -> Node:
    """Open an existing node directory.

    Raises:
        ConfigError: no node there, a bad config, or an agreement that no
            longer resolves to the pinned id.
        KeyFileError: the key file is missing.
    """
    config_path = directory / CONFIG_FILE
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            f"{directory}: not a Détente node directory (no {CONFIG_FILE}); "
            "create one with `detente init DIR --party ID --agreement ID`"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{config_path}: cannot read: {e}") from e
    config = NodeConfig.from_toml(text, source=str(config_path))
    if not (directory / KEY_FILE).exists():
        raise KeyFileError(f"{directory / KEY_FILE}: the node key is missing")
    agreement = resolve_agreement(config.agreement)
    if agreement.id != config.agreement_id:
        raise ConfigError(
            f"{config_path}: agreement {config.agreement} now resolves to id "
            f"{agreement.id[:16]}…, but this node was initialised under "
            f"{config.agreement_id[:16]}…; refusing to sign under different rules"
        )
    if config.witness:
        try:
            _check_name(agreement, config.party, witness=True)
        except ConfigError as e:
            raise ConfigError(f"{config_path}: node.party: {e}") from e
    if config.exercise_clock and clock is utc_now:
        try:
            clock = ExerciseClock(Path(config.exercise_clock))
        except ConfigError as e:
            raise ConfigError(f"{config_path}: node.exercise_clock: {e}") from e
    database = open_database(_database_url(directory, config))
    return Node(directory, config, agreement, database, passphrase=passphrase, clock=clock)
