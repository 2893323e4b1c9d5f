"""Google Gemini: the Gemini API (generativelanguage) and Vertex AI (aiplatform)."""
