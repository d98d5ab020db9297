"""The demo: the shop's demo data (`data`) and the customer simulator at /demo (`routes`)."""
