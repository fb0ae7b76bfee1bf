"""Reading pools and targets, writing score tables."""
