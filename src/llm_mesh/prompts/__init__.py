"""The prompt catalogue: versioned templates, movable labels, rendering and A/B experiments."""
