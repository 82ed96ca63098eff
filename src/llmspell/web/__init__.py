"""``llmspell web``: sessions, timelines, state and artifacts in a browser.

A Starlette app (:mod:`.app`) over one Runtime's public API, served by uvicorn from the CLI
(``llmspell web``). Pages are Jinja2 templates with a little JavaScript (:mod:`.live` for the
live timeline); the JSON API under ``/api/`` returns the values the pages show. Access rules
are :mod:`.access`'s. docs/web.md is the user guide and the API reference.
"""

from llmspell.web.app import create_app

__all__ = ["create_app"]
