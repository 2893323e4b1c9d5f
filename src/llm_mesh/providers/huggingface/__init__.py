"""Hugging Face TGI / Inference Endpoints (Messages API) and TEI embeddings."""
