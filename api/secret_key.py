"""The variable that holds the key signing share links, and how to set it: said the same by
the settings (:mod:`api.settings`) and the command line (:mod:`api.cli.secret`), which
imports this, not the settings, so that ``hotspots --help`` loads no pydantic."""

SECRET_VAR = "HOTSPOTS_SECRET_KEY"
HOW_TO_SET_SECRET = (
    f"set {SECRET_VAR} to a random string of at least 32 characters "
    "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
)
