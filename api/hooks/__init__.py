"""Inbound webhooks: settings, vendor bodies → events, record-once-and-deliver.

Routes are in `api/routes/hooks.py`; `vendors.py` lists every message and correlation key.
"""
