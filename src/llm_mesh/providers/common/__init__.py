"""Translation helpers shared by several providers' ``translate_openai_<x>`` modules."""
