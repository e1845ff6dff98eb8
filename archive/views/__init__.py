"""The archive app's screens, one module each: `popup`, `archived`, `details`, `jobs`, `team`, `merge`."""
