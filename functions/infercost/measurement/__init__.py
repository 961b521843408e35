"""Measurement: the load generator (transports, the sweep, the measured run, a process pool) and
what it measures. docs/method.md, section 2."""
