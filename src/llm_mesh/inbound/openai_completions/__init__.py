"""Inbound legacy Completions API (``POST /v1/completions``) as pure translators onto the
canonical chat request and back (see ``translate_completions_chat``)."""
