"""Celery workers: jobs, timers, the sweeper and the outbox (see engine.workers.app)."""
