"""Charts (PNG/SVG) drawn with matplotlib for the CLI and, later, the clinic web app."""
