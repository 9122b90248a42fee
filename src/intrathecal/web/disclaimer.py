"""The statement every page and API answer carries."""

DISCLAIMER = (
    "Reference calculations for trained clinicians. Not a medical device and not a substitute "
    "for the pump's and the drug's labelling or clinical judgement; values marked UNVERIFIED "
    "were not confirmed in their source."
)
