"""Read agreement files: parse TOML, validate, expand includes, check references.

Every failure is an :class:`~detente.errors.AgreementError` whose message
starts the way compilers do, ``FILE:LINE: FIELD.PATH: what is wrong``, one
line per problem: TOML syntax errors carry the line and column tomllib
reports; validation errors carry the field path and the line found by
reading the text (:mod:`detente.agreement._locate`, best effort: the line
of the key, or of its table when the key is missing).

An include is a built-in name (``new-start``) or, when it contains a ``/``
or ends in ``.toml``, a path relative to the including file. Built-in
agreements may include only built-in names. Included agreements contribute
their categories, counting rules, limits, zones, sites, message types and
inspection types, hotline and incident thresholds; an id (or a hotline)
defined differently in two places is an error naming both files, while an
identical repeat is fine. The message types each file lists under
``two_person_release`` are merged as a union: an include can ask for more
care, never less. The includer's ``skew_seconds`` and ``max_body_bytes``
apply, and its parties must include every party of what it includes.

Example:
    >>> builtin_agreement("new-start").limits["launchers"].max
    800
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from detente.agreement._locate import line_of
from detente.agreement.messages import FREE_TEXT_TYPE, free_text_message_type
from detente.agreement.model import (
    KEYED_SECTIONS,
    RELEASE_FIELD,
    Agreement,
    AgreementContent,
    AgreementSource,
    FieldPath,
    dotted,
    reference_problems,
)
from detente.errors import AgreementError

__all__ = [
    "builtin_agreement",
    "builtin_names",
    "load_agreement",
    "load_agreement_text",
    "resolve_agreement",
]

_SINGLETONS = ("hotline", "incident_thresholds", "in_force")
_MAX_PROBLEMS = 20
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_ID_MISMATCH = re.compile(r"^(?P<section>[a-z_]+)\.(?P<key>[^.\s]+)\.id: (?P<message>.*)$")


@dataclass(frozen=True)
class _File:
    """One parsed and shape-checked agreement file."""

    source: str  # how messages name it
    key: str  # identity, to find include cycles
    text: str
    spec: AgreementSource
    base_dir: Path | None  # where relative includes start; None for built-ins

    def at(self, path: FieldPath, message: str) -> str:
        line = line_of(self.text, path) if path else None
        where = f"{self.source}:{line}" if line is not None else self.source
        return f"{where}: {dotted(path)}: {message}" if path else f"{where}: {message}"


# --- public API -------------------------------------------------------------


def load_agreement(path: Path) -> Agreement:
    """Load and resolve the agreement file at ``path``.

    Raises:
        AgreementError: the file is missing, unreadable, not UTF-8, not TOML,
            not a valid agreement, or its includes do not resolve.
    """
    return _resolve(_read_file(Path(path)))


def load_agreement_text(text: str, *, source: str, base_dir: Path | None = None) -> Agreement:
    """Load and resolve an agreement from ``text``; ``source`` names it in errors.

    Relative includes start from ``base_dir`` (default: the directory of
    ``source`` read as a path, which is the working directory for a name
    such as ``<stdin>``).

    Raises:
        AgreementError: as for :func:`load_agreement`.
    """
    base = base_dir if base_dir is not None else Path(source).parent
    return _resolve(_parse(text, source=source, key=f"text:{source}", base_dir=base))


def builtin_names() -> list[str]:
    """Names of the agreements shipped with Détente, sorted."""
    return list(_builtin_names())


def builtin_agreement(name: str) -> Agreement:
    """The built-in agreement ``name``, resolved (cached: each is read once).

    Raises:
        AgreementError: there is no built-in agreement of that name.
    """
    if name not in _builtin_names():
        raise AgreementError(
            f"no built-in agreement {name!r} (built-ins: {', '.join(_builtin_names())})"
        )
    return _builtin_agreement(name)


def resolve_agreement(name_or_path: str) -> Agreement:
    """A built-in agreement by name, else the agreement file at that path.

    A built-in name wins over a file of the same name in the working
    directory; write ``./new-start`` for the file.

    Raises:
        AgreementError: neither a built-in name nor a loadable file.
    """
    if name_or_path in _builtin_names():
        return builtin_agreement(name_or_path)
    path = Path(name_or_path)
    if not path.exists() and not _looks_like_path(name_or_path):
        raise AgreementError(
            f"{name_or_path}: neither a built-in agreement "
            f"({', '.join(_builtin_names())}) nor an agreement file"
        )
    return load_agreement(path)


# --- reading ----------------------------------------------------------------


def _read_file(path: Path) -> _File:
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise AgreementError(f"{source}: no such agreement file") from e
    except IsADirectoryError as e:
        raise AgreementError(f"{source}: is a directory, not an agreement file") from e
    except OSError as e:
        raise AgreementError(f"{source}: cannot read: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise AgreementError(
            f"{source}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from e
    return _parse(text, source=source, key=str(path.resolve()), base_dir=path.parent)


def _parse(text: str, *, source: str, key: str, base_dir: Path | None) -> _File:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AgreementError(_syntax_message(source, text, str(e))) from e
    try:
        spec = AgreementSource.model_validate(data)
    except ValidationError as e:
        raise AgreementError(_validation_message(source, text, data, e)) from e
    return _File(source=source, key=key, text=text, spec=spec, base_dir=base_dir)


def _syntax_message(source: str, text: str, message: str) -> str:
    position = _TOML_POSITION.search(message)
    if position:
        line, column = position.groups()
        return f"{source}:{line}:{column}: TOML syntax error: {message[: position.start()]}"
    if message.endswith("(at end of document)"):
        line = str(text.count("\n") + 1)
        reason = message.removesuffix("(at end of document)").rstrip()
        return f"{source}:{line}: TOML syntax error: {reason} (at end of file)"
    return f"{source}: TOML syntax error: {message}"


def _validation_message(source: str, text: str, data: Any, error: ValidationError) -> str:
    lines = []
    problems = error.errors(include_url=False)
    for problem in problems[:_MAX_PROBLEMS]:
        path = _data_path(problem["loc"], data, problem["type"])
        message = _describe(problem)
        mismatch = _ID_MISMATCH.match(message) if not path else None
        if mismatch:  # raised for the whole model, but it is about one item's id
            path = (mismatch["section"], mismatch["key"], "id")
            message = mismatch["message"]
        line = line_of(text, path) if path else None
        where = f"{source}:{line}" if line is not None else source
        lines.append(f"{where}: {dotted(path) or '(top level)'}: {message}")
    if len(problems) > _MAX_PROBLEMS:
        lines.append(f"{source}: … and {len(problems) - _MAX_PROBLEMS} more problems")
    return "\n".join(lines)


def _data_path(loc: tuple[int | str, ...], data: Any, kind: str) -> FieldPath:
    """The part of a pydantic error location that names places in the data.

    Pydantic adds steps that are not keys in the file (a union's tag, a
    validator's name, ``[key]`` for a bad dict key); they are dropped. The
    last step of a ``missing`` error is kept: it is the missing key's name.
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and kind == "missing":
            out.append(part)
    return tuple(out)


def _describe(problem: Any) -> str:
    kind: str = problem["type"]
    message: str = problem["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key (not part of the agreement format)"
    value = problem.get("input")
    if kind.endswith(("_type", "_parsing")) and _is_scalar(value):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        return f"{message} (got {shown})"
    return message


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


# --- built-ins --------------------------------------------------------------


@functools.cache
def _builtin_names() -> tuple[str, ...]:
    folder = files("detente.agreement").joinpath("builtin")
    return tuple(
        sorted(
            item.name.removesuffix(".toml")
            for item in folder.iterdir()
            if item.name.endswith(".toml")
        )
    )


@functools.cache
def _builtin_file(name: str) -> _File:
    text = files("detente.agreement").joinpath("builtin", f"{name}.toml").read_text("utf-8")
    return _parse(text, source=f"builtin/{name}.toml", key=f"builtin:{name}", base_dir=None)


@functools.cache
def _builtin_agreement(name: str) -> Agreement:
    return _resolve(_builtin_file(name))


# --- includes ---------------------------------------------------------------


@dataclass
class _Merged:
    """Items gathered from a file and everything it includes, with where each came from."""

    items: dict[str, dict[str, tuple[BaseModel, _File]]] = field(
        default_factory=lambda: {s: {} for s in (*KEYED_SECTIONS, *_SINGLETONS)}
    )
    done: set[str] = field(default_factory=set)
    included_names: dict[str, list[str]] = field(default_factory=dict)
    # Each type id listed under two_person_release: the first file listing it, and where.
    release: dict[str, tuple[_File, int]] = field(default_factory=dict)

    def add(self, section: str, key: str, item: BaseModel, origin: _File) -> None:
        held = self.items[section].get(key)
        if held is None:
            self.items[section][key] = (item, origin)
            return
        first, first_origin = held
        if first != item:
            path: FieldPath = (section, key) if section in KEYED_SECTIONS else (section,)
            raise AgreementError(
                origin.at(
                    path,
                    f"defined differently in {first_origin.source} and in {origin.source}",
                )
            )


def _resolve(root: _File) -> Agreement:
    merged = _Merged()
    _collect(root, merged, stack=())
    spec = root.spec
    data: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "version": spec.version,
        "description": spec.description,
        "includes": merged.included_names[root.key],
        "parties": spec.parties,
        "skew_seconds": spec.skew_seconds,
        "max_body_bytes": spec.max_body_bytes,
        RELEASE_FIELD: sorted(merged.release),
    }
    for section in KEYED_SECTIONS:
        data[section] = {key: item for key, (item, _) in merged.items[section].items()}
    for section in _SINGLETONS:
        held = merged.items[section].get(section)
        data[section] = None if held is None else held[0]
    if FREE_TEXT_TYPE not in data["message_types"]:
        data["message_types"][FREE_TEXT_TYPE] = free_text_message_type()

    content = AgreementContent.model_validate({k: v for k, v in data.items() if k != "includes"})
    problems = reference_problems(content)
    if problems:
        messages = []
        for problem in problems[:_MAX_PROBLEMS]:
            origin, path = root, problem.path
            if path[0] in KEYED_SECTIONS and len(path) > 1:
                held = merged.items[str(path[0])].get(str(path[1]))
                origin = held[1] if held is not None else root
            elif path[0] == RELEASE_FIELD and isinstance(path[1], int):
                # The merged list is sorted: point at the file, and the place, it came from.
                origin, index = merged.release[data[RELEASE_FIELD][path[1]]]
                path = (RELEASE_FIELD, index)
            messages.append(origin.at(path, problem.message))
        raise AgreementError("\n".join(messages))
    try:
        return Agreement.model_validate(data)
    except ValidationError as e:
        reasons = "; ".join(_describe(p) for p in e.errors(include_url=False))
        raise AgreementError(f"{root.source}: {reasons}") from e


def _collect(file: _File, merged: _Merged, stack: tuple[str, ...]) -> None:
    if file.key in merged.done:
        return
    seen: set[str] = set()
    names = merged.included_names.setdefault(file.key, [])
    for i, ref in enumerate(file.spec.includes):
        child = _open_include(file, i, ref)
        if child.key in seen:
            raise AgreementError(file.at(("includes", i), f"{ref!r} is included twice"))
        seen.add(child.key)
        names.append(child.spec.name)
        if child.key in (*stack, file.key):
            raise AgreementError(
                file.at(("includes", i), f"include cycle: {file.spec.name} includes {ref!r} again")
            )
        missing = child.spec.party_ids() - file.spec.party_ids()
        if missing:
            raise AgreementError(
                file.at(
                    ("includes", i),
                    f"{child.source} has parties {', '.join(sorted(missing))} "
                    f"that {file.spec.name} does not have",
                )
            )
        _collect(child, merged, (*stack, file.key))
    for section in KEYED_SECTIONS:
        for key, item in getattr(file.spec, section).items():
            merged.add(section, key, item, file)
    for section in _SINGLETONS:
        value = getattr(file.spec, section)
        if value is not None:
            merged.add(section, section, value, file)
    for index, type_id in enumerate(file.spec.two_person_release):
        merged.release.setdefault(type_id, (file, index))
    merged.done.add(file.key)


def _open_include(file: _File, index: int, ref: str) -> _File:
    if _looks_like_path(ref):
        if file.base_dir is None:
            raise AgreementError(
                file.at(("includes", index), "a built-in agreement may include only built-in names")
            )
        return _read_file(file.base_dir / ref)
    if ref not in _builtin_names():
        raise AgreementError(
            file.at(
                ("includes", index),
                f"no built-in agreement {ref!r} (a path must contain '/' or end in .toml)",
            )
        )
    return _builtin_file(ref)


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith(".toml")
