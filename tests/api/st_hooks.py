"""Schemathesis hooks for the service (loaded with ``SCHEMATHESIS_HOOKS=tests.api.st_hooks``).

``positive_data_acceptance`` refuses any 4xx other than 401/403/404/409 to a request the
schema calls valid. The service states, in its OpenAPI description, the few rules no
JSON Schema can express (one parameter against another, or an uploaded file's content),
each with its own problem ``type``; :func:`accepted_unless_a_stated_rule` lets exactly
those 400/414/422s through, and 410 Gone for a share link withdrawn earlier in a stateful run.
Any other refusal of a schema-valid request is still a failure.
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.params import CROSS_FIELD_RULES
from api.problems import PROBLEM_BASE


def stated_rule(response) -> str | None:
    """The rule a 400/414/422 problem names, if it is one of the stated ones."""
    if response.status_code not in (400, 414, 422):
        return None
    try:
        slug = json.loads(response.content).get("type", "").removeprefix(PROBLEM_BASE)
    except (ValueError, AttributeError):
        return None
    return slug if slug in CROSS_FIELD_RULES else None


@schemathesis.check
def accepted_unless_a_stated_rule(ctx, response, case):
    if stated_rule(response) or response.status_code == 410:
        return None
    return positive_data_acceptance(ctx, response, case)
