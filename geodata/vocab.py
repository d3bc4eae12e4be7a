"""Small vocabularies the command line shows in its help, kept free of heavy imports
(``geodata.model`` re-exports them with the data model)."""

#: Kinds of intervention an interventions log records.
INTERVENTION_KINDS = (
    "day-of-action",
    "patrols",
    "cctv",
    "lighting",
    "environmental",
    "target-hardening",
    "enforcement",
    "outreach",
    "other",
)
#: Evaluation defaults: displacement buffer round the target, months before and after,
#: and the ways a control area may be chosen.
DEFAULT_BUFFER_M = 200.0
DEFAULT_WINDOW_MONTHS = 3
CONTROL_CHOICES = ("auto", "borough", "ward")
