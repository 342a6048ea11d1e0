"""The documents page over HTTP: issued from its form, listed both sides, traced, checked.

The United States' officer issues the 2022 replies article to NATO and
Russia from the page; each side lists its copies with the files to
download; the copy Russia downloads checks OK on the page's form with the
keys the node holds, an altered one is refused with the reason, and the
United States traces NATO's leaked copy to NATO. As tests/integration/
test_documents.py does through the service functions.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from detente.console.documents import MAX_UPLOAD
from detente.node.documents import list_documents
from tests.console.conftest import Browser

ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "reference"
ARTICLE = ARTICLE / "2022-security-replies-article.txt"
TITLE = "US reply to the Russian proposals"
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def article() -> bytes:
    if ARTICLE.exists():
        return ARTICLE.read_bytes()
    pytest.skip("the reference article is not in ../shared/reference")


def upload(browser: Browser, path: str, fields: list[tuple[str, str]], files: dict):
    """POST a multipart form as a browser does (the session's CSRF token added)."""
    data: dict[str, list[str]] = {"csrf": [browser.csrf("/console/documents")]}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    response = browser.client.post(path, data=data, files=files, headers=browser._headers(None))
    return browser._keep(response)


def issue_form(browser: Browser, *, to=("ru", "nato"), nonce=None, **changes):
    nonce = nonce or _NONCE.search(browser.get("/console/documents").text).group(1)
    fields = [
        ("nonce", nonce),
        ("title", changes.get("title", TITLE)),
        ("marking", changes.get("marking", "CONFIDENTIAL")),
        *(("to", p) for p in to),
    ]
    name = changes.get("filename", "replies.txt")
    body = changes.get("data", article())
    return upload(browser, "/console/documents/issue", fields, {"file": (name, body)})


def row(page: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}".*?</tr>', page, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(0)


@pytest.fixture
def issued(line):
    """The officer's browser on the US node, after issuing the article to ru and nato."""
    officer = line.browser("us", "officer")
    response = issue_form(officer)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/console/documents?done=issued&doc=doc-")
    line.deliver("us", "nato", "ru")
    line.deliver("us", "nato", "ru")
    return officer, response.headers["location"]


def test_issued_from_the_form_and_listed_on_both_sides(line, issued):
    officer, location = issued
    page = officer.get(location).text
    copies = {d["recipient"]: d for d in list_documents(line.node("us"))}
    assert set(copies) == {"ru", "nato"}
    notice = re.search(r'<p class="notice"[^>]*id="done-notice">(.*?)</p>', page, re.S).group(1)
    assert copies["ru"]["ref"] in notice and copies["nato"]["ref"] in notice
    issued_row = row(page, "data-recipient", "ru")
    assert TITLE in issued_row and "CONFIDENTIAL" in issued_row
    ref_path = copies["ru"]["ref"].replace(":", "/")
    assert f'href="/console/messages/{ref_path}"' in issued_row
    assert f'href="/console/documents/{ref_path}/copy"' in issued_row
    assert 'accesskey="t" aria-current="page">Documents</a>' in page

    russia = line.browser("ru", "viewer")
    theirs = russia.get("/console/documents").text
    received = row(theirs, "data-ref", copies["ru"]["ref"])
    assert TITLE in received and 'data-issuer="us"' in received
    assert "This node has issued no document." in theirs
    assert 'id="issue-form"' not in theirs  # a viewer reads; the form is for operators
    copy = russia.get(f"/console/documents/{ref_path}/copy")
    assert copy.status_code == 200 and copy.headers["content-type"] == "text/plain; charset=utf-8"
    assert copy.headers["content-disposition"].startswith('attachment; filename="US-reply')
    assert hashlib.sha256(copy.content).hexdigest() == copies["ru"]["sha256"]


def test_the_check_form_says_ok_and_refuses_an_altered_copy(line, issued):
    copies = {d["recipient"]: d["ref"] for d in list_documents(line.node("ru"))}
    path = "/console/documents/" + copies["ru"].replace(":", "/")
    russia = line.browser("ru", "viewer")
    data = russia.get(path + "/copy").content
    proof = russia.get(path + "/proof").content
    keys = re.search(
        r'<textarea id="check-keys"[^>]*>(.*?)</textarea>',
        russia.get("/console/documents").text,
        re.S,
    ).group(1)
    assert len(keys.split()) == 3  # ru's own key and its peers'

    fields = [("keys", keys)]
    ok = upload(
        russia,
        "/console/documents/check",
        fields,
        {"copy": ("copy.txt", data), "proof": ("copy.txt.proof.json", proof)},
    )
    assert ok.status_code == 200, ok.text
    result = re.search(r'<div class="check good" id="check-result".*?</div>', ok.text, re.S)
    assert result, ok.text
    assert "us's copy for ru of “US reply to the Russian proposals” (CONFIDENTIAL)" in (
        result.group(0)
    )
    assert copies["ru"] in result.group(0) and "<time datetime=" in result.group(0)

    altered = data.replace(b"Ukraine", b"Ukrain", 1)
    bad = upload(
        russia,
        "/console/documents/check",
        fields,
        {"copy": ("copy.txt", altered), "proof": ("p.json", proof)},
    )
    assert bad.status_code == 422
    refused = re.search(r'<div class="check bad" id="check-result".*?</div>', bad.text, re.S)
    assert refused and "Not verified" in refused.group(0)
    assert "its SHA-256 is" in refused.group(0)

    no_proof = upload(russia, "/console/documents/check", fields, {"copy": ("c.txt", data)})
    assert no_proof.status_code == 422 and 'id="check-proof-error"' in no_proof.text
    bad_keys = upload(
        russia,
        "/console/documents/check",
        [("keys", "not a key")],
        {"copy": ("c.txt", data), "proof": ("p.json", proof)},
    )
    assert bad_keys.status_code == 422 and "keys: line 1" in bad_keys.text


def test_the_trace_form_names_the_recipient(line, issued):
    officer, _ = issued
    nato_ref = next(d["ref"] for d in list_documents(line.node("nato")))
    leak = officer.get("/console/documents/" + nato_ref.replace(":", "/") + "/copy").content
    traced = upload(officer, "/console/documents/trace", [], {"file": ("leak.txt", leak)})
    assert traced.status_code == 200, traced.text
    result = re.search(r'<div class="check good" id="trace-result".*?</div>', traced.text, re.S)
    assert result, traced.text
    assert 'data-verdict="attributed" data-recipient="nato"' in result.group(0)
    assert "the text is nato's copy" in result.group(0)
    assert "Runner-up: ru" in result.group(0)
    assert 'id="trace-candidates"' in result.group(0)

    russia = line.browser("ru", "officer")
    nothing = upload(russia, "/console/documents/trace", [], {"file": ("leak.txt", leak)})
    assert nothing.status_code == 422 and "this node issued no document" in nothing.text


def test_the_issue_form_refuses_and_sends_once(line):
    officer = line.browser("us", "officer")
    empty = issue_form(officer, to=())
    assert empty.status_code == 422
    assert 'id="issue-to-error"' in empty.text and "Choose at least one recipient." in empty.text
    assert f'value="{TITLE}"' in empty.text  # what was typed stays
    docx = issue_form(officer, filename="replies.docx", data=b"x")
    assert docx.status_code == 422 and 'id="issue-file-error"' in docx.text
    assert ".txt, .md or .pdf" in docx.text
    assert list_documents(line.node("us")) == []

    nonce = _NONCE.search(officer.get("/console/documents").text).group(1)
    first = issue_form(officer, nonce=nonce, to=("ru",))
    again = issue_form(officer, nonce=nonce, to=("ru",))
    assert first.status_code == again.status_code == 303
    assert "done=already" in again.headers["location"]
    assert len(list_documents(line.node("us"))) == 1

    viewer = line.browser("us", "viewer")
    assert 'id="issue-form"' not in viewer.get("/console/documents").text
    assert issue_form(viewer, nonce="x").status_code == 403
    forged = officer.client.post(
        "/console/documents/trace",
        files={"file": ("a.txt", b"x")},
        data={"csrf": "wrong"},
        headers=officer._headers(None),
    )
    assert forged.status_code == 403
    big = upload(officer, "/console/documents/trace", [], {"file": ("a.txt", b"x" * MAX_UPLOAD)})
    assert big.status_code == 413
    plain = officer.post("/console/documents/trace", {"csrf": officer.csrf()})
    assert plain.status_code == 422 and "multipart/form-data" in plain.text


def test_the_page_in_russian(line, issued):
    officer, _ = issued
    switched = officer.post(
        "/console/language",
        {"csrf": officer.csrf(), "lang": "ru", "next": "/console/documents"},
    )
    assert switched.status_code == 303
    page = officer.get("/console/documents")
    assert page.status_code == 200
    for text in ("Документы", "Выпустить документ", "Проверить копию", "Отследить"):
        assert text in page.text, text
    assert "Issue a document" not in page.text


def test_the_message_page_shows_a_copy_by_its_size_not_inline(line, issued):
    officer, _ = issued
    copies = {d["recipient"]: d for d in list_documents(line.node("us"))}
    page = officer.get(f"/console/messages/{copies['ru']['ref'].replace(':', '/')}").text
    assert f"({copies['ru']['length']} bytes: download the copy from the Documents page)" in page
    assert copies["ru"]["sha256"] in page
