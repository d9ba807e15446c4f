"""What the ORU and ADT readers need to know about the message they read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS


@dataclass(frozen=True, slots=True)
class MessageContext:
    source: str
    control_id: str
    lines: tuple[int, ...]  # line number of each segment, by segment index
    tz: ZoneInfo
    local_codes: Mapping[str, str]
    test: bool  # MSH-11 T or D
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS  # NTE text that flags

    def position(self, index: int) -> str:
        """Where segment `index` stands: "a.hl7:12 (MSH-10 MRN100001001F)"."""
        return f"{self.source}:{self.lines[index]} (MSH-10 {self.control_id})"
