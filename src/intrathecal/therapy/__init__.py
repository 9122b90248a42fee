"""Prescriptions (admixtures) and infusion programs, validated against a device and the library."""
