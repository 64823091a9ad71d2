"""Inbound adapters (actors, relay, CLI) and the composition root that wires them."""
