"""The trigger and announcement file names each hook uses, importable without loading the hook itself."""

HOLD_BEFORE_ACK = "hold-before-ack"
HELD = "held"

PAUSE_BEFORE_MARK = "pause-before-mark"
CONFIRMED = "confirmed"

PAUSE_LISTING_FILL = "pause-listing-fill"
FILLING = "filling"
INVALIDATED = "invalidated"

CRASH_ON_MESSAGE = "crash-on-message"
CRASHED = "crashed"

TRIGGERS = (HOLD_BEFORE_ACK, PAUSE_BEFORE_MARK, PAUSE_LISTING_FILL, CRASH_ON_MESSAGE)
