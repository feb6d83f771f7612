"""The vendor-neutral upstream channel."""
