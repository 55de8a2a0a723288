"""caseyard: AI agents coordinated over Kafka, every case run as a saga.

This package is the composition root (CLI, settings, wiring): it imports every package,
and no package imports it (the error tree lives on the ground floor, `bus.errors`).
"""

__version__ = "0.1.0"
