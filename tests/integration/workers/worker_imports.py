"""Imported by worker subprocesses (POTOK_WORKER_IMPORTS) to register the test operators."""

from tests.integration.workers import operators

operators.register()
