"""Vendor adapters behind one ``JobProvider`` protocol, and the shared HTTP layer they use."""
