"""One package per external system: a typed config, an httpx client and a sandbox double."""
