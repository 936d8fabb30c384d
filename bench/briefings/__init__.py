"""Measuring briefings on the development sets: issue discovery and stance attribution."""
