"""How the demo tells its story: chapters, checked steps, and the commands it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from rich.console import Console
from rich.rule import Rule

__all__ = ["Story", "StepFailed", "console"]

console = Console(highlight=False)


class StepFailed(Exception):
    """A step of the demo did not come out as it should."""


class Story:
    """Numbered chapters, checks that stop the demo when they fail, real commands."""

    def __init__(self, *, headless: bool) -> None:
        self.headless = headless
        self.steps = 0
        self.checks = 0

    def chapter(self, title: str, text: str) -> None:
        """Start a chapter: a numbered rule and what it shows."""
        self.steps += 1
        console.print()
        console.print(Rule(f"[bold]{self.steps}. {title}[/]", align="left"))
        console.print(text)
        if not self.headless:
            time.sleep(0.6)

    def check(self, condition: bool, what: str) -> None:
        """Tick ``what`` if it holds; stop the story if it does not."""
        if not condition:
            raise StepFailed(what)
        self.checks += 1
        console.print(f"  [green]✓[/] {what}")

    def run_json(self, *args: str, stdin: str | None = None, show: bool = False) -> Any:
        """Run ``detente ARGS`` (which asks for JSON) and parse what it prints; quietly
        unless ``show``."""
        return json.loads(self._run(args, expect=0, show=show, stdin=stdin).stdout)

    def run(self, *args: str, expect: int = 0, show: bool = True) -> str:
        """Run ``detente ARGS`` as a user would, show it, and return its output."""
        result = self._run(args, expect=expect, show=show)
        return result.stdout + result.stderr

    def _run(
        self, args: tuple[str, ...], *, expect: int, show: bool, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = ["detente", *args]
        if show:
            console.print(f"[dim]$[/] [cyan]{' '.join(command)}[/]")
        result = subprocess.run(
            [sys.executable, "-m", "detente.cli.app", *args],
            capture_output=True,
            text=True,
            check=False,
            input=stdin,
            env={**os.environ, "COLUMNS": "110"},
        )
        if show:
            for stream in (result.stdout, result.stderr):
                if stream.strip():
                    console.print(stream.rstrip(), markup=False)
        if result.returncode != expect:
            raise StepFailed(
                f"`{' '.join(command)}` exited {result.returncode}, expected {expect}: "
                f"{result.stderr.strip()[-300:]}"
            )
        return result
