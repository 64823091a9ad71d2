"""Test-only code loaded into the fleet's processes to hold them at a chosen point; never in production.

Each hook is inert until the harness creates its trigger file in ``$FAULT_HOOKS_DIR``; it then announces
where it is holding by writing a file there, and holds until the harness removes the trigger.
"""
