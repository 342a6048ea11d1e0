"""Which party each ship and aircraft belongs to: the unit registry.

A feed names a unit only by its radio identity (an AIS MMSI, an ADS-B
ICAO 24-bit address); screening needs its party, since only units of
different parties are screened against each other. The registry is a TOML
file the operator keeps::

    # Units matching nothing below get this party; leave it out to
    # quarantine them as unknown_unit instead.
    default_party = "other"

    [[unit]]                   # one unit, by MMSI (9 digits, as a string)
    mmsi = "273456789"
    party = "ru"
    name = "Neustrashimy"      # optional
    kind = "ship"              # optional; else the kind the feed implies

    [[unit]]                   # one unit, by ICAO address (6 hex digits)
    icao = "3C6444"
    party = "de"
    name = "GAF 10+21"
    kind = "aircraft"

    [[mid]]                    # every MMSI of one Maritime Identification Digits
    mid = "273"
    party = "ru"

    [[icao_block]]             # every ICAO address in a block, both ends included
    first = "140000"
    last = "15FFFF"
    party = "ru"

A unit entry wins over a ``mid`` or ``icao_block`` rule, a narrower block
over a wider one, and any of them over ``default_party``. The MID of an
MMSI is read as ITU-R M.585 places it (``2731…`` for a ship, ``1112731…``
for a SAR aircraft, ``002731…`` for a coast station, and so on), so one
``mid`` rule covers a state's ships and SAR aircraft both.

Example:
    >>> r = Registry.from_toml('''
    ... [[unit]]
    ... mmsi = "273456789"
    ... party = "ru"
    ... name = "Neustrashimy"
    ... [[mid]]
    ... mid = "366"
    ... party = "us"
    ... ''')
    >>> r.lookup("mmsi", "273456789")
    Unit(party='ru', name='Neustrashimy', kind='')
    >>> r.lookup("mmsi", "111366001").party
    'us'
    >>> r.lookup("icao", "3C6444") is None
    True
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

from detente.errors import ConfigError

__all__ = ["MAX_REGISTRY_BYTES", "IcaoBlock", "IdKind", "Registry", "Unit", "mid_of"]

#: Largest registry file read (100,000 units at ~100 bytes each fit ten times over).
MAX_REGISTRY_BYTES: Final = 16 * 1024 * 1024

#: The two radio identities a feed names a unit by.
IdKind = Literal["mmsi", "icao"]

# The same party id as detente.tracks.report accepts in a JSON report.
_PARTY: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_KIND: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_MMSI: Final = re.compile(r"^[0-9]{9}$")
_ICAO: Final = re.compile(r"^[0-9A-Fa-f]{6}$")
_MID: Final = re.compile(r"^[2-7][0-9]{2}$")
_TOP_KEYS: Final = frozenset({"default_party", "unit", "mid", "icao_block"})
_KEYS: Final = {
    "unit": frozenset({"mmsi", "icao", "party", "name", "kind"}),
    "mid": frozenset({"mid", "party"}),
    "icao_block": frozenset({"first", "last", "party"}),
}


class Unit(NamedTuple):
    """What the registry says of a unit; ``name`` and ``kind`` are ``""`` when it says nothing."""

    party: str
    name: str
    kind: str


def mid_of(mmsi: str) -> str | None:
    """The Maritime Identification Digits inside a 9-digit MMSI, where it has them.

    ITU-R M.585 places the MID by the kind of station: ``MIDxxxxxx`` a ship,
    ``0MIDxxxxx`` a group, ``00MIDxxxx`` a coast station, ``111MIDxxx`` a SAR
    aircraft, ``8MIDxxxxx`` a handheld radio, ``98MIDxxxx`` a craft with its
    parent ship, ``99MIDxxxx`` an aid to navigation. ``97…`` (SART, MOB,
    EPIRB) carry no MID.

    >>> mid_of("273456789"), mid_of("111273001"), mid_of("970123456")
    ('273', '273', None)
    """
    if not _MMSI.fullmatch(mmsi):
        return None
    if mmsi.startswith("00"):
        found = mmsi[2:5]
    elif mmsi.startswith("111"):
        found = mmsi[3:6]
    elif mmsi.startswith(("98", "99")):
        found = mmsi[2:5]
    elif mmsi.startswith(("0", "8")):
        found = mmsi[1:4]
    elif mmsi.startswith("97"):
        return None
    else:
        found = mmsi[0:3]
    return found if _MID.fullmatch(found) else None


@dataclass(frozen=True)
class IcaoBlock:
    """A block of ICAO 24-bit addresses, both ends included, and its party."""

    first: int
    last: int
    party: str


@dataclass(frozen=True)
class Registry:
    """Units by identity, MID and ICAO-block rules, and an optional default party.

    Build one with :meth:`from_toml` (or :meth:`load` from a file); the
    constructor takes what those checked.
    """

    units: Mapping[tuple[IdKind, str], Unit] = field(default_factory=dict)
    mids: Mapping[str, str] = field(default_factory=dict)
    icao_blocks: tuple[IcaoBlock, ...] = ()
    default_party: str | None = None

    def lookup(self, id_kind: IdKind, unit_id: str) -> Unit | None:
        """The party (and name and kind, if known) of one unit, or ``None``.

        An ICAO address is matched without regard to case.
        """
        key = unit_id.upper() if id_kind == "icao" else unit_id
        unit = self.units.get((id_kind, key))
        if unit is not None:
            return unit
        party = self._by_rule(id_kind, key)
        if party is None:
            party = self.default_party
        return None if party is None else Unit(party, "", "")

    def _by_rule(self, id_kind: IdKind, key: str) -> str | None:
        if id_kind == "mmsi":
            mid = mid_of(key)
            return None if mid is None else self.mids.get(mid)
        if not _ICAO.fullmatch(key):
            return None
        address = int(key, 16)
        best: IcaoBlock | None = None
        for block in self.icao_blocks:
            if block.first <= address <= block.last and (
                best is None or block.last - block.first < best.last - best.first
            ):
                best = block
        return None if best is None else best.party

    @classmethod
    def load(cls, path: Path) -> Registry:
        """Read and check a registry file.

        Raises:
            ConfigError: the file cannot be read, is over
                :data:`MAX_REGISTRY_BYTES`, or is not a good registry; the
                message names the file, and the line and entry at fault.
        """
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_REGISTRY_BYTES + 1)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the unit registry: {e.strerror}") from e
        if len(raw) > MAX_REGISTRY_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_REGISTRY_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
        return cls.from_toml(text, name=str(path))

    @classmethod
    def from_toml(cls, text: str, *, name: str = "registry") -> Registry:
        """Check a registry's TOML text (the format in the module docstring).

        Raises:
            ConfigError: bad TOML (with its line and column), an unknown
                key, a bad MMSI, ICAO address, MID or party, or a unit
                given twice; the message names ``name``, the line and entry.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{name}: not TOML: {e}") from e
        extra = sorted(set(data) - _TOP_KEYS)
        if extra:
            raise ConfigError(f"{name}: {extra[0]!r} is not a registry key")
        default = data.get("default_party")
        if default is not None:
            default = _party(default, f"{name}: default_party")
        units: dict[tuple[IdKind, str], Unit] = {}
        for where, entry in _entries(data, "unit", text, name):
            key, unit = _unit(entry, where)
            if key in units:
                raise ConfigError(f"{where}: {key[0]} {key[1]} is given twice")
            units[key] = unit
        mids: dict[str, str] = {}
        for where, entry in _entries(data, "mid", text, name):
            mid = entry.get("mid")
            if not isinstance(mid, str) or not _MID.fullmatch(mid):
                raise ConfigError(f"{where}: mid {mid!r} is not three digits from 200 to 799")
            if mid in mids:
                raise ConfigError(f"{where}: mid {mid} is given twice")
            mids[mid] = _party(entry.get("party"), where)
        blocks = [_block(entry, where) for where, entry in _entries(data, "icao_block", text, name)]
        return cls(units=units, mids=mids, icao_blocks=tuple(blocks), default_party=default)


def _entries(
    data: dict[str, Any], table: str, text: str, name: str
) -> list[tuple[str, dict[str, Any]]]:
    """Each entry of an array of tables, with where it is for error messages."""
    entries = data.get(table, [])
    if not isinstance(entries, list):
        raise ConfigError(f"{name}: {table} must be an array of tables ([[{table}]])")
    header = re.compile(rf"^[ \t]*\[\[[ \t]*{table}[ \t]*\]\]", re.MULTILINE)
    lines = [text.count("\n", 0, m.start()) + 1 for m in header.finditer(text)]
    out = []
    for i, entry in enumerate(entries):
        at = f" line {lines[i]}" if len(lines) == len(entries) else ""
        where = f"{name}{at} ({table} {i + 1})"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        extra = sorted(set(entry) - _KEYS[table])
        if extra:
            raise ConfigError(f"{where}: {extra[0]!r} is not a key of [[{table}]]")
        out.append((where, entry))
    return out


def _party(value: object, where: str) -> str:
    if not isinstance(value, str) or not _PARTY.fullmatch(value):
        raise ConfigError(f"{where}: party {value!r} is not a party id (a-z, 0-9, _ -)")
    return value


def _unit(entry: dict[str, Any], where: str) -> tuple[tuple[IdKind, str], Unit]:
    mmsi, icao = entry.get("mmsi"), entry.get("icao")
    if (mmsi is None) == (icao is None):
        raise ConfigError(f"{where}: give exactly one of mmsi and icao")
    key: tuple[IdKind, str]
    if mmsi is not None:
        if not isinstance(mmsi, str) or not _MMSI.fullmatch(mmsi) or mmsi == "000000000":
            raise ConfigError(f"{where}: mmsi {mmsi!r} is not 9 digits in a string")
        key = ("mmsi", mmsi)
    else:
        if not isinstance(icao, str) or not _ICAO.fullmatch(icao) or int(icao, 16) == 0:
            raise ConfigError(f"{where}: icao {icao!r} is not 6 hex digits in a string")
        key = ("icao", icao.upper())
    label, kind = entry.get("name", ""), entry.get("kind", "")
    if not isinstance(label, str) or len(label) > 200:
        raise ConfigError(f"{where}: name must be a string of at most 200 characters")
    if not isinstance(kind, str) or (kind and not _KIND.fullmatch(kind)):
        raise ConfigError(f"{where}: kind {kind!r} is not a word such as ship or aircraft")
    return key, Unit(_party(entry.get("party"), where), label, kind)


def _block(entry: dict[str, Any], where: str) -> IcaoBlock:
    ends = []
    for end in ("first", "last"):
        value = entry.get(end)
        if not isinstance(value, str) or not _ICAO.fullmatch(value):
            raise ConfigError(f"{where}: {end} {value!r} is not 6 hex digits in a string")
        ends.append(int(value, 16))
    if ends[0] > ends[1]:
        raise ConfigError(f"{where}: first {ends[0]:06X} is after last {ends[1]:06X}")
    return IcaoBlock(ends[0], ends[1], _party(entry.get("party"), where))
