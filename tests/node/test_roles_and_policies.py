"""Witness nodes and [[policies]] in config.toml: init, open, validation."""

import pytest

from detente.errors import ConfigError, PermissionDeniedError
from detente.node import CONFIG_FILE, NodeConfig, init_node, open_node
from detente.node.writer import Draft, LogWriter
from detente.record.settlement import Policy

AGREEMENT = "security-replies-2022"


def test_a_witness_is_named_for_an_office_and_keeps_no_log(tmp_path):
    node = init_node(tmp_path / "osce", party="osce", agreement_ref=AGREEMENT, witness=True)
    try:
        assert node.is_witness and node.config.role == "witness"
        assert node.config.key_name == f"detente.witness/{node.agreement.id[:16]}/osce"
        with pytest.raises(PermissionDeniedError, match="osce is a witness"):
            LogWriter(node).append([Draft(type="message", body={"text": "x"})])
    finally:
        node.close()
    reopened = open_node(tmp_path / "osce")
    try:
        assert reopened.is_witness
    finally:
        reopened.close()
    assert 'role = "witness"' in (tmp_path / "osce" / CONFIG_FILE).read_text()


@pytest.mark.parametrize(
    ("name", "message"), [("ru", "is a party of"), ("OSCE office", "lower-case letter")]
)
def test_a_witness_name_must_not_be_a_party_or_odd(tmp_path, name, message):
    with pytest.raises(ConfigError, match=message):
        init_node(tmp_path / "w", party=name, agreement_ref=AGREEMENT, witness=True)


def test_a_party_node_still_needs_an_agreement_party(tmp_path):
    with pytest.raises(ConfigError, match="'osce' is not a party"):
        init_node(tmp_path / "w", party="osce", agreement_ref=AGREEMENT)


def test_a_witness_renamed_to_a_party_is_refused_at_open(tmp_path):
    init_node(tmp_path / "osce", party="osce", agreement_ref=AGREEMENT, witness=True).close()
    path = tmp_path / "osce" / CONFIG_FILE
    path.write_text(path.read_text().replace('party = "osce"', 'party = "ru"'))
    with pytest.raises(ConfigError, match=r"config.toml: node.party: witness 'ru'"):
        open_node(tmp_path / "osce")


def _config(tmp_path, policies: str, *, peers: str = "") -> str:
    node = init_node(tmp_path / "us", party="us", agreement_ref=AGREEMENT)
    text = node.config.to_toml()
    node.close()
    return text + peers + policies


def _peer(tmp_path, name, *, witness):
    node = init_node(tmp_path / name, party=name, agreement_ref=AGREEMENT, witness=witness)
    key = node.verifier.to_text()
    node.close()
    flag = "witness = true\n" if witness else ""
    return f'\n[[peers]]\nparty = "{name}"\nurl = "http://{name}:1"\nkey = "{key}"\n{flag}'


def test_policies_round_trip(tmp_path):
    peers = _peer(tmp_path, "ru", witness=False) + _peer(tmp_path, "osce", witness=True)
    text = _config(
        tmp_path,
        '\n[[policies]]\nname = "settled"\nk = 2\ncosigners = ["ru", "osce"]\n',
        peers=peers,
    )
    config = NodeConfig.from_toml(text, source="config.toml")
    assert config.policies == (Policy(name="settled", k=2, cosigners=("ru", "osce")),)
    assert [p.witness for p in config.peers] == [False, True]
    assert NodeConfig.from_toml(config.to_toml(), source="again") == config


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ('name = "a"\nk = 0\ncosigners = ["ru"]', r"policies\[0\]\.k: 0 is not between 1"),
        ('name = "a"\nk = 2\ncosigners = ["ru"]', r"policies\[0\]\.k: 2 is not between 1"),
        ('name = "a"\nk = "1"\ncosigners = ["ru"]', r"policies\[0\]\.k must be an integer"),
        ('name = "a"\nk = 1\ncosigners = ["fr"]', r"policies\[0\]\.cosigners: 'fr' is not"),
        (
            'name = "a"\nk = 1\ncosigners = ["ru", "ru"]',
            r"policies\[0\]\.cosigners: a cosigner is named twice",
        ),
        ('name = ""\nk = 1\ncosigners = ["ru"]', r"policies\[0\]\.name must be"),
        (
            'name = "a"\nk = 1\ncosigners = ["ru"]\nlimit = 3',
            r"policies\[0\]: unknown field 'limit'",
        ),
        (
            'name = "a"\nk = 1\ncosigners = ["ru"]\n\n[[policies]]\nname = "a"\nk = 1\n'
            'cosigners = ["us"]',
            r"policies\[1\]\.name: another policy is already named 'a'",
        ),
    ],
)
def test_bad_policies_name_the_file_and_field(tmp_path, policies, message):
    text = _config(
        tmp_path, f"\n[[policies]]\n{policies}\n", peers=_peer(tmp_path, "ru", witness=False)
    )
    with pytest.raises(ConfigError, match=f"^/etc/us.toml: {message}"):
        NodeConfig.from_toml(text, source="/etc/us.toml")


def test_a_bad_role_or_witness_flag_is_refused(tmp_path):
    text = _config(tmp_path, "")
    with pytest.raises(ConfigError, match="node.role must be one of party, witness"):
        NodeConfig.from_toml(text.replace('role = "party"', 'role = "judge"'), source="c")
    peer = _peer(tmp_path, "ru", witness=False) + 'witness = "yes"\n'
    with pytest.raises(ConfigError, match=r"peers\[0\]: witness must be true or false"):
        NodeConfig.from_toml(text + peer, source="c")
