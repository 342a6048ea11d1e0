"""Three party nodes (and a witness, if asked) served over loopback HTTP in the test process."""

from __future__ import annotations

import base64
from dataclasses import replace

import httpx

from detente.exchange.httpsig import PeerAuth, sign_request
from detente.exchange.peerkeys import RequestKeys
from detente.exchange.sender import Sender
from detente.node import init_node
from detente.node.directory import Peer
from detente.node.operators import Role, add_operator
from tests.fakes.servers import Router, ServedNode, free_port

PARTIES = ("us", "nato", "ru")


def make_network(
    tmp_path, clock, database_url, agreement_ref="security-replies-2022", *, witness=None
):
    """Three nodes that know each other, served on loopback, with operators and senders.

    With ``witness`` (a name), a neutral witness node too: every party lists
    it as a witness peer, and it lists every party.
    """
    nodes = {}
    names = PARTIES + ((witness,) if witness else ())
    for party in names:
        url = database_url if party == "us" and not database_url.startswith("sqlite") else ""
        nodes[party] = init_node(
            tmp_path / party,
            party=party,
            agreement_ref=agreement_ref,
            database_url=url,
            witness=party == witness,
            clock=clock,
        )
    ports = {party: free_port() for party in names}
    for party, node in nodes.items():
        peers = tuple(
            Peer(
                party=other,
                url=f"http://127.0.0.1:{ports[other]}",
                key=nodes[other].verifier,
                witness=other == witness,
            )
            for other in names
            if other != party
        )
        node.save_config(replace(node.config, peers=peers))
    served = {p: ServedNode(n, ports[p], start_sender=False).start() for p, n in nodes.items()}
    router = Router()
    clients = {p: httpx.Client(base_url=s.url, timeout=30) for p, s in served.items()}
    tokens = {p: add_operator(n, "officer", Role.operator)[1] for p, n in nodes.items()}
    senders = {
        party: Sender(
            node,
            client=httpx.Client(
                transport=router, auth=PeerAuth(RequestKeys(node), party, node.clock)
            ),
        )
        for party, node in nodes.items()
    }
    yield Network(nodes, clients, tokens, senders, router, served, ports)
    for client in clients.values():
        client.close()
    for sender in senders.values():
        sender.close()
    router.close()
    for server in served.values():
        server.stop()
    for node in nodes.values():
        node.close()


class Network:
    def __init__(self, nodes, clients, tokens, senders, router, served, ports):
        self.nodes, self.clients, self.tokens = nodes, clients, tokens
        self.senders, self.router, self.served, self.ports = senders, router, served, ports

    def __iter__(self):
        return iter((self.nodes, self.clients, self.tokens, self.senders, self.router))


def submit(clients, tokens, party, body, *, to, key=None, type_="message"):
    headers = {"Authorization": f"Bearer {tokens[party]}"}
    if key:
        headers["Idempotency-Key"] = key
    response = clients[party].post(
        "/v1/messages", json={"type": type_, "body": body, "to": to}, headers=headers
    )
    return response


def b64(data):
    return base64.b64encode(data).decode()


def signed_post(node, party, url, payload: bytes, clock):
    request = httpx.Request(
        "POST", url, content=payload, headers={"content-type": "application/json"}
    )
    sign_request(request, key=node.key, key_id=party, now=clock())
    return request
