"""The k-of-n rule: which cosignatures count, each cosigner once."""

import pytest

from detente.crypto.keys import SigningKey
from detente.errors import ConfigError
from detente.record.checkpoint import Checkpoint, cosign
from detente.record.settlement import Policy, settle

ORIGIN = "detente.log/0123456789abcdef/us"


@pytest.fixture(scope="module")
def keys():
    return {
        "ru": SigningKey.generate("detente.log/0123456789abcdef/ru"),
        "nato": SigningKey.generate("detente.log/0123456789abcdef/nato"),
        "osce": SigningKey.generate("detente.witness/0123456789abcdef/osce"),
    }


@pytest.fixture
def checkpoint():
    return Checkpoint(origin=ORIGIN, size=3, root=bytes(range(32)))


def verifiers(keys):
    return {name: key.verifier for name, key in keys.items()}


POLICY = Policy(name="settled", k=2, cosigners=("ru", "nato", "osce"))


def test_settled_once_k_cosigners_vouch(keys, checkpoint):
    one = [cosign(checkpoint, keys["osce"], timestamp=100)]
    result = settle(POLICY, checkpoint, one, keys=verifiers(keys))
    assert not result.settled and result.cosigned_by == ("osce",) and result.settled_at is None
    two = [*one, cosign(checkpoint, keys["ru"], timestamp=250)]
    result = settle(POLICY, checkpoint, two, keys=verifiers(keys))
    assert result.settled and result.cosigned_by == ("osce", "ru")
    assert result.settled_at == 250 and result.size == 3 and result.k == 2


def test_one_cosigner_counts_once(keys, checkpoint):
    stamps = [cosign(checkpoint, keys["osce"], timestamp=t) for t in (300, 100, 200)]
    result = settle(POLICY, checkpoint, stamps, keys=verifiers(keys))
    assert not result.settled and result.cosigned_by == ("osce",)
    with_ru = [*stamps, cosign(checkpoint, keys["ru"], timestamp=150)]
    # Each cosigner's earliest time counts: osce at 100, ru at 150.
    assert settle(POLICY, checkpoint, with_ru, keys=verifiers(keys)).settled_at == 150


def test_only_verifying_cosignatures_by_named_keys_count(keys, checkpoint):
    other = Checkpoint(origin=ORIGIN, size=3, root=bytes(32))
    stranger = SigningKey.generate("detente.witness/0123456789abcdef/stranger")
    impostor = SigningKey.generate("detente.witness/0123456789abcdef/osce")  # osce's name only
    stamps = [
        cosign(other, keys["ru"], timestamp=1),  # on another root
        cosign(checkpoint, stranger, timestamp=1),  # not named by the policy
        cosign(checkpoint, impostor, timestamp=1),  # another key under osce's name
        cosign(checkpoint, keys["nato"], timestamp=1),
    ]
    result = settle(POLICY, checkpoint, stamps, keys=verifiers(keys))
    assert result.cosigned_by == ("nato",) and not result.settled


def test_a_cosigner_without_a_key_never_counts(keys, checkpoint):
    stamps = [cosign(checkpoint, keys[name], timestamp=1) for name in ("ru", "osce")]
    known = {"ru": keys["ru"].verifier}
    result = settle(POLICY, checkpoint, stamps, keys=known)
    assert result.cosigned_by == ("ru",) and not result.settled


@pytest.mark.parametrize(
    ("k", "cosigners", "message"),
    [
        (0, ("ru",), "k = 0"),
        (2, ("ru",), "k = 2"),
        (1, ("ru", "ru"), "named twice"),
    ],
)
def test_a_policy_that_cannot_mean_anything_is_refused(k, cosigners, message):
    with pytest.raises(ConfigError, match=message):
        Policy(name="p", k=k, cosigners=cosigners)
