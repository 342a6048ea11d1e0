"""The results table every benchmark prints: each figure beside its reference."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One figure, the reference measured in the same run, and the goal."""

    figure: str
    ours: float
    reference: float | None
    reference_name: str
    ratio: float | None
    goal: str
    met: bool | None


@dataclass
class Report:
    """Rows in the order measured; printed as a table or as JSON."""

    rows: list[Row] = field(default_factory=list)

    def row(
        self,
        figure: str,
        ours: float,
        reference: float | None,
        reference_name: str,
        ratio: float | None,
        goal: str,
        met: bool | None,
    ) -> None:
        """Record one figure."""
        self.rows.append(Row(figure, ours, reference, reference_name, ratio, goal, met))

    def print_json(self, **context: Any) -> None:
        """Print the rows and ``context`` as JSON."""
        print(json.dumps({**context, "rows": [asdict(r) for r in self.rows]}, indent=2))

    def print_table(self, title: str) -> None:
        """Print the rows for people: figure, ours, reference, ratio, goal, met."""
        print(title)
        print(f"{'figure':52} {'ours':>12} {'reference':>12} {'ratio':>7}  goal               met")
        for r in self.rows:
            ref = "" if r.reference is None else f"{r.reference:12,.1f}"
            ratio = "" if r.ratio is None else f"{r.ratio:7.2f}"
            met = {True: "yes", False: "NO", None: "n/a"}[r.met]
            print(f"{r.figure:52} {r.ours:12,.1f} {ref:>12} {ratio:>7}  {r.goal:18} {met}")
            print(f"{'':52} {'':12} {r.reference_name}")
