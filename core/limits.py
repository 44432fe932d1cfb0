"""Hard limits on untrusted input, in one place so every entry point applies the same ones."""

from __future__ import annotations

#: Largest credential document (JSON or JWT text) accepted, in bytes.
MAX_CREDENTIAL_BYTES = 1_000_000
#: Deepest JSON nesting accepted (objects plus arrays).
MAX_JSON_DEPTH = 64
#: Largest badge image (PNG or SVG) accepted for baking or extraction, in bytes.
MAX_IMAGE_BYTES = 10_000_000
#: Largest decompressed size of a compressed PNG text chunk, in bytes.
MAX_INFLATED_TEXT_BYTES = 2_000_000
#: Largest HTTP response body the guarded client reads, in bytes.
MAX_FETCH_BYTES = 2_000_000
#: Largest decompressed status list, in bytes (16 KiB is the spec minimum; 1 MiB is generous).
MAX_STATUS_LIST_BYTES = 1_048_576
#: Largest evidence file a learner may hand in, in bytes.
MAX_EVIDENCE_FILE_BYTES = 10_000_000
#: Longest evidence text (and review comment), in characters.
MAX_EVIDENCE_TEXT_CHARS = 20_000
