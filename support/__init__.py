"""Helpers for the tests and the benchmarks, never for the product.

Outside the runtime packages, the wheel and the Bento (import-linter forbids any runtime import
of it): real server processes and ports (``processes``), a prediction log filled without a
server (``backfill``) and what a log holds (``prediction_log``), dataset rows as API records
(``records``) and state isolated through ``HOUSING_*`` variables (``state``).
"""
