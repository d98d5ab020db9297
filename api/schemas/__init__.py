"""Pydantic request/response schemas, one module per domain (XCreate / XRead / XPage)."""
