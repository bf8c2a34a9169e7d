"""Platform endpoints: health and the caller's identity."""
