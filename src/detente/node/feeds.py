"""The track feeds a node reads, from ``tracks.toml`` in its directory.

The file is the operator's, beside ``config.toml``; a node without it
screens only what is posted to ``POST /v1/tracks/reports``::

    # The unit registry: which party each MMSI and ICAO address belongs to
    # (detente.tracks.registry); relative to the node's directory.
    registry = "units.toml"
    # A report older than this is stale: its unit leaves the picture.
    max_age_seconds = 360
    # Every pair is screened again this often, for approaches that come
    # within the horizon as time passes without a report.
    sweep_seconds = 10

    [[feeds]]
    name = "ais-baltic"            # in logs, alarms and the quarantine
    format = "ais"                 # ais (NMEA 0183), sbs (SBS-1), jsonl
    source = "tcp://10.0.0.5:10110"   # tcp://host:port, udp://host:port, file:PATH
    silent_after_seconds = 120     # no good report for this long: an alarm

Example:
    >>> cfg = parse_tracks_config('[[feeds]]\\nname = "f"\\nformat = "jsonl"\\n'
    ...                           'source = "udp://127.0.0.1:0"', where="tracks.toml")
    >>> cfg.feeds[0].scheme, cfg.feeds[0].silent_after_seconds, cfg.max_age_seconds
    ('udp', 120.0, 360.0)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from detente.errors import ConfigError
from detente.tracks.registry import Registry
from detente.tracks.sources import FileSource, Format, Source, TcpSource, UdpSource, parse_address

__all__ = [
    "TRACKS_FILE",
    "FeedConfig",
    "TracksConfig",
    "load_registry",
    "load_tracks_config",
    "open_source",
    "parse_tracks_config",
]

#: The file in a node's directory that names its feeds.
TRACKS_FILE: Final = "tracks.toml"
_MAX_FILE: Final = 1024 * 1024
_NAME: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_FORMATS: Final = ("ais", "sbs", "jsonl")
_TOP: Final = frozenset({"registry", "max_age_seconds", "sweep_seconds", "feeds"})
Clock = Callable[[], datetime]
_FEED: Final = frozenset({"name", "format", "source", "silent_after_seconds", "follow"})


@dataclass(frozen=True)
class FeedConfig:
    """One feed: its name, format and where its lines come from."""

    name: str
    format: Format
    source: str
    silent_after_seconds: float = 120.0
    follow: bool = False

    @property
    def scheme(self) -> str:
        """``tcp``, ``udp`` or ``file``."""
        return self.source.split(":", 1)[0]


@dataclass(frozen=True)
class TracksConfig:
    """What ``tracks.toml`` says; the defaults when the node has none."""

    registry: str = ""
    max_age_seconds: float = 360.0
    sweep_seconds: float = 10.0
    feeds: tuple[FeedConfig, ...] = field(default=())


def _number(value: Any, where: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}: {value!r} is not a number from {low:g} to {high:g}")
    return float(value)


def parse_tracks_config(text: str, *, where: str) -> TracksConfig:
    """Parse the text of ``tracks.toml``.

    Raises:
        ConfigError: naming the file, the entry and the key at fault.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: {e}") from e
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP))})")
    registry = data.get("registry", "")
    if not isinstance(registry, str):
        raise ConfigError(f"{where}: registry must be a file name")
    max_age = _number(
        data.get("max_age_seconds", 360), f"{where}: max_age_seconds", low=1, high=86_400
    )
    sweep = _number(data.get("sweep_seconds", 10), f"{where}: sweep_seconds", low=0.1, high=3600)
    items = data.get("feeds", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: feeds must be an array of tables ([[feeds]])")
    feeds = []
    names = set()
    for i, item in enumerate(items):
        at = f"{where}: feeds[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: a feed is a table")
        extra = sorted(set(item) - _FEED)
        if extra:
            raise ConfigError(f"{at}: unknown key {extra[0]!r}")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(f"{at}: name {name!r} must be a lower-case slug")
        if name in names:
            raise ConfigError(f"{at}: name {name!r} is used twice")
        names.add(name)
        fmt = item.get("format")
        if fmt not in _FORMATS:
            raise ConfigError(f"{at} ({name}): format {fmt!r}: use {', '.join(_FORMATS)}")
        source = item.get("source")
        if not isinstance(source, str) or not re.match(r"^(tcp://|udp://|file:).+", source):
            raise ConfigError(
                f"{at} ({name}): source {source!r}: use tcp://host:port, udp://host:port "
                "or file:PATH"
            )
        if not source.startswith("file:"):
            try:
                parse_address(source.split("://", 1)[1])
            except (ValueError, ConfigError) as e:
                raise ConfigError(f"{at} ({name}): source {source!r}: {e}") from e
        silent = _number(
            item.get("silent_after_seconds", 120),
            f"{at} ({name}): silent_after_seconds",
            low=1,
            high=7 * 86_400,
        )
        follow = item.get("follow", False)
        if not isinstance(follow, bool):
            raise ConfigError(f"{at} ({name}): follow must be true or false")
        feeds.append(FeedConfig(name, fmt, source, silent, follow))
    return TracksConfig(registry, max_age, sweep, tuple(feeds))


def load_tracks_config(directory: Path) -> TracksConfig:
    """The node's ``tracks.toml``, or the defaults (no feeds) when there is none.

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    path = directory / TRACKS_FILE
    if not path.exists():
        return TracksConfig()
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    if len(raw) > _MAX_FILE:
        raise ConfigError(f"{path}: larger than {_MAX_FILE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e})") from e
    return parse_tracks_config(text, where=str(path))


def load_registry(directory: Path, config: TracksConfig) -> Registry:
    """The registry the config names (relative to ``directory``), or an empty one.

    Raises:
        ConfigError: the registry file is missing or invalid.
    """
    if not config.registry:
        return Registry.from_toml("", name="(no registry)")
    return Registry.load(directory / config.registry)


def open_source(feed: FeedConfig, directory: Path, *, clock: Clock) -> Source:
    """The source a feed reads: a TCP client, a bound UDP socket, or a file.

    ``clock`` stamps each line's receive time: the node's, so that a node on
    an exercise clock receives on exercise time.

    Raises:
        ConfigError: a UDP address cannot be bound.
    """
    scheme, _, rest = feed.source.partition(":")
    if scheme == "file":
        path = Path(rest)
        where = path if path.is_absolute() else directory / path
        return FileSource(where, follow=feed.follow, clock=clock)
    host, port = parse_address(rest.removeprefix("//"))
    if scheme == "tcp":
        return TcpSource(host, port, clock=clock)
    try:
        return UdpSource(host, port, clock=clock)
    except OSError as e:
        raise ConfigError(f"feed {feed.name}: cannot listen on {feed.source}: {e}") from e
