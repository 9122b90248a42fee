"""Open intrathecal drug delivery system.

Reference calculations for trained clinicians. Not a medical device; every value from the drug
and device library carries its source and whether it was verified.
"""

__version__ = "0.1.0"
