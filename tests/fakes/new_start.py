"""New START run between the three test nodes: the agreement, counts, sending a draft.

The test agreement includes ``new-start`` and adds NATO as a party, so that
the three-node network of :func:`tests.fakes.network.make_network` can run
it; NATO takes no part in the treaty itself.
"""

from __future__ import annotations

from pathlib import Path

from detente.node.writer import Draft, LogWriter

AGREEMENT = """
name = "new-start-exercise"
title = "New START, run between three nodes"
version = "1"
includes = ["new-start"]

[[parties]]
id = "us"
name = "United States"

[[parties]]
id = "nato"
name = "NATO"

[[parties]]
id = "ru"
name = "Russian Federation"
"""

# A United States declaration within every central limit.
US_COUNTS = {
    "deployed_icbms": 400,
    "deployed_slbms": 220,
    "deployed_heavy_bombers": 31,
    "warheads_on_deployed_icbms_and_slbms": 1320,
    "nondeployed_icbm_launchers": 54,
    "nondeployed_slbm_launchers": 60,
    "nondeployed_heavy_bombers": 35,
}


def write_agreement(directory: Path) -> Path:
    """The test agreement's file in ``directory``."""
    path = directory / "new-start-exercise.toml"
    path.write_text(AGREEMENT)
    return path


def send(network, clock, party: str, draft: Draft) -> str:  # noqa: ANN001 - test fakes
    """Append ``draft`` to ``party``'s log a minute on, deliver it; its position."""
    clock.advance(minutes=1)
    result = LogWriter(network.nodes[party]).append([draft])
    for sender in network.senders.values():
        sender.run_once()
    return result.envelopes[0].position
