"""Each recipient's copy as a PDF: its varied text laid out, and a marking embedded.

:func:`render_pdf` lays out a copy's text (already varied by
:func:`~detente.documents.fingerprint.embed`) on A4 pages with matplotlib,
character for character (two spaces stay two, a no-break space stays one),
with TrueType fonts so the text can be extracted again, and embeds the
recipient's marking: a keyed tag in the PDF's metadata (``Keywords``) that
only the issuer can tie to a recipient (:func:`copy_tag`). The visible
footer carries the document's classification marking.

:func:`pdf_text` and :func:`pdf_tag` read a PDF back (pypdf) for tracing.
A PDF that an issuer gives as it is (not its text) is marked, not varied
(:func:`mark_pdf`): its copies differ only in the tag, which a leaker can
strip; to vary the text, issue the text and have Détente lay it out.

Example:
    >>> data = render_pdf("First paragraph.\\n\\nSecond  one.", title="T", marking="UNCLASSIFIED",
    ...                   tag="0123456789abcdef")
    >>> pdf_tag(data), "Second  one." in pdf_text(data)
    ('0123456789abcdef', True)
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import textwrap
from typing import Final

from detente.errors import EncodingError, TooLargeError

__all__ = ["MAX_PDF_BYTES", "copy_tag", "mark_pdf", "pdf_tag", "pdf_text", "render_pdf"]

#: Largest PDF read or written.
MAX_PDF_BYTES: Final = 16 * 1024 * 1024
_TAG: Final = re.compile(r"detente-copy:([0-9a-f]{16})")
_LINES_PER_PAGE: Final = 58
_WIDTH: Final = 92


def copy_tag(*, key: bytes, document_id: str, recipient: str) -> str:
    """The keyed tag that marks ``recipient``'s copy: 16 hex digits of HMAC-SHA256."""
    message = f"detente/document-tag/v1\n{document_id}\n{recipient}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def _lines(text: str) -> list[str]:
    out: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            out.append("")
            continue
        out.extend(
            textwrap.wrap(paragraph, width=_WIDTH, break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    return out


def render_pdf(text: str, *, title: str, marking: str, tag: str) -> bytes:
    """``text`` laid out on A4 pages, the marking in the footer and ``tag`` in the metadata."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    lines = _lines(text)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "detente"}):
        with PdfPages(
            buffer,
            metadata={
                "Title": title,
                "Subject": marking,
                "Keywords": f"detente-copy:{tag}",
                "Creator": "Détente",
                "CreationDate": None,
            },
        ) as pdf:
            for number, page in enumerate(pages, start=1):
                figure = plt.figure(figsize=(8.27, 11.69))
                figure.text(0.08, 0.96, title, fontsize=11, weight="bold", va="top")
                figure.text(
                    0.08,
                    0.93,
                    "\n".join(page),
                    fontsize=8.5,
                    va="top",
                    family="DejaVu Sans Mono",
                    linespacing=1.35,
                )
                figure.text(
                    0.08,
                    0.03,
                    f"{marking}    page {number} of {len(pages)}",
                    fontsize=8,
                    va="bottom",
                )
                pdf.savefig(figure)
                plt.close(figure)
    data = buffer.getvalue()
    if len(data) > MAX_PDF_BYTES:
        raise TooLargeError(f"the laid-out copy is {len(data)} bytes (at most {MAX_PDF_BYTES})")
    return data


def _reader(data: bytes):  # type: ignore[no-untyped-def]
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if len(data) > MAX_PDF_BYTES:
        raise TooLargeError(f"a PDF of {len(data)} bytes (at most {MAX_PDF_BYTES})")
    try:
        return PdfReader(io.BytesIO(data))
    except (PdfReadError, ValueError, OSError) as e:
        raise EncodingError(f"not a readable PDF: {e}") from e


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, without the title and footer lines Détente adds.

    Raises:
        EncodingError: not a readable PDF.
    """
    reader = _reader(data)
    pages = []
    for page in reader.pages:
        text = page.extract_text() or ""
        lines = text.split("\n")
        if lines and re.search(r"page \d+ of \d+$", lines[-1]):
            lines = lines[:-1]
        title = reader.metadata.title if reader.metadata else None
        if lines and title and lines[0].strip() == title.strip():
            lines = lines[1:]
        pages.append("\n".join(lines))
    return "\n".join(pages)


def pdf_tag(data: bytes) -> str | None:
    """The copy tag in a PDF's metadata, if it still carries one."""
    reader = _reader(data)
    keywords = (reader.metadata or {}).get("/Keywords")
    found = _TAG.search(str(keywords)) if keywords else None
    return found.group(1) if found else None


def mark_pdf(data: bytes, *, tag: str, marking: str) -> bytes:
    """A given PDF with ``tag`` (and the marking) in its metadata; its pages unchanged."""
    from pypdf import PdfWriter

    reader = _reader(data)
    writer = PdfWriter(clone_from=reader)
    writer.add_metadata({"/Keywords": f"detente-copy:{tag}", "/Subject": marking})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
