"""The alert states a listing can ask for: a leaf module, so that the command line can
offer them in its help without importing storage."""

STATES = ("active", "withdrawn", "resolved", "all")
