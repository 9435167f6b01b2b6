"""The functional core: state machine, placement, retries, resolution. No I/O, no clock."""
