__version__ = "0.1.0"
# The OCI runtime spec version whose config.json this runtime reads and writes.
SPEC_VERSION = "1.3.0"
