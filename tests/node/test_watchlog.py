"""The watch log: notes, handovers, who is on watch; on both databases."""

import pytest

from detente.errors import InputError
from detente.node.alarms import acknowledge, list_alarms, raise_alarm
from detente.node.watchlog import MAX_NOTE_LENGTH, add_note, current_watch, watch_entries


def test_notes_come_back_newest_first(node):
    add_note(node, operator="alice", kind="on_watch", text="")
    add_note(node, operator="alice", kind="note", text="Link test with ru at 04:00 passed.")
    entries = watch_entries(node)
    assert [e.kind for e in entries] == ["note", "on_watch"]
    assert entries[0].text == "Link test with ru at 04:00 passed."


def test_who_is_on_watch(node):
    assert current_watch(node) is None
    add_note(node, operator="alice", kind="on_watch", text="")
    add_note(node, operator="alice", kind="note", text="quiet")
    assert current_watch(node) == "alice"
    add_note(node, operator="alice", kind="handover", text="Nothing open.")
    assert current_watch(node) is None
    add_note(node, operator="bob", kind="on_watch", text="")
    assert current_watch(node) == "bob"


@pytest.mark.parametrize(
    ("kind", "text", "problem"),
    [
        ("login", "x", "kind 'login'"),
        ("note", "   ", "write the note"),
        ("note", "x" * (MAX_NOTE_LENGTH + 1), "at most"),
    ],
)
def test_bad_notes_are_refused(node, kind, text, problem):
    with pytest.raises(InputError, match=problem):
        add_note(node, operator="alice", kind=kind, text=text)
    assert watch_entries(node) == []


def test_acknowledging_an_alarm_goes_on_the_watch_log(node):
    raise_alarm(node, kind="stale_log", party="ru", detail="no word from ru")
    (alarm,) = list_alarms(node)
    acknowledge(node, alarm.id, by="alice")
    (entry,) = watch_entries(node)
    assert (entry.kind, entry.operator) == ("acknowledged", "alice")
    assert "stale_log (ru)" in entry.text
