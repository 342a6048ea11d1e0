"""`make demo` runs the three-node story; headless, every check must hold."""

import pytest

from detente.demo import network, walkthrough


@pytest.mark.slow
def test_the_three_node_story_holds(tmp_path, capsys, monkeypatch):
    # A smaller backlog ahead of the FLASH message than `make demo` queues
    # (5,000): still far more than arrive before it, and the suite's time.
    monkeypatch.setattr(network, "BACKLOG", 2000)
    assert network.run(headless=True, keep=tmp_path / "demo") == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # Rich wraps lines at the terminal's width
    assert "the backlog arrives and is receipted" in out
    assert "nothing lost, nothing twice" in out
    assert "the witness holds no message body" in out
    assert "every party's messages are settled" in out
    assert "and on the witness" in out
    assert "routine messages before it were still on their way" in flat
    assert "Russia's mirror of the United States' log filled the gap" in flat
    assert "the report file verifies offline with the two public keys" in flat
    assert "the paired visit" in flat and "is closed too" in flat
    assert "both positions, side by side" in flat
    assert "the compliance report verifies offline" in flat
    assert "checks held" in out


def test_the_single_node_walkthrough_holds(tmp_path, capsys):
    assert walkthrough.run(headless=True, keep=tmp_path / "demo") == 0
    out = capsys.readouterr().out
    assert "the rewrite is caught by the cosignature" in out
    assert "the altered body of us:1 is caught" in out
