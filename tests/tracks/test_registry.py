"""The unit registry: lookups by unit, MID, ICAO block and default, and its errors."""

import doctest

import pytest

import detente.tracks.registry as registry
from detente.errors import ConfigError, InputError
from detente.tracks.registry import MAX_REGISTRY_BYTES, Registry, Unit, mid_of

FULL = """\
default_party = "other"

[[unit]]
mmsi = "273456789"
party = "ru"
name = "Neustrashimy"
kind = "ship"

[[unit]]
icao = "3c6444"
party = "de"
name = "GAF 10+21"
kind = "aircraft"

[[mid]]
mid = "366"
party = "us"

[[icao_block]]
first = "A00000"
last = "AFFFFF"
party = "us"

[[icao_block]]
first = "AE0000"
last = "AEFFFF"
party = "us-mil"
"""


def test_docstring_examples_run():
    assert doctest.testmod(registry).failed == 0


def test_lookups_in_order_of_precedence():
    r = Registry.from_toml(FULL)
    assert r.lookup("mmsi", "273456789") == Unit("ru", "Neustrashimy", "ship")
    assert r.lookup("icao", "3C6444") == Unit("de", "GAF 10+21", "aircraft")
    assert r.lookup("icao", "3c6444").party == "de"
    assert r.lookup("mmsi", "366123456") == Unit("us", "", "")
    assert r.lookup("mmsi", "003669999").party == "us"  # a coast station 00MID
    assert r.lookup("icao", "A12345").party == "us"
    assert r.lookup("icao", "AE1234").party == "us-mil"  # the narrower block wins
    assert r.lookup("mmsi", "273000000") == Unit("other", "", "")
    assert r.lookup("icao", "not hex").party == "other"


def test_without_a_default_party_unknown_units_are_none():
    r = Registry.from_toml('[[mid]]\nmid = "273"\nparty = "ru"\n')
    assert r.lookup("mmsi", "366123456") is None
    assert r.lookup("icao", "3C6444") is None
    assert len(Registry().units) == 0 and Registry().lookup("mmsi", "273456789") is None


@pytest.mark.parametrize(
    ("mmsi", "mid"),
    [
        ("273456789", "273"),
        ("027312345", "273"),
        ("002731234", "273"),
        ("111273001", "273"),
        ("827312345", "273"),
        ("982731234", "273"),
        ("992731234", "273"),
        ("970123456", None),
        ("123456789", None),  # MIDs start at 2
        ("27345678", None),
    ],
)
def test_mid_of_follows_itu_r_m585(mmsi, mid):
    assert mid_of(mmsi) == mid


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[unit]\n", "registry: not TOML: "),
        ('colour = "red"\n', "registry: 'colour' is not a registry key"),
        ('unit = "x"\n', "registry: unit must be an array of tables ([[unit]])"),
        ('default_party = "Red Team"\n', "registry: default_party: party 'Red Team' is not"),
        (
            '[[unit]]\nmmsi = "273456789"\nparty = "ru"\n\n[[unit]]\nmmsi = "273456780"\n'
            'party = "ru"\ncolor = "grey"\n',
            "registry line 5 (unit 2): 'color' is not a key of [[unit]]",
        ),
        ('[[unit]]\nmmsi = 273456789\nparty = "ru"\n', "line 1 (unit 1): mmsi 273456789 is not"),
        ('[[unit]]\nmmsi = "2734567"\nparty = "ru"\n', "mmsi '2734567' is not 9 digits"),
        ('[[unit]]\nmmsi = "000000000"\nparty = "ru"\n', "mmsi '000000000' is not 9 digits"),
        ('[[unit]]\nicao = "3C644"\nparty = "de"\n', "icao '3C644' is not 6 hex digits"),
        ('[[unit]]\nparty = "de"\n', "give exactly one of mmsi and icao"),
        ('[[unit]]\nmmsi = "273456789"\nicao = "3C6444"\nparty = "x"\n', "exactly one of"),
        ('[[unit]]\nmmsi = "273456789"\n', "party None is not a party id"),
        ('[[unit]]\nmmsi = "273456789"\nparty = "ru"\nkind = "Big Ship"\n', "kind 'Big Ship'"),
        ('[[unit]]\nmmsi = "273456789"\nparty = "ru"\nname = 7\n', "name must be a string"),
        (
            '[[unit]]\nicao = "3C6444"\nparty = "de"\n[[unit]]\nicao = "3c6444"\nparty = "de"\n',
            "registry line 4 (unit 2): icao 3C6444 is given twice",
        ),
        ('[[mid]]\nmid = "123"\nparty = "ru"\n', "mid '123' is not three digits"),
        ('[[mid]]\nmid = "273"\nparty = "ru"\n[[mid]]\nmid = "273"\nparty = "x"\n', "twice"),
        ('[[icao_block]]\nfirst = "15FFFF"\nlast = "140000"\nparty = "ru"\n', "is after last"),
        ('[[icao_block]]\nfirst = "1"\nlast = "140000"\nparty = "ru"\n', "first '1' is not 6"),
        ("unit = [1]\n", "registry (unit 1): must be a table"),
    ],
)
def test_bad_registries_say_where(text, message):
    with pytest.raises(ConfigError) as caught:
        Registry.from_toml(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_a_toml_syntax_error_gives_its_line():
    with pytest.raises(ConfigError, match=r"line 3"):
        Registry.from_toml('[[unit]]\nmmsi = "273456789"\nparty = \n')


def test_load_reads_a_file_and_names_it_in_errors(tmp_path):
    path = tmp_path / "units.toml"
    path.write_text(FULL, encoding="utf-8")
    assert Registry.load(path).lookup("mmsi", "273456789").name == "Neustrashimy"
    path.write_text('[[unit]]\nmmsi = "1"\nparty = "ru"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path} line 1 \(unit 1\): mmsi '1'"):
        Registry.load(path)
    path.write_bytes(b'default_party = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        Registry.load(path)
    with pytest.raises(ConfigError, match="cannot read the unit registry"):
        Registry.load(tmp_path / "missing.toml")


def test_load_refuses_a_file_over_the_limit(tmp_path):
    path = tmp_path / "huge.toml"
    with path.open("wb") as handle:
        handle.truncate(MAX_REGISTRY_BYTES + 1)
    with pytest.raises(ConfigError, match=f"larger than {MAX_REGISTRY_BYTES} bytes"):
        Registry.load(path)
