"""Command and query handlers: each opens one unit of work and commits explicitly."""
