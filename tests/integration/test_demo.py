"""`make demo` runs the walk-through; headless, every step must hold."""

from detente.demo.walkthrough import run


def test_the_walkthrough_holds(tmp_path, capsys):
    assert run(headless=True, keep=tmp_path / "demo") == 0
    out = capsys.readouterr().out
    assert "the rewrite is caught by the cosignature" in out
    assert "the altered body of us:1 is caught" in out
