"""Charts (PNG/SVG) drawn with matplotlib for the CLI and the clinic web app."""

import matplotlib

# Labels and titles carry user text (program names, drug names, titles): a "$" in them must be
# drawn as a dollar sign, not parsed as mathtext (an unbalanced one raised, a 500 on the web).
# No chart here uses mathtext. Set before any Text is made: each Text reads it when created.
matplotlib.rcParams["text.parse_math"] = False
