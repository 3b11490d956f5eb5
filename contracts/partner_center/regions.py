"""Where Microsoft's EU/EFTA rules apply: the 27 EU member states and the four EFTA states.
Additional resellers may be declared only for customers billed in one of these."""

EU_EFTA = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        "IS", "LI", "NO", "CH",
    }
)  # fmt: skip
