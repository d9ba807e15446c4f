"""What every command shares: settings that fail in one line naming the variable."""

from __future__ import annotations

import sys

from monitor.config import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print(f"sodium-monitor: {error}", file=sys.stderr)
        raise SystemExit(2) from None
