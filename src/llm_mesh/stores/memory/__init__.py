"""In-memory stores: for tests and for a home without a table for some capability."""
