"""potok's HTTP surface: the REST API, the web UI and the `potok` CLI."""
