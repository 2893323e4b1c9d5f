"""Databricks Model Serving: foundation, external and MosaicML-served models."""
