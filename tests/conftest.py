"""Fixtures every test tier shares."""
