"""`sodium-monitor import`: recorded feeds through the same inbox -> worker path.

A file is cut into inbox rows the way a live feed would send it: one HL7 message, or a
chunk of CSV rows / NDJSON lines. Imported alerts are recorded and shown, never paged.
"""

from __future__ import annotations

from collections.abc import Iterator

from monitor.ingest.hl7_fields import split_messages

CHUNK = 500


def chunks(fmt: str, text: str) -> Iterator[tuple[str, str]]:
    """(position, payload) pieces of a file, in file order."""
    if fmt == "hl7":
        for message in split_messages(text):
            yield f"line {message.lines[0] if message.lines else 1}", message.text
        return
    lines = text.splitlines(keepends=True)
    if fmt == "csv":
        header, rows = lines[:1], lines[1:]
        for i in range(0, len(rows), CHUNK):
            yield f"line {i + 2}", "".join(header + rows[i : i + CHUNK])
        return
    stripped = [line for line in lines if line.strip()]
    if len(stripped) > 1 and stripped[0].lstrip().startswith("{") and \
            stripped[0].rstrip().endswith("}"):
        for i in range(0, len(lines), CHUNK):
            yield f"line {i + 1}", "".join(lines[i : i + CHUNK])
        return
    yield "line 1", text
