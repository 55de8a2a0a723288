"""caseyard: AI agents coordinated over Kafka, every case run as a saga.

This package is the composition root (CLI, settings, wiring). Its only module that other
packages may import is `caseyard.errors`, a leaf with no imports of ours.
"""

__version__ = "0.1.0"
