"""Frameworks built on Ark, runnable as they are and meant to be read."""
