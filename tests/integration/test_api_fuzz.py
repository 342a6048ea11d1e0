"""Schemathesis against the node's own OpenAPI description: no input gets a 5xx.

Operator endpoints are called with a valid admin token, so the generated
bodies and parameters reach the handlers; peer endpoints are called
unsigned and must refuse cleanly.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from detente.node import init_node
from detente.node.operators import Role, add_operator
from tests.fakes.servers import ServedNode, free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    node = init_node(
        tmp_path_factory.mktemp("fuzz") / "us", party="us", agreement_ref="security-replies-2022"
    )
    token = add_operator(node, "fuzzer", Role.admin)[1]
    server = ServedNode(node, free_port(), start_sender=False).start()
    yield server, token
    server.stop()
    node.close()


@pytest.mark.slow
def test_no_input_makes_the_node_fail(served):
    server, token = served
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case):
            response = case.call(base_url=server.url, headers=headers)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        probe()
    print(f"{len(calls)} requests over {len(operations)} operations")
    assert failures == []
    assert len(calls) >= 10 * len(operations)
    assert any(code < 300 for code in calls)  # some generated requests were served
