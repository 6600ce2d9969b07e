"""zot-server: the zot OCI registry API, served from zot's own swagger file."""

__version__ = "0.1.0"
