"""``detente tracks screen`` end to end through Typer: output, bad lines, exit status."""

import json

import pytest
from typer.testing import CliRunner

from detente.cli.app import app

runner = CliRunner()

TIME = "2026-03-01T12:00:00Z"


def report(id, party, lat, lon, course=0.0, speed=0.0, time=TIME, **extra):
    return json.dumps(
        {
            "id": id,
            "party": party,
            "time": time,
            "lat": lat,
            "lon": lon,
            "course_deg": course,
            "speed_mps": speed,
            **extra,
        }
    )


# Two head-on pairs 2.56 km apart (meeting in 128 s), a stationary pair 1.1 km apart, and a
# pair of one party that would otherwise meet.
GOOD = [
    report("us-1", "us", 55.0, 19.0, 90.0, 10.0),
    report("ru-1", "ru", 55.0, 19.04, 270.0, 10.0),
    report("us-2", "us", 56.0, 19.0),
    report("cn-2", "cn", 56.01, 19.0),
    report("ru-3", "ru", 54.0, 19.0, 90.0, 10.0),
    report("ru-4", "ru", 54.0, 19.04, 270.0, 10.0),
]


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


def screen(path, *more, horizon=600, input=None):
    args = ("tracks", "screen", "--input", path, "--horizon", horizon, "--cpa-m", 2000, *more)
    return invoke(*args, input=input)


@pytest.fixture
def reports(tmp_path):
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(GOOD) + "\n")
    return path


def test_json_prints_one_alert_object_a_line(reports):
    result = screen(reports, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    alerts = [json.loads(line) for line in lines]
    assert [(a["a"], a["b"]) for a in alerts] == [("cn-2", "us-2"), ("ru-1", "us-1")]
    for line, alert in zip(lines, alerts, strict=True):
        assert line.startswith("{") and line.endswith("}")
        assert list(alert) == ["a", "b", "tcpa_s", "dcpa_m"]
        assert isinstance(alert["tcpa_s"], float) and isinstance(alert["dcpa_m"], float)
    stationary, head_on = alerts
    assert stationary["tcpa_s"] == 0 and stationary["dcpa_m"] == pytest.approx(1113.0, abs=2)
    assert head_on["tcpa_s"] == pytest.approx(128.0, abs=0.2) and head_on["dcpa_m"] < 1


def test_json_prints_nothing_when_nothing_is_close(tmp_path):
    path = tmp_path / "far.jsonl"
    path.write_text(report("a", "us", 0.0, 0.0) + "\n" + report("b", "ru", 1.0, 1.0) + "\n")
    result = screen(path, "--format", "json")
    assert result.exit_code == 0 and result.stdout == ""


def test_text_prints_a_table_for_people(reports):
    result = screen(reports, "--vertical-m", 300)
    assert result.exit_code == 0, result.output
    assert "2 close approaches among 6 units (horizon 600 s, 2000 m, 300 m vertical)" in (
        result.stdout
    )
    rows = [line for line in result.stdout.splitlines() if "us-" in line]
    assert len(rows) == 2
    assert "cn-2" in rows[0] and "0.0" in rows[0] and "1113." in rows[0]
    assert "ru-1" in rows[1] and "128.0" in rows[1]


def test_reading_standard_input(reports):
    result = screen("-", "--format", "json", input=reports.read_text())
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


BAD = {
    "bad_json": '{"id": "x1", "party": "us",',
    "lat 91": report("x2", "us", 91.0, 19.0),
    "lon 181": report("x3", "us", 55.0, 181.0),
    "missing_field: lat": json.dumps(
        {"id": "x4", "party": "us", "time": TIME, "lon": 19.0, "course_deg": 0, "speed_mps": 0}
    ),
    "bad_time": report("x5", "us", 55.0, 19.0, time="2026-03-01 12:00"),
    "bad_field: speed_mps": report("x6", "us", 55.0, 19.0, speed="fast"),
    "too_long": report("x7", "us", 55.0, 19.0) + " " * 5000,
}


def test_bad_lines_are_set_aside_with_a_warning_and_the_screen_goes_on(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [GOOD[0], *BAD.values(), "", GOOD[1]]
    path.write_text("\n".join(lines) + "\n")
    result = screen(path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["a"] for line in result.stdout.splitlines()] == ["ru-1"]
    warnings = result.stderr.splitlines()
    for number, (reason, line) in enumerate(zip(BAD, warnings, strict=False), start=2):
        assert line.startswith(f"warning: {path} line {number}: ")
        assert reason in line, line
    assert "lat 91 is not within [-90, 90]" in warnings[1]
    assert "lon 181 is not within [-180, 180]" in warnings[2]
    assert warnings[-1] == (
        f"warning: {path}: 7 of 10 lines set aside (1 bad_field, 1 bad_json, 1 bad_time, "
        "1 missing_field, 2 out_of_range, 1 too_long)"
    )
    assert len(warnings) == 8


def test_the_line_after_a_too_long_line_is_read(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join([GOOD[0], "x" * 10_000, GOOD[1]]) + "\n")
    result = screen(path, "--format", "json")
    assert "line 2: too_long" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_only_the_first_twenty_bad_lines_are_named(tmp_path):
    path = tmp_path / "noise.jsonl"
    path.write_text("\n".join([*GOOD, *(["not json"] * 25)]) + "\n")
    result = screen(path, "--format", "json")
    assert result.exit_code == 0
    named = [line for line in result.stderr.splitlines() if " line " in line]
    assert len(named) == 20 and named[-1].startswith(f"warning: {path} line 26: bad_json")
    assert f"{path}: 25 of 31 lines set aside (25 bad_json)" in result.stderr


def test_strict_exits_1_when_lines_were_set_aside(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*GOOD, BAD["lat 91"]]) + "\n")
    result = screen(path, "--format", "json", "--strict")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2  # the screen still ran
    assert f"error: {path}: 1 lines set aside (--strict)" in result.stderr


def test_strict_exits_0_on_a_clean_file(reports):
    assert screen(reports, "--strict").exit_code == 0


def test_a_missing_file_is_named(tmp_path):
    result = screen(tmp_path / "nowhere.jsonl")
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'nowhere.jsonl'}: cannot read: No such file or directory" in (
        result.stderr
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args", [("--horizon", "-1"), ("--cpa-m", "0"), ("--vertical-m", "0"), ("--format", "xml")]
)
def test_bad_options_are_usage_errors(reports, args):
    result = invoke(
        "tracks", "screen", "--input", reports, "--horizon", 600, "--cpa-m", 2000, *args
    )
    assert result.exit_code == 2


def test_the_newest_report_of_each_unit_is_screened(tmp_path):
    path = tmp_path / "updates.jsonl"
    path.write_text(
        "\n".join(
            [
                report("a", "us", 55.0, 19.0),
                # b is near a now; an older report of b, later in the file, put it far away.
                report("b", "ru", 55.01, 19.0, time="2026-03-01T12:00:00Z"),
                report("b", "ru", 57.0, 19.0, time="2026-03-01T11:59:00Z"),
                # c was near a, but has moved away since.
                report("c", "cn", 55.0, 19.01, time="2026-03-01T11:58:00Z"),
                report("c", "cn", 55.0, 20.0, time="2026-03-01T11:59:30Z"),
            ]
        )
        + "\n"
    )
    result = screen(path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(a["a"], a["b"]) for a in map(json.loads, result.stdout.splitlines())] == [("a", "b")]
    text = screen(path)
    assert "1 close approaches among 3 units" in text.stdout


def test_stale_reports_are_moved_to_the_newest_time(tmp_path):
    # Reported ten minutes ago 6 km west of a, eastbound at 10 m/s: on top of a now.
    path = tmp_path / "stale.jsonl"
    path.write_text(
        report("a", "us", 55.0, 19.0)
        + "\n"
        + report("b", "ru", 55.0, 18.906, 90.0, 10.0, time="2026-03-01T11:50:00Z")
        + "\n"
    )
    result = screen(path, "--format", "json", horizon=0)
    (alert,) = map(json.loads, result.stdout.splitlines())
    assert alert["tcpa_s"] == 0 and alert["dcpa_m"] < 100
