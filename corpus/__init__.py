"""Articles: reading, cleaning, splitting into passages, and the on-disk library."""
