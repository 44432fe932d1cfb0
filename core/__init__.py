"""Badge core: the credential engine and domain services. Pure Python, no Flask, no HTTP client at import."""
