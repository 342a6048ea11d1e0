"""Signed peer requests: RFC 9421 signing, verification, freshness and replay."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from http_message_signatures import ContentDigest, HTTPMessageSigner, algorithms
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from detente.crypto.keys import SigningKey
from detente.errors import AuthenticationError, UnknownKeyError
from detente.exchange.httpsig import (
    COVERED_COMPONENTS,
    SIGNATURE_LABEL,
    SIGNATURE_TAG,
    DatabaseReplayGuard,
    MemoryReplayGuard,
    PeerAuth,
    RequestVerifier,
    sign_request,
)
from detente.store.database import open_database, sqlite_url
from detente.store.schema import nonces

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://ru.example:8443/v1/peer/entries?from=3&to=a%2Fb"
BODY = b'{"envelopes": []}'

US = SigningKey.generate("us")
RU = SigningKey.generate("ru")
KEYS = {"us": US.verifier, "ru": RU.verifier}


def make_verifier(replay=None, **kwargs) -> RequestVerifier:
    replay = MemoryReplayGuard() if replay is None else replay
    return RequestVerifier(keys=KEYS.get, replay=replay, **kwargs)


def signed(
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    *,
    key: SigningKey = US,
    key_id: str = "us",
    now: datetime = NOW,
) -> httpx.Request:
    request = httpx.Request(method, url, content=body)
    sign_request(request, key=key, key_id=key_id, now=now)
    return request


def check(verifier: RequestVerifier, request: httpx.Request, **changes) -> str:
    """Verify ``request`` as received, with any of its parts replaced by ``changes``."""
    parts = {
        "method": request.method,
        "url": str(request.url),
        "headers": request.headers,
        "body": request.content,
        "now": NOW,
    }
    parts.update(changes)
    return verifier.verify(**parts)


class _AnyDigest(ContentDigest):
    """Lets the test signer sign any Content-Digest, well-formed or not."""

    @classmethod
    def prepare(cls, headers, body, *, use_existing_digest):
        pass


class _TestSigner(HTTPMessageSigner):
    content_digest_class = _AnyDigest


def custom_signed(
    *,
    components=COVERED_COMPONENTS,
    nonce: str | None = "n" * 43,
    tag: str | None = SIGNATURE_TAG,
    label: str = SIGNATURE_LABEL,
    include_alg: bool = True,
    algorithm=algorithms.ED25519,
    digest: str | None = None,
    expires: datetime | None = None,
    created: datetime = NOW,
) -> httpx.Request:
    """A request signed by US with parameters :func:`sign_request` would not choose."""
    request = httpx.Request("POST", URL, content=BODY)
    sha256 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    request.headers["Content-Digest"] = digest or f"sha-256=:{sha256}:"
    signer = _TestSigner(signature_algorithm=algorithm)
    prepared = signer.prepare(
        request,
        key_id="us",
        created=created,
        expires=expires,
        nonce=nonce,
        label=label,
        tag=tag,
        include_alg=include_alg,
        covered_component_ids=components,
        use_existing_digest=True,
    )
    signer.apply(request, prepared, US.sign(prepared.signature_base))
    return request


# --- Round trips ---


def test_round_trip_returns_the_sending_party():
    request = signed()
    assert request.headers["Content-Digest"].startswith("sha-256=:")
    assert request.headers["Signature"].startswith(f"{SIGNATURE_LABEL}=:")
    assert check(make_verifier(), request) == "us"


def test_signature_input_covers_the_documented_components_and_parameters():
    sig_input = signed().headers["Signature-Input"]
    assert sig_input.startswith(
        'detente=("@method" "@authority" "@path" "@query" "content-digest");'
        f'created={int(NOW.timestamp())};keyid="us";alg="ed25519";nonce='
    )
    assert sig_input.endswith(f';tag="{SIGNATURE_TAG}"')


def test_get_without_query_or_body_round_trips():
    request = signed("GET", "http://ru.example/v1/peer/checkpoint", b"")
    assert check(make_verifier(), request) == "us"


def test_each_request_gets_a_fresh_long_nonce():
    first, second = signed(), signed()
    nonce_of = [
        r.headers["Signature-Input"].split('nonce="')[1].split('"')[0] for r in (first, second)
    ]
    assert nonce_of[0] != nonce_of[1]
    assert all(len(n) >= 22 for n in nonce_of)


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_names_are_matched_in_any_case(case):
    request = signed()
    headers = {case(name): value for name, value in request.headers.items()}
    assert check(make_verifier(), request, headers=headers) == "us"


def test_repeated_header_lines_are_joined_like_one_field():
    request = signed()
    verifier = make_verifier()
    lines = request.headers.multi_items()
    lines.append(("Signature-Input", 'other=("@method");created=1;keyid="x"'))
    lines.append(("Signature", "other=:AAAA:"))
    assert check(verifier, request, headers=httpx.Headers(lines)) == "us"


def test_the_default_port_does_not_matter():
    request = signed(url="https://ru.example/v1/peer/entries")
    assert check(make_verifier(), request, url="https://ru.example:443/v1/peer/entries") == "us"


# --- Refusals, each with its reason ---


def test_missing_signature_is_refused():
    request = signed()
    del request.headers["Signature"]
    with pytest.raises(AuthenticationError, match="the Signature header is missing"):
        check(make_verifier(), request)


def test_missing_signature_input_is_refused():
    request = signed()
    del request.headers["Signature-Input"]
    with pytest.raises(AuthenticationError, match="the Signature-Input header is missing"):
        check(make_verifier(), request)


def test_unsigned_request_is_refused():
    request = httpx.Request("POST", URL, content=BODY)
    with pytest.raises(AuthenticationError, match="request is not signed"):
        check(make_verifier(), request)


def test_unknown_keyid_is_refused():
    request = signed(key=SigningKey.generate("fr"), key_id="fr")
    with pytest.raises(AuthenticationError, match="unknown keyid 'fr'"):
        check(make_verifier(), request)


def test_unknown_keyid_is_shown_short():
    request = signed(key_id="x" * 300)
    with pytest.raises(AuthenticationError, match="unknown keyid") as caught:
        check(make_verifier(), request)
    assert "x" * 65 not in str(caught.value)


def test_key_lookup_errors_become_authentication_errors():
    def keys(party: str):
        raise UnknownKeyError(f"no key for {party}")

    verifier = RequestVerifier(keys=keys, replay=MemoryReplayGuard())
    with pytest.raises(AuthenticationError, match="unknown keyid 'us': no key for us"):
        check(verifier, signed())


def test_wrong_key_does_not_verify():
    request = signed(key=SigningKey.generate("us"))
    with pytest.raises(AuthenticationError, match="signature by keyid 'us' does not verify"):
        check(make_verifier(), request)


def test_key_id_of_another_party_does_not_verify():
    request = signed(key=US, key_id="ru")
    with pytest.raises(AuthenticationError, match="signature by keyid 'ru' does not verify"):
        check(make_verifier(), request)


def test_errors_hold_no_signature_value():
    request = signed(key=SigningKey.generate("us"))
    value = request.headers["Signature"].split("=:")[1].rstrip(":")
    with pytest.raises(AuthenticationError) as caught:
        check(make_verifier(), request)
    assert value not in str(caught.value)
    assert value[:16] not in str(caught.value)


def test_tampered_body_fails_the_digest():
    request = signed()
    with pytest.raises(AuthenticationError, match="content-digest sha-256 does not match"):
        check(make_verifier(), request, body=BODY + b" ")


def test_tampered_body_with_a_new_digest_fails_the_signature():
    request = signed()
    body = b'{"envelopes": [1]}'
    headers = httpx.Headers(request.headers)
    headers["Content-Digest"] = ContentDigest.create(body)
    with pytest.raises(AuthenticationError, match="does not verify"):
        check(make_verifier(), request, body=body, headers=headers)


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("method", "PUT"),
        ("url", "https://ru.example:8443/v1/peer/receipts?from=3&to=a%2Fb"),
        ("url", "https://ru.example:8443/v1/peer/entries?from=4&to=a%2Fb"),
        ("url", "https://ru.example:8443/v1/peer/entries"),
        ("url", "https://nato.example:8443/v1/peer/entries?from=3&to=a%2Fb"),
        ("url", "https://ru.example/v1/peer/entries?from=3&to=a%2Fb"),
    ],
    ids=["method", "path", "query", "no-query", "authority", "port"],
)
def test_tampered_request_line_fails_the_signature(part, value):
    with pytest.raises(AuthenticationError, match="does not verify"):
        check(make_verifier(), signed(), **{part: value})


def test_query_added_to_a_request_without_one_fails():
    request = signed(url="https://ru.example/v1/peer/entries")
    with pytest.raises(AuthenticationError, match="does not verify"):
        check(make_verifier(), request, url="https://ru.example/v1/peer/entries?all=1")


def test_stale_request_is_refused():
    request = signed()
    verifier = make_verifier(max_age=300)
    with pytest.raises(AuthenticationError, match="too old: created 301s ago"):
        check(verifier, request, now=NOW + timedelta(seconds=301))
    assert check(verifier, request, now=NOW + timedelta(seconds=300)) == "us"


def test_request_from_the_future_is_refused():
    request = signed()
    verifier = make_verifier(max_skew=60)
    with pytest.raises(AuthenticationError, match="61s in the future"):
        check(verifier, request, now=NOW - timedelta(seconds=61))
    assert check(verifier, request, now=NOW - timedelta(seconds=60)) == "us"


def test_expired_signature_is_refused():
    request = custom_signed(expires=NOW - timedelta(seconds=1))
    with pytest.raises(AuthenticationError, match="expired 1s ago"):
        check(make_verifier(), request)


def test_missing_nonce_is_refused():
    with pytest.raises(AuthenticationError, match="no nonce parameter"):
        check(make_verifier(), custom_signed(nonce=None))


def test_short_nonce_is_refused():
    with pytest.raises(AuthenticationError, match="nonce is not 22 to 128"):
        check(make_verifier(), custom_signed(nonce="abc"))


def test_replayed_request_is_refused():
    request = signed()
    verifier = make_verifier()
    assert check(verifier, request) == "us"
    with pytest.raises(AuthenticationError, match="request replayed: keyid 'us'"):
        check(verifier, request, now=NOW + timedelta(seconds=5))


def test_failed_requests_do_not_use_up_the_nonce():
    request = signed()
    verifier = make_verifier()
    with pytest.raises(AuthenticationError, match="does not match"):
        check(verifier, request, body=b"forged")
    with pytest.raises(AuthenticationError, match="does not verify"):
        check(verifier, request, method="DELETE")
    assert check(verifier, request) == "us"


def test_same_nonce_from_two_parties_is_no_replay():
    guard = MemoryReplayGuard()
    assert guard.remember("us", "n" * 22, 100)
    assert guard.remember("ru", "n" * 22, 100)
    assert not guard.remember("us", "n" * 22, 100)


@pytest.mark.parametrize(
    ("components", "missing"),
    [
        (("@method", "@path", "@query", "content-digest"), "@authority"),
        (("@method", "@authority", "@path", "content-digest"), "@query"),
        (("@authority", "@path", "@query", "content-digest"), "@method"),
        (("@method", "@authority", "@query", "content-digest"), "@path"),
        (("@method", "@authority", "@path", "@query"), "content-digest"),
        (("@method", "@authority", "@path", "@query", '"content-digest";sf'), "content-digest"),
    ],
)
def test_uncovered_components_are_refused(components, missing):
    with pytest.raises(AuthenticationError, match=f"does not cover {missing}$"):
        check(make_verifier(), custom_signed(components=components))


def test_more_components_than_required_are_fine():
    request = custom_signed(components=(*COVERED_COMPONENTS, "content-length"))
    assert check(make_verifier(), request) == "us"


def test_missing_content_digest_is_refused():
    request = signed()
    del request.headers["Content-Digest"]
    with pytest.raises(AuthenticationError, match="Content-Digest header is missing"):
        check(make_verifier(), request)


@pytest.mark.parametrize(
    ("digest", "reason"),
    [
        ("md5=:" + base64.b64encode(hashlib.md5(BODY).digest()).decode() + ":", "'md5' is not"),  # noqa: S324
        (
            "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":",
            "no sha-256",
        ),
        ("sha-256=abc", "malformed"),
        (
            "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":;x=1",
            "malformed",
        ),
        ("sha-256=:AAA=:, sha-256=:AAA=:", "sha-256 twice"),
        ("sha-256=:A=:", "not valid base64"),
        (
            "sha-256=:" + base64.b64encode(hashlib.sha256(b"x").digest()).decode() + ":",
            "does not match",
        ),
    ],
    ids=["md5", "sha-512-only", "not-bytes", "parameters", "twice", "bad-base64", "other-body"],
)
def test_bad_content_digest_is_refused(digest, reason):
    with pytest.raises(AuthenticationError, match=f"content-digest.*{reason}"):
        check(make_verifier(), custom_signed(digest=digest))


def test_sha_512_beside_sha_256_is_checked_too():
    sha256 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    good = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    bad = base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    both = f"sha-256=:{sha256}:, sha-512=:{good}:"
    assert check(make_verifier(), custom_signed(digest=both)) == "us"
    with pytest.raises(AuthenticationError, match="sha-512 does not match"):
        check(make_verifier(), custom_signed(digest=f"sha-256=:{sha256}:,sha-512=:{bad}:"))


def test_missing_alg_is_refused():
    with pytest.raises(AuthenticationError, match="no alg parameter"):
        check(make_verifier(), custom_signed(include_alg=False))


def test_other_alg_is_refused():
    request = custom_signed(algorithm=algorithms.HMAC_SHA256)
    with pytest.raises(AuthenticationError, match="alg 'hmac-sha256'; Détente requires"):
        check(make_verifier(), request)


@pytest.mark.parametrize(
    ("tag", "label"), [(None, SIGNATURE_LABEL), ("x", SIGNATURE_LABEL), (SIGNATURE_TAG, "pyhms")]
)
def test_signature_without_detente_tag_or_label_is_refused(tag, label):
    with pytest.raises(AuthenticationError, match="No signatures found matching"):
        check(make_verifier(), custom_signed(tag=tag, label=label))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda si: si + ";foo=1", "unexpected signature parameters: foo"),
        (lambda si: re.sub(r";created=\d+", "", si), "no created parameter"),
        (lambda si: re.sub(r';keyid="us"', "", si), "no keyid parameter"),
    ],
    ids=["unexpected", "created", "keyid"],
)
def test_parameters_are_checked_before_the_signature(edit, reason):
    request = signed()
    headers = httpx.Headers(request.headers)
    headers["Signature-Input"] = edit(headers["Signature-Input"])
    with pytest.raises(AuthenticationError, match=reason):
        check(make_verifier(), request, headers=headers)


def test_malformed_signature_header_is_refused():
    request = signed()
    headers = httpx.Headers(request.headers)
    headers["Signature"] = "detente=not bytes"
    with pytest.raises(AuthenticationError, match="unusable"):
        check(make_verifier(), request, headers=headers)


def test_relative_or_malformed_url_is_refused():
    with pytest.raises(AuthenticationError, match="unusable.*URL"):
        check(make_verifier(), signed(), url="/v1/peer/entries?from=3&to=a%2Fb")


def test_naive_times_are_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        signed(now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        check(make_verifier(), signed(), now=NOW.replace(tzinfo=None))


def test_unsignable_key_id_is_a_value_error():
    with pytest.raises(ValueError, match="cannot sign"):
        signed(key_id="é")


def test_windows_must_fit_the_replay_guard():
    with pytest.raises(ValueError, match="forgets nonces after 100s"):
        make_verifier(MemoryReplayGuard(horizon=100))
    with pytest.raises(ValueError, match="max_age"):
        make_verifier(max_age=0)


# --- Replay guards ---


def test_memory_guard_forgets_what_has_surely_expired():
    guard = MemoryReplayGuard(horizon=10)
    assert guard.remember("us", "a", 1000)
    assert guard.remember("us", "b", 1005)
    assert not guard.remember("us", "a", 1000)
    assert guard.remember("us", "c", 1011)  # 1000 < 1011 - 10: "a" is gone
    assert len(guard) == 2
    assert guard.remember("us", "a", 1000)


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(nonces)).scalar_one()


def test_database_guard(database_url):
    database = open_database(database_url)
    try:
        guard = DatabaseReplayGuard(database.engine, horizon=10, prune_every=1)
        assert guard.remember("us", "a", 1000)
        assert not guard.remember("us", "a", 1000)
        assert guard.remember("ru", "a", 1000)
        assert guard.remember("us", "b", 1005)
        assert _count(database.engine) == 3
        assert guard.remember("us", "c", 1011)  # prunes the two that expired at 1000
        assert _count(database.engine) == 2
        assert not guard.remember("us", "b", 1005)
        assert guard.remember("us", "a", 1000)
        # A second process shares the table.
        other = DatabaseReplayGuard(database.engine)
        assert not other.remember("us", "c", 1011)
        assert guard.prune(2000) == 3
    finally:
        database.dispose()


def test_database_guard_lets_one_of_racing_requests_through(database_url):
    database = open_database(database_url)
    try:
        guards = [DatabaseReplayGuard(database.engine) for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda g: g.remember("us", "race", 1000), guards))
        assert sorted(results) == [False] * 7 + [True]
    finally:
        database.dispose()


def test_database_guard_prunes_only_now_and_then(tmp_path):
    database = open_database(sqlite_url(tmp_path / "t.db"))
    try:
        guard = DatabaseReplayGuard(database.engine, horizon=10, prune_every=60)
        assert guard.remember("us", "a", 1000)  # first call prunes below 990
        assert guard.remember("us", "b", 1030)  # bound 1020 moved only 30s: no prune
        assert _count(database.engine) == 2
        assert guard.remember("us", "c", 1060)  # bound 1050 moved 60s: prune
        assert _count(database.engine) == 1
    finally:
        database.dispose()


def test_verifier_with_database_guard_refuses_replays(database_url):
    database = open_database(database_url)
    try:
        verifier = make_verifier(DatabaseReplayGuard(database.engine))
        request = signed()
        assert check(verifier, request) == "us"
        with pytest.raises(AuthenticationError, match="replayed"):
            check(verifier, request)
        # The verifier of a restarted process still knows the nonce.
        with pytest.raises(AuthenticationError, match="replayed"):
            check(make_verifier(DatabaseReplayGuard(database.engine)), request)
    finally:
        database.dispose()


def test_database_guard_failure_is_a_store_error(tmp_path):
    from detente.errors import StoreError

    database = open_database(sqlite_url(tmp_path / "t.db"), migrate_schema=False)
    try:
        with pytest.raises(StoreError, match="cannot record a request nonce"):
            DatabaseReplayGuard(database.engine).remember("us", "a", 1)
        with pytest.raises(StoreError, match="cannot prune"):
            DatabaseReplayGuard(database.engine).prune(1)
    finally:
        database.dispose()


# --- End to end: an httpx client with PeerAuth against an ASGI app ---

BASE_URL = "http://testserver"


def peer_app(verifier: RequestVerifier, clock) -> Starlette:
    """A node's peer endpoint: the URL is rebuilt from its own base and the raw target."""

    async def entries(request: Request) -> JSONResponse:
        body = await request.body()
        url = BASE_URL + request.scope["raw_path"].decode("ascii")
        if request.scope["query_string"]:
            url += "?" + request.scope["query_string"].decode("ascii")
        try:
            party = verifier.verify(
                method=request.method, url=url, headers=request.headers, body=body, now=clock()
            )
        except AuthenticationError as e:
            return JSONResponse({"error": str(e)}, status_code=401)
        return JSONResponse({"peer": party, "size": len(body)})

    return Starlette(routes=[Route("/v1/peer/{rest:path}", entries, methods=["GET", "POST"])])


def run_client(app: Starlette, steps, **client_args):
    """Run ``steps(client)`` with an async httpx client talking to ``app`` in process."""

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, **client_args
        ) as client:
            return await steps(client)

    return asyncio.run(run())


def test_end_to_end_with_peer_auth(clock):
    app = peer_app(make_verifier(), clock)
    auth = PeerAuth(US, "us", clock)

    async def steps(client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/peer/entries/a%20b", params={"from": "3", "to": "a/b"}, content=BODY, auth=auth
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"peer": "us", "size": len(BODY)}
        checkpoint = await client.get("/v1/peer/checkpoint", auth=auth)
        assert checkpoint.json()["peer"] == "us"

        sent = response.request
        replay = await client.post(sent.url, content=sent.content, headers=sent.headers)
        assert replay.status_code == 401
        assert "replayed" in replay.json()["error"]

        unsigned = await client.post("/v1/peer/entries", content=BODY)
        assert unsigned.status_code == 401
        assert "not signed" in unsigned.json()["error"]

        clock.advance(seconds=400)
        stale = await client.post(
            "/v1/peer/entries", content=BODY, auth=PeerAuth(US, "us", lambda: NOW)
        )
        assert stale.status_code == 401
        assert "too old" in stale.json()["error"]

    run_client(app, steps)


def test_end_to_end_streamed_body_is_read_before_signing(clock):
    app = peer_app(make_verifier(), clock)

    async def chunks():
        yield b'{"envelopes": '
        yield b"[]}"

    async def steps(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/peer/entries", content=chunks())

    response = run_client(app, steps, auth=PeerAuth(US, "us", clock))
    assert response.status_code == 200, response.text
    assert response.json() == {"peer": "us", "size": len(BODY)}


def test_sync_client_signs_with_peer_auth(clock):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(check(make_verifier(), request, now=clock()))
        return httpx.Response(204)

    with httpx.Client(
        transport=httpx.MockTransport(handler), auth=PeerAuth(US, "us", clock)
    ) as client:
        assert client.post(URL, content=BODY).status_code == 204
        assert client.get("http://ru.example/v1/peer/checkpoint").status_code == 204
    assert seen == ["us", "us"]
