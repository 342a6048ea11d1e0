"""Sample planning against scipy and exact arithmetic; the jointly random sample."""

import doctest
import hashlib
import math
from fractions import Fraction

import pytest
from scipy.stats import hypergeom

import detente.measures.sampling as sampling
from detente.agreement.inspections import AllSample, DetectionSample, FixedSample
from detente.errors import InputError, VerificationError
from detente.measures.sampling import (
    INSPECT_ALL_SHARE,
    SEED_SIZE,
    VALUE_SIZE,
    commit_value,
    derive_seed,
    detection_probability,
    miss_probability,
    plan_sample,
    sample_size,
    select,
    select_sorted,
    verify_reveal,
)

HOST = bytes(range(32))
INSPECTOR = bytes(range(32, 64))


def test_docstring_examples_run():
    assert doctest.testmod(sampling).failed == 0


# --- how many -----------------------------------------------------------------


def _exact_miss(items, violations, sample):
    return Fraction(math.comb(items - violations, sample), math.comb(items, sample))


SMALL = [
    (n_items, bad, n)
    for n_items in (1, 2, 3, 7, 24, 100, 1000, 4321)
    for bad in (1, 2, 3, 10, 57, 500, n_items)
    for n in (0, 1, 2, 5, 20, 99, 333, n_items - bad, n_items - bad + 1, n_items)
    if bad <= n_items and 0 <= n <= n_items
]


@pytest.mark.parametrize(("items", "violations", "sample"), SMALL)
def test_miss_probability_is_exact_to_rounding(items, violations, sample):
    exact = _exact_miss(items, violations, sample)
    ours = miss_probability(items, violations, sample)
    assert ours == pytest.approx(float(exact), rel=1e-13, abs=1e-300)
    assert ours == pytest.approx(hypergeom(items, violations, sample).pmf(0), rel=1e-12, abs=1e-300)
    assert detection_probability(items, violations, sample) == 1.0 - ours


LARGE = [
    (10**7, 1, 10**6),
    (10**7, 1, 9 * 10**6),
    (10**7, 10, 100_000),
    (10**7, 1_000, 5_000),
    (10**7, 4_000, 4_000),
    (10**7, 100_000, 100),
    (10**7, 5 * 10**6, 5 * 10**6),
    (10**7, 2, 10**7 - 1),
    (123_456_789, 77, 1_234_567),
    (10**9, 30_000, 76_749),
]


@pytest.mark.parametrize(("items", "violations", "sample"), LARGE)
def test_large_populations_against_scipy(items, violations, sample):
    # scipy works through log-gamma and loses about 1e-9 at N = 10^7; where
    # the two differ, exact arithmetic sides with the product (next test).
    ours = miss_probability(items, violations, sample)
    theirs = hypergeom(items, violations, sample).pmf(0)
    assert ours == pytest.approx(theirs, rel=1e-7, abs=1e-300)


@pytest.mark.parametrize(
    ("items", "violations", "sample"),
    [(10**7, 3, 10_000), (10**7, 10, 3_000), (10**7, 1_000, 5_000), (10**7, 3_000, 3_000)],
)
def test_large_populations_exactly(items, violations, sample):
    exact = float(_exact_miss(items, violations, sample))
    assert miss_probability(items, violations, sample) == pytest.approx(exact, rel=1e-11)


def test_one_violation_is_one_division():
    for sample in (1, 10**6, 9 * 10**6, 10**7 - 1):
        assert miss_probability(10**7, 1, sample) == (10**7 - sample) / 10**7


def test_miss_probability_takes_no_time_at_ten_million():
    # the loop stops where the product leaves the float range
    assert miss_probability(10**7, 5 * 10**6, 5 * 10**6) == 0.0
    assert miss_probability(10**7, 10**7, 1) == 0.0
    assert miss_probability(10**7, 1, 0) == 1.0


@pytest.mark.parametrize(("items", "violations"), [(24, 1), (100, 10), (57, 3), (200, 200)])
def test_detection_grows_with_the_sample(items, violations):
    values = [detection_probability(items, violations, n) for n in range(items + 1)]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[items - violations + 1] == 1.0


def test_detection_grows_with_the_violations():
    values = [detection_probability(100, bad, 10) for bad in range(1, 101)]
    assert values == sorted(values)


PLANS = [
    (items, bad, p)
    for items in (1, 5, 24, 100, 1_000, 12_345, 10**6, 10**7)
    for bad in (1, 2, 10, 333)
    for p in (0.2, 0.5, 0.9, 0.95, 0.999)
    if bad <= items
]


@pytest.mark.parametrize(("items", "violations", "detection"), PLANS)
def test_exact_sample_is_the_smallest_that_detects(items, violations, detection):
    plan = plan_sample(items, violations, detection)
    beta = 1 - Fraction(str(detection))
    if items <= 12_345:
        assert _exact_miss(items, violations, plan.sample) <= beta
        assert _exact_miss(items, violations, plan.sample - 1) > beta
    else:
        margin = float(beta) * (1 + 1e-9)
        assert miss_probability(items, violations, plan.sample) <= margin
        assert miss_probability(items, violations, plan.sample - 1) > margin
    assert plan.sample_detection == detection_probability(items, violations, plan.sample)
    # scipy agrees wherever the margin is wider than its own error (1e-7 at N = 10^7)
    for n, detects in ((plan.sample, True), (plan.sample - 1, False)):
        found = 1 - hypergeom(items, violations, n).pmf(0)
        if abs(found - detection) > 1e-6:
            assert bool(found >= detection) is detects


def test_exact_ties_detect():
    # 1 - 4/5 is 0.19999999999999996 in floats; 20 % is still met by one item in five
    assert plan_sample(5, 1, 0.2).sample == 1
    assert plan_sample(100, 1, 0.2).sample == 20
    assert plan_sample(10**7, 1, 0.2).sample == 2 * 10**6
    # C(3, 2) / C(5, 2) = 3/10
    assert plan_sample(5, 2, 0.7).sample == 2
    # the decimal asked for: 5e-9 misses, not the float 1 - 0.999999995 = 4.99999997e-9
    assert plan_sample(10**9, 1, 0.999999995).sample == 10**9 - 5


@pytest.mark.parametrize(("items", "violations", "detection"), PLANS)
def test_approximation_is_never_smaller_than_the_exact_sample(items, violations, detection):
    plan = plan_sample(items, violations, detection)
    beta = 1 - detection
    real = items * (1 - beta ** (1 / violations))
    assert plan.approximation in (math.ceil(real), round(real))
    assert plan.sample <= plan.approximation <= items
    assert plan.approximation_detection == detection_probability(
        items, violations, plan.approximation
    )


def test_the_iaea_example():
    # domain.md: N = 100, M = 10, beta = 0.1 gives about 21; the exact answer is 20
    plan = plan_sample(100, 10, 0.9)
    assert (plan.sample, plan.approximation) == (20, 21)
    assert plan.sample_detection == pytest.approx(0.9048837275692115, rel=1e-14)
    assert plan.approximation_detection == pytest.approx(0.9167732616230602, rel=1e-14)
    assert not plan.inspect_all and plan.to_inspect == 20


def test_the_approximation_does_not_round_noise_up():
    # 100·(1 - (1 - 0.9)) is 90.00000000000001 in floats
    assert plan_sample(100, 1, 0.9).approximation == 90
    assert plan_sample(100, 1, 0.9).sample == 90


def test_the_sample_grows_with_the_detection_asked():
    sizes = [plan_sample(1_000, 5, p / 100).sample for p in range(1, 100)]
    assert sizes == sorted(sizes)


def test_aegis_ashore_means_inspect_all():
    # domain.md: one hidden missile among 24 cells needs 22 of them for 90 %
    plan = plan_sample(24, 1, 0.9)
    assert plan.sample == 22 and plan.inspect_all and plan.to_inspect == 24


@pytest.mark.parametrize(
    ("items", "violations", "detection", "sample", "inspect_all"),
    [
        (24, 1, 0.875, 21, False),  # 21 < 0.9 · 24 = 21.6
        (24, 1, 0.876, 22, True),
        (10, 1, 0.9, 9, True),  # 9 = 0.9 · 10 exactly
        (10, 1, 0.8, 8, False),
        (1, 1, 0.5, 1, True),
        (100, 100, 0.999, 1, False),  # all bad: one item is certain
        (100, 50, 0.999999, 18, False),
    ],
)
def test_inspect_all_from_nine_tenths(items, violations, detection, sample, inspect_all):
    plan = plan_sample(items, violations, detection)
    assert plan.sample == sample
    assert plan.inspect_all is inspect_all
    assert plan.inspect_all is (plan.sample >= INSPECT_ALL_SHARE * items)
    assert plan.to_inspect == (items if inspect_all else sample)


@pytest.mark.parametrize(("items", "violations", "detection"), PLANS[::7])
@pytest.mark.parametrize("visits", [1, 2, 3, 10])
def test_repeated_visits(items, violations, detection, visits):
    plan = plan_sample(items, violations, detection, visits=visits)
    single = plan_sample(items, violations, detection)
    assert plan.sample == single.sample
    p = plan.sample_detection
    assert plan.cumulative_detection == pytest.approx(1 - (1 - p) ** visits, abs=1e-15)
    per_visit = plan.per_visit_sample
    assert 1 <= per_visit <= plan.sample
    beta = float(1 - Fraction(str(detection)))
    assert miss_probability(items, violations, per_visit) ** visits <= beta * (1 + 1e-9)
    assert miss_probability(items, violations, per_visit - 1) ** visits > beta * (1 + 1e-9)
    if visits == 1:
        assert per_visit == plan.sample
        assert plan.cumulative_detection == plan.per_visit_cumulative == plan.sample_detection


def test_three_visits_of_the_iaea_example():
    plan = plan_sample(100, 10, 0.9, visits=3)
    assert plan.cumulative_detection == pytest.approx(1 - (1 - 0.9048837275692115) ** 3)
    assert plan.per_visit_sample == 8
    assert detection_probability(100, 10, 8) == pytest.approx(1 - _float_miss(100, 10, 8))
    assert 1 - _float_miss(100, 10, 7) ** 3 < 0.9 <= 1 - _float_miss(100, 10, 8) ** 3


def _float_miss(items, violations, sample):
    return float(_exact_miss(items, violations, sample))


def test_plan_as_json():
    data = plan_sample(24, 1, 0.9, visits=2).to_json()
    assert data["sample"] == 22 and data["to_inspect"] == 24 and data["inspect_all"] is True
    assert data["visits"] == 2 and data["per_visit_sample"] == 17


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: plan_sample(0, 1, 0.9), "items must be between 1 and"),
        (lambda: plan_sample(10**9 + 1, 1, 0.9), "items must be between 1 and"),
        (lambda: plan_sample(10, 0, 0.9), "violations must be between 1 and items (10), not 0"),
        (lambda: plan_sample(10, 11, 0.9), "violations must be between 1 and items (10), not 11"),
        (lambda: plan_sample(10, 1, 0.0), "detection must be between 0 and 1"),
        (lambda: plan_sample(10, 1, 1.0), "detection must be between 0 and 1"),
        (lambda: plan_sample(10, 1, math.nan), "detection must be between 0 and 1"),
        (lambda: plan_sample(10, 1, 0.9, visits=0), "visits must be at least 1, not 0"),
        (lambda: miss_probability(10, 1, 11), "sample must be between 0 and items (10), not 11"),
        (lambda: miss_probability(10, 1, -1), "sample must be between 0 and items"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(InputError) as raised:
        call()
    assert message in str(raised.value)


def test_sample_size_resolves_an_inspection_types_plan():
    assert sample_size(AllSample(kind="all"), 24) == 24
    assert sample_size(FixedSample(kind="fixed", size=5), 24) == 5
    assert sample_size(FixedSample(kind="fixed", size=50), 24) == 24
    assert sample_size(DetectionSample(kind="detection", probability=0.9), 24) == 24
    detect = DetectionSample(kind="detection", probability=0.9, assumed_bad=10)
    assert sample_size(detect, 100) == 20
    assert sample_size(detect, 0) == 0
    with pytest.raises(InputError, match="assumes 10 bad items, but 3 are declared"):
        sample_size(detect, 3)
    with pytest.raises(InputError, match="items must be between 0 and"):
        sample_size(detect, -1)


# --- which ones ---------------------------------------------------------------


def _field(data):
    return len(data).to_bytes(8, "big") + data


def test_commitment_bytes():
    expected = hashlib.sha256(
        b"detente/sample-commit/v1\n" + _field(b"test-vector-1") + _field(b"ru") + _field(HOST)
    ).digest()
    assert commit_value(HOST, inspection_id="test-vector-1", party="ru") == expected
    assert expected.hex() == "13798215cb35e270af65099c7bb30960a2f568c1031d743744cfa5943528d7ad"


def test_a_reveal_opens_its_commitment_only():
    commitment = commit_value(HOST, inspection_id="i-1", party="us")
    verify_reveal(commitment, HOST, inspection_id="i-1", party="us")
    wrong = [
        (INSPECTOR, "i-1", "us", "us's revealed value does not open its commitment"),
        (HOST, "i-2", "us", "does not open"),
        (HOST, "i-1", "ru", "does not open"),
        (HOST[:31], "i-1", "us", "us's revealed value is 31 bytes, not 32"),
        (HOST + b"\0", "i-1", "us", "is 33 bytes"),
    ]
    for value, inspection, party, message in wrong:
        with pytest.raises(VerificationError, match=message):
            verify_reveal(commitment, value, inspection_id=inspection, party=party)
    with pytest.raises(VerificationError):
        verify_reveal(commitment[:16], HOST, inspection_id="i-1", party="us")


def test_commitment_fields_do_not_run_together():
    # without length prefixes these two would hash the same bytes
    assert commit_value(HOST, inspection_id="ab", party="c") != commit_value(
        HOST, inspection_id="a", party="bc"
    )
    assert _field(b"ab") + _field(b"c") != _field(b"a") + _field(b"bc")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: commit_value(b"short", inspection_id="i", party="us"), "value must be 32 bytes"),
        (lambda: commit_value(HOST, inspection_id="", party="us"), "inspection_id must not be"),
        (lambda: commit_value(HOST, inspection_id="i", party=""), "party must not be empty"),
        (lambda: commit_value(HOST, inspection_id="\ud800", party="us"), "not valid text"),
        (
            lambda: derive_seed("i", host_value=b"", inspector_value=INSPECTOR),
            "host_value must be 32 bytes, not 0",
        ),
        (
            lambda: derive_seed("i", host_value=HOST, inspector_value=HOST * 2),
            "inspector_value must be 32 bytes, not 64",
        ),
        (lambda: derive_seed("", host_value=HOST, inspector_value=INSPECTOR), "must not be empty"),
    ],
)
def test_bad_commitment_and_seed_inputs(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_seed_bytes():
    seed = derive_seed("test-vector-1", host_value=HOST, inspector_value=INSPECTOR)
    hashed = b"detente/sample-seed/v1\n" + _field(b"test-vector-1") + _field(HOST)
    assert seed == hashlib.shake_256(hashed + _field(INSPECTOR)).digest(32)
    assert seed.hex() == "a84d8792eb865e50989f1fe06d57960b3e39736cc2c29e57504f391172938669"
    assert len(seed) == SEED_SIZE


def test_every_input_changes_the_seed():
    base = derive_seed("i-1", host_value=HOST, inspector_value=INSPECTOR)
    seeds = {base}
    for position in range(VALUE_SIZE):
        for name in ("host_value", "inspector_value"):
            values = {"host_value": bytearray(HOST), "inspector_value": bytearray(INSPECTOR)}
            values[name][position] ^= 1
            seeds.add(
                derive_seed(
                    "i-1",
                    host_value=bytes(values["host_value"]),
                    inspector_value=bytes(values["inspector_value"]),
                )
            )
    for inspection in ("i-2", "i-1 ", "I-1", "i-1\n", "i-é"):
        seeds.add(derive_seed(inspection, host_value=HOST, inspector_value=INSPECTOR))
    # the roles are part of the input: swapping the values changes the seed
    seeds.add(derive_seed("i-1", host_value=INSPECTOR, inspector_value=HOST))
    assert len(seeds) == 1 + 2 * VALUE_SIZE + 5 + 1


def _reference_select(seed, items, sample):
    """The docstring's algorithm, written out again from the text."""
    if sample >= items:
        return list(range(items))
    k = (items - 1).bit_length()
    w = (k + 7) // 8
    stream = hashlib.shake_256(b"detente/sample-select/v1\n" + seed).digest(1 << 20)
    chosen = []
    for offset in range(0, len(stream), w):
        r = int.from_bytes(stream[offset : offset + w], "big") % 2**k
        if r < items and r not in chosen:
            chosen.append(r)
            if len(chosen) == sample:
                return chosen
    raise AssertionError("reference stream too short")


SEED = derive_seed("test-vector-1", host_value=HOST, inspector_value=INSPECTOR)


def test_selection_test_vector():
    assert select(SEED, 1000, 10) == [649, 803, 176, 934, 460, 27, 920, 95, 664, 653]
    assert select(SEED, 24, 5) == [9, 3, 16, 15, 19]
    assert select(bytes(32), 10**7, 5) == [7440880, 4919223, 4675790, 7308688, 189237]
    assert select(SEED, 256, 5) == [158, 137, 99, 35, 124]
    assert select(SEED, 257, 5) == [137, 176, 27, 95, 152]


@pytest.mark.parametrize(
    ("items", "sample"),
    [(2, 1), (3, 2), (24, 22), (24, 23), (255, 100), (256, 255), (257, 200), (1000, 500)]
    + [(65_536, 3_000), (65_537, 3_000), (10**7, 50)],
)
def test_selection_follows_its_specification(items, sample):
    assert select(SEED, items, sample) == _reference_select(SEED, items, sample)


def test_selection_reads_past_the_first_squeeze():
    # 4096 bytes of stream give about 2048 two-byte draws
    chosen = select(SEED, 40_000, 5_000)
    assert chosen == _reference_select(SEED, 40_000, 5_000)


@pytest.mark.parametrize(("items", "sample"), [(1, 0), (1, 1), (7, 3), (24, 22), (10**6, 1000)])
def test_selection_is_distinct_in_range_and_repeatable(items, sample):
    chosen = select(SEED, items, sample)
    assert len(chosen) == sample == len(set(chosen))
    assert all(0 <= i < items for i in chosen)
    assert select(SEED, items, sample) == chosen
    assert select_sorted(SEED, items, sample) == sorted(chosen)


def test_selection_is_a_prefix_of_a_larger_one():
    longest = select(SEED, 500, 400)
    for sample in range(400):
        assert select(SEED, 500, sample) == longest[:sample]


def test_a_sample_of_all_or_more_is_all():
    assert select(SEED, 5, 5) == [0, 1, 2, 3, 4]
    assert select(SEED, 5, 99) == [0, 1, 2, 3, 4]
    assert select(SEED, 5, 0) == []


def test_other_seeds_other_samples():
    other = derive_seed("test-vector-2", host_value=HOST, inspector_value=INSPECTOR)
    assert select(other, 1000, 10) != select(SEED, 1000, 10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: select(b"short", 10, 1), "seed must be 32 bytes, not 5"),
        (lambda: select(SEED, 0, 0), "items must be between 1 and"),
        (lambda: select(SEED, 10**9 + 1, 1), "items must be between 1 and"),
        (lambda: select(SEED, 10, -1), "sample must not be negative, not -1"),
    ],
)
def test_bad_selection_inputs(call, message):
    with pytest.raises(InputError, match=message):
        call()


def _chi_square(counts, expected):
    return sum((c - expected) ** 2 / expected for c in counts)


# 99.9th percentiles of chi-square: 6 degrees of freedom 22.46, 9: 27.88, 99: 148.2.
# Fixed seeds: the counts, and so the verdict, are the same on every run.
SEEDS = [hashlib.sha256(b"uniformity %d" % i).digest() for i in range(3_000)]


def test_first_draw_is_uniform_over_a_non_power_of_two():
    counts = [0] * 7
    for seed in SEEDS:
        counts[select(seed, 7, 1)[0]] += 1
    assert _chi_square(counts, len(SEEDS) / 7) < 22.46


def test_every_index_is_chosen_equally_often():
    counts = [0] * 10
    for seed in SEEDS:
        for index in select(seed, 10, 3):
            counts[index] += 1
    assert _chi_square(counts, 3 * len(SEEDS) / 10) < 27.88


def test_every_position_in_the_draw_order_is_uniform():
    for position in range(3):
        counts = [0] * 10
        for seed in SEEDS:
            counts[select(seed, 10, 3)[position]] += 1
        assert _chi_square(counts, len(SEEDS) / 10) < 27.88


def test_large_population_spreads_evenly():
    counts = [0] * 100
    for seed in SEEDS[:500]:
        for index in select(seed, 10**7 - 3, 20):
            counts[index * 100 // (10**7 - 3)] += 1
    assert _chi_square(counts, 500 * 20 / 100) < 148.2
