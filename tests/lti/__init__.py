"""LTI 1.3 tool tests, driven by the test platform in ``tests/lti_platform.py``."""
