"""The use cases: one module per operation a user can do, under both doors.

The command line (:mod:`api.cli`) and the web API (:mod:`api.routes`, :mod:`api.ogc`)
parse a request, call one use case here and format what it returns; a use case takes
the store, the settings (or the part of them it needs, e.g. the caller's
:class:`~api.disclosure.Disclosure`) and a request, never an HTTP object, and raises
the project's errors (:mod:`geodata.errors`), which each door translates.

===========================  ==========================================================
module                       operation
===========================  ==========================================================
:mod:`.analyse`              analyse the store and store (or reuse) the run
:mod:`.analysis_request`     the analysis request both doors send
:mod:`.run_counts`           a run's figures as a role may see them (run listings)
:mod:`.maps`                 a run's or a plan's map page
:mod:`.share_links`          share links: make, narrow, sign
:mod:`.plans`                areas, days-of-action plans and Ward Member briefings
:mod:`.plan_runs`            plans stored as runs (analyst's and partner's views)
:mod:`.plan_forecast`        plan sites inside next month's forecast
:mod:`.rates`                ward and LSOA rates and change
:mod:`.backtests`            forecast backtests
:mod:`.stored_documents`     backtests and evaluations stored as runs
:mod:`.knox`                 Knox test of near repeats and risk zones
:mod:`.interventions`        the interventions log
:mod:`.evaluation`           before/after evaluation of an intervention
:mod:`.incidents`            incident points as a role may see them
:mod:`.window`               a request's data window
===========================  ==========================================================

Imports (:mod:`geodata.ingest`), keys and coverage (:mod:`geodata.coverage`) are one
store call each; the doors call them directly.
"""
