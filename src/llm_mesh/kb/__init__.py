"""Knowledge bases: ingestion, vector stores, retrieval and the no-code RAG hook."""
