"""Outbound adapters: one sub-package per technology, each implementing ports of the domain."""
