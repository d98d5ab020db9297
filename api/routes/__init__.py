"""Thin FastAPI routers, one module per domain; the work happens in engine services."""
