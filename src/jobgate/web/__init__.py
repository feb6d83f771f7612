"""The HTTP shell."""
