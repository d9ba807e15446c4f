"""FHIR Bulk Data exports (`$export`): a folder of NDJSON files, one per resource type,
listed by a `manifest.json` ({"transactionTime", "request", "output": [{"type", "url"}]}).

Only the file names are taken from the manifest's URLs: the export is read from the folder
it was saved to, never downloaded.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse


class NotAManifest(ValueError):
    pass


def is_manifest(text: str) -> bool:
    """A Bulk Data manifest rather than a FHIR resource: no resourceType, an output list."""
    if '"output"' not in text:
        return False
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and "resourceType" not in obj \
        and isinstance(obj.get("output"), list)


def manifest_files(text: str) -> list[tuple[str, str]]:
    """(resource type, file name) of each output file, the Patient files first (the others
    in manifest order): a patient's identifier is then known before what refers to it."""
    try:
        obj: Any = json.loads(text)
    except ValueError as error:
        raise NotAManifest(f"not JSON: {error}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("output"), list):
        raise NotAManifest("a Bulk Data manifest has an `output` list")
    files = []
    for entry in obj["output"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise NotAManifest("every `output` entry needs a `url`")
        name = PurePosixPath(urlparse(entry["url"]).path).name
        if not name:
            raise NotAManifest(f"no file name in {entry['url']!r}")
        files.append((str(entry.get("type") or ""), name))
    return sorted(files, key=lambda f: f[0] != "Patient")  # stable: manifest order kept
