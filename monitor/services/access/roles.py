"""The roles a user or an API token can hold: a leaf module, so that the command line can
offer them in its help without importing storage."""

ROLES = {"nurse": "ward nurse", "physician": "physician", "admin": "administrator",
         "feed": "lab feed (ingest only)"}
